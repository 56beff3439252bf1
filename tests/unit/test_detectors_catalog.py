"""The model catalog: shipped manifest round trip, safe weight loading, import of the official
AASIST weights by hash (into the user folder, never the repository)."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from forensics_app.detectors import catalog, known_weights
from forensics_app.detectors.weights import load_state_dict, sha256_file
from forensics_app.domain.errors import ForensicsError, IntegrityError, NotFound
from forensics_app.training.calibration import Bands, Calibration

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FORENSICS_APP_SHARED") or REPO.parent / "shared")
AASIST_DIR = SHARED / "weights" / "aasist"
needs_aasist = pytest.mark.skipif(not (AASIST_DIR / "AASIST.pth").is_file(),
                                  reason=f"official AASIST weights not available in {AASIST_DIR}")

HEADER = "# Shipped models of the test\n# second comment line\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private FORENSICS_APP_HOME for this test."""
    h = tmp_path / "home"
    monkeypatch.setenv("FORENSICS_APP_HOME", str(h))
    return h


def tiny_weights(path: Path, seed: int = 0) -> Path:
    g = torch.Generator().manual_seed(seed)
    torch.save({"conv.weight": torch.randn(4, 1, 3, generator=g), "conv.bias": torch.zeros(4)}, path)
    return path


def fields(mid: str, **over: object) -> dict[str, object]:
    f: dict[str, object] = {
        "id": mid, "task": "speech-detection", "architecture": "lfcc_lcnn", "file": f"{mid}.pt",
        "sample_rate": 16000, "input_length_s": 4.0, "hop_s": 2.0,
        "score_polarity": "logits[:, 0] = spoof", "licence": "test licence \"quoted\" \\ back",
        "training_data": "generated\nline two — ünïcode", "card": f"{mid}.md",
    }
    f.update(over)
    return f


DETAILS = {"config": {"n_lfcc": 20, "channels": [8, 16]},
           "calibration": {"a": 1.5, "b": -0.25, "fitted_on": "calibration speakers"},
           "bands": {"t_low": -2.0, "t_high": 3.0, "rates": None},
           "validation": {"overall": {"eer": 0.04}}, "limits": ["read speech only"]}


