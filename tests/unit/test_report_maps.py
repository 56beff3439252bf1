"""Case report: explanation-map figures and the detector validation section (HTML, JSON, PDF).

No Qt. A test analyzer registered here returns what the synthetic-speech analyzer returns (a fused
verdict with lanes, per-model verdicts, suspicious segments with one explanation map per model,
and a run summary listing the models with their calibration and validation); the runner stores
it, and the report is built from the store.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from forensics_app.analysis import registry, runner
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeFreqMap, TimeSeries
from forensics_app.ingest.acquire import add_evidence
from forensics_app.report import build_report, export_report, render_html
from forensics_app.report.build import detector_validation
from forensics_app.report.map_figures import model_of, overlay_cmap
from forensics_app.store.case import CaseStore

SPEECH_ID = "test.speech_maps"
EXAMINER = "Test Examiner"
RATE = 16_000
SHA_A = "a1" * 32
SHA_B = "b2" * 32


def _model(model_id: str, sha: str, *, source: str, eer: float) -> dict[str, Any]:
    return {
        "id": model_id, "sha256": sha, "architecture": "lcnn" if source == "shipped" else "aasist",
        "source": source, "window_s": 4.0, "hop_s": 0.5, "licence": "MIT", "training_data": "test speakers",
        "calibration": {"a": 0.8125, "b": -0.375},
        "bands": {"t_low": -2.0, "t_high": 2.5, "rates": {
            "bona_fide_called_synthetic": 0.0125, "spoof_called_bona_fide": 0.0375,
            "inconclusive_bona_fide": 0.1, "inconclusive_spoof": 0.15}},
        "validation": {"eer": eer, "cllr": 0.4321, "min_cllr": 0.2987, "paired_eer": 0.0625,
                       "per_generator": {"griffinlim": {"eer": 0.0212, "paired_eer": 0.0313},
                                         "world": {"eer": 0.1111, "paired_eer": 0.1515}},
                       "lofo": {"neural": {"eer": 0.2468, "paired_eer": 0.3010}}},
        "limits": [f"{model_id}: trained on read English speech only",
                   "not validated on telephone channels"],
        "card": f"models/{model_id}.md",
    }


def _explanation(name: str, start_s: float, *, window_s: float = 1.0) -> TimeFreqMap:
    """Relevance peaking at the window's middle around 2 kHz (times absolute, frequencies in Hz)."""
    times = start_s + (np.arange(50) + 0.5) * window_s / 50
    freqs = (np.arange(60) + 0.5) * (RATE / 2) / 60
    v = np.exp(-((times[None, :] - start_s - window_s / 2) / 0.1) ** 2 - ((freqs[:, None] - 2000) / 500) ** 2)
    return TimeFreqMap(name=name, unit="relevance", times_s=times, freqs_hz=freqs, values=v / v.max())


@pytest.fixture
def speech_analyzer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "BUILTIN_MODULES", ())
    monkeypatch.setattr(registry, "_loaded", registry._loaded)

    @registry.analyzer(id=SPEECH_ID, version="1.0.0", media=[MediaKind.AUDIO], label="Speech detectors (test)")
    def speech(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
        """The synthetic-speech analyzer's output contract, with fixed numbers."""
        t = np.arange(0.25, media.duration_s, 0.5)
        lanes = tuple(TimeSeries(name, "FakeLikelihood", t, np.linspace(0.1, 0.9, t.size))
                      for name in ("lcnn-a", "aasist-b", "fused"))
        segments = []
        for a, b in ((0.5, 1.5), (2.0, 2.75)):
            segments.append(Finding(
                f"Suspicious segment {a:.2f}-{b:.2f} s (peak LLR +1.50)", fake_likelihood=0.82 - a / 10,
                start_s=a, end_s=b,
                details={"peak_llr": 1.5, "per_model_peak": {"lcnn-a": {"window_start_s": a, "llr": 1.2}},
                         "explanation": "integrated gradients (LFCC-LCNN) / graph-attention weights "
                                        "(AASIST) of the peak window"},
                maps=(_explanation("lcnn-a explanation", a), _explanation("aasist-b explanation", a + 0.1))))
        return AnalysisResult(findings=(
            Finding("Synthetic speech verdict: inconclusive (LLR +0.40)", fake_likelihood=0.6,
                    details={"band": "inconclusive", "llr": 0.4, "per_model": {"lcnn-a": 0.3, "aasist-b": 0.5}},
                    series=lanes),
            Finding("lcnn-a: inconclusive (LLR +0.30)", fake_likelihood=0.57, details={"model_id": "lcnn-a"}),
            *segments,
        ), summary={
            "models": [_model("lcnn-a", SHA_A, source="shipped", eer=0.0525),
                       _model("aasist-b", SHA_B, source="imported", eer=0.0875)],
            "fusion": {"method": "mean of calibrated LLRs (not validated separately)",
                       "bands": {"t_low": -2.0, "t_high": 2.5}},
            "device": "cpu",
        })

    yield
    registry.unregister(SPEECH_ID)


@pytest.fixture
def speech_case(case: CaseStore, speech_analyzer: None, tmp_path: Path) -> tuple[CaseStore, int]:
    t = np.arange(3 * RATE) / RATE
    x = sum(0.15 / k * np.sin(2 * np.pi * 140 * k * t) for k in range(1, 10))
    x = (x + 0.003 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)
    path = tmp_path / "call.wav"
    sf.write(path, x, RATE, subtype="PCM_16")
    eid = add_evidence(case, path, examiner=EXAMINER).evidence_id
    assert eid is not None
    for _ in range(2):  # two runs: only the newer is reported, so its models are stated once
        run_id = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec(SPEECH_ID), examiner=EXAMINER)
        assert runner.run_job(case, run_id).error is None
    return case, eid


