"""Case report: content from the store, re-verification, figures, HTML / PDF / JSON export, audit.

No Qt. Media are generated here; the analyzers are test analyzers registered for the test (the
built-in analyzers are not needed and not loaded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image, ImageDraw

from forensics_app.analysis import registry, runner
from forensics_app.analysis.registry import Param
from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind, StillImage
from forensics_app.domain.results import AnalysisResult, Finding, Region, TimeSeries
from forensics_app.ingest.acquire import add_evidence
from forensics_app.report import ReportData, build_report, export_report, formatting, render_html
from forensics_app.report.resources import templates_dir
from forensics_app.store import audit, repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import Annotation

PROBE_ID = "test.report_probe"
PROBE_VERSION = "2.3.1"
FAILING_ID = "test.report_fails"
EXAMINER = "Test Examiner"


# --------------------------------------------------------------------------------------------
# Fixtures: analyzers and media made here


@pytest.fixture
def analyzers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register a scoring/descriptive probe analyzer and one that always fails; remove them after.

    The built-in analyzer modules are not imported (they are written elsewhere); the registry's
    loaded flag is restored afterwards so other tests still load them.
    """
    monkeypatch.setattr(registry, "BUILTIN_MODULES", ())
    monkeypatch.setattr(registry, "_loaded", registry._loaded)

    @registry.analyzer(
        id=PROBE_ID, version=PROBE_VERSION, media=[MediaKind.AUDIO, MediaKind.IMAGE],
        label="Report probe <b>&</b>", params=[Param("frame_s", 0.05, "Analysis frame (s)", minimum=0.005)],
    )
    def probe(media: Any, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
        """Test analyzer: frame levels with a scored level step, a second score, a measurement."""
        if isinstance(media, AudioClip):
            hop = int(params["frame_s"] * media.rate)
            x = media.mono()
            n = x.size // hop
            rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
            t = (np.arange(n) + 0.5) * hop / media.rate
            level = 20 * np.log10(rms)
            jump = np.abs(np.diff(level, prepend=level[0]))
            i = int(np.argmax(jump))
            return AnalysisResult(findings=(
                Finding("Weak level anomaly", fake_likelihood=0.35, start_s=0.2, end_s=0.6),
                Finding("Level step", fake_likelihood=0.91, start_s=float(t[i]) - 0.05, end_s=float(t[i]) + 0.05,
                        details={"step_db": float(jump[i])},
                        series=(TimeSeries("level", "dBFS", t, level),
                                TimeSeries("step", "FakeLikelihood", t, np.clip(jump / 20, 0, 1)))),
                Finding("Signal level", details={"peak_dbfs": float(level.max())}),
            ), summary={"frames": n})
        assert isinstance(media, StillImage)
        return AnalysisResult(findings=(
            Finding("Image size", details={"width": media.width, "height": media.height}),
            Finding("Pasted patch <script>", fake_likelihood=0.6, region=Region(20, 10, 30, 20)),
        ))

    @registry.analyzer(id=FAILING_ID, version="0.0.1", media=[MediaKind.AUDIO], label="Always fails")
    def fails(media: Any, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
        """Test analyzer that raises."""
        raise RuntimeError("weights checksum mismatch")

    yield
    registry.unregister(PROBE_ID)
    registry.unregister(FAILING_ID)


def _write_wav(path: Path) -> Path:
    rate = 16000
    t = np.arange(3 * rate) / rate
    x = 0.1 * np.sin(2 * np.pi * 440 * t)
    x[int(1.5 * rate):] *= 5.0  # a level step at 1.5 s
    x += 0.001 * np.random.default_rng(0).standard_normal(x.size)
    sf.write(path, x.astype(np.float32), rate, subtype="PCM_16")
    return path


def _write_png(path: Path) -> Path:
    img = Image.new("RGB", (96, 64), (70, 120, 190))
    ImageDraw.Draw(img).rectangle((20, 10, 50, 30), fill=(240, 210, 40))
    img.save(path)
    return path


@dataclasses.dataclass
class Built:
    store: CaseStore
    wav_id: int
    png_id: int


@pytest.fixture
def built(case: CaseStore, analyzers: None, tmp_path: Path) -> Built:
    """A case with a WAV and a PNG, probe runs on both, a failed run and an annotation."""
    src = tmp_path / "src"
    src.mkdir()
    ids = []
    for path in (_write_wav(src / "call.wav"), _write_png(src / "photo.png")):
        result = add_evidence(case, path, examiner=EXAMINER)
        assert result.evidence_id is not None, result.reason
        ids.append(result.evidence_id)
    wav_id, png_id = ids
    for eid in (wav_id, png_id):
        run_id = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec(PROBE_ID), examiner=EXAMINER)
        assert runner.run_job(case, run_id).error is None
    run_id = runner.queue_job(case, evidence_id=wav_id, spec=runner.make_spec(FAILING_ID), examiner=EXAMINER)
    runner.run_job(case, run_id)
    with case.transaction() as s:
        s.add(Annotation(evidence_id=wav_id, start_s=1.4, end_s=1.6, low_hz=200.0, high_hz=900.0,
                         label="Click", note="heard at 1.5 s", author=EXAMINER))
        audit.record(s, action="annotation.added", examiner=EXAMINER, details={"evidence_id": wav_id})
    return Built(case, wav_id, png_id)


def _evidence_sha(store: CaseStore, evidence_id: int) -> str:
    with store.session() as s:
        return repo.get_evidence(s, evidence_id).sha256


def _stored_copy(store: CaseStore, evidence_id: int) -> Path:
    with store.session() as s:
        return store.resolve(repo.get_evidence(s, evidence_id).stored_path)


def _audit(store: CaseStore, action: str) -> list[dict[str, Any]]:
    with store.session() as s:
        return [dict(e.details) for e in repo.list_audit(s) if e.action == action]


def _chain_ok(store: CaseStore) -> bool:
    with store.session() as s:
        return audit.verify_chain(s, store.root).ok


def _pdf_pages(path: Path) -> int:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))
    data = path.read_bytes()
    return data.count(b"/Type /Page") - data.count(b"/Type /Pages")


