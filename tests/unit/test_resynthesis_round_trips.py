"""The self-resynthesis round trips on espeak-ng speech written to and decoded from a WAV file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.resynthesis import round_trips as rt
from forensics_app.training.audio_io import read_mono

RATE = rt.RATE
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
HAVE_VOCODER = (Path(__file__).resolve().parents[2] / "models" / rt.VOCODER_FILE).is_file()
CLASSICAL = ("world", "griffinlim", "lpc")
#: Least correlation of the long-term band spectrum shapes of input and output (LPC is the crudest).
ENVELOPE_CORRELATION = {"world": 0.95, "griffinlim": 0.95, "lpc": 0.75}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """About 2.5 s of espeak-ng speech, written as a WAV by espeak-ng and decoded at 16 kHz."""
    if not HAVE_ESPEAK:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    path = tmp_path_factory.mktemp("rt") / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path),
                    "The quiet river carried a small boat past the old mill."], check=True, timeout=60)
    return read_mono(path, rate=RATE)


@pytest.fixture(scope="module")
def outputs(speech: np.ndarray) -> dict[str, np.ndarray]:
    return {rid: rt.get(rid)(speech) for rid in CLASSICAL}


def band_levels_db(x: np.ndarray) -> np.ndarray:
    """Long-term spectrum in 14 bands of 500 Hz from 250 Hz to 7.25 kHz (dB)."""
    f, p = welch(x, fs=RATE, nperseg=512)
    edges = np.arange(250, 7251, 500)
    return np.array([10 * np.log10(np.mean(p[(f >= a) & (f < b)]) + 1e-20)
                     for a, b in zip(edges[:-1], edges[1:], strict=True)])


def test_registry_order_selection_and_unknown_ids():
    assert rt.ids()[:4] == rt.ORDER
    assert rt.select("all")[:4] == rt.ORDER
    assert rt.select("classical") == CLASSICAL
    assert rt.select("lpc, world") == ("lpc", "world")
    with pytest.raises(NotFound, match="known: world, griffinlim, lpc, neural"):
        rt.get("wavenet")
    with pytest.raises(NotFound):
        rt.select("world,wavenet")
    with pytest.raises(ForensicsError, match="registered twice"):
        rt.round_trip(id="world", label="again")(lambda wave, *, device=None: wave)


def test_round_trips_reject_bad_input():
    trip = rt.get("world")
    with pytest.raises(ForensicsError, match="too short"):
        trip(np.zeros(100, np.float32))
    with pytest.raises(ForensicsError, match="NaN"):
        trip(np.full(RATE, np.nan, np.float32))
    with pytest.raises(ForensicsError, match="mono"):
        trip(np.zeros((RATE, 2), np.float32))


@pytest.mark.parametrize("rid", CLASSICAL)
def test_output_is_same_length_float32_deterministic_and_really_resynthesised(rid, speech, outputs):
    y = outputs[rid]
    assert y.dtype == np.float32 and y.shape == speech.shape and np.all(np.isfinite(y))
    np.testing.assert_array_equal(rt.get(rid)(speech), y)  # deterministic
    assert not np.allclose(y, speech, atol=1e-3)
    assert np.sqrt(np.mean(y**2)) > 0.05 * np.sqrt(np.mean(speech**2))


@pytest.mark.parametrize("rid", CLASSICAL)
def test_round_trips_keep_the_spectral_envelope(rid, speech, outputs):
    a, b = band_levels_db(speech), band_levels_db(outputs[rid])
    shape_a, shape_b = a - a.mean(), b - b.mean()
    assert np.corrcoef(shape_a, shape_b)[0, 1] > ENVELOPE_CORRELATION[rid], (rid, np.round(shape_a, 1), np.round(shape_b, 1))


def test_griffin_lim_reaches_the_target_magnitudes(speech):
    mag = rt.mel_magnitude(speech)
    y = rt.griffin_lim(mag, n=len(speech))
    rebuilt = rt.mel_magnitude(y)
    err = np.linalg.norm(rebuilt - mag) / np.linalg.norm(mag)
    random_phase = rt.griffin_lim(mag, n=len(speech), n_iter=0)
    err0 = np.linalg.norm(rt.mel_magnitude(random_phase) - mag) / np.linalg.norm(mag)
    assert err < 0.3 * err0, (err, err0)


@pytest.mark.skipif(not HAVE_VOCODER, reason=f"models/{rt.VOCODER_FILE} is not in this checkout")
def test_neural_vocoder_output_is_a_fixed_point_of_the_neural_round_trip(speech, tmp_path):
    trip = rt.get("neural")
    once = trip(speech, device="cpu")
    path = tmp_path / "vocoded.wav"
    sf.write(path, once, RATE, subtype="FLOAT")
    decoded = read_mono(path, rate=RATE)
    twice = trip(decoded, device="cpu")
    c_natural = np.corrcoef(speech, once)[0, 1]
    c_vocoded = np.corrcoef(decoded, twice)[0, 1]
    assert c_vocoded > 0.8 and c_vocoded > c_natural + 0.3, (c_natural, c_vocoded)
