"""Calibrating imported official weights on generated data (skips without the shared AASIST files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from test_training_detector import make_dataset

from forensics_app.detectors import catalog
from forensics_app.domain.errors import ForensicsError
from forensics_app.training.third_party import calibrate_imported

REPO = Path(__file__).resolve().parents[2]
AASIST_L = Path(os.environ.get("FORENSICS_APP_SHARED") or REPO.parent / "shared") / "weights" / "aasist" / "AASIST-L.pth"


@pytest.mark.slow
@pytest.mark.skipif(not AASIST_L.is_file(), reason=f"official AASIST-L weights not present at {AASIST_L}")
def test_calibrate_imported_aasist_l(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.toml").write_text("# test\n", encoding="utf-8")
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: models)
    catalog.import_model_file(AASIST_L)
    manifest = make_dataset(tmp_path / "data", seconds=0.6)
    details = calibrate_imported(model_id="aasist-l-official", manifest=manifest,
                                 out_dir=models / "third_party", max_speakers=2, log=lambda _m: None)
    assert (models / "third_party" / "aasist-l-official.json").is_file()
    assert details["speakers_scored"] == {"calibration": 2, "validation": 2}
    entry = catalog.get_model("aasist-l-official")
    assert entry.calibration is not None and entry.bands is not None
    assert entry.calibration.a == pytest.approx(details["calibration"]["a"])
    assert 0.0 <= details["validation"]["overall"]["eer"] <= 1.0
    with pytest.raises(ForensicsError, match="not an imported"):
        catalog.write_shipped_entry({"id": "own", "task": "speech-detection", "architecture": "lfcc_lcnn",
                                     "file": "own.pt", "sha256": "0" * 64, "sample_rate": 16000,
                                     "input_length_s": 2.0, "hop_s": 0.5, "score_polarity": "x",
                                     "licence": "x", "training_data": "x", "card": "", "details": "own.json"},
                                    {}, models_dir=models)
        calibrate_imported(model_id="own", manifest=manifest, out_dir=models / "third_party")
