"""Acquisition into a case: stored copies, duplicates, refusals, verification."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from media_factory import noise_png, sine_wav

from forensics_app.ingest.acquire import Outcome, add_evidence, verify_case
from forensics_app.store import repo
from forensics_app.store.case import CaseStore


def test_added_evidence_is_recorded_with_hashes_and_metadata(case: CaseStore, tmp_path: Path) -> None:
    wav = sine_wav(tmp_path / "tone.wav", duration_s=1.5, rate=22050)
    r = add_evidence(case, wav, examiner="Ann")
    assert r.outcome is Outcome.ADDED and r.media_kind == "audio"
    data = wav.read_bytes()
    assert r.sha256 == hashlib.sha256(data).hexdigest()
    with case.session() as s:
        ev = repo.get_evidence(s, r.evidence_id)
        assert ev.md5 == hashlib.md5(data).hexdigest()
        assert ev.size == len(data) and ev.original_name == "tone.wav"
        assert ev.acquired_by == "Ann" and ev.integrity == "verified"
        assert ev.metadata_json["sample_rate"] == 22050
        assert abs(ev.metadata_json["duration_s"] - 1.5) < 1e-6
        stored = case.resolve(ev.stored_path)
        actions = [e.action for e in repo.list_audit(s)]
    assert stored.read_bytes() == data
    assert ev.sha256 in stored.name
    assert not (stored.stat().st_mode & 0o222), "stored copy must be read-only"
    assert actions[-1] == "evidence.added"


def test_duplicate_is_reported_not_copied_twice(case: CaseStore, tmp_path: Path) -> None:
    a = noise_png(tmp_path / "a.png")
    b = tmp_path / "renamed.png"
    b.write_bytes(a.read_bytes())
    first = add_evidence(case, a, examiner="Ann")
    second = add_evidence(case, b, examiner="Ann")
    assert second.outcome is Outcome.DUPLICATE and second.evidence_id == first.evidence_id
    assert "evidence #1" in second.reason
    stored = [p for p in case.evidence_dir.rglob("*") if p.is_file()]
    assert len(stored) == 1
    with case.session() as s:
        assert len(repo.list_evidence(s)) == 1
        assert repo.list_audit(s)[-1].action == "evidence.duplicate"


def test_refused_file_leaves_the_case_unchanged(case: CaseStore, tmp_path: Path) -> None:
    good = add_evidence(case, sine_wav(tmp_path / "ok.wav"), examiner="Ann")
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio\n" * 50)
    r = add_evidence(case, bad, examiner="Ann")
    assert r.outcome is Outcome.REFUSED and "notes.wav" in r.reason
    with case.session() as s:
        assert [e.id for e in repo.list_evidence(s)] == [good.evidence_id]
        last = repo.list_audit(s)[-1]
    assert last.action == "evidence.refused" and "notes.wav" in last.details["file"]
    assert len([p for p in case.evidence_dir.rglob("*") if p.is_file()]) == 1


def test_missing_and_empty_files_are_refused(case: CaseStore, tmp_path: Path) -> None:
    r = add_evidence(case, tmp_path / "nope.wav", examiner="Ann")
    assert r.outcome is Outcome.REFUSED and "cannot be read" in r.reason
    empty = tmp_path / "empty.mp4"
    empty.touch()
    r = add_evidence(case, empty, examiner="Ann")
    assert r.outcome is Outcome.REFUSED and "empty" in r.reason
    r = add_evidence(case, tmp_path, examiner="Ann")
    assert r.outcome is Outcome.REFUSED and "not a regular file" in r.reason


def test_verify_reports_mismatch_missing_and_broken_chain(case: CaseStore, tmp_path: Path) -> None:
    ids = [add_evidence(case, sine_wav(tmp_path / f"t{i}.wav", freq_hz=300 + 100 * i), examiner="Ann").evidence_id
           for i in range(3)]
    assert verify_case(case, examiner="Ann").ok
    with case.session() as s:
        p1 = case.resolve(repo.get_evidence(s, ids[0]).stored_path)
        p2 = case.resolve(repo.get_evidence(s, ids[1]).stored_path)
    os.chmod(p1, 0o644)
    with open(p1, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01")
    os.chmod(p2, 0o644)
    p2.unlink()
    con = sqlite3.connect(case.db_path)
    con.execute("UPDATE audit_event SET action='nothing.happened' WHERE seq=2")
    con.commit()
    con.close()
    rep = verify_case(case, examiner="Ann")
    states = {c.evidence_id: c.state for c in rep.evidence}
    assert states == {ids[0]: "mismatch", ids[1]: "missing", ids[2]: "verified"}
    assert not rep.chain.ok and rep.chain.first_broken_seq == 2
    assert not rep.ok
    with case.session() as s:
        assert repo.get_evidence(s, ids[0]).integrity == "mismatch"
        assert repo.list_audit(s)[-1].action == "case.verified"


def test_cancelled_copy_is_audited_as_cancelled_and_leaves_nothing(case: CaseStore, tmp_path: Path) -> None:
    src = tmp_path / "big.wav"
    src.write_bytes(os.urandom(12 << 20))
    calls = iter([False, False, True])
    r = add_evidence(case, src, examiner="Ann", should_stop=lambda: next(calls, True))
    assert r.outcome is Outcome.CANCELLED
    assert not [p for p in case.evidence_dir.rglob("*") if p.is_file()]
    with case.session() as s:
        assert repo.list_evidence(s) == []
        assert repo.list_audit(s)[-1].action == "evidence.cancelled"
