"""Report figures of self-resynthesis residual heatmaps, drawn under the spectrogram of the same span.

The self-resynthesis analysis re-vocodes the questioned audio with several local vocoders and
stores, per vocoder, a :class:`~forensics_app.domain.results.TimeFreqMap` named
``"resynthesis-residual-<vocoder>"`` (unit dB): how much each frequency band of each frame changed.
For each run with such maps one figure is drawn: the spectrogram of the stored copy over the span
of the maps (greyscale), then one opaque heatmap panel per vocoder on a common dB scale, so that
the vocoders can be compared with each other and with what is heard. The caption explains the
self-resynthesis logic and its limits in plain language.

The spectrogram is drawn only from a copy that passed the report's re-verification; the residual
panels come from the stored artifacts (hash-checked) and are drawn either way. Unreadable maps are
stated in notes; nothing here stops the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from forensics_app.domain.results import TimeFreqMap
from forensics_app.dsp.grids import centre_edges
from forensics_app.ingest.decode import decode_audio
from forensics_app.report.comparison_text import (
    RESIDUAL_CANNOT,
    RESIDUAL_LOGIC,
    RESIDUAL_MAP_PREFIX,
    RESIDUAL_SHOWS,
    explanation_of,
    is_residual_map,
)
from forensics_app.report.figures import DPI, FIG_WIDTH_IN, RunSeries, _store
from forensics_app.report.map_figures import CONTEXT_S, DB_RANGE, excerpt_spectrogram
from forensics_app.report.model import EvidenceItem, FigureItem, FindingItem
from forensics_app.store.case import CaseStore

#: Residual panels per figure (further maps of the run are listed in a note).
MAX_PANELS = 6
RESIDUAL_CMAP = "magma"
DIVERGING_CMAP = "RdBu_r"


def residual_figures_for_evidence(
    store: CaseStore, *, evidence: EvidenceItem, runs: Sequence[RunSeries]
) -> tuple[tuple[FigureItem, ...], tuple[tuple[int, str], ...]]:
    """Draw one figure per run that stored residual heatmaps.

    Parameters
    ----------
    store : CaseStore
        Maps are read from (and PNGs written to) its artifact store.
    evidence : EvidenceItem
        The item (its stored copy gives the spectrogram when it passed re-verification).
    runs : sequence of RunSeries
        The reported runs of the item.

    Returns
    -------
    figures : tuple of FigureItem
        Kind ``"residual"``; ``finding_ref`` lists the findings drawn (``"F2, F3"``).
    notes : tuple of (int, str)
        (run id, reason) for each map or figure that could not be read or drawn.
    """
    figures: list[FigureItem] = []
    notes: list[tuple[int, str]] = []
    wave: np.ndarray | None = None
    rate = 0
    spectrogram_note = ""
    decoded = False
    for run in runs:
        entries = [(f, ref) for f in run.findings for ref in f.maps if is_residual_map(ref)]
        if not entries:
            continue
        if not decoded:
            decoded = True
            if not evidence.intact:
                spectrogram_note = (f"The spectrogram is not shown: the stored copy failed re-verification "
                                    f"({evidence.verification}).")
            else:
                try:
                    clip = decode_audio(store.resolve(evidence.stored_path))
                    wave, rate = clip.mono(), int(clip.rate)
                except Exception as exc:  # stated, never fatal
                    spectrogram_note = f"The spectrogram is not shown: {type(exc).__name__}: {exc}."
        panels: list[tuple[FindingItem, TimeFreqMap]] = []
        for finding, ref in entries:
            try:
                panels.append((finding, store.artifacts.get_map(dict(ref))))
            except Exception as exc:  # stated, never fatal
                notes.append((run.run_id, f"Residual heatmap \u201c{ref.get('name', '?')}\u201d of {finding.ref} "
                                          f"(run #{run.run_id}) could not be read ({type(exc).__name__}: {exc}); "
                                          "the findings and tables are not affected."))
        if len(panels) > MAX_PANELS:
            notes.append((run.run_id, f"Residual heatmaps of {', '.join(f.ref for f, _ in panels[MAX_PANELS:])} "
                                      f"not drawn (at most {MAX_PANELS} panels per figure)."))
            panels = panels[:MAX_PANELS]
        if not panels:
            continue
        try:
            figures.append(residual_figure(store, evidence=evidence, run=run, panels=panels, wave=wave, rate=rate,
                                           spectrogram_note=spectrogram_note))
        except Exception as exc:  # stated, never fatal
            notes.append((run.run_id, f"Residual figure of run #{run.run_id} could not be drawn: "
                                      f"{type(exc).__name__}: {exc}"))
    return tuple(figures), tuple(notes)


def vocoder_of(m: TimeFreqMap) -> str:
    """The vocoder named by a residual map (``"resynthesis-residual-world"`` gives ``"world"``)."""
    return m.name[len(RESIDUAL_MAP_PREFIX):] if m.name.startswith(RESIDUAL_MAP_PREFIX) else m.name


def residual_scale(maps: Sequence[TimeFreqMap]) -> tuple[float, float, bool]:
    """Common colour range of the maps (dB) and whether it is signed.

    Non-negative residuals run from 0 to the 99th percentile of all maps; signed residuals
    (increase and decrease of level) are drawn symmetric about 0 on a diverging scale.
    """
    values = np.concatenate([m.values.ravel() for m in maps if m.values.size]) if maps else np.zeros(1)
    if values.size == 0:
        return 0.0, 1.0, False
    signed = bool(np.min(values) < 0.0)
    if signed:
        top = float(np.percentile(np.abs(values), 99.0))
        top = top if top > 0 else 1.0
        return -top, top, True
    top = float(np.percentile(values, 99.0))
    return 0.0, top if top > 0 else 1.0, False


def residual_figure(store: CaseStore, *, evidence: EvidenceItem, run: RunSeries,
                    panels: Sequence[tuple[FindingItem, TimeFreqMap]], wave: np.ndarray | None, rate: int,
                    spectrogram_note: str = "") -> FigureItem:
    """The spectrogram over the maps' span (when the copy is available), then one heatmap per vocoder.

    Parameters
    ----------
    panels : sequence of (FindingItem, TimeFreqMap)
        The per-vocoder findings and their residual maps (dB; values (n_f, n_t)).
    wave : np.ndarray or None
        The stored copy's samples, mono float32, shape (n,); None when it is not shown.
    rate : int
        Sample rate of ``wave`` (Hz).
    """
    maps = [m for _, m in panels]
    t_starts = [float(centre_edges(m.times_s)[0]) for m in maps if m.times_s.size]
    t_ends = [float(centre_edges(m.times_s)[-1]) for m in maps if m.times_s.size]
    if not t_starts:
        raise ValueError("the residual maps are empty")
    t0, t1 = max(0.0, min(t_starts)), max(t_ends)
    # Every panel shows the band the residuals cover (the analysis may run at a lower rate than the copy).
    top_hz = max(float(centre_edges(m.freqs_hz, floor=0.0)[-1]) for m in maps if m.freqs_hz.size)
    spectrogram = wave is not None and wave.size > 0
    if spectrogram:
        duration = wave.size / rate
        t0, t1 = max(0.0, t0 - CONTEXT_S), min(duration, t1 + CONTEXT_S)
        top_hz = min(top_hz, rate / 2)
    lo, hi, signed = residual_scale(maps)

    n_panels = len(maps) + (1 if spectrogram else 0)
    fig = Figure(figsize=(FIG_WIDTH_IN, 0.9 + 1.55 * n_panels), dpi=DPI, layout="constrained")
    axes = list(fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0])
    nperseg = 0
    if spectrogram:
        assert wave is not None
        db, extent, nperseg = excerpt_spectrogram(wave, rate, t0, t1)
        vmax = float(np.max(db)) if db.size else 0.0
        ax = axes.pop(0)
        image = ax.imshow(db, origin="lower", aspect="auto", cmap="gray", vmin=vmax - DB_RANGE, vmax=vmax,
                          extent=extent, interpolation="nearest")
        ax.set_title("Spectrogram of the stored copy", fontsize=8)
        cb = fig.colorbar(image, ax=ax, location="right", shrink=0.9, pad=0.01)
        cb.set_label("PSD (dB)", fontsize=6.5)
        cb.ax.tick_params(labelsize=6)
        _axis(ax, t0, t1, top_hz)
    mesh = None
    for ax, (finding, m) in zip(axes, panels, strict=True):
        mesh = ax.pcolormesh(centre_edges(m.times_s), centre_edges(m.freqs_hz, floor=0.0), m.values,
                             cmap=DIVERGING_CMAP if signed else RESIDUAL_CMAP, norm=Normalize(lo, hi),
                             shading="flat", rasterized=True)
        ax.set_title(f"{finding.ref}: residual after re-vocoding with {vocoder_of(m)} ({m.unit})", fontsize=8)
        _axis(ax, t0, t1, top_hz)
    assert mesh is not None
    cbar = fig.colorbar(mesh, ax=axes, location="right", shrink=0.9, pad=0.01)
    cbar.set_label(f"residual ({maps[0].unit}), same scale in every panel", fontsize=6.5)
    cbar.ax.tick_params(labelsize=6)
    axes[-1].set_xlabel("Time (s)", fontsize=8)
    fig.suptitle(f"{run.analyzer_label or run.analyzer_id} (run #{run.run_id}): spectrogram and residual heatmaps",
                 fontsize=9)

    refs = ", ".join(f.ref for f, _ in panels)
    who = f"{run.analyzer_label or run.analyzer_id} ({run.analyzer_id} v{run.analyzer_version}, run #{run.run_id})"
    first = 2 if spectrogram else 1
    parts = [f"Findings {refs} of {who} on {evidence.original_name}, {t0:.2f}\u2013{t1:.2f} s."]
    if spectrogram:
        shown = f", shown up to {top_hz:.0f} Hz, the band the residuals cover" if top_hz < rate / 2 else ""
        parts.append(f"Panel 1: spectrogram of the stored copy (Hann window of {nperseg} samples at {rate} Hz, "
                     f"greyscale, {DB_RANGE:.0f} dB range{shown}).")
    elif spectrogram_note:
        parts.append(spectrogram_note)
    names = ", ".join(vocoder_of(m) for m in maps)
    scale = (f"diverging scale from {lo:.3g} to {hi:.3g} dB (blue: level lowered, red: level raised)" if signed
             else f"from 0 dB (dark) to {hi:.3g} dB (bright, 99th percentile of all panels)")
    parts.append(f"Panels {first}\u2013{first + len(maps) - 1}: residual heatmaps for the vocoders {names}, "
                 f"time on the horizontal axis, frequency (Hz) on the vertical axis, {scale}, the same scale in "
                 "every panel so that the vocoders can be compared.")
    said = explanation_of(panels[0][0].details)
    if not said:
        parts.append(RESIDUAL_SHOWS)
    else:  # the analyzer's own explanation, with the logic stated unless it states it itself
        parts.append(said if "fixed point" in said else f"{RESIDUAL_LOGIC} {said}")
    parts.append(RESIDUAL_CANNOT)
    item = _store(store, fig, evidence_id=evidence.evidence_id, kind="residual",
                  title=f"Self-resynthesis residual heatmaps ({names}) under the spectrogram, "
                        f"{t0:.2f}\u2013{t1:.2f} s",
                  caption=" ".join(parts), analyzer_id=run.analyzer_id, run_id=run.run_id)
    return replace(item, finding_ref=refs)


def _axis(ax: Axes, t0: float, t1: float, top_hz: float) -> None:
    ax.set_xlim(t0, t1)
    ax.set_ylim(0.0, top_hz)
    ax.set_ylabel("Frequency (Hz)", fontsize=7.5)
    ax.tick_params(labelsize=7)