# --------------------------------------------------------------------------------------------
# Content


def test_build_report_states_provenance_sorted_findings_and_runs(built: Built) -> None:
    store = built.store
    report = build_report(store, examiner="Report Author")

    assert report.case.number == "T-1"
    assert report.production.examiner == "Report Author"
    assert report.production.software_version
    assert report.verification_ok
    assert [ev.evidence_id for ev in report.evidence] == [built.wav_id, built.png_id]
    wav = report.evidence[0]
    assert wav.verification == "verified"
    assert wav.sha256 == wav.actual_sha256 == _evidence_sha(store, built.wav_id)
    assert wav.metadata["sample_rate"] == 16000
    # Highest FakeLikelihood first, descriptive last; references follow that order.
    assert [f.fake_likelihood for f in wav.findings] == [0.91, 0.35, None]
    assert [f.ref for f in wav.findings] == ["F1", "F2", "F3"]
    assert wav.findings[0].start_s is not None and wav.findings[0].series
    # Methods: the probe runs with their provenance; the failed run with its error.
    used = {(m.evidence_id, m.analyzer_id, m.analyzer_version) for m in report.methods}
    assert used == {(built.wav_id, PROBE_ID, PROBE_VERSION), (built.png_id, PROBE_ID, PROBE_VERSION)}
    for m in report.methods:
        assert m.params == {"frame_s": 0.05}
        assert m.evidence_sha256_matches and m.status == "done" and m.finished_at
        assert m.analyzer_label == "Report probe <b>&</b>"
    failed = [r for r in report.other_runs if r.analyzer_id == FAILING_ID]
    assert len(failed) == 1 and failed[0].status == "failed" and "weights checksum mismatch" in failed[0].error
    # Annotations, audit check and trail (including the verification this report made).
    assert [a.label for a in wav.annotations] == ["Click"] and wav.annotations[0].ref == "A1"
    assert report.audit_check.ok and report.audit_check.n_events >= 5
    assert report.audit_trail[-1].action == "case.verified"
    assert report.limitations and any("descriptive" in p for p in report.limitations)


