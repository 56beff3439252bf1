"""Benchmark: speed of the speech-detector nets, scoring a recording in overlapping windows.

    python benchmarks/detector_throughput.py [--seconds 60] [--batch 16] [--repeat 3]
                                             [--nets lcnn,aasist-tiny,aasist-l,aasist]
                                             [--device cpu|cuda] [--training]

Nets (``--nets``, comma separated): ``lcnn`` (LFCC-LCNN, default config), ``aasist-tiny`` (the
AASIST config recommended for our own CPU training: AASIST-L graph settings, encoder channels
8/8/16/16), ``aasist-small`` (channels 16/16/24/24), ``aasist-l-2s`` and ``aasist-2s`` (the
official AASIST-L / AASIST configs on 2 s windows) use 2 s windows every 0.5 s; ``aasist-l``
and ``aasist`` (the official configs as released) use 64600-sample (4.04 s) windows every 0.5 s.

Signal: ``--seconds`` of 16 kHz noise plus a tone, float32, in memory, cut into those windows
and scored in batches of ``--batch`` windows with randomly initialised weights (speed does not
depend on the values) in eval mode under ``torch.inference_mode``, features included.

Baseline named in the same run: ``torch.stft`` (512-point FFT, 20 ms Hann window, 10 ms hop)
of the same windows in the same batches, on the same device. Printed per net: the time to
score the recording, the real-time factor (recording seconds / scoring seconds), the ratio
net time / STFT time, and the time of one forward pass of a batch of 8 windows. With
``--training``: also the time of one optimisation step (forward + backward + Adam) on a batch
of 16 windows of 2 s in training mode. Best of ``--repeat``; it does not assert: machines
vary. On a machine shared with other jobs, ``torch.set_num_threads(1)`` (``--threads 1``)
gives steadier figures.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from timing import best_of

from forensics_app.nets import registry
from forensics_app.settings import compute_device

RATE = 16000
HOP_S = 0.5
AASIST_L = {"filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]], "gat_dims": [24, 32],
            "pool_ratios": [0.4, 0.5, 0.7, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0]}
AASIST_SMALL = {**AASIST_L, "nb_samp": 32000, "filts": [70, [1, 16], [16, 16], [16, 24], [24, 24]]}
AASIST_TINY = {**AASIST_L, "nb_samp": 32000, "filts": [70, [1, 8], [8, 8], [8, 16], [16, 16]]}
NETS = {  # name: (architecture, config, window in samples)
    "lcnn": ("lfcc_lcnn", {}, 32000),
    "aasist-tiny": ("aasist", AASIST_TINY, 32000),
    "aasist-small": ("aasist", AASIST_SMALL, 32000),
    "aasist-l-2s": ("aasist", AASIST_L, 32000),
    "aasist-l": ("aasist", AASIST_L, 64600),
    "aasist-2s": ("aasist", {}, 32000),
    "aasist": ("aasist", {}, 64600),
}


def windows(x: np.ndarray, length: int) -> torch.Tensor:
    """(n_windows, length) windows of ``x`` every ``HOP_S`` seconds."""
    hop = int(HOP_S * RATE)
    starts = range(0, len(x) - length + 1, hop)
    return torch.from_numpy(np.stack([x[s:s + length] for s in starts]))


def sync(device: torch.device) -> None:
    """Wait for queued GPU work (timings of CUDA kernels)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_net(name: str, x: np.ndarray, *, device: torch.device, batch: int, repeat: int,
              training: bool) -> None:
    """Print the scoring speed of one net on the recording ``x`` (and its training step)."""
    arch, config, length = NETS[name]
    seconds = len(x) / RATE
    torch.manual_seed(0)
    net = registry.build(arch, config).to(device).eval()
    batches = [b.to(device) for b in windows(x, length).split(batch)]
    n_windows = sum(len(b) for b in batches)
    hann = torch.hann_window(320, device=device)

    def score(chunks: list[torch.Tensor]) -> None:
        with torch.inference_mode():
            for b in chunks:
                net(b)
        sync(device)

    def stft() -> None:
        with torch.inference_mode():
            for b in batches:
                torch.stft(b, n_fft=512, hop_length=160, win_length=320, window=hann,
                           return_complex=True).abs()
        sync(device)

    score(batches)  # warm-up
    stft()
    t_net = t_stft = float("inf")
    for _ in range(repeat):  # interleaved: a change in load hits both alike
        t_stft = min(t_stft, best_of(stft, 1))
        t_net = min(t_net, best_of(lambda: score(batches), 1))
    params = sum(q.numel() for q in net.parameters())
    print(f"{name:13s} {arch:9s} {params:7d} params, {n_windows} windows of {length / RATE:.2f} s: "
          f"{t_net:7.2f} s  real-time factor x{seconds / t_net:8.1f}  "
          f"STFT baseline {t_stft * 1000:6.1f} ms  ratio net/STFT {t_net / t_stft:6.0f}")
    one = batches[0][:8]
    t8 = best_of(lambda: score([one]), repeat)
    print(f"{'':13s} forward of a batch of {len(one)} windows: {t8 * 1000:8.1f} ms")
    if not training:
        return
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    xb = torch.from_numpy(np.stack([x[i * 8000:i * 8000 + 32000] for i in range(16)])).to(device)
    yb = torch.arange(16, device=device) % 2

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sync(device)

    step()
    t_step = best_of(step, repeat)
    print(f"{'':13s} training step, batch of 16 x 2 s (forward + backward + Adam): {t_step:7.2f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--nets", default="lcnn,aasist-tiny,aasist-l,aasist")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--device", default=None)
    p.add_argument("--training", action="store_true")
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or compute_device())
    rng = np.random.default_rng(0)
    t = np.arange(int(args.seconds * RATE)) / RATE
    x = (0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    print(f"device {device}; torch threads {torch.get_num_threads()}; recording {args.seconds:g} s; "
          f"windows every {HOP_S} s; batch {args.batch}; best of {args.repeat}")
    for name in args.nets.split(","):
        if name not in NETS:
            p.error(f"unknown net {name!r}; known: {', '.join(NETS)}")
        bench_net(name, x, device=device, batch=args.batch, repeat=args.repeat, training=args.training)
    return 0


if __name__ == "__main__":
    sys.exit(main())