def test_shipped_manifest_round_trip(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.toml").write_text(HEADER + "# No model yet.\n", encoding="utf-8")
    tiny_weights(models / "m1.pt")
    tiny_weights(models / "m2.pt", seed=1)
    e1 = catalog.write_shipped_entry(fields("m1"), DETAILS, models_dir=models)
    catalog.write_shipped_entry(fields("m2", task="vocoder", input_length_s=0.0, hop_s=0.0), {"config": {}},
                                models_dir=models)
    text = (models / "manifest.toml").read_text(encoding="utf-8")
    assert text.startswith(HEADER + "# No model yet.\n")
    assert [t["id"] for t in tomllib.loads(text)["model"]] == ["m1", "m2"]

    entries = {e.id: e for e in catalog.shipped_models(models)}
    e = entries["m1"]
    assert e == e1 and e.source == "shipped"
    assert e.sha256 == sha256_file(models / "m1.pt")  # computed when not given
    assert e.weights_path == models / "m1.pt" and e.card_path == models / "m1.md"
    assert e.licence == fields("m1")["licence"] and e.training_data == fields("m1")["training_data"]
    assert (e.sample_rate, e.input_length_s, e.hop_s) == (16000, 4.0, 2.0)
    assert e.config == DETAILS["config"]
    assert e.calibration == Calibration(1.5, -0.25)
    assert e.bands == Bands(-2.0, 3.0)
    card = e.as_card()
    assert card["validation"] == {"overall": {"eer": 0.04}} and card["input"]["window_s"] == 4.0
    json.dumps(card)
    assert entries["m2"].task == "vocoder" and entries["m2"].calibration is None
    assert json.loads((models / "m1.json").read_text()) == DETAILS
    assert stat.S_IMODE((models / "manifest.toml").stat().st_mode) == 0o644
    m2 = json.loads((models / "m2.json").read_text())
    assert m2 == {"config": {}}
    catalog.write_shipped_entry(fields("m2", task="vocoder", input_length_s=0.0, hop_s=0.0),
                                {"config": {}, "loss": float("nan"), "steps": np.int64(5),
                                 "curve": [np.float32(0.5), float("inf")]}, models_dir=models)
    assert json.loads((models / "m2.json").read_text()) == {"config": {}, "loss": None, "steps": 5,
                                                            "curve": [0.5, None]}

    # Replacing by id keeps one table and the header.
    catalog.write_shipped_entry(fields("m1", hop_s=1.0), DETAILS, models_dir=models)
    again = catalog.shipped_models(models)
    assert [x.id for x in again] == ["m1", "m2"] and again[0].hop_s == 1.0
    assert (models / "manifest.toml").read_text(encoding="utf-8").startswith(HEADER)

    # Loading checks the recorded hash.
    assert set(e.load_state_dict()) == {"conv.weight", "conv.bias"}
    tiny_weights(models / "m1.pt", seed=7)
    with pytest.raises(IntegrityError, match=f"expected SHA-256 {e.sha256}, file has [0-9a-f]{{64}}"):
        e.load_state_dict()


def test_manifest_errors_are_named(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.toml").write_text('[[model]]\nid = "x"\ntask = "speech-detection"\n')
    with pytest.raises(ForensicsError, match=r"\(x\): missing field\(s\) architecture, file"):
        catalog.shipped_models(models)
    with pytest.raises(ValueError, match="id"):
        catalog.write_shipped_entry(fields("Bad Id"), {}, models_dir=models)
    with pytest.raises(ForensicsError, match="relative"):
        catalog.write_shipped_entry(fields("y", file="../escape.pt", sha256="0" * 64), {}, models_dir=models)
    with pytest.raises(ValueError, match="only strings, numbers"):
        catalog.write_shipped_entry(fields("y", sha256="0" * 64, extra=[1, 2]), {}, models_dir=models)
    assert "y" not in (models / "manifest.toml").read_text()


def test_repository_manifest_parses_and_is_where_the_catalog_looks() -> None:
    assert catalog.shipped_models_dir() == REPO / "models"
    for e in catalog.shipped_models():
        assert e.task in catalog.TASKS and len(e.sha256) == 64


def test_load_state_dict_never_runs_pickled_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # noqa: D105 - the attack
            return (Path.touch, (marker,))

    bad = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "x": Evil()}, bad)
    with pytest.raises(ForensicsError, match="refused"):
        load_state_dict(bad, expected_sha256=sha256_file(bad))
    assert not marker.exists()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"these are not weights\n" * 40)
    with pytest.raises(ForensicsError, match="not a PyTorch weights file"):
        load_state_dict(junk, expected_sha256=None)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(tiny_weights(tmp_path / "whole.pt").read_bytes()[:300])
    with pytest.raises(ForensicsError, match="not a readable PyTorch weights file"):
        load_state_dict(cut, expected_sha256=None)
    with pytest.raises(IntegrityError, match="missing"):
        load_state_dict(tmp_path / "absent.pt", expected_sha256=None)


def test_load_state_dict_unwraps_checkpoints(tmp_path: Path) -> None:
    p = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": {"module.a": torch.ones(2), "module.b": torch.zeros(1)}}, p)
    sd = load_state_dict(p, expected_sha256=sha256_file(p).upper())
    assert list(sd) == ["a", "b"] and sd["a"].tolist() == [1.0, 1.0]
    q = tmp_path / "notsd.pt"
    torch.save({"epoch": 3, "lr": 0.1}, q)
    with pytest.raises(ForensicsError, match="not a state_dict"):
        load_state_dict(q, expected_sha256=None)


def test_known_table_matches_the_official_configs() -> None:
    aasist = known_weights.get_known("aasist-official")
    assert aasist.input_length_s == 64600 / 16000 and aasist.architecture == "aasist"
    assert aasist.score_polarity == "output index 1 = bona fide" and "MIT" in aasist.licence
    assert "NAVER" in aasist.licence and "ASVspoof 2019 LA train" in aasist.training_data
    if (AASIST_DIR / "AASIST.conf").is_file():
        for kid, name in [("aasist-official", "AASIST"), ("aasist-l-official", "AASIST-L")]:
            conf = json.loads((AASIST_DIR / f"{name}.conf").read_text())["model_config"]
            assert dict(known_weights.get_known(kid).model_config) == conf
    with pytest.raises(NotFound, match="aasist-l-official"):
        known_weights.get_known("nope")


@needs_aasist
def test_known_hashes_are_the_official_files() -> None:
    for kid, name in [("aasist-official", "AASIST.pth"), ("aasist-l-official", "AASIST-L.pth")]:
        k = known_weights.get_known(kid)
        assert sha256_file(AASIST_DIR / name) == k.sha256
        assert (AASIST_DIR / name).stat().st_size == k.size


