"""Report figures of time x frequency maps: a finding's maps drawn over the spectrogram around it.

A finding may store :class:`~forensics_app.domain.results.TimeFreqMap` artifacts, e.g. the
explanation map of each detector for a suspicious segment of speech (self-resynthesis residual
heatmaps are drawn by :mod:`forensics_app.report.residual_figures` instead). For each such finding one
figure is drawn: the spectrogram of the stored copy around the segment (greyscale), then one panel
per map with the map drawn translucent over the same spectrogram (transparent at 0, through red
to opaque yellow at the top of its scale), the segment marked by dashed lines in every panel.
Like the other media figures (see :mod:`forensics_app.report.figures`) they are drawn only from a
copy that passed the report's re-verification, on a bare matplotlib Figure (no pyplot), and stored
content-addressed as PNG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

from forensics_app.domain.results import TimeFreqMap
from forensics_app.dsp.grids import centre_edges
from forensics_app.ingest.decode import decode_audio
from forensics_app.report.comparison_text import is_residual_map
from forensics_app.report.figures import DPI, FIG_WIDTH_IN, RunSeries, _store
from forensics_app.report.model import EvidenceItem, FigureItem, FindingItem
from forensics_app.store.case import CaseStore

#: Map figures per evidence item (findings with the highest FakeLikelihood first).
MAX_MAP_FIGURES = 12
#: Audio shown before and after the segment and its maps (s).
CONTEXT_S = 0.25
#: Spectrogram work cap: FFT columns per panel.
MAX_COLUMNS = 1200
#: Level range of the greyscale spectrogram (dB below its maximum).
DB_RANGE = 80.0
#: Unit of explanation maps (values in [0, 1]).
EXPLANATION_UNIT = "relevance"
SEGMENT_COLOR = "#00e5ff"


def overlay_cmap(n: int = 256) -> ListedColormap:
    """Dark red through orange to yellow, alpha rising from 0 (value 0) to 0.9 (top of the scale)."""
    x = np.linspace(0.0, 1.0, n)
    rgba = np.column_stack([
        np.interp(x, [0.0, 0.5, 1.0], [0.75, 1.0, 1.0]),
        np.interp(x, [0.0, 0.5, 1.0], [0.0, 0.45, 1.0]),
        np.interp(x, [0.0, 0.5, 1.0], [0.0, 0.0, 0.2]),
        0.9 * x ** 0.6,
    ])
    return ListedColormap(rgba, name="overlay")


def map_figures_for_evidence(
    store: CaseStore, *, evidence: EvidenceItem, runs: Sequence[RunSeries],
    model_ids: Mapping[int, Sequence[str]] | None = None,
) -> tuple[tuple[FigureItem, ...], tuple[str, ...]]:
    """Draw one figure per finding with maps (at most :data:`MAX_MAP_FIGURES`).

    Parameters
    ----------
    store : CaseStore
        Maps are read from (and PNGs written to) its artifact store.
    evidence : EvidenceItem
        The item with its findings (references F1... assigned) and verification result.
    runs : sequence of RunSeries
        The reported runs of the item (provenance of each finding).
    model_ids : mapping of run id to model ids, optional
        The detectors each run used (from its summary): a map whose name starts with a model id
        is attributed to that model.

    Returns
    -------
    figures : tuple of FigureItem
        Kind ``"map"``.
    notes : tuple of str
        Figures not drawn, with the reason (a failing figure never stops the report).
    """
    run_of = {f.finding_id: run for run in runs for f in run.findings}
    wanted = [f for f in evidence.findings if drawn_maps(f) and f.finding_id in run_of]
    if not wanted:
        return (), ()
    if not evidence.intact:
        return (), (f"Maps of {', '.join(f.ref for f in wanted)} not drawn: the stored copy failed "
                    f"re-verification ({evidence.verification}), so its spectrogram is not shown.",)
    notes: list[str] = []
    if len(wanted) > MAX_MAP_FIGURES:
        rest = wanted[MAX_MAP_FIGURES:]
        notes.append(f"Maps of {', '.join(f.ref for f in rest)} not drawn (at most {MAX_MAP_FIGURES} map "
                     "figures per item); they are kept in the case and referenced in the JSON export.")
        wanted = wanted[:MAX_MAP_FIGURES]
    try:
        clip = decode_audio(store.resolve(evidence.stored_path))
    except Exception as exc:  # a figure must never stop a court report; the reason is stated
        return (), (f"Maps of {', '.join(f.ref for f in wanted)} not drawn: {type(exc).__name__}: {exc}",)
    x, rate = clip.mono(), int(clip.rate)
    figures: list[FigureItem] = []
    for finding in wanted:
        run = run_of[finding.finding_id]
        try:
            maps = [store.artifacts.get_map(dict(ref)) for ref in drawn_maps(finding)]
            figures.append(map_figure(store, evidence=evidence, run=run, finding=finding, maps=maps, wave=x,
                                      rate=rate, model_ids=(model_ids or {}).get(run.run_id, ())))
        except Exception as exc:  # stated, never fatal
            notes.append(f"Map figure of {finding.ref} could not be drawn: {type(exc).__name__}: {exc}")
    return tuple(figures), tuple(notes)


def drawn_maps(finding: FindingItem) -> list[Mapping[str, Any]]:
    """The finding's map references drawn here: all but self-resynthesis residual heatmaps.

    Residual heatmaps are measurements in dB, not explanations of a detector; they are drawn
    beside the spectrogram by :mod:`forensics_app.report.residual_figures`.
    """
    return [ref for ref in finding.maps if not is_residual_map(ref)]


def model_of(map_name: str, finding: FindingItem, model_ids: Sequence[str]) -> str | None:
    """The model a map belongs to: the longest model id that its name starts with, else details."""
    hits = [m for m in model_ids if map_name == m or map_name.startswith(f"{m} ")]
    if hits:
        return max(hits, key=len)
    named = finding.details.get("model_id")
    return str(named) if named else None


def method_of(model: str | None, finding: FindingItem) -> str | None:
    """The explanation method stated in the finding's details (per model, else for the finding)."""
    per_model = finding.details.get("per_model_peak")
    if model and isinstance(per_model, Mapping) and isinstance(per_model.get(model), Mapping):
        method = per_model[model].get("method")
        if method:
            return str(method)
    for key in ("explanation", "method", "explanation_method"):
        value = finding.details.get(key)
        if isinstance(value, str) and value and value != "not computed":
            return value
    return None


