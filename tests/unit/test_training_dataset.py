"""Building the training dataset from a tiny generated corpus."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.domain.errors import Cancelled, ForensicsError, NotFound
from forensics_app.domain.jobs import ProgressToken
from forensics_app.training.dataset import (
    MANIFEST_COLUMNS,
    audio_path,
    build_dataset,
    read_manifest,
)

RATE = 16000
GENS = ("world", "lpc")


def write_corpus(folder: Path, *, speakers=(19, 26, 32, 40), duration_s: float = 0.8) -> Path:
    """One vowel-like utterance per speaker, named speaker-chapter-utterance.wav."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(duration_s * RATE)) / RATE
    for i, spk in enumerate(speakers):
        f0 = 100 + 30 * i + 20 * t
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        x = sum(np.sin(h * phase) / h for h in range(1, 30) if h * f0.max() < 7500)
        x = x * np.clip(np.minimum(t - 0.05, duration_s - 0.05 - t) / 0.05, 0, 1)
        x += 0.003 * np.random.default_rng(i).standard_normal(len(t))
        sf.write(folder / f"{spk}-{100 + i}-{i:04d}.wav", (0.4 * x / np.abs(x).max()).astype(np.float32), RATE)
    return folder


def snapshot(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted((out / "audio").rglob("*.wav"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def built(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    return build_dataset(data_dir=corpus, out_dir=out, seed=0, generators=GENS, channels_per_item=2, workers=1)


def test_manifest_columns_and_files(built):
    assert built.name == "manifest.csv"
    assert built.read_text().splitlines()[0] == ",".join(MANIFEST_COLUMNS)
    rows = read_manifest(built)
    assert len(rows) == 4 * 2 * (1 + len(GENS))
    for row in rows:
        info = sf.info(str(audio_path(built, row)))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (RATE, 1, "PCM_16", "WAV")
        assert row["label"] == ("bonafide" if row["generator"] == "bonafide" else "spoof")
        assert row["family"] == {"bonafide": "bonafide", "world": "vocoder", "lpc": "vocoder"}[row["generator"]]
        assert row["utterance"].startswith(row["speaker"] + "-")


def test_pairs_link_each_spoof_to_its_bona_fide_with_the_same_channel(built):
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_manifest(built):
        groups[row["pair_id"]].append(row)
    assert len(groups) == 4 * 2
    for rows in groups.values():
        assert sorted(r["generator"] for r in rows) == sorted(("bonafide", *GENS))
        assert len({r["channel"] for r in rows}) == 1
        assert len({r["utterance"] for r in rows}) == 1
    by_index = defaultdict(set)
    for pid, rows in groups.items():
        by_index[pid.rsplit("-c", 1)[1]].add(rows[0]["channel"])
    assert by_index["0"] == {"clean"}
    assert by_index["1"] and "clean" not in by_index["1"]


def test_spoofs_differ_from_their_bona_fide(built):
    rows = read_manifest(built)
    bona = {r["pair_id"]: sf.read(str(audio_path(built, r)))[0] for r in rows if r["label"] == "bonafide"}
    for r in rows:
        if r["label"] == "spoof":
            y = sf.read(str(audio_path(built, r)))[0]
            x = bona[r["pair_id"]]
            assert len(y) == len(x)
            assert np.linalg.norm(y - x) > 0.1 * np.linalg.norm(x)


def test_splits_have_disjoint_speakers(built):
    speakers = defaultdict(set)
    for row in read_manifest(built):
        speakers[row["split"]].add(row["speaker"])
    assert set(speakers) == {"train", "validation", "calibration"}
    names = list(speakers)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not speakers[a] & speakers[b]


def test_rebuild_generates_nothing_new(built, corpus):
    out = built.parent
    before, manifest = snapshot(out), built.read_text()
    token = ProgressToken()
    build_dataset(data_dir=corpus, out_dir=out, seed=0, generators=GENS, channels_per_item=2, workers=1, progress=token)
    assert snapshot(out) == before
    assert built.read_text() == manifest
    assert token.last_message.startswith("0 utterances")


def test_output_does_not_depend_on_worker_count_or_order(built, corpus, tmp_path):
    """Two workers, one generator, two splits: the files that exist in both are identical."""
    other = build_dataset(
        data_dir=corpus, out_dir=tmp_path, seed=0, generators=("lpc",), channels_per_item=2,
        splits=("calibration", "validation"), workers=2,
    )
    rows = read_manifest(other)
    assert {r["generator"] for r in rows} == {"bonafide", "lpc"}
    assert {r["split"] for r in rows} == {"validation", "calibration"}
    reference = {(r["pair_id"], r["generator"]): r for r in read_manifest(built)}
    for row in rows:
        ref = reference[(row["pair_id"], row["generator"])]
        assert row == ref
        assert audio_path(other, row).read_bytes() == audio_path(built, ref).read_bytes()


def test_adding_a_generator_and_repairing_a_missing_file(corpus, tmp_path):
    settings = dict(data_dir=corpus, out_dir=tmp_path, seed=0, channels_per_item=2, splits=("train",),
                    limit_per_split=1, workers=1)
    build_dataset(generators=("lpc",), **settings)
    before = snapshot(tmp_path)
    (tmp_path / sorted(before)[0]).unlink()
    manifest = build_dataset(generators=("lpc", "griffinlim"), **settings)
    after = snapshot(tmp_path)
    changed = {p for p in after if before.get(p) != after[p]}
    assert {p.rsplit("/", 1)[1].split("-c")[0] for p in changed - {sorted(before)[0]}} == {"griffinlim"}
    assert sorted(before)[0] in changed
    rows = read_manifest(manifest)
    assert len(rows) == 1 * 2 * 3
    assert (tmp_path / "build.json").read_text().count("griffinlim") == 1


def test_other_settings_are_refused(built, corpus):
    with pytest.raises(ForensicsError, match="other settings.*seed"):
        build_dataset(data_dir=corpus, out_dir=built.parent, seed=1, generators=GENS, workers=1)


def test_cancel_keeps_finished_items_and_a_rerun_completes(corpus, tmp_path):
    tokens: list[ProgressToken] = []
    token = ProgressToken(lambda fraction, message: tokens[0].cancel() if fraction > 0 else None)
    tokens.append(token)
    with pytest.raises(Cancelled):
        build_dataset(data_dir=corpus, out_dir=tmp_path, seed=0, generators=("lpc",), workers=1, progress=token)
    partial = read_manifest(tmp_path / "manifest.csv")
    assert len(partial) == 1 * 2 * 2
    manifest = build_dataset(data_dir=corpus, out_dir=tmp_path, seed=0, generators=("lpc",), workers=1)
    assert len(read_manifest(manifest)) == 4 * 2 * 2


def test_bad_requests(corpus, tmp_path):
    with pytest.raises(NotFound, match="unknown generator"):
        build_dataset(data_dir=corpus, out_dir=tmp_path, generators=("nope",), workers=1)
    with pytest.raises(ForensicsError, match="unknown split"):
        build_dataset(data_dir=corpus, out_dir=tmp_path, generators=("lpc",), splits=("test",), workers=1)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ForensicsError, match="not a dataset manifest"):
        read_manifest(bad)


def test_read_mono_resamples_and_mixes_down(tmp_path):
    from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
    from forensics_app.training.audio_io import read_mono, write_wav

    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "stereo.wav", np.stack([left, left], axis=1), 44100, subtype="PCM_24")
    x = read_mono(tmp_path / "stereo.wav")
    assert x.dtype == np.float32 and len(x) == RATE
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over 1 s
    assert np.max(np.abs(x)) == pytest.approx(0.5, abs=0.02)
    out = write_wav(tmp_path / "sub" / "x.wav", np.full(100, 2.0, np.float32))
    assert sf.read(str(out))[0].max() == pytest.approx(1.0, abs=1e-4)  # clipped, not wrapped
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 20)
    with pytest.raises(UnsupportedMedia):
        read_mono(tmp_path / "junk.wav")
    with pytest.raises(CorruptMedia):
        read_mono(tmp_path / "missing.flac")
