"""Sample alignment, frame residuals, chunked tracks and feature vectors, on espeak-ng speech decoded from WAV."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

from forensics_app.resynthesis import features as ft
from forensics_app.resynthesis import residuals as rs
from forensics_app.resynthesis import round_trips as rt
from forensics_app.resynthesis.sample_align import align, apply_alignment, estimate_alignment
from forensics_app.training.audio_io import read_mono, resample

RATE = rt.RATE
SENTENCES = ("A careful teacher opened the heavy wooden door before dawn.",
             "Every evening the young soldier wrote a letter to his friend in the city.")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Two espeak-ng sentences (about 6 s), written as WAV files by espeak-ng and decoded at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    d = tmp_path_factory.mktemp("res")
    parts = []
    for i, text in enumerate(SENTENCES):
        path = d / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us+m3", "-s", "165", "-w", str(path), text], check=True, timeout=60)
        parts.append(read_mono(path, rate=RATE))
    x = np.concatenate(parts)
    rng = np.random.default_rng(0)
    return (x + 3e-4 * rng.standard_normal(len(x))).astype(np.float32)  # a faint noise floor, as recorded


@pytest.mark.parametrize("shift", [-123, 0, 37, 250])
def test_alignment_recovers_a_known_shift_and_gain_to_the_sample(speech, shift):
    n = len(speech)
    delayed = np.zeros(n, np.float32)
    if shift >= 0:
        delayed[shift:] = speech[: n - shift]
    else:
        delayed[: n + shift] = speech[-shift:]
    delayed *= 0.25
    a = estimate_alignment(speech, delayed)
    assert a.lag == shift and a.method == "waveform"
    assert a.gain == pytest.approx(4.0, rel=0.01) and a.correlation > 0.99
    back = apply_alignment(delayed, a)
    inner = slice(300, n - 300)
    np.testing.assert_allclose(back[inner], speech[inner], atol=1e-5)


def test_alignment_uses_the_nominal_lag_when_the_phase_was_rebuilt(speech):
    y = rt.get("griffinlim")(speech)
    aligned, a = align(speech, y)
    assert a.method == "nominal" and a.lag == 0 and abs(a.correlation) < 0.5
    assert np.sum(aligned.astype(np.float64) ** 2) == pytest.approx(np.sum(speech.astype(np.float64) ** 2), rel=1e-3)


def test_residual_of_a_signal_against_itself_is_zero(speech):
    r = rs.residual_frames(speech, speech)
    assert r.n_frames == 1 + (len(speech) - 1) // rs.HOP
    assert r.band_lsd_db.shape == (rs.N_BANDS, r.n_frames)
    a = r.active
    assert a.mean() > 0.5
    assert np.max(r.lsd_db) < 1e-3 and np.max(r.band_lsd_db) < 1e-3 and np.max(r.mcd_db[a]) < 1e-3
    assert np.min(r.phase_coherence[a]) > 0.9999 and np.max(np.abs(r.hnr_change_db)) < 1e-3


def test_residual_map_shows_which_bands_changed(speech):
    lowpassed = sosfiltfilt(butter(8, 2000, fs=RATE, output="sos"), speech).astype(np.float32)
    r = rs.residual_frames(speech, lowpassed)
    centres = rs.band_centres_hz()
    per_band = np.median(r.band_lsd_db[:, r.active], axis=1)
    assert np.all(per_band[centres > 3500] > 15.0), np.round(per_band, 1)
    assert np.all(per_band[centres < 1200] < 1.0), np.round(per_band, 1)
    assert np.median(r.phase_coherence[r.active]) > 0.9  # zero-phase filter: the strong low bands keep their phase


def test_residual_lanes_show_when_the_signal_changed_and_the_hnr_drop(speech):
    rng = np.random.default_rng(1)
    noisy = speech.copy()
    a, b = int(1.0 * RATE), int(2.0 * RATE)
    level = np.sqrt(np.mean(speech[a:b] ** 2))
    noisy[a:b] += (0.5 * level * rng.standard_normal(b - a)).astype(np.float32)
    r = rs.residual_frames(speech, noisy)
    t = r.times_s
    inside = r.active & (t > 1.05) & (t < 1.95)
    outside = r.active & ((t < 0.95) | (t > 2.05))
    assert np.median(r.lsd_db[inside]) > 3.0 and np.max(r.lsd_db[outside]) < 1e-3
    assert np.median(r.hnr_change_db[inside]) < -3.0 and np.median(r.phase_coherence[inside]) < 0.99


def test_silent_frames_are_masked(speech):
    gap = np.zeros(int(0.8 * RATE), np.float32)
    x = np.concatenate([speech[: 2 * RATE], gap, speech[2 * RATE:]])
    r = rs.residual_frames(x, x)
    t = r.times_s
    assert not r.active[(t > 2.05) & (t < 2.75)].any()
    assert r.active[t < 2.0].mean() > 0.5


def test_chunked_resampling_of_44k_stereo_matches_the_whole_file(speech, tmp_path):
    x44 = resample(speech, src_rate=RATE, dst_rate=44100)
    stereo = np.stack([x44, 0.5 * x44], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44100, subtype="FLOAT")
    decoded, rate = sf.read(path, dtype="float32", always_2d=True)
    src = ft.Source16k(decoded, rate=rate)
    whole = resample(decoded.mean(axis=1), src_rate=rate, dst_rate=RATE)
    assert src.n == len(whole) and src.granularity == 160
    s, e = 160 * 137, 160 * 300
    seg = src.read(s, e)
    np.testing.assert_allclose(seg[50:-50], whole[s + 50: e - 50], atol=1e-4)
    with pytest.raises(ft.ForensicsError, match="multiple"):
        src.read(17, 400)


def test_chunked_tracks_cover_the_frame_grid_once_and_agree_with_one_chunk(speech):
    x = np.concatenate([speech, speech])  # about 12 s
    small = ft.residual_tracks(x, rate=RATE, round_trip_ids=("world", "lpc"), chunk_s=4.0)
    one = ft.residual_tracks(x, rate=RATE, round_trip_ids=("world", "lpc"), chunk_s=60.0)
    assert small.chunks >= 3 and one.chunks == 1
    for rid in ("world", "lpc"):
        f, g = small.tracks[rid].frames, one.tracks[rid].frames
        np.testing.assert_allclose(f.times_s, np.arange(1 + (len(x) - 1) // rs.HOP) * rs.HOP / RATE, atol=1e-9)
        np.testing.assert_array_equal(f.active, g.active)
        assert abs(np.median(f.lsd_db[f.active]) - np.median(g.lsd_db[g.active])) < 0.3
        assert len(small.tracks[rid].alignments) == small.chunks


def test_window_and_file_features_layout_determinism_and_silence(speech):
    assert len(ft.FEATURE_NAMES) == 4 * len(ft.STATS) + 1 == len(set(ft.FEATURE_NAMES))
    assert ft.FEATURE_NAMES[0] == "world.lsd_median_db" and ft.FEATURE_NAMES[-1] == "active_fraction"
    ids = ("world", "griffinlim", "lpc")
    x = np.concatenate([speech[: 3 * RATE], np.zeros(3 * RATE, np.float32)])
    starts, values = ft.window_features(x, rate=RATE, round_trip_ids=ids, window_s=2.0, hop_s=1.0)
    names = ft.feature_names(ids)
    assert values.shape == (len(starts), len(names)) == (5, 31)
    np.testing.assert_allclose(starts, [0.0, 1.0, 2.0, 3.0, 4.0])
    again = ft.window_features(x, rate=RATE, round_trip_ids=ids, window_s=2.0, hop_s=1.0).values
    np.testing.assert_array_equal(np.isnan(values), np.isnan(again))
    np.testing.assert_array_equal(values[np.isfinite(values)], again[np.isfinite(again)])
    assert np.all(np.isfinite(values[0])) and values[0, -1] > 0.5
    assert np.all(np.isnan(values[-1, :-1])) and values[-1, -1] == 0.0  # the last window is silence
    phase = names.index("griffinlim.phase_median")
    assert 0.0 <= values[0, phase] <= 1.0
    vec = ft.file_features(x, rate=RATE, round_trip_ids=ids)
    assert vec.shape == (31,) and np.all(np.isfinite(vec)) and 0.3 < vec[-1] < 0.7
