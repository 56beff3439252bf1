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

    assert main(["analyze", str(case_dir), "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    labels = {f["label"] for f in findings}
    # What the demo media plant must be found: the edited photo, the dropped and duplicated frames.
    assert "EXIF thumbnail does not match the image" in labels
    assert {"Dropped frames", "Duplicated frames"} <= labels
    dictaphone = next(e["evidence_id"] for e in listing["evidence"] if e["name"] == "dictaphone_0917.wav")
    jumps = [f for f in findings if f["label"] == "ENF phase jump" and f["evidence_id"] == dictaphone]
    assert len(jumps) == 1 and abs(jumps[0]["start_s"] - 31.0) < 0.5  # the 2.3 s cut planted in it

    assert main(["verify", str(case_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"]

    assert main(["demo", "--no-gui", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["built"] is False
