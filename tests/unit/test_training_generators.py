"""The spoof generators on generated vowel-like speech (and one real corpus file when present)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.training.audio_io import read_mono
from forensics_app.training.generators import (
    GeneratorContext,
    all_generators,
    families,
    generator,
    get,
)
from forensics_app.training.generators.world import extract_f0

RATE = 16000
CLASSICAL = ("world", "griffinlim", "lpc", "espeak")
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
SHARED = Path(os.environ.get("FORENSICS_APP_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
CORPUS = SHARED / "datasets" / "librispeech-train-clean-100-200spk"


def f0_contour(t: np.ndarray) -> np.ndarray:
    """120 Hz rising to 180 Hz and falling back to 140 Hz over 1.5 s."""
    return np.interp(t, [0.0, 0.7, 1.5], [120.0, 180.0, 140.0])


def vowel(duration_s: float = 1.5, seed: int = 0) -> np.ndarray:
    """A vowel-like harmonic signal: glottal-like harmonics shaped by three formants.

    Voiced from 0.1 s to ``duration_s - 0.1`` s, with a faint noise floor; peak 0.5.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0_contour(t)) / RATE
    formants = ((700.0, 110.0), (1200.0, 120.0), (2600.0, 160.0))
    x = np.zeros_like(t)
    for h in range(1, 40):
        freq = h * f0_contour(t)
        gain = sum(1.0 / (1.0 + ((freq - fc) / bw) ** 2) for fc, bw in formants) / h**0.5
        x += np.where(freq < RATE / 2 - 200, gain, 0.0) * np.sin(h * phase)
    envelope = np.clip(np.minimum(t - 0.1, duration_s - 0.1 - t) / 0.05, 0.0, 1.0)
    x = x * envelope + 0.002 * rng.standard_normal(len(t))
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def band_levels_db(x: np.ndarray) -> np.ndarray:
    """Long-term spectrum in 16 bands of 500 Hz (dB)."""
    f, p = welch(x, fs=RATE, nperseg=512)
    edges = np.arange(0, RATE // 2 + 1, 500)
    return np.array([10 * np.log10(np.mean(p[(f >= lo) & (f < hi)]) + 1e-20) for lo, hi in zip(edges, edges[1:], strict=False)])


def run(gid: str, x: np.ndarray, seed: int = 1) -> np.ndarray:
    if gid == "espeak" and not HAVE_ESPEAK:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    return get(gid)(x, rate=RATE, rng=np.random.default_rng(seed), context=GeneratorContext())


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return vowel()


@pytest.fixture(scope="module")
def outputs(source) -> dict[str, np.ndarray]:
    return {gid: run(gid, source) for gid in CLASSICAL if gid != "espeak" or HAVE_ESPEAK}


# ------------------------------------------------------------------------------------------
# Registry


def test_registry_lists_the_classical_generators_by_family():
    ids = [g.id for g in all_generators()]
    assert set(CLASSICAL) <= set(ids)
    fam = families()
    assert set(fam["vocoder"]) >= {"world", "griffinlim", "lpc"}
    assert fam["tts"] == ("espeak",)
    assert get("world").family == "vocoder" and get("world").description


def test_unknown_generator_lists_the_known_ones():
    with pytest.raises(NotFound, match=r"unknown generator 'nope'.*griffinlim.*world"):
        get("nope")


def test_registration_rejects_duplicates_and_unknown_families():
    with pytest.raises(ForensicsError, match="registered twice"):
        generator(id="world", family="vocoder", description="again")(lambda wave, **_: wave)
    with pytest.raises(ForensicsError, match="unknown family"):
        generator(id="x-test", family="opera", description="")


def test_spec_rejects_bad_input(source):
    spec = get("lpc")
    with pytest.raises(ForensicsError, match="shorter than"):
        spec(source[:100], rate=RATE, rng=np.random.default_rng(0))
    bad = source.copy()
    bad[10] = np.nan
    with pytest.raises(ForensicsError, match="NaN"):
        spec(bad, rate=RATE, rng=np.random.default_rng(0))
    with pytest.raises(ForensicsError, match="mono"):
        spec(np.stack([source, source], axis=1), rate=RATE, rng=np.random.default_rng(0))


# ------------------------------------------------------------------------------------------
# Every generator


@pytest.mark.parametrize("gid", CLASSICAL)
def test_output_is_finite_float32_of_the_right_length_and_level(gid, source, outputs):
    if gid not in outputs:
        pytest.skip("espeak-ng is not installed")
    y = outputs[gid]
    assert y.dtype == np.float32 and y.ndim == 1
    assert np.all(np.isfinite(y))
    assert 0.98 * len(source) <= len(y) <= 1.02 * len(source)
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(source)), rel=1e-4)


