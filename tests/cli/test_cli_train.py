"""``forensics-app train detector`` end to end through the real CLI, then ``models list`` and ``eval``.

A tiny generated data set (tests/unit/test_training_detector.py::make_dataset: harmonic "speech"
against buzzy and band-limited "spoofs") is trained on for seconds; the command must write the
weights, details, card and manifest entry into the chosen models folder, and the new model must
be listed as calibrated and evaluable by ``eval``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_training_detector import make_dataset

from forensics_app import cli
from forensics_app.detectors import catalog

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_detector_then_list_and_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_dataset(tmp_path / "data")
    models = tmp_path / "models"
    code = cli.main(["train", "detector", "--data", str(tmp_path / "data"), "--dataset", str(manifest),
                     "--model", "lcnn", "--id", "cli-lcnn", "--minutes", "0.15", "--lofo-minutes", "0",
                     "--models-dir", str(models), "--threads", "1", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    details = json.loads(out)
    assert details["id"] == "cli-lcnn" and details["lofo"]["skipped"] is True
    for suffix in (".pt", ".json", ".md"):
        assert (models / f"cli-lcnn{suffix}").is_file()
    assert 'id = "cli-lcnn"' in (models / "manifest.toml").read_text(encoding="utf-8")

    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: models)
    assert cli.main(["models", "list", "--json"]) == 0
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert "cli-lcnn" in listed

    scores = tmp_path / "scores.csv"
    code = cli.main(["eval", "--model", "cli-lcnn", "--manifest", str(manifest), "--by", "generator",
                     "--scores-out", str(scores), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert 0.0 <= report["overall"]["eer"] <= 1.0
    assert scores.read_text(encoding="utf-8").count("\n") == 37  # header + 36 files


def test_unknown_preset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "detector", "--data", ".", "--model", "nope"])
    assert exc.value.code == 2
