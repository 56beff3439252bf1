"""``compare``, ``align`` and ``case role`` end to end on generated recordings with planted edits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forensics_app.cli import main
from forensics_app.demo.comparison_media import broadcast_pair

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    return broadcast_pair(tmp_path_factory.mktemp("pair"))


@pytest.fixture
def case_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str], pair) -> Path:
    d = tmp_path / "case"
    assert run(capsys, "case", "new", str(d), "--title", "leak", "--examiner", "Ann", "--json")[0] == 0
    code, out = run(capsys, "case", "add", str(d), str(pair.reference), str(pair.questioned), "--json")
    assert code == 0 and [r["evidence_id"] for r in out["results"]] == [1, 2]
    return d


def test_compare_finds_the_replaced_phrase_with_times_in_both_recordings(
    case_dir: Path, capsys: pytest.CaptureFixture[str], pair,
) -> None:
    code, out = run(capsys, "case", "role", str(case_dir), "--evidence", "1", "--json")
    assert code == 0 and out == {"evidence_id": 1, "role": "reference", "changed": True}
    code, listing = run(capsys, "case", "list", str(case_dir), "--json")
    assert [e["role"] for e in listing["evidence"]] == ["reference", "questioned"]

    code, out = run(capsys, "compare", str(case_dir), "--questioned", "2", "--reference", "1", "--json")
    assert code == 0 and out["run"]["status"] == "done"
    assert out["run"]["params"]["reference_id"] == 1
    assert out["run"]["summary"]["reference"]["evidence_id"] == 1
    assert len(out["run"]["summary"]["reference"]["sha256"]) == 64
    labels = [f["label"] for f in out["findings"]]
    assert labels[0] == "Alignment with reference" and out["findings"][0]["alignments"] == ["reference-alignment"]
    replaced = [f for f in out["findings"] if f["details"].get("kind") == "replaced"]
    assert len(replaced) == 1
    f = replaced[0]
    q0, q1 = pair.replaced_questioned_s
    r0, r1 = pair.replaced_reference_s
    assert abs(f["start_s"] - q0) < 0.1 and abs(f["end_s"] - q1) < 0.1
    assert abs(f["reference_start_s"] - r0) < 0.1 and abs(f["reference_end_s"] - r1) < 0.1


def test_compare_refuses_bad_pairs_with_clear_errors(case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "compare", str(case_dir), "--questioned", "2", "--reference", "2", "--json")
    assert code == 2 and "different evidence items" in out["error"]
    code, out = run(capsys, "compare", str(case_dir), "--questioned", "2", "--reference", "9", "--json")
    assert code == 2 and "9" in out["error"]
    with pytest.raises(SystemExit):  # argparse refuses an unknown role
        main(["case", "role", str(case_dir), "--evidence", "1", "--role", "suspect"])
    capsys.readouterr()
    code, out = run(capsys, "align", str(case_dir), "--evidence", "2", "--transcript", "   ", "--json")
    assert code == 2 and "transcript is empty" in out["error"]


def test_align_places_the_voicemail_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from forensics_app.demo.build import VOICEMAIL_TEXT
    from forensics_app.demo.media import speech_wav

    wav = speech_wav(tmp_path / "voicemail.wav", text=VOICEMAIL_TEXT, voice="en-gb", rate=22050,
                     words_per_minute=150)
    d = tmp_path / "case"
    run(capsys, "case", "new", str(d), "--title", "vm", "--examiner", "Ann", "--json")
    run(capsys, "case", "add", str(d), str(wav), "--json")
    text_file = tmp_path / "transcript.txt"
    text_file.write_text(VOICEMAIL_TEXT, encoding="utf-8")
    code, out = run(capsys, "align", str(d), "--evidence", "1", "--transcript-file", str(text_file), "--json")
    assert code == 0 and out["run"]["status"] == "done"
    overview = out["findings"][0]
    assert overview["label"] == "Transcript alignment" and overview["alignments"] == ["transcript-attention"]
    words = overview["details"]["words"]
    assert [w["word"].strip(".,").lower() for w in words][:4] == ["hello", "this", "is", "your"]
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts) and 0.0 <= starts[0] < 0.5
    assert not [f for f in out["findings"] if f["label"].startswith("Poorly aligned word")]
