"""The residual detector's machinery, with a tiny head trained here on generated speech.

espeak-ng renders a few sentences (the "source" audio); the WORLD round trip of each is the
"synthetic" audio. Their WORLD self-resynthesis features are cached, a logistic head is trained on
four utterances, and it must rank each held-out WORLD resynthesis above its source, both from the
cached features and when catalogued and loaded as a detector that scores the audio itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from forensics_app.cli import build_parser
from forensics_app.demo.audio_media import speech_wav
from forensics_app.detectors import catalog
from forensics_app.detectors.detector import load_detector
from forensics_app.detectors.errors import NoScorableWindows
from forensics_app.detectors.front_ends import front_end_name
from forensics_app.detectors.windows import WindowScores, file_score
from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.registry import build
from forensics_app.resynthesis import round_trips as rt
from forensics_app.training.residual_develop import residual_features
from forensics_app.training.residual_features_cache import build_feature_cache, centre_crop
from forensics_app.training.residual_train import file_raw_scores, train_head, window_matrix

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

RATE = 16000
TEXTS = [
    ("en", "Please call me back about the transfer before noon today."),
    ("en-us", "The quarterly figures arrive on Thursday morning by courier."),
    ("en", "Nobody expected the river to rise so quickly after the storm."),
    ("en-us", "Bring the blue folder and the signed contract to the meeting."),
    ("en", "Seven green bottles stood on the wall beside the old gate."),
    ("en-us", "We will need the keys to the garage before the weekend."),
]
TRAIN, HELD_OUT = range(4), range(4, 6)
TRIPS = ("world",)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    """Six espeak utterances and their WORLD round trips, as a manifest-like list of rows."""
    root = tmp_path_factory.mktemp("residual-data")
    rows = []
    for k, (voice, text) in enumerate(TEXTS):
        src = speech_wav(root / f"u{k}-bonafide.wav", text=text, voice=voice, rate=RATE)
        x, _ = sf.read(src, dtype="float32")
        sf.write(root / f"u{k}-world.wav", rt.get("world")(x), RATE, subtype="FLOAT")
        split = "train" if k in TRAIN else "validation"
        for label, gen in (("bonafide", "bonafide"), ("spoof", "world")):
            rows.append({"path": f"u{k}-{gen}.wav", "label": label, "speaker": f"s{k}", "split": split,
                         "utterance": f"u{k}", "generator": gen, "family": "vocoder" if gen == "world" else gen,
                         "channel": "clean", "pair_id": f"u{k}-c0"})
    return root, rows


@pytest.fixture(scope="module")
def trained(data: tuple[Path, list[dict[str, str]]], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root, rows = data
    cache = tmp_path_factory.mktemp("cache") / "features.npz"
    table = build_feature_cache(rows, root, cache, crop_s=4.0, window_s=1.0, hop_s=0.5, round_trip_ids=TRIPS,
                                workers=1, log=lambda _: None)
    names = residual_features(table.feature_names)
    x, y = window_matrix(table, [r for r in rows if r["split"] == "train"], names)
    head = train_head(x, y, features=names, round_trips=TRIPS, hidden=0, steps=400, log=lambda _: None)
    return table, head, cache


def test_cache_is_reused_and_holds_every_window(data, trained) -> None:  # type: ignore[no-untyped-def]
    root, rows = data
    table, _, cache = trained
    lines: list[str] = []
    again = build_feature_cache(rows, root, cache, crop_s=4.0, window_s=1.0, hop_s=0.5, round_trip_ids=TRIPS,
                                workers=1, log=lines.append)
    assert lines[0].startswith(f"residual features: {len(rows)} of {len(rows)} recordings cached, 0 to compute")
    np.testing.assert_array_equal(again.win_values, table.win_values)
    assert table.feature_names[0] == "world.lsd_median_db" and table.feature_names[-1] == "active_fraction"
    for i, p in enumerate(table.paths):
        n = sf.info(root / p).frames / RATE
        assert table.crop_s[i] == pytest.approx(min(n, 4.0), abs=1e-3)
        starts = table.win_starts_s[table.win_file == i]
        assert starts[0] == 0.0 and np.allclose(np.diff(starts), 0.5)


def test_centre_crop_is_centred_on_the_frame_grid() -> None:
    x = np.arange(10 * RATE, dtype=np.float32)
    crop, offset = centre_crop(x, rate=RATE, crop_s=4.0)
    assert crop.size == 4 * RATE and offset == pytest.approx(3.0) and crop[0] == 3 * RATE
    short, off = centre_crop(x[:RATE], rate=RATE, crop_s=4.0)
    assert short.size == RATE and off == 0.0


def test_tiny_head_ranks_world_resynthesis_above_its_source(data, trained) -> None:  # type: ignore[no-untyped-def]
    _, rows = data
    table, head, _ = trained
    held = [r for r in rows if r["split"] == "validation"]
    raw = file_raw_scores(head.net, table, held)
    assert np.all(np.isfinite(raw))
    by = {(r["utterance"], r["generator"]): s for r, s in zip(held, raw, strict=True)}
    for k in HELD_OUT:
        assert by[(f"u{k}", "world")] > by[(f"u{k}", "bonafide")], by


def _install(models_dir: Path, head, window_s: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    models_dir.mkdir(parents=True, exist_ok=True)
    (models_dir / "manifest.toml").write_text("# test models\n", encoding="utf-8")
    torch.save(head.state_dict, models_dir / "tiny-residual.pt")
    catalog.write_shipped_entry({
        "id": "tiny-residual", "task": "speech-detection", "architecture": "residual_mlp",
        "file": "tiny-residual.pt", "sample_rate": RATE, "input_length_s": window_s, "hop_s": 0.5,
        "score_polarity": "raw = s", "licence": "test", "training_data": "espeak and its WORLD round trip",
        "card": "", "details": "tiny-residual.json",
    }, {"config": dict(head.net.config), "calibration": {"a": 1.0, "b": 0.0},
        "bands": {"t_low": -1.0, "t_high": 1.0, "rates": None}}, models_dir=models_dir)


def test_catalogued_tiny_detector_scores_audio_like_the_cache(data, trained, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, rows = data
    table, head, _ = trained
    _install(tmp_path / "models", head)
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: tmp_path / "models")
    det = load_detector("tiny-residual", device="cpu")
    assert front_end_name(det.net) == "resynthesis-residuals"
    scores = {}
    for gen in ("bonafide", "world"):
        path = "u5-" + gen + ".wav"
        x, rate = sf.read(root / path, dtype="float32")
        ws = det.score_wave(x, rate=rate)
        cached = file_raw_scores(head.net, table, [next(r for r in rows if r["path"] == path)])[0]
        assert file_score(ws) == pytest.approx(cached, abs=1e-5), "the detector scores as training scored"
        assert np.all(ws.ends_s <= x.size / rate + 1e-9) and ws.ends_s[0] == pytest.approx(1.0)
        scores[gen] = file_score(ws)
    assert scores["world"] > scores["bonafide"]
    tf_map, method = det.explain(x, rate=rate, start_s=0.5, name="tiny explanation")
    assert tf_map.unit == "dB" and "residual" in method
    assert tf_map.times_s[0] >= 0.5 and tf_map.times_s[-1] <= 1.5 + 0.02
    assert tf_map.values.shape[0] == tf_map.freqs_hz.size and tf_map.values.max() > 0


def test_silence_gives_gaps_and_a_silent_recording_is_not_scorable(data, trained, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, _ = data
    _, head, _ = trained
    _install(tmp_path / "models", head)
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: tmp_path / "models")
    det = load_detector("tiny-residual", device="cpu")
    x, rate = sf.read(root / "u0-bonafide.wav", dtype="float32")
    gap = np.zeros(3 * rate, np.float32)
    ws = det.score_wave(np.concatenate([x, gap, x]), rate=rate)
    silent = (ws.starts_s >= x.size / rate) & (ws.ends_s <= (x.size + gap.size) / rate)
    assert silent.any() and np.all(np.isnan(ws.raw[silent]))
    assert np.isfinite(ws.raw[~silent]).sum() >= 4
    assert np.isfinite(file_score(ws))
    with pytest.raises(NoScorableWindows):
        det.score_wave(np.zeros(2 * rate, np.float32), rate=rate)
    with pytest.raises(NoScorableWindows):
        file_score(WindowScores(starts_s=np.zeros(1), ends_s=np.ones(1), raw=np.full(1, np.nan), padded=False))


def test_residual_head_checks_its_config_and_standardisation() -> None:
    with pytest.raises(ForensicsError):
        build("residual_mlp", {})
    net = build("residual_mlp", {"features": ["a", "b"], "hidden": 0})
    with pytest.raises(ForensicsError):
        net.set_standardisation([0.0, 0.0], [1.0, 0.0])
    net.set_standardisation([1.0, 2.0], [2.0, 4.0])
    logits = net(torch.tensor([[1.0, 2.0], [3.0, 6.0]]))
    assert logits.shape == (2, 2)
    raw = (logits[:, 0] - logits[:, 1]).detach()
    assert torch.allclose(raw, net.score(torch.tensor([[1.0, 2.0], [3.0, 6.0]])).detach())


def test_cli_has_the_residual_preset() -> None:
    args = build_parser().parse_args(["train", "detector", "--data", "d", "--model", "residual", "--dataset", "m.csv",
                                      "--cache", "c.npz", "--max-train-utterances", "10"])
    assert args.model == "residual" and args.cache == "c.npz" and args.max_train_utterances == 10
    from forensics_app.cli_train import RESIDUAL_PRESETS

    assert RESIDUAL_PRESETS["residual"].fuse_with == ("lfcc-lcnn-v1",)
