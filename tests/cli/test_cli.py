"""The command line end to end, in process (same code paths as the GUI) and as the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from media_factory import noise_png, sine_wav

from forensics_app.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | str]:
    code = main(list(argv))
    out = capsys.readouterr().out
    try:
        return code, json.loads(out)
    except json.JSONDecodeError:
        return code, out


@pytest.fixture
def case_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "case"
    code, out = run(capsys, "case", "new", str(d), "--title", "CLI case", "--examiner", "Ann", "--json")
    assert code == 0 and out["title"] == "CLI case"
    return d


def test_case_add_prints_id_kind_and_sha256_and_fails_on_refusal(
    case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = sine_wav(tmp_path / "a.wav")
    png = noise_png(tmp_path / "b.png")
    bad = tmp_path / "c.mp4"
    bad.write_bytes(os.urandom(5000))
    code, out = run(capsys, "case", "add", str(case_dir), str(wav), str(png), str(bad), "--json")
    assert code == 1
    res = out["results"]
    assert [r["outcome"] for r in res] == ["added", "added", "refused"]
    assert [r["media_kind"] for r in res[:2]] == ["audio", "image"]
    assert len(res[0]["sha256"]) == 64 and "c.mp4" in res[2]["reason"]
    code, text = run(capsys, "case", "add", str(case_dir), str(wav))
    assert code == 0 and "duplicate" in text
    code, listing = run(capsys, "case", "list", str(case_dir), "--json")
    assert [e["name"] for e in listing["evidence"]] == ["a.wav", "b.png"]


def test_analyzers_lists_ids_versions_and_media(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "analyzers", "--json")
    assert code == 0
    ids = {a["id"]: a for a in out["analyzers"]}
    assert {"audio.signal_stats", "image.metadata", "video.stream_summary"} <= set(ids)
    assert ids["audio.signal_stats"]["media"] == ["audio"] and ids["audio.signal_stats"]["version"]


def test_analyze_report_verify_round_trip(case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "case", "add", str(case_dir), str(sine_wav(tmp_path / "a.wav", amplitude=0.9)),
        str(noise_png(tmp_path / "b.png")))
    code, out = run(capsys, "analyze", str(case_dir), "--json")
    assert code == 0
    from forensics_app.analysis import registry

    expected = {a.id for a in registry.for_media("audio")} | {a.id for a in registry.for_media("image")}
    assert {r["analyzer"] for r in out["runs"]} == expected
    assert {"audio.signal_stats", "image.metadata"} <= expected
    assert all(r["status"] == "done" for r in out["runs"])
    f = out["findings"][0]
    assert set(f) >= {"evidence_id", "analyzer", "label", "fake_likelihood", "start_s", "end_s", "details"}
    code, out = run(capsys, "analyze", str(case_dir), "--evidence", "1", "--analyzer", "image.metadata", "--json")
    assert code == 2 and "none of the chosen analyzers" in out["error"]
    code, out = run(capsys, "analyze", str(case_dir), "--evidence", "42", "--json")
    assert code == 2 and "42" in out["error"]

    for suffix in (".json", ".html", ".pdf"):
        code, out = run(capsys, "report", str(case_dir), "--out", str(tmp_path / f"r{suffix}"), "--json")
        assert code == 0 and Path(out["report"]).stat().st_size > 0
    assert (tmp_path / "r.pdf").read_bytes()[:4] == b"%PDF"
    report = json.loads((tmp_path / "r.json").read_text())
    assert "audio.signal_stats" in json.dumps(report)

    code, out = run(capsys, "verify", str(case_dir), "--json")
    assert code == 0 and out["ok"] and out["audit_chain"]["ok"]


def test_verify_fails_on_tampering(case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "case", "add", str(case_dir), str(sine_wav(tmp_path / "a.wav")))
    stored = next(p for p in (case_dir / "evidence").rglob("*.wav"))
    os.chmod(stored, 0o644)
    with open(stored, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x01\x02\x03")
    code, text = run(capsys, "verify", str(case_dir))
    assert code == 1 and "MISMATCH" in text and "verification FAILED" in text


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "verify", str(tmp_path), "--json")
    assert code == 2 and "not a case folder" in out["error"]
    code, out = run(capsys, "analyze", str(tmp_path), "--param", "bad", "--json")
    assert code == 2


def test_installed_entry_point_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "forensics-app"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "forensics_app"]
    proc = subprocess.run([*cmd, "case", "new", str(tmp_path / "c"), "--title", "t", "--examiner", "e", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "t"