def map_figure(store: CaseStore, *, evidence: EvidenceItem, run: RunSeries, finding: FindingItem,
               maps: Sequence[TimeFreqMap], wave: np.ndarray, rate: int,
               model_ids: Sequence[str] = ()) -> FigureItem:
    """The spectrogram around a finding, then each of its maps over that spectrogram.

    Parameters
    ----------
    wave : np.ndarray
        The stored copy's samples, mono float32, shape (n,).
    rate : int
        Sample rate (Hz).
    """
    duration = wave.size / rate
    starts = [float(m.times_s[0]) for m in maps if m.times_s.size]
    ends = [float(m.times_s[-1]) for m in maps if m.times_s.size]
    seg_a = finding.start_s if finding.start_s is not None else min(starts, default=0.0)
    seg_b = finding.end_s if finding.end_s is not None else max(ends, default=seg_a)
    t0 = max(0.0, min([seg_a, *starts]) - CONTEXT_S)
    t1 = min(duration, max([seg_b, *ends]) + CONTEXT_S)
    if t1 <= t0:
        raise ValueError(f"the segment {seg_a:.3f}-{seg_b:.3f} s lies outside the recording")
    db, extent, nperseg = excerpt_spectrogram(wave, rate, t0, t1)
    vmax = float(np.max(db)) if db.size else 0.0

    n_panels = 1 + len(maps)
    fig = Figure(figsize=(FIG_WIDTH_IN, 0.9 + 1.65 * n_panels), dpi=DPI, layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    mesh = None
    for ax in axes:
        mesh = ax.imshow(db, origin="lower", aspect="auto", cmap="gray", vmin=vmax - DB_RANGE, vmax=vmax,
                         extent=extent, interpolation="nearest")
        ax.set_xlim(t0, t1)
        ax.set_ylim(0.0, rate / 2)
        ax.set_ylabel("Frequency (Hz)", fontsize=7.5)
        ax.tick_params(labelsize=7)
        for edge in (seg_a, seg_b):
            ax.axvline(edge, color=SEGMENT_COLOR, linewidth=0.9, linestyle="--")
    axes[0].set_title(f"Spectrogram of the stored copy; segment of {finding.ref} between the dashed lines",
                      fontsize=8)
    cbar = fig.colorbar(mesh, ax=axes[0], location="right", shrink=0.9, pad=0.01)
    cbar.set_label("PSD (dB re 1 FS²/Hz)", fontsize=6.5)
    cbar.ax.tick_params(labelsize=6)
    panels = []
    for i, (ax, m) in enumerate(zip(axes[1:], maps, strict=True), start=2):
        model = model_of(m.name, finding, model_ids)
        overlay = _draw_map(ax, m)
        ax.set_title(f"{model + ': ' if model and model != m.name else ''}{m.name} ({m.unit})", fontsize=8)
        cb = fig.colorbar(overlay, ax=ax, location="right", shrink=0.9, pad=0.01)
        cb.set_label(m.unit, fontsize=6.5)
        cb.ax.tick_params(labelsize=6)
        panels.append((i, model, m))
    axes[-1].set_xlabel("Time (s)", fontsize=8)
    fig.suptitle(f"{finding.ref}: {finding.label}", fontsize=9)
    caption = _caption(evidence=evidence, run=run, finding=finding, panels=panels, seg=(seg_a, seg_b),
                       window=(t0, t1), nperseg=nperseg, rate=rate)
    models = sorted({model for _, model, _ in panels if model})
    item = _store(store, fig, evidence_id=evidence.evidence_id, kind="map",
                  title=f"{finding.ref}: {'explanation maps' if _explanatory(maps) else 'time-frequency maps'}"
                        f"{' of ' + ', '.join(models) if models else ''}, {seg_a:.2f}–{seg_b:.2f} s",
                  caption=caption, analyzer_id=run.analyzer_id, run_id=run.run_id)
    return replace(item, finding_ref=finding.ref)


def _explanatory(maps: Sequence[TimeFreqMap]) -> bool:
    return all(m.unit == EXPLANATION_UNIT for m in maps)


def excerpt_spectrogram(wave: np.ndarray, rate: int, t0: float, t1: float
                         ) -> tuple[np.ndarray, tuple[float, float, float, float], int]:
    """PSD in dB of ``[t0, t1]`` s: (levels (n_f, n_t), imshow extent (s, Hz), window length)."""
    a, b = int(math.floor(t0 * rate)), int(math.ceil(t1 * rate))
    seg = np.asarray(wave[a:b], dtype=np.float32)
    nperseg = int(2 ** round(math.log2(max(rate * 0.032, 64))))
    nperseg = min(nperseg, max(16, seg.size))
    hop = max(nperseg // 8, math.ceil(seg.size / MAX_COLUMNS))
    sft = ShortTimeFFT(hann(nperseg, sym=False), hop=hop, fs=rate, scale_to="psd")
    sxx = sft.spectrogram(seg)
    t = sft.t(seg.size) + a / rate
    db = 10.0 * np.log10(np.maximum(sxx, 1e-20))
    half = hop / rate / 2
    return db, (float(t[0]) - half, float(t[-1]) + half, 0.0, rate / 2), nperseg


def _draw_map(ax: Axes, m: TimeFreqMap) -> Any:
    if m.unit == EXPLANATION_UNIT or not m.values.size:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = float(np.min(m.values)), float(np.max(m.values))
        hi = hi if hi > lo else lo + 1.0
    mesh = ax.pcolormesh(centre_edges(m.times_s), centre_edges(m.freqs_hz, floor=0.0), m.values,
                         cmap=overlay_cmap(), norm=Normalize(lo, hi), shading="flat", rasterized=True)
    return mesh


def _caption(*, evidence: EvidenceItem, run: RunSeries, finding: FindingItem,
             panels: Sequence[tuple[int, str | None, TimeFreqMap]], seg: tuple[float, float],
             window: tuple[float, float], nperseg: int, rate: int) -> str:
    who = f"{run.analyzer_label or run.analyzer_id} ({run.analyzer_id} v{run.analyzer_version}, run #{run.run_id})"
    parts = [
        f"Finding {finding.ref} of {who} on {evidence.original_name}: \u201c{finding.label}\u201d, segment "
        f"{seg[0]:.2f}\u2013{seg[1]:.2f} s (dashed lines). Panel 1: spectrogram of the stored copy from "
        f"{window[0]:.2f} to {window[1]:.2f} s (Hann window of {nperseg} samples at {rate} Hz, greyscale, "
        f"{DB_RANGE:.0f} dB range).",
    ]
    for i, model, m in panels:
        where = (f"{float(m.times_s[0]):.2f}\u2013{float(m.times_s[-1]):.2f} s, "
                 f"{float(m.freqs_hz[0]):.0f}\u2013{float(m.freqs_hz[-1]):.0f} Hz") if m.values.size else "empty"
        parts.append(f"Panel {i}: map \u201c{m.name}\u201d ({m.unit}) of model {model or 'not named'} over "
                     f"the same spectrogram ({where}), transparent at 0 and opaque yellow at "
                     f"{'1' if m.unit == EXPLANATION_UNIT else 'its maximum'}.")
    methods = {method_of(model, finding) for _, model, m in panels if m.unit == EXPLANATION_UNIT}
    methods.discard(None)
    if any(m.unit == EXPLANATION_UNIT for _, _, m in panels):
        how = (f"as computed by {'; '.join(sorted(str(x) for x in methods))}" if methods else
               "as computed by the explanation method of the analyzer (not named in the finding)")
        parts.append(
            "An explanation map shows the time-frequency regions that pushed the detector\u2019s score "
            f"towards \u201csynthetic\u201d in the window it explains, {how}. It is not proof by itself: it "
            "indicates where the model looked, not why the audio is synthetic, and it does not show that "
            "the marked regions were manipulated.")
    if any(m.unit != EXPLANATION_UNIT for _, _, m in panels):
        parts.append("Other maps show the stored quantity in its unit over time and frequency, scaled from "
                     "its minimum to its maximum; they are measurements for orientation, not proof by themselves.")
    return " ".join(parts)