def test_report_has_map_figures_and_detector_validation(speech_case: tuple[CaseStore, int]) -> None:
    store, eid = speech_case
    report = build_report(store, examiner=EXAMINER)
    ev = report.evidence[0]
    segments = [f for f in ev.findings if f.maps]
    assert len(segments) == 2 and all(len(f.maps) == 2 and f.maps[0]["kind"] == "tfmap" for f in segments)

    maps = [fig for fig in ev.figures if fig.kind == "map"]
    assert [fig.finding_ref for fig in maps] == [f.ref for f in segments]
    first = maps[0]
    png = store.artifacts.get_bytes(first.sha256, suffix=".png")
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (first.width_px, first.height_px) and img.height > img.width * 0.6  # three panels
    seg = segments[0]
    assert f"{seg.start_s:.2f}–{seg.end_s:.2f} s" in first.title and "lcnn-a" in first.title
    for words in ("test.speech_maps v1.0.0", "model lcnn-a", "model aasist-b", "integrated gradients",
                  "pushed the detector’s score towards “synthetic”", "not proof by itself",
                  "where the model looked, not why the audio is synthetic"):
        assert words in first.caption, words
    assert first.run_id == seg.run_id and first.analyzer_id == SPEECH_ID

    # Validation: one entry per model, the numbers as stated in the run summary.
    assert [m.model_id for m in report.detector_models] == ["lcnn-a", "aasist-b"]
    a = report.detector_models[0]
    assert (a.sha256, a.architecture, a.source, a.window_s, a.hop_s) == (SHA_A, "lcnn", "shipped", 4.0, 0.5)
    assert (a.calibration_a, a.calibration_b, a.eer, a.cllr, a.min_cllr, a.paired_eer) == (
        0.8125, -0.375, 0.0525, 0.4321, 0.2987, 0.0625)
    assert a.bands is not None and (a.bands.t_low, a.bands.t_high, a.bands.spoof_called_bonafide) == (-2.0, 2.5, 0.0375)
    assert [(g.name, g.eer) for g in a.per_generator] == [("griffinlim", 0.0212), ("world", 0.1111)]
    assert [(g.name, g.eer, g.paired_eer) for g in a.lofo] == [("neural", 0.2468, 0.301)]
    assert a.limits[0] == "lcnn-a: trained on read English speech only"
    assert a.run_ids == (seg.run_id,)  # only the newest run is reported
    assert [f.method for f in report.detector_fusions] == ["mean of calibrated LLRs (not validated separately)"]

    html = render_html(report, store=store)
    section = html[html.index('id="detector-validation"'):html.index("Software and compute environment")]
    for text in ("5.3 Detector validation", "Model lcnn-a", "Model aasist-b", SHA_A[:16], "imported (third-party",
                 "4.00 s / 0.50 s", "a = 0.8125, b = -0.375", "EER 5.25 %", "Cllr 0.432 bits",
                 "min Cllr 0.299 bits", "paired EER 6.25 %", "≥ +2.50", "≤ -2.00", "1.25 %", "3.75 %",
                 "10.00 %", "15.00 %", "81.25 %", "88.75 %", "generator griffinlim", "2.12 %", "generator world", "11.11 %",
                 "family neural held out of training", "24.68 %", "30.10 %",
                 "lcnn-a: trained on read English speech only", "not validated on telephone channels",
                 "Fused verdict", "mean of calibrated LLRs (not validated separately)"):
        assert text in section, text
    assert "5.4 Software and compute environment" in html
    assert html.count('<figure class="map">') == 2 and "where the model looked" in html
    run_summary = html[html.index("5.1 Analyses reported"):html.index("5.2 Runs not reported")]
    assert "see <a href=\"#detector-validation\">" in run_summary and SHA_B not in run_summary

    data = report.as_json()
    assert json.loads(json.dumps(data)) == data
    models = {m["model_id"]: m for m in data["detector_models"]}
    assert models["aasist-b"]["sha256"] == SHA_B and models["aasist-b"]["eer"] == 0.0875
    assert models["lcnn-a"]["bands"]["inconclusive_spoof"] == 0.15
    assert models["lcnn-a"]["lofo"] == [{"name": "neural", "eer": 0.2468, "paired_eer": 0.301}]
    assert models["lcnn-a"]["limits"] == list(a.limits)
    assert data["detector_fusions"][0]["bands"]["t_high"] == 2.5
    json_ev = data["evidence"][0]
    assert [f["maps"][0]["name"] for f in json_ev["findings"] if f["maps"]] == ["lcnn-a explanation"] * 2
    assert sum(fig["kind"] == "map" for fig in json_ev["figures"]) == 2


