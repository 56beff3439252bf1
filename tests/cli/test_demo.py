"""``forensics-app demo --no-gui`` builds a complete, verifiable demo case and reuses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics_app.cli import main


def test_demo_builds_analyses_reports_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORENSICS_APP_HOME", str(tmp_path / "home"))
    assert main(["demo", "--no-gui", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    case_dir = Path(out["case_dir"])
    assert case_dir == tmp_path / "home" / "demo-case" and out["built"]
    assert Path(out["report_pdf"]).read_bytes()[:4] == b"%PDF"
    assert "demo-report" in Path(out["report_html"]).name

    assert main(["case", "list", str(case_dir), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    kinds = sorted(e["media_kind"] for e in listing["evidence"])
    assert set(kinds) == {"audio", "image", "video"}

    from forensics_app.demo.comparison_media import broadcast_pair
    from forensics_app.store import repo
    from forensics_app.store.case import CaseStore

    store = CaseStore.open(case_dir)  # what the demo's own runs found (not re-run here)
    with store.session() as s:
        findings = [{"label": f.label, "evidence_id": f.run.evidence_id, "analyzer": f.run.analyzer_id,
                     "start_s": f.start_s, "end_s": f.end_s, "details": dict(f.details)}
                    for f in repo.list_findings(s)]
        assert all(r.status.value == "done" for r in repo.list_runs(s))
    store.close()
    labels = {f["label"] for f in findings}
    # What the demo media plant must be found: the edited photo, the dropped and duplicated frames.
    assert "EXIF thumbnail does not match the image" in labels
    assert {"Dropped frames", "Duplicated frames"} <= labels
    ids = {e["name"]: e["evidence_id"] for e in listing["evidence"]}
    jumps = [f for f in findings if f["label"] == "ENF phase jump" and f["evidence_id"] == ids["dictaphone_0917.wav"]]
    assert len(jumps) == 1 and abs(jumps[0]["start_s"] - 31.0) < 0.5  # the 2.3 s cut planted in it
    # The leaked copy against its broadcast (marked as the reference): the replaced phrase, both time lines.
    roles = {e["name"]: e["role"] for e in listing["evidence"]}
    assert roles["press_briefing_broadcast.wav"] == "reference" and roles["press_briefing_leaked.mp3"] == "questioned"
    planted = broadcast_pair(tmp_path / "pair")
    [replaced] = [f for f in findings if f["analyzer"] == "audio.reference_comparison"
                  and f["details"].get("kind") == "replaced"]
    assert replaced["evidence_id"] == ids["press_briefing_leaked.mp3"]
    assert abs(replaced["start_s"] - planted.replaced_questioned_s[0]) < 0.1
    assert abs(replaced["details"]["reference_start_s"] - planted.replaced_reference_s[0]) < 0.1
    [pause] = [f for f in findings if f["details"].get("kind") == "pause_lengthened"]  # the 1.5 s added
    assert abs(pause["details"]["change_s"] - 1.5) < 0.1 and pause["start_s"] <= planted.inserted_pause_s[0] + 0.05
    # The voicemail read against its transcript: every word placed, in order.
    [overview] = [f for f in findings if f["label"] == "Transcript alignment"]
    assert overview["evidence_id"] == ids["voicemail_0412.wav"] and len(overview["details"]["words"]) == 16

    assert main(["verify", str(case_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"]

    assert main(["demo", "--no-gui", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["built"] is False
