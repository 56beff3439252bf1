"""Benchmark: synthesis speed of the project's neural vocoder, in multiples of real time.

    python benchmarks/vocoder_throughput.py [--weights models/vocoder-melgan-v1.pt] [--seconds 20]
                                            [--audio FILE] [--threads N] [--repeat 3] [--device cpu]

Signal: ``--audio`` (any file libsndfile reads, cut or looped to ``--seconds``) or, by default,
``--seconds`` of a generated speech-like signal (harmonics with vibrato and a syllable envelope),
mono float32 at 16 kHz, in memory.

Measured: ``resynthesise`` (log-mel analysis plus chunked generator synthesis, the whole path the
``neural`` generator takes) with the given weights, or a randomly initialised net of the default
config when the weights file is absent (the same arithmetic). Baselines in the same run, on the same
audio: the mel front end alone, and WORLD analysis-synthesis via pyworld (DIO + StoneMask +
CheapTrick + D4C + synthesis, 5 ms frames), the classic vocoder the ``world`` generator uses. Each
figure is the best of ``--repeat`` runs, interleaved. Prints seconds, x real time and the ratio
vocoder speed / WORLD speed. The target for the vocoder is at least 20x real time on the CPU; it
does not assert: machines vary.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from timing import best_of

from forensics_app.nets.vocoder import MelFrontEnd, MelGANGenerator
from forensics_app.training.audio_io import read_mono
from forensics_app.training.vocoder_io import load_vocoder, resynthesise

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import pyworld

RATE = 16000
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "vocoder-melgan-v1.pt"


def speechlike(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Harmonics of a gliding f0 with vibrato, under a 2.5 Hz syllable envelope, plus noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.3 * t) + 4 * np.sin(2 * np.pi * 5.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 40))
    x = x * (0.2 + 0.8 * np.sin(2 * np.pi * 2.5 * t) ** 2) + 0.01 * rng.standard_normal(len(t))
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


def world_resynthesis(x: np.ndarray) -> np.ndarray:
    """WORLD analysis-synthesis of ``x`` (16 kHz) with 5 ms frames."""
    xd = x.astype(np.float64)
    f0, t = pyworld.dio(xd, RATE, frame_period=5.0)
    f0 = pyworld.stonemask(xd, f0, t, RATE)
    sp = pyworld.cheaptrick(xd, f0, t, RATE)
    ap = pyworld.d4c(xd, f0, t, RATE)
    return pyworld.synthesize(f0, sp, ap, RATE, 5.0).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--audio", type=Path, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--target", type=float, default=20.0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    n = int(args.seconds * RATE)
    if args.audio is not None:
        x = read_mono(args.audio, rate=RATE)
        x = np.resize(x, n).astype(np.float32)
        source = f"{args.audio.name} (looped/cut to {args.seconds:g} s)"
    else:
        x = speechlike(args.seconds, np.random.default_rng(0))
        source = f"{args.seconds:g} s generated speech-like signal"
    if args.weights.is_file():
        net, frontend = load_vocoder(args.weights, device=args.device)
        which = str(args.weights)
    else:
        torch.manual_seed(0)
        net, frontend = MelGANGenerator({"weight_norm": False}).eval().to(args.device), MelFrontEnd().to(args.device)
        which = f"random default-config net ({args.weights} absent)"
    n_params = sum(p.numel() for p in net.parameters())

    def vocoder() -> None:
        y = resynthesise(x, rate=RATE, net=net, frontend=frontend, device=args.device)
        assert y.shape == x.shape

    xt = torch.from_numpy(x)[None].to(args.device)

    def front_end() -> None:
        with torch.inference_mode():
            frontend(xt)

    def world() -> None:
        world_resynthesis(x)

    vocoder(), front_end(), world()  # warm-up
    t_voc = t_fe = t_world = float("inf")
    for _ in range(args.repeat):
        t_voc = min(t_voc, best_of(vocoder, 1))
        t_fe = min(t_fe, best_of(front_end, 1))
        t_world = min(t_world, best_of(world, 1))
    dur = len(x) / RATE
    print(f"signal: {source}; device {args.device}; torch threads {torch.get_num_threads()}; "
          f"best of {args.repeat}")
    print(f"vocoder: {which}; {n_params:,} parameters")
    print(f"neural vocoder resynthesis (mel analysis + synthesis): {t_voc:.3f} s = {dur / t_voc:.1f}x real time")
    print(f"baseline mel front end alone:                         {t_fe:.3f} s = {dur / t_fe:.1f}x real time")
    print(f"baseline WORLD analysis-synthesis (pyworld):          {t_world:.3f} s = {dur / t_world:.1f}x real time")
    print(f"ratio vocoder speed / WORLD speed: {t_world / t_voc:.2f}")
    print(f"vocoder {dur / t_voc:.1f}x real time, target >= {args.target:g}x: "
          f"{'OK' if dur / t_voc >= args.target else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
