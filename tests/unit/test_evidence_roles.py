"""Evidence roles: marking a known genuine reference is audited and leaves the evidence untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.domain.errors import CaseError, NotFound
from forensics_app.gui.snapshots import read_evidence
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import audit, evidence_roles, repo
from forensics_app.store.case import CaseStore


def _wav(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    sf.write(path, (0.1 * rng.standard_normal(8000)).astype(np.float32), 8000, subtype="PCM_16")
    return path


def test_marking_a_reference_is_audited_and_reversible(case: CaseStore, tmp_path: Path) -> None:
    a = add_evidence(case, _wav(tmp_path / "a.wav", 1), examiner="E").evidence_id
    b = add_evidence(case, _wav(tmp_path / "b.wav", 2), examiner="E").evidence_id
    before = (case.root / "evidence").glob("*")
    digest_before = sorted(p.name for p in before)
    assert evidence_roles.references(case) == []
    assert evidence_roles.set_role(case, b, role=evidence_roles.ROLE_REFERENCE, examiner="E") is True
    assert evidence_roles.set_role(case, b, role=evidence_roles.ROLE_REFERENCE, examiner="E") is False
    assert evidence_roles.references(case) == [b]
    roles = {item.id: item.role for item in read_evidence(case)}
    assert roles == {a: "questioned", b: "reference"}
    assert evidence_roles.set_role(case, b, role=evidence_roles.ROLE_QUESTIONED, examiner="F") is True
    assert evidence_roles.references(case) == []
    with case.session() as s:
        events = [e for e in repo.list_audit(s) if e.action == "evidence.role"]
        assert [(e.details["from"], e.details["to"], e.examiner) for e in events] == [
            ("questioned", "reference", "E"), ("reference", "questioned", "F")]
        assert audit.verify_chain(s, case.root).ok
    assert sorted(p.name for p in (case.root / "evidence").glob("*")) == digest_before


def test_unknown_role_or_evidence_is_refused(case: CaseStore, tmp_path: Path) -> None:
    a = add_evidence(case, _wav(tmp_path / "a.wav", 1), examiner="E").evidence_id
    with pytest.raises(CaseError, match="unknown evidence role"):
        evidence_roles.set_role(case, a, role="suspect", examiner="E")
    with pytest.raises(NotFound):
        evidence_roles.set_role(case, 999, role="reference", examiner="E")
