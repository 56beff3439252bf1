"""Benchmark: a two-hour recording: time to the first spectrogram, peak memory, zoom redraws.

    python benchmarks/long_recording.py [--hours 2] [--rate 16000] [--zooms 10] [--dir /tmp]

A ``--hours`` 16 kHz mono PCM16 WAV is written in blocks to a temporary folder (noise, a
1 kHz tone, a slow chirp and a burst every minute). Then, in this process:

(a) **first overview**: open the stream (:func:`open_audio_stream`), create a
    :class:`SpectrogramEngine` (default settings: Hann, 1024 samples, hop 256) and render the
    whole recording at 1600 x 400 (linear axis). Compared with the **full-resolution STFT**
    of the whole file with the same settings: the file read in blocks of 2**20 samples through
    the same stream and transformed with ``stft_power`` (every frame, ~450 000 for two hours),
    keeping only each frequency's maximum so that the baseline itself stays bounded in memory.
    Target: ratio < 0.5.
(b) **memory** of (a), repeated with a new stream and engine (nothing cached) and measured
    above the idle footprint (after imports, writing the file and the timed run):
    the tracemalloc peak of Python allocations, and the growth of the resident-set high-water
    mark (VmHWM in /proc/self/status, reset beforehand through /proc/self/clear_refs; without
    that permission the HWM delta is measured against the HWM before (a) and may read low).
    Target: both < 600 MB.
(c) **zoom**: ``--zooms`` renders of 10 s at random positions (seeded), 1600 x 400, each on a
    range not rendered before (no cache hit), every one at full detail. Worst time / full-STFT
    time; target < 0.1.

Also printed, for information: the time of a second (cached) overview and of the waveform
envelope's one-off min/max pyramid (:mod:`forensics_app.dsp.envelope`), with its memory.
It does not assert: CI machines vary. The WAV is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from long_audio import full_stft_seconds, reset_hwm, status_kb, write_recording

from forensics_app.dsp.envelope import waveform_envelope
from forensics_app.dsp.scales import FrequencyScale
from forensics_app.dsp.spectrogram import SpectrogramEngine
from forensics_app.dsp.stft import STFTSettings
from forensics_app.ingest.audio_stream import open_audio_stream

MB = 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hours", type=float, default=2.0)
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--zooms", type=int, default=10)
    p.add_argument("--cols", type=int, default=1600)
    p.add_argument("--rows", type=int, default=400)
    p.add_argument("--dir", default=tempfile.gettempdir())
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="long-recording-", dir=args.dir))
    path = work / "two_hours.wav"
    try:
        t = time.perf_counter()
        n = write_recording(path, hours=args.hours, rate=args.rate)
        print(f"wrote {path.name}: {args.hours:g} h at {args.rate} Hz PCM16, {n} samples, "
              f"{path.stat().st_size / MB:.0f} MB in {time.perf_counter() - t:.1f} s")
        settings = STFTSettings()
        scale = FrequencyScale("linear")

        # (a) open and first overview, timed without tracing
        gc.collect()
        t = time.perf_counter()
        stream = open_audio_stream(path)
        engine = SpectrogramEngine(stream, settings=settings)
        image = engine.overview(n_cols=args.cols, n_rows=args.rows, scale=scale)
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        engine.overview(n_cols=args.cols, n_rows=args.rows, scale=scale)
        t_cached = time.perf_counter() - t
        stream.close()
        del engine, stream, image

        # (b) the same again (new stream and engine: nothing cached) with memory tracing
        gc.collect()
        hwm_reset = reset_hwm()
        rss_idle = status_kb("VmRSS")
        hwm_idle = status_kb("VmHWM")
        tracemalloc.start()
        t = time.perf_counter()
        stream = open_audio_stream(path)
        engine = SpectrogramEngine(stream, settings=settings)
        image = engine.overview(n_cols=args.cols, n_rows=args.rows, scale=scale)
        t_traced = time.perf_counter() - t
        _, py_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        hwm_after = status_kb("VmHWM")

        # the baseline: the full-resolution STFT
        t_full, frames = full_stft_seconds(path, settings)

        # (c) zooms of 10 s at full detail
        rng = np.random.default_rng(1)
        zoom_times = []
        details = []
        for _ in range(args.zooms):
            start = float(rng.uniform(0.0, stream.duration_s - 10.0))
            t = time.perf_counter()
            img = engine.render(t0=start, t1=start + 10.0, n_cols=args.cols, n_rows=args.rows, scale=scale)
            zoom_times.append(time.perf_counter() - t)
            details.append(img.full_detail)

        # information: the waveform envelope's pyramid (one pass), then a query
        tracemalloc.start()
        t = time.perf_counter()
        waveform_envelope(stream, t0=0.0, t1=stream.duration_s, n_cols=args.cols)
        t_env = time.perf_counter() - t
        _, env_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        t = time.perf_counter()
        waveform_envelope(stream, t0=100.0, t1=1900.0, n_cols=args.cols)
        t_env2 = time.perf_counter() - t
        stream.close()

        ratio_a = t_first / t_full
        ratio_c = max(zoom_times) / t_full
        rss_delta = None if hwm_after is None or hwm_idle is None else (hwm_after - hwm_idle) / 1e3
        print(f"settings: {settings.window}, win {settings.win_length}, n_fft {settings.n_fft}, hop {settings.hop}; "
              f"image {args.cols} x {args.rows}; overview frames per column {image.frames_per_column:.1f}, "
              f"full_detail={image.full_detail}")
        print(f"full-resolution STFT of the file (blocks, {frames} frames): {t_full:.3f} s")
        print(f"(a) open + engine + first overview: {t_first:.3f} s  ratio {ratio_a:.3f}  target < 0.5  "
              f"{'OK' if ratio_a < 0.5 else 'ABOVE TARGET'}   (cached overview again: {t_cached * 1e3:.1f} ms)")
        print(f"(b) peak memory above idle during (a): Python (tracemalloc) {py_peak / MB:.1f} MB; "
              f"RSS high-water growth {rss_delta if rss_delta is None else f'{rss_delta:.1f}'} MB "
              f"(idle RSS {rss_idle / 1e3 if rss_idle else float('nan'):.0f} MB; HWM reset: {hwm_reset}; "
              f"that run took {t_traced:.3f} s under tracemalloc)  "
              f"target < 600 MB  {'OK' if py_peak / MB < 600 and (rss_delta or 0) < 600 else 'ABOVE TARGET'}")
        print(f"(c) zoom to 10 s x {args.zooms}: worst {max(zoom_times) * 1e3:.1f} ms, median "
              f"{np.median(zoom_times) * 1e3:.1f} ms, all full detail: {all(details)}; ratio {ratio_c:.4f}  "
              f"target < 0.1  {'OK' if ratio_c < 0.1 and all(details) else 'ABOVE TARGET'}")
        print(f"info: waveform envelope pyramid (one pass): {t_env:.3f} s, Python peak {env_peak / MB:.1f} MB; "
              f"a later 30-min envelope query: {t_env2 * 1e3:.2f} ms")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
