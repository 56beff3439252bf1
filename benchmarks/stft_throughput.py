"""Benchmark: STFT throughput of stft_power against a bare scipy.fft.rfft over the same frames.

    python benchmarks/stft_throughput.py [--minutes 60] [--rate 16000] [--repeat 5]
                                         [--win 1024] [--hop 256] [--workers N]

Signal: ``--minutes`` of 16 kHz noise plus a tone, float32, in memory.

Baseline (the ideal the engine is measured against): the frames are cut, windowed and stored in
a contiguous float32 matrix *before* timing; the timed loop only calls
``scipy.fft.rfft(block, n=n_fft, axis=1, workers=W)`` on blocks of the same number of frames
that stft_power uses, and keeps nothing. Measured: ``stft_power(x, rate, settings)`` on the whole
signal (framing from strided views, windowing, the FFT, ``|X|**2`` into the (n_freqs, n_frames)
result) three ways: in consecutive calls of 4096 frames, as the spectrogram engine and analyzers
use it; in one call writing into a result buffer allocated (and faulted in) before timing; in
one call that allocates its 462 MB result, so that the kernel's first-touch page faults of fresh
memory are included (on a loaded virtual machine they cost up to a second and vary widely).
Baseline and engine use the same thread count; each figure is the best of ``--repeat`` runs,
interleaved.

Prints frames per second of each and the ratio baseline_time / stft_power_time; the target is a
ratio of at least 0.5. It does not assert: CI machines vary.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from timing import best_of

from forensics_app.dsp import stft
from forensics_app.dsp.stft import STFTSettings, default_workers, stft_power, window_array


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--win", type=int, default=1024)
    p.add_argument("--nfft", type=int, default=None)
    p.add_argument("--hop", type=int, default=256)
    p.add_argument("--window", default="hann")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--target", type=float, default=0.5)
    args = p.parse_args(argv)

    settings = STFTSettings(window=args.window, win_length=args.win, n_fft=args.nfft or args.win, hop=args.hop)
    workers = args.workers or default_workers()
    rate = args.rate
    n = int(args.minutes * 60 * rate)
    rng = np.random.default_rng(0)
    x = np.empty(n, np.float32)
    step = rate * 60
    for s in range(0, n, step):  # generated in blocks: no float64 copy of the hour
        t = np.arange(s, min(n, s + step)) / rate
        x[s:s + len(t)] = 0.3 * np.sin(2 * np.pi * 1000.0 * t) + 0.05 * rng.standard_normal(len(t))

    n_frames = settings.n_frames(n)
    block = stft._block_frames(settings)
    half = settings.win_length // 2
    padded = np.concatenate([np.zeros(half, np.float32), x, np.zeros(settings.win_length, np.float32)])
    frames = sliding_window_view(padded, settings.win_length)[::settings.hop][:n_frames]
    w = window_array(settings.window, settings.win_length)
    matrix = np.empty((n_frames, settings.win_length), np.float32)
    for j in range(0, n_frames, 65536):
        np.multiply(frames[j:j + 65536], w, out=matrix[j:j + 65536])
    del padded, frames

    def baseline() -> None:
        for j in range(0, n_frames, block):
            scipy.fft.rfft(matrix[j:j + block], n=settings.n_fft, axis=1, workers=workers)

    def engine() -> None:
        stft_power(x, rate=rate, settings=settings, workers=workers)

    result = np.empty((n_frames, settings.n_freqs), np.float32)
    result.fill(0.0)  # faulted in once, before timing

    def engine_into() -> None:
        stft_power(x, rate=rate, settings=settings, workers=workers, out=result)

    chunk = 4096

    def engine_chunked() -> None:
        for f0 in range(0, n_frames, chunk):
            stft_power(x, rate=rate, settings=settings, start_frame=f0, n_frames=min(chunk, n_frames - f0),
                       workers=workers)

    # check once that the two compute the same thing
    ref = scipy.fft.rfft(matrix[1000:1004], n=settings.n_fft, axis=1)
    got = stft_power(x, rate=rate, settings=settings, start_frame=1000, n_frames=4, workers=workers)
    assert np.allclose(got.T, np.abs(ref) ** 2, rtol=1e-4, atol=1e-4 * float(np.max(np.abs(ref) ** 2)))

    engine()  # warm-up (FFT plans, page faults)
    baseline()
    engine_into()
    engine_chunked()
    # interleaved, so that a change in the machine's load hits all alike; best of each
    t_base = t_engine = t_into = t_chunked = float("inf")
    for _ in range(args.repeat):
        t_base = min(t_base, best_of(baseline, 1))
        t_into = min(t_into, best_of(engine_into, 1))
        t_chunked = min(t_chunked, best_of(engine_chunked, 1))
        t_engine = min(t_engine, best_of(engine, 1))
    ratio = t_base / t_engine
    ratio_into = t_base / t_into
    ratio_chunked = t_base / t_chunked
    print(f"signal: {args.minutes:g} min at {rate} Hz = {n} samples; {n_frames} frames "
          f"({settings.window}, win {settings.win_length}, n_fft {settings.n_fft}, hop {settings.hop}); "
          f"block {block} frames; scipy.fft workers {workers}; best of {args.repeat}")
    print(f"baseline bare rfft on precomputed windowed frames: {t_base:.3f} s ({n_frames / t_base:,.0f} frames/s)")
    print(f"stft_power, one call returning a new result:              {t_engine:.3f} s ({n_frames / t_engine:,.0f} frames/s)")
    print(f"stft_power, one call writing into a reused result (out=):  {t_into:.3f} s ({n_frames / t_into:,.0f} frames/s)")
    print(f"stft_power in calls of {chunk} frames (as the engine reads): {t_chunked:.3f} s "
          f"({n_frames / t_chunked:,.0f} frames/s)")
    for label, r in ((f"calls of {chunk} frames", ratio_chunked), ("one call, reused result", ratio_into),
                     ("one call, new 462 MB result (first-touch page faults included)", ratio)):
        print(f"ratio baseline/stft_power, {label}: {r:.2f}  target >= {args.target:.2f}  "
              f"{'OK' if r >= args.target else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