def test_no_validation_section_without_models_and_malformed_summaries_do_not_fail() -> None:
    from forensics_app.report.model import RunItem

    def run(summary: Any, run_id: int = 1) -> RunItem:
        return RunItem(run_id=run_id, evidence_id=1, evidence_name="x", analyzer_id="a", analyzer_version="1",
                       analyzer_label="", analyzer_description="", params={}, model_sha256=None,
                       evidence_sha256="", evidence_sha256_matches=True, status="done", queued_at=None,
                       started_at=None, finished_at=None, examiner="", error=None, summary=summary,
                       n_findings=0, used=True)

    assert detector_validation([run({}), run({"models": "lcnn"})]) == ((), ())
    models, fusions = detector_validation([run({"models": [{"id": "m", "calibration": None, "bands": None,
                                                           "validation": {"eer": float("nan"), "cllr": "x"},
                                                           "limits": None}, 3]})])
    assert len(models) == 1 and fusions == ()
    m = models[0]
    assert (m.model_id, m.calibration_a, m.bands, m.eer, m.cllr, m.limits) == ("m", None, None, None, None, ())
    # Two runs with the same model description share one entry.
    same = _model("lcnn-a", SHA_A, source="shipped", eer=0.05)
    models, _ = detector_validation([run({"models": [same]}, 1), run({"models": [same]}, 2)])
    assert len(models) == 1 and models[0].run_ids == (1, 2)


def test_map_attribution_and_transparent_colormap() -> None:
    from forensics_app.report.model import FindingItem

    f = FindingItem(finding_id=1, run_id=1, rank=0, analyzer_id="a", analyzer_version="1", label="s",
                    fake_likelihood=0.5, start_s=0.0, end_s=1.0, start_frame=None, end_frame=None, region=None,
                    details={"model_id": "fallback"})
    assert model_of("lcnn-a explanation", f, ["lcnn", "lcnn-a"]) == "lcnn-a"  # longest id wins
    assert model_of("something else", f, ["lcnn-a"]) == "fallback"
    cmap = overlay_cmap()
    assert cmap(0.0)[3] == 0.0 and cmap(1.0)[3] == pytest.approx(0.9)


@pytest.mark.slow
def test_pdf_shows_the_map_figure_and_validation(speech_case: tuple[CaseStore, int], tmp_path: Path) -> None:
    store, _ = speech_case
    out = export_report(store, out=tmp_path / "report.pdf", examiner=EXAMINER)
    assert out.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Detector validation" in text and "family neural held out of training" in text
    assert re.search(r"explanation maps of lcnn-a, aasist-b|explanation maps of aasist-b, lcnn-a", text)
