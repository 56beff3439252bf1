"""training.detector_train and training.develop on a tiny generated data set.

Bona fide items are harmonic tones with a vibrato, a syllable-rate envelope and a noise floor;
the "buzz" generator (family vocoder) replaces the decaying harmonics by a flat pulse train
without the noise floor, the "band" generator (family tts) band-limits the bona fide item to
3 kHz. Items are written as 16-bit WAVs with a manifest in the data set's format and read back.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import butter, sosfilt

from forensics_app.demo.wav_io import write_wav
from forensics_app.domain.errors import Cancelled, ForensicsError
from forensics_app.domain.jobs import ProgressToken
from forensics_app.training import metrics
from forensics_app.training.detector_train import train_detector
from forensics_app.training.develop import channel_conditions, score_rows

RATE = 16000
HEADER = ["path", "label", "speaker", "split", "utterance", "generator", "family", "channel",
          "pair_id"]
TINY = {"width": 0.25, "hidden": 16, "dropout": 0.1}
SPLIT_OF = ["train"] * 6 + ["validation"] * 3 + ["calibration"] * 3


def _bonafide(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n) / RATE
    f0 = rng.uniform(100, 220) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(3, 6) * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    env = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6))
    tilt = rng.uniform(0.8, 1.2)
    voiced = sum(np.sin(k * phase) / k ** tilt for k in range(1, 30)) * env
    return voiced + 0.03 * rng.standard_normal(n), phase


def _buzz(phase: np.ndarray) -> np.ndarray:
    kmax = 40
    return sum(np.sin(k * phase) for k in range(1, kmax)) / 6.0


def _band(x: np.ndarray) -> np.ndarray:
    return sosfilt(butter(8, 3000, fs=RATE, output="sos"), x)


def _peak(x: np.ndarray, p: float = 0.5) -> np.ndarray:
    return x * (p / np.max(np.abs(x)))


def make_dataset(root: Path, *, seconds: float = 1.2, seed: int = 0) -> Path:
    """36 WAVs (12 speakers x bona fide + 2 spoofs) and ``manifest.csv``; returns the manifest."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, split in enumerate(SPLIT_OF):
        speaker = f"{100 + i}"
        utt = f"{speaker}-1-0001"
        channel = "clean" if i % 2 == 0 else "noise-30dB"
        n = int(rng.uniform(0.8, 1.2) * seconds * RATE)
        bona, phase = _bonafide(rng, n)
        items = {"bonafide": bona, "buzz": _buzz(phase), "band": _band(bona)}
        extra = 0.02 * rng.standard_normal(n) if channel != "clean" else 0.0
        for gen, wave in items.items():
            rel = f"audio/{split}/{gen}/{utt}_{channel}.wav"
            write_wav(root / rel, _peak(wave + extra), RATE)
            rows.append({
                "path": rel, "label": "bonafide" if gen == "bonafide" else "spoof",
                "speaker": speaker, "split": split, "utterance": utt, "generator": gen,
                "family": {"bonafide": "bonafide", "buzz": "vocoder", "band": "tts"}[gen],
                "channel": channel, "pair_id": f"{utt}|{channel}",
            })
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def _rows(manifest: Path) -> list[dict[str, str]]:
    with open(manifest, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("detector-data"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _eer(rows: Sequence[dict[str, str]], raw: np.ndarray) -> float:
    bona = np.array([r["label"] == "bonafide" for r in rows])
    return metrics.eer(raw[bona], raw[~bona])[0]


def test_training_lowers_the_loss_and_separates_held_out_speakers(dataset: Path) -> None:
    rows = _rows(dataset)
    train = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] != "train"]
    lines: list[str] = []
    model = train_detector(rows=train, root=dataset.parent, architecture="lfcc_lcnn", config=TINY,
                           window_s=0.5, seed=3, minutes=0.1, max_epochs=60, batch_size=8, lr=3e-3,
                           device="cpu", log=lines.append)
    assert model.steps > 20 and model.history and lines
    assert model.history[-1]["loss"] < 0.7 * model.history[0]["loss"]
    assert not model.net.training
    assert all(v.device.type == "cpu" for v in model.state_dict.values())
    assert model.settings["n_bonafide"] == 6 and model.settings["n_spoof"] == 12
    raw = score_rows(model.net, held, dataset.parent, window_s=0.5, hop_s=0.25, device="cpu")
    assert _eer(held, raw) < 0.2


