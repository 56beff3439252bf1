"""Robustness re-scoring: does a detector's verdict survive ordinary channel changes?

A verdict that flips when the same speech is re-encoded as MP3 or passed through a telephone band
says more about the channel than about the voice. This analyzer takes a segment (or the whole
recording), re-scores it with each selected detector after controlled transformations, and reports
the calibrated LLR and verdict band under each one:

* original (no change);
* MP3 at 64 kb/s, AAC at 96 kb/s and Opus at 24 kb/s (encode, decode, time-aligned);
* an 8 kHz round trip (telephone bandwidth);
* white noise at 20 dB and 10 dB SNR (seeded, so re-running gives the same numbers).

The verdict is called *stable* for a model when every condition keeps the original band; the spread
of the LLRs (max - min) is given as well. Conditions change the audio only in memory: the evidence
is never modified.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from forensics_app.analysis.audio.synthetic_speech import band_of, select_models, sigmoid
from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding

Transform = Callable[[np.ndarray, int], np.ndarray]


def _conditions(seed: int) -> list[tuple[str, Transform]]:
    from forensics_app.training import augment

    def noise(snr: float) -> Transform:
        return lambda w, r: augment.add_noise(w, snr_db=snr, rng=np.random.default_rng(seed))

    return [
        ("original", lambda w, r: w),
        ("MP3 64 kb/s", lambda w, r: augment.reencode(w, rate=r, codec="mp3", bitrate=64_000)),
        ("AAC 96 kb/s", lambda w, r: augment.reencode(w, rate=r, codec="aac", bitrate=96_000)),
        ("Opus 24 kb/s", lambda w, r: augment.reencode(w, rate=r, codec="opus", bitrate=24_000)),
        ("8 kHz round trip", lambda w, r: augment.resample_roundtrip(w, rate=r, via_rate=8000)),
        ("noise 20 dB SNR", noise(20.0)),
        ("noise 10 dB SNR", noise(10.0)),
    ]


PARAMS = [
    Param("models", "all", "Detector model ids, comma-separated, or 'all'"),
    Param("start_s", 0.0, "Segment start (s)", 0.0, None),
    Param("end_s", 0.0, "Segment end (s); 0 = the end of the recording", 0.0, None),
    Param("seed", 0, "Seed of the added noise", 0, 2**31 - 1),
]


@analyzer(id="audio.detector_robustness", version="1.0.0", media=[MediaKind.AUDIO],
          label="Detector robustness re-scoring", params=PARAMS,
          description="Re-score a segment after MP3/AAC/Opus re-encoding, an 8 kHz round trip and "
                      "added noise; report how stable each detector's verdict is")
def detector_robustness(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Re-score one segment under controlled channel changes."""
    from forensics_app.detectors.detector import load_detector
    from forensics_app.detectors.windows import file_score

    ids = select_models(str(params["models"]))
    rate = int(media.rate)
    duration = media.duration_s
    a = float(params["start_s"])
    b = float(params["end_s"]) or duration
    if not 0 <= a < b <= duration + 1e-6:
        raise AnalyzerError(f"segment {a:.2f}-{b:.2f} s is not inside the recording (0-{duration:.2f} s)")
    if b - a < 0.5:
        raise AnalyzerError(f"segment {a:.2f}-{b:.2f} s is shorter than 0.5 s")
    wave = np.asarray(media.mono()[int(a * rate):int(b * rate)], dtype=np.float32)
    whole = a == 0.0 and b >= duration - 1e-6
    span: dict[str, float | None] = {"start_s": None, "end_s": None} if whole else {"start_s": a, "end_s": b}
    conditions = _conditions(int(params["seed"]))
    findings: list[Finding] = []
    table: dict[str, dict[str, Any]] = {}
    total = len(ids) * len(conditions)
    for m, mid in enumerate(ids):
        det = load_detector(mid)
        bands = det.entry.bands
        if bands is None:
            raise AnalyzerError(f"model {mid} has no validated verdict bands")
        rows: dict[str, Any] = {}
        for c, (name, transform) in enumerate(conditions):
            step = m * len(conditions) + c
            progress.report(step / total, f"{mid}: {name}")
            progress.check()
            x = np.clip(transform(wave, rate), -1.0, 1.0).astype(np.float32)
            llr = float(det.llr(file_score(det.score_wave(x, rate=rate))))
            rows[name] = {"llr": llr, "band": band_of(llr, bands.t_low, bands.t_high)}
        original = rows["original"]["band"]
        kept = [n for n, r in rows.items() if r["band"] == original]
        spread = max(r["llr"] for r in rows.values()) - min(r["llr"] for r in rows.values())
        stable = len(kept) == len(rows)
        table[mid] = {"conditions": rows, "stable": stable, "llr_spread": spread}
        findings.append(Finding(
            label=(f"{mid}: verdict '{original}' {'stable' if stable else 'NOT stable'} under re-encoding "
                   f"({len(kept)} of {len(rows)} conditions keep it; LLR spread {spread:.2f})"),
            fake_likelihood=float(sigmoid(rows["original"]["llr"])), **span,
            details={"model_id": mid, "model_sha256": det.entry.sha256, "conditions": rows, "segment_s": [a, b],
                     "stable": stable, "llr_spread": spread,
                     "changed": [n for n in rows if n not in kept]},
        ))
        for name, r in rows.items():
            if name == "original":
                continue
            findings.append(Finding(
                label=f"{mid} after {name}: {r['band']} (LLR {r['llr']:+.2f}, "
                      f"{r['llr'] - rows['original']['llr']:+.2f} vs original)",
                fake_likelihood=float(sigmoid(r["llr"])),
                details={"model_id": mid, "condition": name, **r, "segment_s": [a, b],
                         "delta_llr": r["llr"] - rows["original"]["llr"]},
            ))
    progress.report(1.0, "done")
    return AnalysisResult(findings=tuple(findings), summary={
        "segment_s": [a, b], "conditions": [n for n, _ in conditions], "models": table,
    })