@needs_aasist
def test_import_official_weights_into_the_user_folder(home: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in (REPO / "models").iterdir())
    r = catalog.import_model_file(AASIST_DIR / "AASIST.pth", examiner="Ann")
    assert r.status == "imported"
    dest = home / "models" / "aasist-official.pth"
    assert r.entry.weights_path == dest and dest.is_file()
    assert not stat.S_IMODE(dest.stat().st_mode) & 0o222  # read-only
    assert sorted(p.name for p in (REPO / "models").iterdir()) == before  # nothing in the repo
    record = json.loads((home / "models" / "manifest.json").read_text())["models"]
    assert [(m["id"], m["sha256"], m["imported_by"], m["original_name"]) for m in record] == [
        ("aasist-official", known_weights.get_known("aasist-official").sha256, "Ann", "AASIST.pth")]

    e = catalog.get_model("aasist-official")
    assert e.source == "imported" and e.config["gat_dims"] == [64, 32]
    assert e.input_length_s == pytest.approx(4.0375) and e.task == "speech-detection"
    sd = e.load_state_dict()
    assert len(sd) == 229 and tuple(sd["pos_S"].shape) == (1, 23, 64)
    assert "aasist-official" in [m.id for m in catalog.all_models(task="speech-detection")]
    assert [k.id for k in catalog.importable()] == ["aasist-l-official"]

    # Re-import: nothing changes, and it says so.
    mtime = dest.stat().st_mtime_ns
    again = catalog.import_model_file(AASIST_DIR / "AASIST.pth")
    assert again.status == "already imported" and "nothing changed" in again.message
    assert dest.stat().st_mtime_ns == mtime
    assert len(json.loads((home / "models" / "manifest.json").read_text())["models"]) == 1

    # The stored copy is verified at every load; a damaged copy is repaired by importing again.
    os.chmod(dest, 0o644)
    data = bytearray(dest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dest.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=e.sha256):
        catalog.get_model("aasist-official").load_state_dict()
    assert catalog.import_model_file(AASIST_DIR / "AASIST.pth").status == "repaired"
    assert len(catalog.get_model("aasist-official").load_state_dict()) == 229

    # AASIST-L alongside.
    light = catalog.import_weights(AASIST_DIR / "AASIST-L.pth")
    assert light.id == "aasist-l-official" and light.config["gat_dims"] == [24, 32]
    assert catalog.importable() == []


@needs_aasist
def test_altered_official_file_is_refused_with_both_hashes(home: Path, tmp_path: Path) -> None:
    altered = tmp_path / "AASIST.pth"
    data = bytearray((AASIST_DIR / "AASIST.pth").read_bytes())
    data[1000] ^= 0x01
    altered.write_bytes(bytes(data))
    sha = sha256_file(altered)
    with pytest.raises(IntegrityError) as err:
        catalog.import_model_file(altered)
    msg = str(err.value)
    assert sha in msg
    for k in known_weights.KNOWN_WEIGHTS:
        assert f"{k.id} = {k.sha256}" in msg
    assert not (home / "models" / "aasist-official.pth").exists()
    assert not (home / "models" / "manifest.json").exists()


def test_import_refuses_unknown_empty_missing_and_folders(home: Path, tmp_path: Path) -> None:
    rnd = tmp_path / "random.pth"
    rnd.write_bytes(os.urandom(4096))
    with pytest.raises(IntegrityError, match=f"SHA-256 is {sha256_file(rnd)}.*aasist-official = "):
        catalog.import_weights(rnd)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(ForensicsError, match="empty"):
        catalog.import_weights(empty)
    with pytest.raises(ForensicsError, match="is a folder"):
        catalog.import_weights(tmp_path)
    with pytest.raises(NotFound, match="no such file"):
        catalog.import_weights(tmp_path / "absent.pth")
    assert not (home / "models").exists() or not any((home / "models").iterdir())


@needs_aasist
def test_measured_details_of_third_party_weights(home: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.toml").write_text("# shipped models of this test\n", encoding="utf-8")
    path = known_weights.write_measured_details(
        "aasist-official", {"calibration": {"a": 0.5, "b": 1.0}, "validation": {"eer": 0.3}},
        models_dir=models)
    assert path == models / "third_party" / "aasist-official.json"
    with pytest.raises(ValueError, match="configuration"):
        known_weights.write_measured_details("aasist-official", {"config": {}}, models_dir=models)
    catalog.import_model_file(AASIST_DIR / "AASIST.pth", models_dir=models)
    e = catalog.get_model("aasist-official", models_dir=models)
    assert e.calibration == Calibration(0.5, 1.0) and e.details["validation"] == {"eer": 0.3}
    assert e.config["nb_samp"] == 64600  # the table's config, never the details file's
    with pytest.raises(NotFound, match="aasist-official"):
        catalog.get_model("nope", models_dir=models)


def test_unknown_model_names_the_catalog_and_importable_ids(home: Path) -> None:
    with pytest.raises(NotFound, match="import its file first"):
        catalog.get_model("aasist-l-official")