def test_training_is_seeded_and_excludes_families(dataset: Path) -> None:
    train = [r for r in _rows(dataset) if r["split"] == "train"]
    kwargs = {"rows": train, "root": dataset.parent, "architecture": "lfcc_lcnn", "config": TINY,
              "window_s": 0.25, "seed": 5, "minutes": 1.0, "max_epochs": 100, "max_steps": 4,
              "batch_size": 4, "lr": 1e-3, "device": "cpu", "exclude_families": ["tts"],
              "log": lambda _m: None}
    a, b = train_detector(**kwargs), train_detector(**kwargs)
    assert a.steps == b.steps == 4 and a.settings["stopped_by"] == "steps"
    assert a.settings["n_spoof"] == 6  # only the vocoder family's 6 spoofs remain
    for k, v in a.state_dict.items():
        assert torch.equal(v, b.state_dict[k]), k
    with pytest.raises(ForensicsError, match="both classes"):
        train_detector(**{**kwargs, "exclude_families": ["tts", "vocoder"]})
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        train_detector(**{**kwargs, "progress": token})


def test_develop_model_end_to_end(dataset: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_app.detectors import catalog
    from forensics_app.training.develop import develop_model

    out = tmp_path / "models"
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: out)
    seen: list[float] = []
    details = develop_model(
        manifest=dataset, model_id="tiny-lcnn-test", architecture="lfcc_lcnn", config=TINY,
        window_s=0.5, hop_s=0.25, seed=1, minutes=0.07, lofo_minutes=0.03, out_dir=out,
        device="cpu", batch_size=8, lr=3e-3, progress=ProgressToken(lambda f, _m: seen.append(f)),
        log=lambda _m: None)
    for suffix in (".pt", ".json", ".md"):
        assert (out / f"tiny-lcnn-test{suffix}").is_file()
    assert seen[-1] == pytest.approx(1.0)

    # The details on disk are what was returned, and every figure is there.
    on_disk = json.loads((out / "tiny-lcnn-test.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(details))
    val = details["validation"]
    assert [g["generator"] for g in val["per_generator"]] == ["band", "buzz"]
    for g in val["per_generator"]:
        assert g["n_bonafide"] == 3 and g["n_spoof"] == 3
        assert g["paired"]["n_pairs"] == 3
        assert 0.0 <= g["paired"]["pairwise_error"] <= 1.0 and 0.0 <= g["eer"] <= 1.0
        assert set(g["eer_per_channel"]) == {"clean", "degraded", "noise"}
    assert val["overall"]["eer"] < 0.3 and 0.0 <= val["overall"]["min_cllr"] <= 1.0
    assert [c["channel"] for c in val["per_channel"]] == ["clean", "degraded", "noise"]
    assert [c["n_bonafide"] for c in val["per_channel"]] == [2, 1, 1]
    assert details["calibration"]["a"] > 0 and details["calibration"]["n_bonafide"] == 3
    assert details["bands"]["t_low"] <= details["bands"]["t_high"]
    assert details["bands"]["rates"]["n_bona"] == 3
    lofo = details["lofo"]
    assert not lofo["skipped"] and [f["family"] for f in lofo["families"]] == ["tts", "vocoder"]
    for f in lofo["families"]:
        assert f["steps"] > 0 and f["eer"] is not None and f["paired"]["n_pairs"] == 3
    cpu = details["throughput"]["cpu"]
    assert cpu["recording_s"] == 60.0 and cpu["windows"] == 239 and cpu["x_real_time"] > 1
    assert details["throughput"]["gpu"].startswith("not measured")
    ds = details["dataset"]
    assert ds["counts"]["train"] == {"band": 6, "bonafide": 6, "buzz": 6}
    assert len(ds["manifest_sha256"]) == 64 and details["limits"]

    # The weights load into a fresh net and reproduce the validation scores.
    state = torch.load(out / "tiny-lcnn-test.pt", weights_only=True)
    from forensics_app.nets.registry import build

    assert details["config"]["width"] == 0.25 and "dropout" in details["config"]  # complete
    net = build("lfcc_lcnn", details["config"])
    net.load_state_dict(state)
    rows = [r for r in _rows(dataset) if r["split"] == "validation"]
    raw = score_rows(net, rows, dataset.parent, window_s=0.5, hop_s=0.25, device="cpu")
    bona = np.array([r["label"] == "bonafide" for r in rows])
    assert metrics.eer(raw[bona], raw[~bona])[0] == pytest.approx(val["overall"]["eer"])

    # The catalogue entry points at the files, with their hash.
    entry = tomllib.loads((out / "manifest.toml").read_text(encoding="utf-8"))["model"][0]
    assert entry["id"] == "tiny-lcnn-test" and entry["task"] == "speech-detection"
    assert entry["file"] == "tiny-lcnn-test.pt" and entry["card"] == "tiny-lcnn-test.md"
    assert entry["input_length_s"] == 0.5 and entry["hop_s"] == 0.25
    assert entry["sample_rate"] == 16000
    from forensics_app.ingest.hashing import sha256_file

    assert entry["sha256"] == sha256_file(out / "tiny-lcnn-test.pt")
    model = catalog.get_model("tiny-lcnn-test")
    assert model.calibration is not None and model.bands is not None
    # The analyzer's loader reads it back and scores a file as validation did.
    from forensics_app.detectors.detector import load_detector

    det = load_detector("tiny-lcnn-test", device="cpu")
    assert det.score_file(dataset.parent / rows[0]["path"]) == pytest.approx(raw[0], abs=1e-4)

    card = (out / "tiny-lcnn-test.md").read_text(encoding="utf-8")
    for text in ("Paired", "Leave one family out", "not measured", "Known failure modes",
                 "CC BY 4.0", "| buzz | vocoder | 3 |"):
        assert text in card, text


def test_develop_records_skipped_lofo(dataset: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_app.detectors import catalog
    from forensics_app.training.develop import develop_model

    out = tmp_path / "models"
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: out)
    details = develop_model(
        manifest=dataset, model_id="tiny-nolofo", architecture="lfcc_lcnn", config=TINY,
        window_s=1.0, hop_s=1.0, seed=2, minutes=0.02, lofo_minutes=0.0, out_dir=out,
        device="cpu", batch_size=8, log=lambda _m: None)
    assert details["lofo"]["skipped"] and "lofo_minutes" in details["lofo"]["reason"]
    assert any("not measured" in x for x in details["limits"])
    assert "Not run" in (out / "tiny-nolofo.md").read_text(encoding="utf-8")


def test_channel_conditions() -> None:
    assert channel_conditions("clean") == ["clean"]
    assert channel_conditions("reverb-0.43s+pinknoise-25dB+noise-5dB+lowpass-7k+opus-12k") == [
        "degraded", "reverb", "noise", "lowpass", "opus"]
    assert channel_conditions("gain+3dB") == ["degraded", "gain"]
    assert channel_conditions("mp3-64k+gain+3dB") == ["degraded", "mp3", "gain"]
    assert channel_conditions("band-300-3400Hz+resample-11.025k+mp3-64k") == [
        "degraded", "band", "resample", "mp3"]
