"""Report figures: drawn with matplotlib off-screen, stored content-addressed as PNG.

Every figure is drawn on a bare :class:`matplotlib.figure.Figure` rendered by the Agg canvas.
pyplot is never imported: it keeps global state (the current figure, the backend) that is not
thread-safe and would pick a display backend inside the GUI process; a bare Figure needs no
display and no backend switch, so reports can be built on a worker thread. The PNG bytes are
written with :meth:`~forensics_app.store.artifacts.ArtifactStore.put_bytes` (``suffix=".png"``)
and the report refers to them by SHA-256; rendering embeds them as ``data:`` URIs.

Media figures (spectrogram, thumbnail, frame strip) are decoded from the stored evidence copy and
are drawn only when that copy passed the re-verification made for the report: pixels or samples
of a copy that no longer matches its hash are not evidence. Series figures are drawn from the
artifacts the analyses stored (their hashes are checked on read).

Work is capped so that long media cannot stall a report: at most :data:`MAX_SPECTROGRAM_COLUMNS`
FFT columns per spectrogram (the hop grows with the duration), at most :data:`MAX_PLOT_POINTS`
points per lane (min/max envelope beyond that), and at most :data:`MAX_STRIP_DECODE_FRAMES`
decoded frames for a video strip.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

from forensics_app.domain.results import TimeSeries
from forensics_app.ingest.decode import decode_audio, decode_image, open_video
from forensics_app.report.figure_spans import (
    FINDING_COLOR,
    duration_of,
    finding_spans,
    fps_of,
    label_spans,
    local_spans,
    shade,
    whole_note,
)
from forensics_app.report.figure_spans import finding_color as _finding_color
from forensics_app.report.model import AnnotationItem, EvidenceItem, FigureItem, FindingItem
from forensics_app.store.case import CaseStore

#: Width of every figure in inches (A4 text width with 18 mm margins is about 6.8 in).
FIG_WIDTH_IN = 6.8
#: Resolution of the stored PNGs (dots per inch).
DPI = 150
#: Spectrogram work cap: FFT columns per figure.
MAX_SPECTROGRAM_COLUMNS = 1600
#: Lane drawing cap: points per lane before a min/max envelope is drawn instead.
MAX_PLOT_POINTS = 4000
#: Lanes per series figure (more lanes make further figures).
MAX_LANES = 6
#: Frames shown in a video strip.
STRIP_FRAMES = 6
#: Video strip work cap: frames decoded from the start of the stream.
MAX_STRIP_DECODE_FRAMES = 9000
#: Longer side of an image thumbnail, in pixels.
THUMBNAIL_PX = 1400

ANNOTATION_COLOR = "#00838f"
LANE_COLOR = "#1f4e79"


@dataclass(frozen=True)
class RunSeries:
    """The findings of one run on one evidence item, for a series figure.

    Attributes
    ----------
    run_id : int
    analyzer_id, analyzer_version, analyzer_label : str
    findings : tuple of FindingItem
        All findings of the run (their time ranges are shaded; their series are drawn).
    """

    run_id: int
    analyzer_id: str
    analyzer_version: str
    analyzer_label: str
    findings: tuple[FindingItem, ...]


def figures_for_evidence(
    store: CaseStore, *, evidence: EvidenceItem, runs: Sequence[RunSeries]
) -> tuple[tuple[FigureItem, ...], tuple[str, ...]]:
    """Draw and store every figure of one evidence item.

    Parameters
    ----------
    store : CaseStore
        The case (figures are written to its artifact store).
    evidence : EvidenceItem
        The item, with its findings, annotations and verification result.
    runs : sequence of RunSeries
        The runs whose findings are reported, for series figures.

    Returns
    -------
    figures : tuple of FigureItem
        In drawing order: media figure(s) first, then one figure per analyzer with series.
    notes : tuple of str
        One line per figure that could not be drawn, with the reason. A figure failing never
        stops the report.
    """
    figures: list[FigureItem] = []
    notes: list[str] = []

    def attempt(what: str, draw: Callable[[], Iterable[FigureItem]]) -> None:
        try:
            figures.extend(draw())
        except Exception as exc:  # a figure must never stop a court report; the reason is stated
            notes.append(f"{what} could not be drawn: {type(exc).__name__}: {exc}")

    if not evidence.intact:
        notes.append(
            f"No media figures: the stored copy failed re-verification ({evidence.verification}), "
            "so its content is not shown."
        )
    else:
        path = store.resolve(evidence.stored_path)
        if evidence.media_kind == "audio":
            attempt("Spectrogram", lambda: [spectrogram_figure(store, evidence=evidence, path=path)])
        elif evidence.media_kind == "image":
            attempt("Image thumbnail", lambda: [image_figure(store, evidence=evidence, path=path)])
        elif evidence.media_kind == "video":
            attempt("Frame strip", lambda: [frame_strip_figure(store, evidence=evidence, path=path)])
            if evidence.metadata.get("audio_track"):
                attempt("Soundtrack spectrogram",
                        lambda: [spectrogram_figure(store, evidence=evidence, path=path)])
    for run in runs:
        if any(f.series for f in run.findings):
            attempt(f"Series of {run.analyzer_id} (run #{run.run_id})",
                    lambda run=run: series_figures(store, evidence=evidence, run=run))
    return tuple(figures), tuple(notes)


# --------------------------------------------------------------------------------------------
# Series lanes


def series_figures(store: CaseStore, *, evidence: EvidenceItem, run: RunSeries) -> list[FigureItem]:
    """Lanes of one run's time series against time, with time-localised findings shaded.

    Parameters
    ----------
    store : CaseStore
        Series are read from (and the PNG written to) its artifact store.
    evidence : EvidenceItem
        The evidence item (its duration bounds the time axis).
    run : RunSeries
        The run and its findings.

    Returns
    -------
    list of FigureItem
        One figure per :data:`MAX_LANES` lanes.
    """
    refs: list[dict[str, str]] = []
    seen: set[str] = set()
    for f in run.findings:
        for ref in f.series:
            if ref["sha256"] not in seen:
                seen.add(ref["sha256"])
                refs.append(dict(ref))
    series = [store.artifacts.get_series(ref) for ref in refs]
    duration = duration_of(evidence)
    whole_s = max([duration or 0.0] + [float(ts.times_s[-1]) for ts in series if ts.times_s.size])
    spans, whole = local_spans(finding_spans(run.findings, fps=fps_of(evidence)), whole_s=whole_s)
    out = []
    n_parts = math.ceil(len(series) / MAX_LANES)
    for part in range(n_parts):
        chunk = series[part * MAX_LANES:(part + 1) * MAX_LANES]
        fig = Figure(figsize=(FIG_WIDTH_IN, 0.9 + 1.35 * len(chunk)), dpi=DPI, layout="constrained")
        axes = fig.subplots(len(chunk), 1, sharex=True, squeeze=False)[:, 0]
        for ax, ts in zip(axes, chunk, strict=True):
            _draw_lane(ax, ts)
            for start, end, finding in spans:
                shade(ax, start, end, finding)
        label_spans(axes[0], spans, axis_s=whole_s)
        axes[-1].set_xlabel("Time (s)", fontsize=8)
        t_max = max([duration or 0.0] + [float(ts.times_s[-1]) for ts in chunk if ts.times_s.size])
        if t_max > 0:
            axes[-1].set_xlim(0.0, t_max)
        suffix = f" ({part + 1}/{n_parts})" if n_parts > 1 else ""
        fig.suptitle(f"{run.analyzer_label or run.analyzer_id} v{run.analyzer_version}, run #{run.run_id}{suffix}",
                     fontsize=9)
        names = ", ".join(f"{ts.name} ({ts.unit})" for ts in chunk)
        shaded = ", ".join(f.ref for _, _, f in spans)
        caption = (
            f"Time series stored by {run.analyzer_id} v{run.analyzer_version} (run #{run.run_id}) for "
            f"{evidence.original_name}: {names}; horizontal axis in seconds from the start of the evidence."
            + (f" Shaded: time ranges of findings {shaded} (red = scored, darker = higher FakeLikelihood; "
               "grey = descriptive)." if shaded else "")
            + whole_note(whole)
        )
        out.append(_store(store, fig, evidence_id=evidence.evidence_id, kind="series",
                          title=f"{run.analyzer_label or run.analyzer_id}: time series{suffix}",
                          caption=caption, analyzer_id=run.analyzer_id, run_id=run.run_id))
    return out


def _draw_lane(ax: Axes, ts: TimeSeries) -> None:
    t, v = ts.times_s, ts.values
    finite = np.isfinite(v)
    if t.size > MAX_PLOT_POINTS:
        n_bins = MAX_PLOT_POINTS // 2
        edges = np.linspace(0, t.size, n_bins + 1).astype(int)
        tb = np.array([t[a:b].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)])
        lo = np.array([np.nanmin(v[a:b]) if finite[a:b].any() else np.nan
                       for a, b in zip(edges[:-1], edges[1:], strict=True)])
        hi = np.array([np.nanmax(v[a:b]) if finite[a:b].any() else np.nan
                       for a, b in zip(edges[:-1], edges[1:], strict=True)])
        ax.fill_between(tb, lo, hi, color=LANE_COLOR, linewidth=0.6, alpha=0.8)
    elif t.size == 1:
        ax.plot(t, v, "o", color=LANE_COLOR, markersize=3)
    else:
        ax.plot(t, v, color=LANE_COLOR, linewidth=0.8)
    if ts.unit == "FakeLikelihood":
        ax.set_ylim(-0.02, 1.02)
    elif finite.any():
        lo_v, hi_v = float(np.nanmin(v)), float(np.nanmax(v))
        if hi_v - lo_v <= 1e-9 * max(1.0, abs(hi_v)):  # (nearly) constant: centre it, no offset
            pad = max(abs(hi_v) * 0.1, 1e-3)
            ax.set_ylim(lo_v - pad, hi_v + pad)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_ylabel(f"{ts.name}\n({ts.unit})", fontsize=7.5)
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.5)


# --------------------------------------------------------------------------------------------
# Audio spectrogram


def spectrogram_figure(store: CaseStore, *, evidence: EvidenceItem, path: Path) -> FigureItem:
    """Waveform envelope and spectrogram of the stored copy (or of a video's first audio track).

    The channels are averaged; the window is a Hann window of about 25 ms (a power of two in
    samples); the hop grows with the duration so that at most :data:`MAX_SPECTROGRAM_COLUMNS`
    columns are computed. Power spectral density in dB re 1 FS²/Hz, 100 dB range. Time ranges of
    findings are marked above the spectrogram; annotations with a frequency band are outlined.
    """
    clip = decode_audio(path)
    x = clip.mono()  # float32; no float64 copy of a long recording
    rate = float(clip.rate)
    n = x.size
    duration = n / rate
    nperseg = int(2 ** round(math.log2(max(rate * 0.025, 64))))
    nperseg = min(nperseg, max(16, n))
    hop = max(nperseg // 4, math.ceil(n / MAX_SPECTROGRAM_COLUMNS))
    sft = ShortTimeFFT(hann(nperseg, sym=False), hop=hop, fs=rate, scale_to="psd")
    sxx = sft.spectrogram(x)
    t = sft.t(n)
    db = 10.0 * np.log10(np.maximum(sxx, 1e-20))
    vmax = float(np.max(db)) if db.size else 0.0
    vmin = vmax - 100.0

    fig = Figure(figsize=(FIG_WIDTH_IN, 4.2), dpi=DPI, layout="constrained")
    ax_w, ax_s = fig.subplots(2, 1, sharex=True, height_ratios=[1, 3])
    # Waveform as a min/max envelope over (at most) 2000 bins.
    n_bins = int(min(2000, n))
    edges = np.linspace(0, n, n_bins + 1).astype(int)
    lo = np.minimum.reduceat(x, edges[:-1])
    hi = np.maximum.reduceat(x, edges[:-1])
    tb = edges[:-1] / rate
    ax_w.fill_between(tb, lo, hi, color=LANE_COLOR, linewidth=0.5)
    ax_w.set_ylim(-1.05, 1.05)
    ax_w.set_ylabel("Amplitude\n(FS)", fontsize=7.5)
    ax_w.tick_params(labelsize=7)
    ax_w.grid(True, linewidth=0.3, alpha=0.5)
    mesh = ax_s.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
                       extent=(float(t[0]) - hop / rate / 2, float(t[-1]) + hop / rate / 2, 0.0, rate / 2),
                       interpolation="nearest")
    ax_s.set_xlim(0.0, duration)
    ax_s.set_ylim(0.0, rate / 2)
    ax_s.set_xlabel("Time (s)", fontsize=8)
    ax_s.set_ylabel("Frequency (Hz)", fontsize=8)
    ax_s.tick_params(labelsize=7)
    cbar = fig.colorbar(mesh, ax=[ax_w, ax_s], location="right", shrink=0.8, pad=0.01)
    cbar.set_label("PSD (dB re 1 FS²/Hz)", fontsize=7)
    cbar.ax.tick_params(labelsize=6.5)
    spans, whole = local_spans(finding_spans(evidence.findings, fps=fps_of(evidence)), whole_s=duration)
    for start, end, finding in spans:
        shade(ax_w, start, end, finding)
        for edge in {start, end}:
            ax_s.axvline(edge, color="white", linewidth=0.6, linestyle="--", alpha=0.8)
    label_spans(ax_w, spans, axis_s=duration)
    _draw_annotation_boxes(ax_s, evidence.annotations, top_hz=rate / 2)
    fig.suptitle(f"{evidence.original_name}: waveform and spectrogram", fontsize=9)
    caption = (
        f"Stored copy of {evidence.original_name} decoded at {clip.rate} Hz, "
        f"{'mono' if clip.n_channels == 1 else f'{clip.n_channels} channels averaged'}, {duration:.3f} s. Top: waveform envelope in full-scale units (FS). Bottom: spectrogram, "
        f"Hann window of {nperseg} samples ({1000 * nperseg / rate:.1f} ms), hop {hop} samples "
        f"({1000 * hop / rate:.1f} ms), power spectral density in dB re 1 FS²/Hz (100 dB range shown). "
        "Time ranges of findings are shaded on the waveform and marked by dashed lines; annotations are "
        "outlined in teal." + whole_note(whole)
    )
    return _store(store, fig, evidence_id=evidence.evidence_id, kind="spectrogram",
                  title="Waveform and spectrogram", caption=caption)


def _draw_annotation_boxes(ax: Axes, annotations: Iterable[AnnotationItem], *, top_hz: float) -> None:
    for a in annotations:
        if a.start_s is None:
            continue
        end = a.end_s if a.end_s is not None else a.start_s
        low = a.low_hz if a.low_hz is not None else 0.0
        high = a.high_hz if a.high_hz is not None else top_hz
        ax.add_patch(Rectangle((a.start_s, low), max(end - a.start_s, 1e-9), high - low, fill=False,
                               edgecolor=ANNOTATION_COLOR, linewidth=1.2))
        ax.annotate(a.ref, xy=(a.start_s, high), xytext=(2, -2), textcoords="offset points", ha="left",
                    va="top", fontsize=7, color="white", fontweight="bold",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": ANNOTATION_COLOR, "linewidth": 0})


# --------------------------------------------------------------------------------------------
# Still image


def image_figure(store: CaseStore, *, evidence: EvidenceItem, path: Path) -> FigureItem:
    """A thumbnail of the stored image with finding regions (red) and annotation regions (teal).

    The axes are in pixels of the stored image (origin top-left), whatever the thumbnail's size.
    """
    still = decode_image(path)
    h, w = still.height, still.width
    thumb = Image.fromarray(still.pixels)
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    aspect = h / w
    fig_h = min(max(FIG_WIDTH_IN * 0.9 * aspect, 2.5), 7.5)
    fig = Figure(figsize=(FIG_WIDTH_IN, fig_h), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    ax.imshow(np.asarray(thumb), extent=(0, w, h, 0), interpolation="lanczos")
    ax.set_xlabel("x (px)", fontsize=8)
    ax.set_ylabel("y (px)", fontsize=8)
    ax.tick_params(labelsize=7)
    drawn = []
    for f in evidence.findings:
        if f.region:
            _region_box(ax, f.region, _finding_color(f), f.ref)
            drawn.append(f.ref)
    for a in evidence.annotations:
        if a.region:
            _region_box(ax, a.region, ANNOTATION_COLOR, a.ref)
            drawn.append(a.ref)
    fig.suptitle(f"{evidence.original_name} ({w} × {h} px)", fontsize=9)
    caption = (
        f"Stored copy of {evidence.original_name}, {w} × {h} px, pixels as stored (EXIF orientation not "
        "applied); axes in pixels from the top-left corner."
        + (f" Outlined regions: {', '.join(drawn)} (red = findings, teal = annotations)." if drawn
           else " No finding or annotation names an image region.")
    )
    return _store(store, fig, evidence_id=evidence.evidence_id, kind="thumbnail",
                  title="Image with regions", caption=caption)


def _region_box(ax: Axes, region: Mapping[str, Any], color: str, label: str) -> None:
    x, y = float(region.get("x", 0)), float(region.get("y", 0))
    rw, rh = float(region.get("width", 0)), float(region.get("height", 0))
    ax.add_patch(Rectangle((x, y), rw, rh, fill=False, edgecolor=color, linewidth=1.6))
    ax.annotate(label, xy=(x, y), xytext=(1, -1), textcoords="offset points", ha="left", va="bottom",
                fontsize=7, color="white", fontweight="bold",
                bbox={"boxstyle": "square,pad=0.15", "facecolor": color, "linewidth": 0})


# --------------------------------------------------------------------------------------------
# Video


def frame_strip_figure(store: CaseStore, *, evidence: EvidenceItem, path: Path) -> FigureItem:
    """A strip of :data:`STRIP_FRAMES` evenly spaced decoded frames.

    Frames inside the frame range (or time range) of a finding get a red border and the finding's
    reference. At most :data:`MAX_STRIP_DECODE_FRAMES` frames are decoded from the start.
    """
    video = open_video(path)
    n_total = max(int(video.n_frames), 1)
    span = min(n_total, MAX_STRIP_DECODE_FRAMES)
    k = min(STRIP_FRAMES, span)
    wanted = sorted({int(round(i)) for i in np.linspace(0, span - 1, k)})
    got: list[tuple[int, float, np.ndarray]] = []
    for index, t, rgb in video.frames(start=0, stop=wanted[-1] + 1):
        if index in wanted:
            img = Image.fromarray(rgb)
            img.thumbnail((480, 480), Image.Resampling.LANCZOS)
            got.append((index, t, np.asarray(img)))
    if not got:
        raise ValueError("no frame decoded")
    fps = video.fps or fps_of(evidence)
    cols = 3 if len(got) > 3 else len(got)
    rows = math.ceil(len(got) / cols)
    aspect = video.height / max(video.width, 1)
    cell_h = (FIG_WIDTH_IN / cols - 0.12) * aspect  # image height when a cell is as wide as it can be
    fig = Figure(figsize=(FIG_WIDTH_IN, 0.35 + rows * (cell_h + 0.3)),
                 dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(got):]:
        ax.set_axis_off()
    for ax, (index, t, rgb) in zip(axes, got, strict=False):
        ax.imshow(rgb)
        ax.set_xticks([])
        ax.set_yticks([])
        hits = [f.ref for f in evidence.findings if _frame_in_finding(index, t, f, fps)]
        color = FINDING_COLOR if hits else "#333333"
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(2.0 if hits else 0.6)
        label = f"frame {index}, t = {t:.3f} s" + (f"  [{', '.join(hits)}]" if hits else "")
        ax.set_title(label, fontsize=7, color=color)
    fig.suptitle(f"{evidence.original_name}: {len(got)} decoded frames", fontsize=9)
    limited = (f" Only the first {MAX_STRIP_DECODE_FRAMES} of {n_total} frames were considered."
               if n_total > MAX_STRIP_DECODE_FRAMES else "")
    caption = (
        f"Frames decoded from the stored copy of {evidence.original_name} ({video.width} × {video.height} px, "
        f"{video.codec}, {fps:.3f} frames/s, {n_total} frames), evenly spaced; frame index from 0 and time in "
        f"seconds from the first frame. Red borders mark frames inside a finding's range.{limited}"
    )
    return _store(store, fig, evidence_id=evidence.evidence_id, kind="frames",
                  title="Frame strip", caption=caption)


def _frame_in_finding(index: int, t: float, f: FindingItem, fps: float | None) -> bool:
    if f.start_frame is not None:
        end = f.end_frame if f.end_frame is not None else f.start_frame + 1
        return f.start_frame <= index < end
    if f.start_s is not None:
        end_s = f.end_s if f.end_s is not None else f.start_s
        frame_s = 1.0 / fps if fps else 0.0
        return f.start_s <= t + frame_s and t <= end_s
    return False


# --------------------------------------------------------------------------------------------


def _store(store: CaseStore, fig: Figure, *, evidence_id: int, kind: str, title: str, caption: str,
           analyzer_id: str | None = None, run_id: int | None = None) -> FigureItem:
    """Render to PNG, store content-addressed, describe."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    png = buf.getvalue()
    sha = store.artifacts.put_bytes(png, suffix=".png")
    with Image.open(io.BytesIO(png)) as img:
        width, height = img.size
    return FigureItem(evidence_id=evidence_id, kind=kind, title=title, caption=caption, sha256=sha,
                      width_px=width, height_px=height, analyzer_id=analyzer_id, run_id=run_id)
