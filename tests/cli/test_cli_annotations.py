"""`forensics-app annotations list|add|export|import`, in process."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from media_factory import noise_png, sine_wav

from forensics_app.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        return code, json.loads(captured.out), captured.err
    except json.JSONDecodeError:
        return code, captured.out, captured.err


@pytest.fixture
def case_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "case"
    assert run(capsys, "case", "new", str(d), "--title", "T", "--examiner", "Ann", "--number", "C-1")[0] == 0
    code, out, _ = run(capsys, "case", "add", str(d), str(sine_wav(tmp_path / "a.wav")),
                       str(noise_png(tmp_path / "b.png")), "--json")
    assert code == 0 and [r["evidence_id"] for r in out["results"]] == [1, 2]
    return d


def test_add_list_and_filters(case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(case_dir)
    code, out, _ = run(capsys, "annotations", "add", d, "--evidence", "1", "--label", "click", "--start", "0.25",
                       "--end", "0.5", "--low-hz", "100", "--high-hz", "900", "--layer", "edits", "--note", "n",
                       "--examiner", "Bob", "--json")
    assert code == 0
    assert (out["id"], out["layer"], out["author"], out["low_hz"], out["evidence_name"]) == (1, "edits", "Bob", 100.0,
                                                                                           "a.wav")
    code, text, _ = run(capsys, "annotations", "add", d, "--evidence", "1", "--label", "speech", "--start", "0",
                        "--end", "1")
    assert code == 0 and text.startswith("added #2") and "[default] speech" in text
    code, out, _ = run(capsys, "annotations", "list", d, "--json")
    assert code == 0 and [a["label"] for a in out["annotations"]] == ["click", "speech"]
    code, out, _ = run(capsys, "annotations", "list", d, "--layer", "edits", "--json")
    assert [a["label"] for a in out["annotations"]] == ["click"]
    code, out, _ = run(capsys, "annotations", "list", d, "--evidence", "2", "--json")
    assert out["annotations"] == []
    code, text, _ = run(capsys, "annotations", "list", d)
    assert "0.250-0.500 s  100-900 Hz" in text and "[edits] click" in text


@pytest.mark.parametrize(("extra", "message"), [
    (["--start", "1"], "start_s is given without end_s"),
    (["--start", "2", "--end", "1"], "before start_s"),
    (["--low-hz", "10", "--high-hz", "20"], "needs a time range"),
    (["--start", "0", "--end", "1", "--low-hz", "30", "--high-hz", "20"], "above low_hz"),
    (["--layer", ""], "layer name must not be empty"),
])
def test_add_refuses_bad_values_as_usage_errors(case_dir: Path, capsys: pytest.CaptureFixture[str],
                                                extra: list[str], message: str) -> None:
    code, out, _ = run(capsys, "annotations", "add", str(case_dir), "--evidence", "1", "--label", "x", *extra, "--json")
    assert code == 2 and message in out["error"]


def test_add_to_unknown_evidence_is_a_usage_error(case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "annotations", "add", str(case_dir), "--evidence", "9", "--label", "x", "--json")
    assert code == 2 and "#9" in out["error"]
    code, out, _ = run(capsys, "annotations", "list", str(case_dir), "--evidence", "9", "--json")
    assert code == 2


def test_export_import_round_trip(case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(case_dir)
    for layer, label in (("edits", "cut"), ("speakers", "A"), ("speakers", "B")):
        assert run(capsys, "annotations", "add", d, "--evidence", "1", "--label", label, "--layer", layer,
                   "--start", "0.1", "--end", "0.2")[0] == 0
    out_file = tmp_path / "ann.json"
    code, out, _ = run(capsys, "annotations", "export", d, "--out", str(out_file), "--json")
    assert code == 0 and out["n_annotations"] == 3 and out["layers"] == ["edits", "speakers"]
    assert out["sha256"] == hashlib.sha256(out_file.read_bytes()).hexdigest()
    code, out, _ = run(capsys, "annotations", "export", d, "--out", str(tmp_path / "s.csv"), "--layer", "speakers",
                       "--json")
    assert code == 0 and out["n_annotations"] == 2
    code, out, _ = run(capsys, "annotations", "export", d, "--out", str(tmp_path / "s.txt"), "--json")
    assert code == 2 and ".csv or .json" in out["error"]

    other = tmp_path / "other"
    run(capsys, "case", "new", str(other), "--title", "T2", "--examiner", "Eve")
    run(capsys, "case", "add", str(other), str(tmp_path / "a.wav"))
    code, out, _ = run(capsys, "annotations", "import", str(other), str(out_file), "--examiner", "Eve", "--json")
    assert code == 0 and (out["n_imported"], out["n_duplicates"]) == (3, 0)
    code, text, _ = run(capsys, "annotations", "import", str(other), str(out_file))
    assert code == 0 and "imported 0 of 3" in text and "3 duplicate(s)" in text
    _, first, _ = run(capsys, "annotations", "list", d, "--json")
    _, second, _ = run(capsys, "annotations", "list", str(other), "--json")
    strip = ("id", "evidence_id")
    assert [{k: v for k, v in a.items() if k not in strip} for a in first["annotations"]] == \
        [{k: v for k, v in a.items() if k not in strip} for a in second["annotations"]]


def test_import_refusal_lists_rows_and_exits_1(case_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("evidence_id,evidence_name,label,start_s,end_s\n1,a.wav,ok,0,1\n1,a.wav,,0,1\n1,b.wav,x,0,1\n",
                   encoding="utf-8")
    code, out, err = run(capsys, "annotations", "import", str(case_dir), str(bad), "--json")
    assert code == 1
    assert [p["row"] for p in out["problems"]] == [2, 3]
    assert "label must not be empty" in out["problems"][0]["reason"] and "nothing was imported" in out["error"]
    assert "row 3:" in err
    _, listing, _ = run(capsys, "annotations", "list", str(case_dir), "--json")
    assert listing["annotations"] == []
