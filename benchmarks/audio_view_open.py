"""GUI benchmark: open a two-hour recording in the audio view, then zoom to 10 s ranges.

    QT_QPA_PLATFORM=offscreen python benchmarks/audio_view_open.py [--hours 2] [--rate 16000]
        [--zooms 5] [--width 1600] [--height 900] [--dir /tmp] [--keep]

Writes a ``--hours`` 16 kHz mono PCM16 WAV in blocks (noise, a 1 kHz tone, a slow sweep, a
burst every minute), builds the application's :class:`AudioView` with a :class:`WorkerPool` as
the viewer panel does, shows it at ``--width`` x ``--height`` (offscreen) and measures, in this
process:

(a) **time to the first spectrogram**: from ``AudioView.load()`` until the view emits
    ``loaded`` (the whole-recording overview is drawn at the plot's pixel size), all work on
    the pool's threads, the GUI thread only drawing. Compared with the **full-resolution STFT**
    of the same file with the view's STFT settings: every frame computed with ``stft_power``
    from blocks read through an :class:`AudioStream`, keeping only each bin's maximum (a
    bounded summary). Target: ratio < 0.5.
(b) **memory**: the growth of the resident-set high-water mark (VmHWM) during (a) and the zooms
    over the idle application (imports done, QApplication, pool and an empty view shown), reset
    through /proc/self/clear_refs where permitted. Target: < 600 MB.
(c) **zoom**: ``--zooms`` changes of the shown range to 10 s at seeded random positions (never
    rendered before), each a single change after a quiet spell (as a click, one wheel step or a
    jump to a finding), which the view renders at once: time from the range change until the
    view has drawn the new image, which must be at full detail (every STFT frame in range) and
    at the plot's pixel width. Worst / full-STFT time; target < 0.1. A burst of changes (drag,
    scroll) renders 80 ms after the last one instead.

The full STFT runs after (a)-(c) so that its own memory does not count in (b). Exit status 0
when every target is met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FORENSICS_APP_DEVICE", "cpu")

import numpy as np  # noqa: E402
from long_audio import full_stft_seconds, reset_hwm, status_kb, write_recording  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from forensics_app.gui.application import application  # noqa: E402
from forensics_app.gui.snapshots import EvidenceItem  # noqa: E402
from forensics_app.gui.views.audio_view import AudioView  # noqa: E402
from forensics_app.gui.workers import WorkerPool  # noqa: E402
from forensics_app.store.artifacts import ArtifactStore  # noqa: E402

MB = 1e6


def wait_for(cond, timeout_s: float = 300.0) -> float:
    """Run the event loop until ``cond()`` holds (checked every 2 ms); returns when it did."""
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(lambda: loop.quit() if cond() else None)
    deadline = time.perf_counter() + timeout_s
    timer.start()
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError("the view did not draw in time")
        loop.exec()
    timer.stop()
    return time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hours", type=float, default=2.0)
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--zooms", type=int, default=5)
    p.add_argument("--width", type=int, default=1600)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--dir", default=tempfile.gettempdir())
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="audio-view-bench-", dir=args.dir))
    path = work / "two_hours.wav"
    try:
        t = time.perf_counter()
        n = write_recording(path, hours=args.hours, rate=args.rate)
        print(f"wrote {path.name}: {args.hours:g} h at {args.rate} Hz PCM16, {n} samples, "
              f"{path.stat().st_size / MB:.0f} MB in {time.perf_counter() - t:.1f} s; "
              f"platform {os.environ['QT_QPA_PLATFORM']}, {os.cpu_count()} cores")

        application()
        pool = WorkerPool()
        view = AudioView(pool=pool, artifacts=ArtifactStore(work / "artifacts"), sink_factory=lambda wanted: None)
        view.resize(args.width, args.height)
        view.show()
        wait_for(lambda: view.isVisible())
        ev = EvidenceItem(id=1, name=path.name, kind="audio", size=path.stat().st_size, sha256="0" * 64,
                          md5="0" * 32, integrity="verified", path=path, metadata={})

        # (a) open until the first spectrogram is drawn; (b) memory over the idle app
        hwm_reset = reset_hwm()
        rss_idle = (status_kb("VmRSS") or 0)
        hwm_before = (status_kb("VmHWM") or 0)
        t0 = time.perf_counter()
        view.load(ev, [])
        t_first = wait_for(lambda: view.is_loaded) - t0
        image = view.renderer.overview
        vb = view.spec_plot.vb
        print(f"(a) first spectrogram drawn after {t_first:.3f} s: {image.n_rows} x {image.n_cols} "
              f"(plot {vb.height():.0f} x {vb.width():.0f} px), full_detail={image.full_detail}, "
              f"{image.frames_per_column:.0f} frames/column in the recording, "
              f"{view.renderer.engine(None).cache_info()['frames_computed']} frames computed")
        wait_for(lambda: view.renderer.envelope is not None and view.renderer.is_current())
        print(f"    waveform envelope and overview settled after {time.perf_counter() - t0:.3f} s")

        # (c) zooms to 10 s
        rng = np.random.default_rng(1)
        duration = n / args.rate
        zoom_times = []
        for _ in range(args.zooms):
            a = float(rng.uniform(0, duration - 10.0))
            before = view.renderer.renders_drawn
            t0 = time.perf_counter()
            view.show_range(a, a + 10.0)
            done = wait_for(lambda b=before, a=a: view.renderer.renders_drawn > b and view.renderer.detail is not None
                            and abs(view.renderer.detail.t0 - a) < 1e-3)
            detail = view.renderer.detail
            assert detail.full_detail and detail.n_cols == round(vb.width()), detail
            zoom_times.append(done - t0)
            wait_for(view.renderer.is_current)  # let the trailing check pass before the next zoom
        hwm = (status_kb("VmHWM") or 0)
        delta_mb = (hwm - (rss_idle if hwm_reset else hwm_before)) * 1024 / MB
        settings = view.display.stft
        view.dispose()
        pool.shutdown()

        t_full, frames = full_stft_seconds(path, settings)
        print(f"full-resolution STFT ({settings.window} {settings.win_length}, FFT {settings.n_fft}, "
              f"hop {settings.hop}): {frames} frames in {t_full:.3f} s")
        ratio_open = t_first / t_full
        ratio_zoom = max(zoom_times) / t_full
        ok_open, ok_mem, ok_zoom = ratio_open < 0.5, delta_mb < 600, ratio_zoom < 0.1
        print(f"(a) open -> first spectrogram / full STFT = {t_first:.3f} / {t_full:.3f} = {ratio_open:.4f} "
              f"(target < 0.5): {'PASS' if ok_open else 'FAIL'}")
        print(f"(b) RSS high-water mark above the idle app: {delta_mb:.0f} MB (idle RSS {rss_idle / 1024:.0f} MiB"
              f"{'' if hwm_reset else ', HWM not resettable: measured against the HWM before'}) "
              f"(target < 600 MB): {'PASS' if ok_mem else 'FAIL'}")
        print(f"(c) 10 s zoom redraw at full detail: "
              f"median {np.median(zoom_times):.3f} s, worst {max(zoom_times):.3f} s; worst / full STFT = "
              f"{ratio_zoom:.4f} (target < 0.1): {'PASS' if ok_zoom else 'FAIL'}")
        return 0 if ok_open and ok_mem and ok_zoom else 1
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