def test_figures_are_content_addressed_pngs_and_deterministic(built: Built) -> None:
    store = built.store
    first = build_report(store, examiner=EXAMINER)
    kinds = {(fig.evidence_id, fig.kind) for fig in first.figures}
    assert kinds == {(built.wav_id, "spectrogram"), (built.wav_id, "series"), (built.png_id, "thumbnail")}
    for fig in first.figures:
        png = store.artifacts.get_bytes(fig.sha256, suffix=".png")
        assert png.startswith(b"\x89PNG") and hashlib.sha256(png).hexdigest() == fig.sha256
        assert fig.width_px > 100 and fig.height_px > 100 and fig.caption
    series = next(fig for fig in first.figures if fig.kind == "series")
    assert series.analyzer_id == PROBE_ID and "seconds" in series.caption
    # The same store gives the same figures, byte for byte.
    second = build_report(store, examiner=EXAMINER)
    assert [f.sha256 for f in second.figures] == [f.sha256 for f in first.figures]


def test_report_data_is_frozen_and_json_serialisable(built: Built) -> None:
    report = build_report(built.store, examiner=EXAMINER)
    assert isinstance(report, ReportData)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.evidence[0].verification = "verified"  # type: ignore[misc]
    data = report.as_json()
    assert json.loads(json.dumps(data)) == data
    assert data["evidence"][0]["sha256"] == _evidence_sha(built.store, built.wav_id)
    assert data["methods"][0]["analyzer_id"] == PROBE_ID


def test_evidence_selection_limits_the_report(built: Built) -> None:
    report = build_report(built.store, examiner=EXAMINER, evidence_ids=[built.png_id])
    assert [ev.evidence_id for ev in report.evidence] == [built.png_id]
    assert {m.evidence_id for m in report.methods} == {built.png_id}
    assert not report.other_runs  # the failed run was on the WAV
    assert f"#{built.png_id}" in report.scope_note
    with pytest.raises(NotFound):
        build_report(built.store, examiner=EXAMINER, evidence_ids=[999])


# --------------------------------------------------------------------------------------------
# Export


@pytest.mark.slow
def test_export_html_pdf_json_and_audit_each_export(built: Built, tmp_path: Path) -> None:
    store = built.store
    wav_sha = _evidence_sha(store, built.wav_id)
    outputs = {}
    for suffix in (".json", ".html", ".pdf"):
        outputs[suffix] = export_report(store, out=tmp_path / "out" / f"report{suffix}", examiner="Report Author")
        assert outputs[suffix].is_file()

    data = json.loads(outputs[".json"].read_text(encoding="utf-8"))
    assert data["evidence"][0]["sha256"] == wav_sha
    assert {m["analyzer_id"] for m in data["methods"]} == {PROBE_ID}

    html = outputs[".html"].read_text(encoding="utf-8")
    assert wav_sha in html and PROBE_ID in html and f"v{PROBE_VERSION}" in html
    assert html.count("data:image/png;base64,") == 3  # self-contained: figures embedded
    assert 'src="http' not in html and "<link" not in html
    assert "Report probe &lt;b&gt;&amp;&lt;/b&gt;" in html  # autoescape on
    assert "Pasted patch &lt;script&gt;" in html and "<script>" not in html
    assert "weights checksum mismatch" in html and "INTEGRITY CHECK FAILED" not in html

    pdf = outputs[".pdf"]
    assert pdf.read_bytes().startswith(b"%PDF")
    assert _pdf_pages(pdf) >= 1

    exported = _audit(store, "report.exported")
    assert [e["format"] for e in exported] == ["json", "html", "pdf"]
    for event, suffix in zip(exported, (".json", ".html", ".pdf"), strict=True):
        assert event["path"] == str(outputs[suffix])
        assert event["sha256"] == hashlib.sha256(outputs[suffix].read_bytes()).hexdigest()
    assert len(_audit(store, "case.verified")) == 3  # each export re-verified the case
    assert _chain_ok(store)


