"""Benchmark: speed of the self-resynthesis comparison, in multiples of real time.

    python benchmarks/resynthesis_throughput.py [--seconds 60] [--audio FILE] [--threads N]
                                                [--repeat 3] [--chunk-s 20] [--target 5]

Signal: ``--audio`` (any file libsndfile reads, mono 16 kHz, cut or looped to ``--seconds``) or,
by default, ``--seconds`` of a generated speech-like signal (harmonics with vibrato under a
syllable envelope, with pauses and a noise floor), float32 in memory.

Measured, each the best of ``--repeat`` runs, interleaved:

* the **classical comparison**: the ``audio.self_resynthesis`` analyzer with
  ``vocoders=classical`` (level pass, WORLD + Griffin-Lim + LPC round trips, sample alignment,
  residuals, maps and lanes) on the recording as a 16 kHz mono AudioClip; with the time of each
  round trip from the analyzer's summary. Target: at least ``--target`` x real time.
* the **neural vocoder**: the comparison with ``vocoders=neural`` on the CPU, and on CUDA when
  ``torch.cuda.is_available()``; and the neural round trip alone (log mel + MelGAN synthesis).

Baselines named in the same run, on the same audio: real time itself (the x real-time factor),
and one STFT pass of the residual analysis (512-sample Hann frames every 10 ms, 1024-point FFT:
:func:`forensics_app.resynthesis.residuals.analyse`); each figure is also printed as a multiple
of that STFT pass. It does not assert: machines vary. On a machine shared with other jobs,
``--threads 1`` gives steadier figures; the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

import numpy as np
import torch
from timing import best_of

from forensics_app.analysis import registry
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.resynthesis import residuals as rs
from forensics_app.resynthesis import round_trips as rt
from forensics_app.resynthesis.features import residual_tracks
from forensics_app.training.audio_io import read_mono

RATE = rt.RATE


def speechlike(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Harmonics of a gliding f0 with vibrato under a 2.5 Hz syllable envelope, a 0.4 s pause every
    3 s, and a noise floor 50 dB down: shape (seconds * RATE,), float32, peak 0.8."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.3 * t) + 4 * np.sin(2 * np.pi * 5.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 40))
    x = x * (0.2 + 0.8 * np.sin(2 * np.pi * 2.5 * t) ** 2) * ((t % 3.0) < 2.6)
    x = 0.8 * x / np.max(np.abs(x))
    return (x + 0.8 * 10 ** (-50 / 20) * rng.standard_normal(len(t))).astype(np.float32)


def analyzer_run(x: np.ndarray, *, vocoders: str, chunk_s: float) -> dict:
    """Run ``audio.self_resynthesis`` on ``x`` (16 kHz mono); returns the result's summary."""
    info = registry.get("audio.self_resynthesis")
    clip = AudioClip(samples=x[:, None], rate=RATE, path=Path("benchmark.wav"))
    params = info.resolve_params({"vocoders": vocoders, "chunk_s": chunk_s})
    return dict(info.func(clip, params=params, progress=ProgressToken()).summary)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--audio", type=Path, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--chunk-s", type=float, default=20.0)
    p.add_argument("--target", type=float, default=5.0)
    p.add_argument("--no-neural", action="store_true", help="skip the neural vocoder figures")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    importlib.import_module("forensics_app.analysis.resynthesis.self_resynthesis")

    n = int(args.seconds * RATE)
    if args.audio is not None:
        x = np.resize(read_mono(args.audio, rate=RATE), n).astype(np.float32)
        source = f"{args.audio.name} (looped/cut to {args.seconds:g} s)"
    else:
        x = speechlike(args.seconds, np.random.default_rng(0))
        source = f"{args.seconds:g} s generated speech-like signal"
    dur = len(x) / RATE
    level = rs.speech_level_db(rs.frame_power_db(x))

    def stft() -> None:
        rs.analyse(x, level_db=level)

    summaries: dict[str, dict] = {}

    def classical() -> None:
        summaries["classical"] = analyzer_run(x, vocoders="classical", chunk_s=args.chunk_s)

    stft(), classical()  # warm-up (filter banks, imports)
    t_stft = t_cls = float("inf")
    for _ in range(args.repeat):
        t_stft = min(t_stft, best_of(stft, 1))
        t_cls = min(t_cls, best_of(classical, 1))
    print(f"signal: {source}; torch threads {torch.get_num_threads()}; best of {args.repeat}; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"baseline STFT pass (512-sample frames, 10 ms hop):  {t_stft:7.3f} s = {dur / t_stft:7.1f}x real time")
    print(f"classical comparison (WORLD + Griffin-Lim + LPC):   {t_cls:7.3f} s = {dur / t_cls:7.1f}x real time  "
          f"= {t_cls / t_stft:5.1f} STFT passes")
    for rid, secs in summaries["classical"]["timings_s"].items():
        print(f"    {rid:11s} round trip + alignment + residuals: {secs:7.3f} s = {dur / secs:7.1f}x real time")
    print(f"classical comparison {dur / t_cls:.1f}x real time, target >= {args.target:g}x: "
          f"{'OK' if dur / t_cls >= args.target else 'BELOW TARGET'}")
    if args.no_neural:
        return 0
    try:
        rt.neural_weights()
    except Exception as exc:  # noqa: BLE001 - report and stop: the neural figures need the weights
        print(f"neural vocoder: not measured ({exc})")
        return 0
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    trip = rt.get("neural")
    for dev in devices:

        def vocoder(dev: str = dev) -> None:
            trip(x, device=dev)
            if dev == "cuda":
                torch.cuda.synchronize()

        def comparison(dev: str = dev) -> None:
            residual_tracks(x, rate=RATE, round_trip_ids=("neural",), device=dev, chunk_s=args.chunk_s)
            if dev == "cuda":
                torch.cuda.synchronize()

        vocoder()  # warm-up: loads the weights onto the device
        t_voc = t_cmp = float("inf")
        for _ in range(args.repeat):
            t_voc = min(t_voc, best_of(vocoder, 1))
            t_cmp = min(t_cmp, best_of(comparison, 1))
        label = dev if dev == "cpu" else f"cuda ({torch.cuda.get_device_name(0)})"
        print(f"neural vocoder round trip on {label}: {t_voc:7.3f} s = {dur / t_voc:7.1f}x real time  "
              f"= {t_voc / t_stft:5.1f} STFT passes")
        print(f"neural comparison on {label} (round trip + alignment + residuals): {t_cmp:7.3f} s = "
              f"{dur / t_cmp:7.1f}x real time  = {t_cmp / t_stft:5.1f} STFT passes")
    if "cuda" not in devices:
        print("GPU: not measured (torch.cuda.is_available() is False on this machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
