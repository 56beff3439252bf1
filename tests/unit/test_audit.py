"""The hash-chained audit trail detects edits, deletions and insertions made behind our back."""

from __future__ import annotations

import sqlite3

from forensics_app.store import audit
from forensics_app.store.case import CaseStore


def _events(case: CaseStore, n: int) -> None:
    for i in range(n):
        with case.transaction() as s:
            audit.record(s, action="test.event", examiner="Test Examiner", details={"i": i, "note": "ünïcode"})


def _verify(case: CaseStore) -> audit.ChainReport:
    with case.session() as s:
        return audit.verify_chain(s, case.root)


def test_chain_links_each_event_to_the_one_before(case: CaseStore) -> None:
    _events(case, 4)
    with case.session() as s:
        from forensics_app.store.repo import list_audit

        evs = list_audit(s)
    assert [e.seq for e in evs] == [1, 2, 3, 4, 5]
    assert evs[0].prev_hash == audit.GENESIS
    for a, b in zip(evs, evs[1:], strict=False):
        assert b.prev_hash == a.hash
    assert _verify(case).ok


def _raw(case: CaseStore, sql: str) -> None:
    con = sqlite3.connect(case.db_path)
    con.execute(sql)
    con.commit()
    con.close()


def test_edited_details_are_named(case: CaseStore) -> None:
    _events(case, 4)
    _raw(case, "UPDATE audit_event SET details='{\"i\": 99}' WHERE seq=3")
    rep = _verify(case)
    assert not rep.ok and rep.first_broken_seq == 3
    assert "altered" in rep.reason


def test_edited_examiner_and_recomputed_hash_breaks_the_next_link(case: CaseStore) -> None:
    _events(case, 4)
    # An attacker who also rewrites the row's own hash still breaks the next event's link.
    _raw(case, "UPDATE audit_event SET examiner='mallory', hash='" + "ab" * 32 + "' WHERE seq=2")
    rep = _verify(case)
    assert not rep.ok and rep.first_broken_seq == 2


def test_deleted_event_in_the_middle(case: CaseStore) -> None:
    _events(case, 4)
    _raw(case, "DELETE FROM audit_event WHERE seq=3")
    rep = _verify(case)
    assert not rep.ok and rep.first_broken_seq == 3
    assert "missing" in rep.reason


def test_deleted_event_at_the_end_is_caught_by_the_head_file(case: CaseStore) -> None:
    _events(case, 4)
    _raw(case, "DELETE FROM audit_event WHERE seq=5")
    rep = _verify(case)
    assert not rep.ok and rep.first_broken_seq == 5


def test_renumbered_chain_after_deletion_is_caught(case: CaseStore) -> None:
    _events(case, 4)
    _raw(case, "DELETE FROM audit_event WHERE seq=2")
    _raw(case, "UPDATE audit_event SET seq=seq-1 WHERE seq>2")
    rep = _verify(case)
    assert not rep.ok and rep.first_broken_seq == 2
    assert "link" in rep.reason


def test_clean_chain_survives_reopen(case: CaseStore) -> None:
    _events(case, 3)
    root = case.root
    case.close()
    again = CaseStore.open(root)
    assert _verify(again).ok
    again.close()