def test_tampered_and_missing_copies_are_reported(built: Built, tmp_path: Path) -> None:
    store = built.store
    wav = _stored_copy(store, built.wav_id)
    os.chmod(wav, stat.S_IRUSR | stat.S_IWUSR)
    with open(wav, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 32)
    png = _stored_copy(store, built.png_id)
    os.chmod(png, stat.S_IRUSR | stat.S_IWUSR)
    png.unlink()

    report = build_report(store, examiner=EXAMINER)
    states = {ev.evidence_id: ev for ev in report.evidence}
    assert states[built.wav_id].verification == "mismatch"
    assert states[built.wav_id].actual_sha256 not in (None, states[built.wav_id].sha256)
    assert states[built.png_id].verification == "missing" and states[built.png_id].actual_sha256 is None
    assert not report.verification_ok
    assert report.as_json()["evidence"][0]["verification"] == "mismatch"
    # No media figure is drawn from a copy that failed verification; the series are still drawn.
    assert {fig.kind for fig in report.figures} == {"series"}
    assert any("failed re-verification" in note for note in states[built.wav_id].figure_notes)

    out = export_report(store, out=tmp_path / "tampered.html", examiner=EXAMINER)
    html = out.read_text(encoding="utf-8")
    assert "INTEGRITY CHECK FAILED" in html
    assert 'class="state state-mismatch">mismatch<' in html
    assert 'class="state state-missing">missing<' in html
    assert states[built.wav_id].actual_sha256 in html
    event = _audit(store, "report.exported")[-1]
    assert event["verification_ok"] is False
    assert event["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert _chain_ok(store)


def test_unknown_suffix_and_protected_paths_are_refused_before_anything_is_recorded(
    built: Built, tmp_path: Path
) -> None:
    store = built.store
    with store.session() as s:
        before = len(repo.list_audit(s))
    with pytest.raises(ForensicsError, match=r"\.docx"):
        export_report(store, out=tmp_path / "report.docx", examiner=EXAMINER)
    with pytest.raises(ForensicsError, match="suffix"):
        export_report(store, out=tmp_path / "report", examiner=EXAMINER)
    with pytest.raises(ForensicsError, match="evidence/"):
        export_report(store, out=store.evidence_dir / "report.html", examiner=EXAMINER)
    with pytest.raises(ForensicsError, match="examiner"):
        export_report(store, out=tmp_path / "report.html", examiner="  ")
    with store.session() as s:
        assert len(repo.list_audit(s)) == before
    assert not (tmp_path / "report.docx").exists()


def test_empty_case_renders(case: CaseStore, analyzers: None) -> None:
    report = build_report(case, examiner=EXAMINER)
    assert report.evidence == () and report.methods == () and report.verification_ok
    html = render_html(report, store=case)
    assert "The case holds no evidence." in html


# --------------------------------------------------------------------------------------------
# Small parts


def test_formatting_filters() -> None:
    assert formatting.fake_likelihood(None) == "descriptive"
    assert formatting.fake_likelihood(0.5) == "0.500"
    assert formatting.timestamp("2024-05-01T12:34:56.789000+00:00") == "2024-05-01 12:34:56 UTC"
    assert formatting.byte_size(2048) == "2,048 bytes (2.00 KiB)"
    item = dataclasses.make_dataclass("R", ["start_s", "end_s", "start_frame", "end_frame"])(1.0, 2.5, 10, 20)
    assert formatting.time_range(item) == "1.000 \u2013 2.500 s; frames 10 \u2013 19"
    assert formatting.details({f"k{i}": i for i in range(10)})[:2] == [("k0", "0"), ("k1", "1")]
    assert formatting.more_details({f"k{i}": i for i in range(10)}) == 2


def test_templates_are_found_next_to_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FORENSICS_APP_RESOURCES", str(tmp_path / "nowhere"))
    folder = templates_dir()  # falls back from the bad override to the checkout's resources/
    assert (folder / "report.html.j2").is_file() and (folder / "report.css").is_file()


def test_pdf_export_leaves_pillow_strict_about_truncated_images() -> None:
    from PIL import ImageFile

    from forensics_app.report.render import _import_weasyprint

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    _import_weasyprint()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_report_lists_annotation_layers(case, tmp_path) -> None:
    from media_factory import sine_wav

    from forensics_app.ingest.acquire import add_evidence
    from forensics_app.report.build import build_report
    from forensics_app.report.render import render_html
    from forensics_app.store.annotations import AnnotationSpec, add_annotation

    eid = add_evidence(case, sine_wav(tmp_path / "a.wav"), examiner="Ann").evidence_id
    add_annotation(case, evidence_id=eid, author="Ann",
                   spec=AnnotationSpec(label="edit?", layer="edits", start_s=0.1, end_s=0.2))
    report = build_report(case, examiner="Ann")
    (item,) = report.evidence[0].annotations
    assert item.layer == "edits" and item.label == "edit?"
    assert "edits" in render_html(report, store=case)
