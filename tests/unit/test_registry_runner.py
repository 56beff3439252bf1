"""The analyzer registry and the job runner: provenance, cancel, failure, integrity checks."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from media_factory import noise_png, sine_wav

from forensics_app.analysis import registry, runner
from forensics_app.domain.errors import AnalyzerError, Cancelled, NotFound
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

STARTED = threading.Event()


@pytest.fixture
def test_analyzers() -> Iterator[None]:
    @registry.analyzer(id="test.peak", version="2.1.0", media=[MediaKind.AUDIO], label="Peak",
                       params=[registry.Param("scale", 1.0, "gain", minimum=0.0),
                               registry.Param("mode", "abs", "how", choices=("abs", "pos"))])
    def peak(media: AudioClip, *, params, progress) -> AnalysisResult:
        x = media.mono() * params["scale"]
        v = float(np.abs(x).max() if params["mode"] == "abs" else x.max())
        progress.report(0.5, "half")
        t = np.arange(10) * 0.1
        return AnalysisResult(
            (Finding("Peak", fake_likelihood=0.25, start_s=0.0, end_s=media.duration_s,
                     details={"peak": np.float32(v), "n": np.int64(x.size)},
                     series=(TimeSeries("ramp", "Hz", t, t * 2),)),
             Finding("Second", details={})),
            {"mode": params["mode"]},
        )

    @registry.analyzer(id="test.slow", version="1", media=[MediaKind.AUDIO], label="Slow")
    def slow(media: AudioClip, *, params, progress) -> AnalysisResult:
        STARTED.set()
        for i in range(2000):
            progress.report(i / 2000)
            progress.check()
            threading.Event().wait(0.005)
        return AnalysisResult(())

    @registry.analyzer(id="test.broken", version="1", media=[MediaKind.AUDIO], label="Broken")
    def broken(media: AudioClip, *, params, progress) -> AnalysisResult:
        raise ZeroDivisionError("division by zero in the analyzer")

    yield
    for aid in ("test.peak", "test.slow", "test.broken"):
        registry.unregister(aid)


def test_builtin_registry_lists_one_analyzer_per_media_kind() -> None:
    kinds = {m for a in registry.all_analyzers() for m in a.media}
    assert kinds >= {MediaKind.AUDIO, MediaKind.VIDEO, MediaKind.IMAGE}
    for a in registry.all_analyzers():
        assert a.version and a.label


def test_params_are_defaulted_validated_and_unknown_rejected(test_analyzers: None) -> None:
    info = registry.get("test.peak")
    assert info.resolve_params({}) == {"scale": 1.0, "mode": "abs"}
    assert info.resolve_params({"scale": "2"}) == {"scale": 2.0, "mode": "abs"}
    with pytest.raises(AnalyzerError, match="unknown parameter"):
        info.resolve_params({"nope": 1})
    with pytest.raises(AnalyzerError, match="minimum"):
        info.resolve_params({"scale": -1})
    with pytest.raises(AnalyzerError, match="not one of"):
        info.resolve_params({"mode": "x"})
    with pytest.raises(NotFound, match="no analyzer"):
        registry.get("does.not.exist")


def test_duplicate_id_is_refused(test_analyzers: None) -> None:
    with pytest.raises(AnalyzerError, match="registered twice"):
        registry.analyzer(id="test.peak", version="9", media=["audio"], label="x")(lambda m, **k: None)


def _audio(case: CaseStore, tmp_path: Path) -> int:
    return add_evidence(case, sine_wav(tmp_path / "a.wav", amplitude=0.5), examiner="Ann").evidence_id


def test_run_stores_findings_artifacts_and_provenance(case: CaseStore, tmp_path: Path, test_analyzers: None) -> None:
    eid = _audio(case, tmp_path)
    run_id = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec("test.peak", {"scale": 2}),
                              examiner="Ann")
    seen: list[float] = []
    out = runner.run_job(case, run_id, progress=ProgressToken(lambda f, m: seen.append(f)))
    assert out.status is RunStatus.DONE and out.n_findings == 2
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    with case.session() as s:
        run = repo.get_run(s, run_id)
        ev = repo.get_evidence(s, eid)
        assert (run.analyzer_id, run.analyzer_version) == ("test.peak", "2.1.0")
        assert run.params == {"scale": 2.0, "mode": "abs"}
        assert run.evidence_sha256 == ev.sha256
        assert run.started_at <= run.finished_at and run.summary == {"mode": "abs"}
        fs = repo.findings_for_run(s, run_id)
        actions = [e.action for e in repo.list_audit(s)]
    assert [f.label for f in fs] == ["Peak", "Second"]
    assert fs[0].details["peak"] == pytest.approx(1.0, abs=1e-3)  # 0.5 amplitude x scale 2
    assert fs[0].fake_likelihood == 0.25 and fs[1].fake_likelihood is None
    series = case.artifacts.get_series(fs[0].artifacts["series"][0])
    np.testing.assert_allclose(series.values, np.arange(10) * 0.2)
    assert actions[-1] == "analysis.done"
    assert "analysis.queued" in actions


def test_failure_is_recorded_with_traceback(case: CaseStore, tmp_path: Path, test_analyzers: None) -> None:
    eid = _audio(case, tmp_path)
    run_id = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec("test.broken"), examiner="Ann")
    out = runner.run_job(case, run_id)
    assert out.status is RunStatus.FAILED and "ZeroDivisionError" in out.error
    with case.session() as s:
        run = repo.get_run(s, run_id)
        assert "ZeroDivisionError" in run.traceback and run.finished_at is not None
        assert repo.list_audit(s)[-1].action == "analysis.failed"


def test_cancel_stops_a_running_job(case: CaseStore, tmp_path: Path, test_analyzers: None) -> None:
    eid = _audio(case, tmp_path)
    run_id = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec("test.slow"), examiner="Ann")
    token = ProgressToken()
    STARTED.clear()
    result: list = []
    th = threading.Thread(target=lambda: result.append(runner.run_job(case, run_id, progress=token)))
    th.start()
    assert STARTED.wait(10)
    token.cancel()
    th.join(10)
    assert result[0].status is RunStatus.CANCELLED
    with case.session() as s:
        assert repo.get_run(s, run_id).status is RunStatus.CANCELLED
        assert repo.list_audit(s)[-1].action == "analysis.cancelled"


def test_cancel_before_start(case: CaseStore, tmp_path: Path, test_analyzers: None) -> None:
    eid = _audio(case, tmp_path)
    run_id = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec("test.peak"), examiner="Ann")
    token = ProgressToken()
    token.cancel()
    assert runner.run_job(case, run_id, progress=token).status is RunStatus.CANCELLED
    with pytest.raises(Cancelled):
        token.check()


def test_tampered_evidence_is_not_analysed(case: CaseStore, tmp_path: Path, test_analyzers: None) -> None:
    eid = _audio(case, tmp_path)
    with case.session() as s:
        path = case.resolve(repo.get_evidence(s, eid).stored_path)
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:
        fh.seek(60)
        fh.write(b"\x7f\x7f")
    run_id = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec("test.peak"), examiner="Ann")
    out = runner.run_job(case, run_id)
    assert out.status is RunStatus.FAILED and "no longer matches" in out.error
    with case.session() as s:
        assert repo.findings_for_run(s, run_id) == []
        assert repo.get_evidence(s, eid).integrity == "mismatch"
        actions = [e.action for e in repo.list_audit(s)]
    assert "evidence.integrity_failed" in actions


def test_wrong_media_kind_is_refused_at_queue_time(case: CaseStore, tmp_path: Path, test_analyzers: None) -> None:
    eid = add_evidence(case, noise_png(tmp_path / "i.png"), examiner="Ann").evidence_id
    with pytest.raises(AnalyzerError, match="examines audio"):
        runner.queue_job(case, evidence_id=eid, spec=runner.make_spec("test.peak"), examiner="Ann")


def test_same_spec_on_same_evidence_gives_same_findings(case: CaseStore, tmp_path: Path, test_analyzers: None) -> None:
    eid = _audio(case, tmp_path)
    rows = []
    for _ in range(2):
        rid = runner.queue_job(case, evidence_id=eid, spec=runner.make_spec("test.peak"), examiner="Ann")
        runner.run_job(case, rid)
        with case.session() as s:
            rows.append([(f.label, f.fake_likelihood, f.details, f.artifacts) for f in repo.findings_for_run(s, rid)])
    assert rows[0] == rows[1]


def test_a_broken_analyzer_module_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BUILTIN_MODULES", (*registry.BUILTIN_MODULES, "forensics_app.analysis.no_such"))
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_LOAD_ERRORS", {})
    ids = {a.id for a in registry.all_analyzers()}
    assert "audio.signal_stats" in ids
    assert "ModuleNotFoundError" in registry.load_errors()["forensics_app.analysis.no_such"]
