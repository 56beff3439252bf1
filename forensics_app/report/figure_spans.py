"""Where findings lie on a figure's time axis: their spans, shading and reference labels.

Shared by the report's time-axis figures (waveform and spectrogram, series lanes, attention
maps). A finding is shaded over its time range (red for a scored finding, darker for a higher
FakeLikelihood; grey for a descriptive one; a line for an instant) and its reference (F1...) is
written above the axes. Findings that cover (nearly) the whole recording mark no particular place
and are not shaded, and findings with the same span share one label (``"F2, F5"``), so that labels
do not print over each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from matplotlib.axes import Axes

from forensics_app.report.model import EvidenceItem, FindingItem

FINDING_COLOR = "#c62828"
DESCRIPTIVE_COLOR = "#546e7a"
#: A span covering at least this share of the time axis is "the whole recording": not shaded.
WHOLE_SPAN_SHARE = 0.95
#: Span labels closer than this share of the time axis are written as one label.
LABEL_GAP_SHARE = 0.04

Span = tuple[float, float, FindingItem]


def finding_color(finding: FindingItem) -> str:
    """Red for a scored finding, grey for a descriptive one."""
    return DESCRIPTIVE_COLOR if finding.fake_likelihood is None else FINDING_COLOR


def shade(ax: Axes, start: float, end: float, finding: FindingItem) -> None:
    """Shade ``[start, end]`` s (a line when the span is an instant), darker for a higher FakeLikelihood."""
    fl = finding.fake_likelihood
    alpha = 0.12 if fl is None else 0.10 + 0.30 * fl
    if end - start <= 0:
        ax.axvline(start, color=finding_color(finding), alpha=min(1.0, alpha * 3), linewidth=1.0)
    else:
        ax.axvspan(start, end, color=finding_color(finding), alpha=alpha, linewidth=0)


def finding_spans(findings: Iterable[FindingItem], *, fps: float | None) -> list[Span]:
    """(start_s, end_s, finding) for findings localised in time (frame ranges via fps)."""
    spans = []
    for f in findings:
        if f.start_s is not None:
            spans.append((f.start_s, f.end_s if f.end_s is not None else f.start_s, f))
        elif f.start_frame is not None and fps:
            end = f.end_frame if f.end_frame is not None else f.start_frame + 1
            spans.append((f.start_frame / fps, end / fps, f))
    return spans


def local_spans(spans: Sequence[Span], *, whole_s: float | None) -> tuple[list[Span], list[FindingItem]]:
    """Split spans into those that mark a place and those covering the whole time axis.

    Parameters
    ----------
    spans : sequence of (start_s, end_s, FindingItem)
    whole_s : float or None
        Length of the time axis (s); None or 0 keeps every span.

    Returns
    -------
    local : list of (start_s, end_s, FindingItem)
    whole : list of FindingItem
        Findings whose span covers at least :data:`WHOLE_SPAN_SHARE` of ``whole_s``.
    """
    if not whole_s:
        return list(spans), []
    local = [s for s in spans if s[1] - s[0] < WHOLE_SPAN_SHARE * whole_s]
    kept = {id(s[2]) for s in local}
    return local, [s[2] for s in spans if id(s[2]) not in kept]


def label_spans(ax: Axes, spans: Sequence[Span], *, axis_s: float | None = None, fontsize: float = 7.0,
                color: str | None = None) -> None:
    """Write the references above the axes, one label per span or cluster of close spans (``"F2, F5"``).

    Parameters
    ----------
    axis_s : float, optional
        Length of the time axis (s): spans whose centres are closer than
        :data:`LABEL_GAP_SHARE` of it share a label.
    color : str, optional
        Label colour (default: red when a finding of the label is scored, grey otherwise).
    """
    gap = LABEL_GAP_SHARE * axis_s if axis_s else 0.0
    clusters: list[tuple[list[float], list[FindingItem]]] = []
    for start, end, finding in sorted(spans, key=lambda s: (s[0] + s[1]) / 2):
        centre = (start + end) / 2
        if clusters and (centre - clusters[-1][0][-1] <= gap or round(centre, 3) == round(clusters[-1][0][-1], 3)):
            clusters[-1][0].append(centre)
            clusters[-1][1].append(finding)
        else:
            clusters.append(([centre], [finding]))
    for centres, findings in clusters:
        scored = [f for f in findings if f.fake_likelihood is not None]
        ax.annotate(", ".join(f.ref for f in findings), xy=(sum(centres) / len(centres), 1.0),
                    xycoords=("data", "axes fraction"), xytext=(0, 2), textcoords="offset points", ha="center",
                    va="bottom", fontsize=fontsize,
                    color=color or finding_color(scored[0] if scored else findings[0]),
                    fontweight="bold")


def whole_note(whole: Sequence[FindingItem]) -> str:
    """Caption sentence naming the findings that were not shaded because they cover everything."""
    if not whole:
        return ""
    return (f" Findings over the whole recording ({', '.join(f.ref for f in whole)}) are not shaded.")


def fps_of(evidence: EvidenceItem) -> float | None:
    """Frame rate from the acquisition metadata (None when unknown)."""
    fps = evidence.metadata.get("fps")
    return float(fps) if isinstance(fps, (int, float)) and fps > 0 else None


def duration_of(evidence: EvidenceItem) -> float | None:
    """Duration (s) from the acquisition metadata (None when unknown)."""
    d = evidence.metadata.get("duration_s")
    return float(d) if isinstance(d, (int, float)) and d > 0 else None