@pytest.mark.parametrize("gid", CLASSICAL)
def test_output_really_differs_from_the_input(gid, source, outputs):
    if gid not in outputs:
        pytest.skip("espeak-ng is not installed")
    y = outputs[gid][: len(source)]
    x = source[: len(y)]
    assert np.linalg.norm(y - x) / np.linalg.norm(x) > 0.2


@pytest.mark.parametrize("gid", CLASSICAL)
def test_generators_are_deterministic_given_the_rng(gid, source):
    short = source[: RATE // 2 + RATE // 4]
    a, b, c = run(gid, short, seed=7), run(gid, short, seed=7), run(gid, short, seed=8)
    np.testing.assert_array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)


@pytest.mark.parametrize("gid", ["world", "griffinlim", "lpc"])
def test_vocoders_keep_the_spectral_envelope(gid, source, outputs):
    """The resynthesis is of the same sound: long-term spectra agree band by band."""
    lx, ly = band_levels_db(source), band_levels_db(outputs[gid])
    assert np.corrcoef(lx, ly)[0, 1] > 0.8
    assert np.median(np.abs(lx - ly)[:8]) < 10.0  # 0-4 kHz, where the formants are


def test_world_preserves_the_f0_contour(source, outputs):
    f0_in, times = extract_f0(source, rate=RATE)
    f0_out, _ = extract_f0(outputs["world"], rate=RATE)
    truth = f0_contour(times)
    inner = (times > 0.2) & (times < 1.3)
    both = inner & (f0_in > 0) & (f0_out > 0)
    assert both.sum() > 0.8 * inner.sum(), "WORLD lost voicing"
    ratio = f0_out[both] / truth[both]
    assert abs(np.median(ratio) - 1.0) < 0.04  # the generator scales f0 by at most 3 %
    assert np.percentile(np.abs(np.log(ratio / np.median(ratio))), 90) < 0.03
    assert np.corrcoef(f0_out[both], truth[both])[0, 1] > 0.95


def test_lpc_is_voiced_at_the_source_pitch(source, outputs):
    f0_out, times = extract_f0(outputs["lpc"], rate=RATE)
    inner = (times > 0.2) & (times < 1.3) & (f0_out > 0)
    assert inner.mean() > 0.5
    assert np.median(np.abs(np.log(f0_out[inner] / f0_contour(times[inner])))) < 0.05


# ------------------------------------------------------------------------------------------
# eSpeak


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed (Debian package espeak-ng)")
def test_espeak_output_is_speech(outputs):
    y = outputs["espeak"].astype(np.float64)
    frames = y[: len(y) // 320 * 320].reshape(-1, 320)
    energy_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    active = energy_db > energy_db.max() - 30
    assert 0.3 < active.mean() < 0.98  # words and pauses
    f, p = welch(y, fs=RATE, nperseg=512)
    speech_band = p[(f >= 100) & (f <= 4000)].sum() / p.sum()
    assert speech_band > 0.7
    f0, _ = extract_f0(outputs["espeak"], rate=RATE)
    voiced = f0[f0 > 0]
    assert len(voiced) > 0.2 * len(f0) and 60 < np.median(voiced) < 400


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed (Debian package espeak-ng)")
def test_espeak_voices_exist_in_this_installation():
    from forensics_app.training.generators.espeak import LANGUAGES, VARIANTS

    info = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    data = Path(re.search(r"Data at:\s*(\S+)", info).group(1))
    missing = [v for v in VARIANTS if v and not (data / "voices" / "!v" / v).is_file()]
    assert not missing
    listed = subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True, check=True).stdout
    names = {line.split()[1] for line in listed.splitlines()[1:] if line.split()}
    assert set(LANGUAGES) - {"en"} <= names


def test_sentences_are_reproducible_english():
    from forensics_app.training.generators.espeak import sentences

    a = sentences(np.random.default_rng(3), words=40)
    assert a == sentences(np.random.default_rng(3), words=40)
    assert a != sentences(np.random.default_rng(4), words=40)
    assert len(a.split()) >= 40
    assert re.fullmatch(r"([A-Z][A-Za-z ,]+\. ?)+", a)


# ------------------------------------------------------------------------------------------
# Real speech


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not present at {CORPUS}")
@pytest.mark.parametrize("gid", CLASSICAL)
def test_generators_on_a_real_corpus_file(gid):
    x = read_mono(sorted(CORPUS.glob("*.flac"))[0])[: 3 * RATE]
    y = run(gid, x, seed=3)
    assert y.dtype == np.float32 and np.all(np.isfinite(y))
    assert 0.98 * len(x) <= len(y) <= len(x)
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(x)), rel=1e-4)
    if gid != "espeak":
        assert np.corrcoef(band_levels_db(x), band_levels_db(y))[0, 1] > 0.8
