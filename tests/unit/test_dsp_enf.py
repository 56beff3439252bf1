"""ENF estimation, event detection and reference matching (forensics_app.dsp) on generated hum."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from forensics_app.demo import enf_media
from forensics_app.dsp import enf
from forensics_app.dsp.enf_events import frequency_steps, phase_jumps, two_sided_step
from forensics_app.dsp.enf_reference import (
    EnfReferenceError,
    load_reference,
    match_reference,
    smooth_reference,
    split_pieces,
)
from forensics_app.ingest.decode import decode_audio


def track_of(path: Path, **kwargs: object) -> enf.EnfTrack:
    clip = decode_audio(path)
    dec = enf.decimate_for_enf(clip.samples, clip.rate)
    det = enf.detect_mains(dec)
    assert det.nominal_hz is not None
    return enf.estimate_track(dec, nominal_hz=det.nominal_hz, harmonics=det.harmonics, **kwargs)


@pytest.mark.parametrize("nominal", [50.0, 60.0])
def test_track_follows_the_planted_curve(tmp_path: Path, nominal: float) -> None:
    # Hum 50/60 + 0.02*sin(2*pi*t/20) Hz with harmonics, under speech-like material and noise.
    path = enf_media.hum_wav(tmp_path / "hum.wav", duration_s=40.0, nominal_hz=nominal, seed=3)
    clip = decode_audio(path)
    dec = enf.decimate_for_enf(clip.samples, clip.rate)
    det = enf.detect_mains(dec)
    assert det.nominal_hz == nominal
    other = 60.0 if nominal == 50.0 else 50.0
    assert max(det.prominence_db[nominal]) > 30.0 > max(det.prominence_db[other]) + 20.0
    track = enf.estimate_track(dec, nominal_hz=nominal, harmonics=det.harmonics)
    inner = (track.times_s > 3.0) & (track.times_s < 37.0)
    truth = enf_media.sine_enf(track.times_s[inner], nominal_hz=nominal)
    rms = float(np.sqrt(np.mean((track.freq_hz[inner] - truth) ** 2)))
    assert rms < 0.005  # measured: about 0.0003 Hz
    assert track.valid.all()
    assert np.all(np.diff(track.times_s) > 0)
    assert track.hop_s == pytest.approx(1.0, abs=0.01)


def test_frame_timing_is_unbiased(tmp_path: Path) -> None:
    # A linear ramp: a time offset of the frames would show as a constant frequency error.
    slope = 0.002  # Hz/s
    path = enf_media.hum_wav(tmp_path / "ramp.wav", duration_s=40.0, frequency=lambda t: 50.0 + slope * t,
                             speech_dbfs=None, noise_dbfs=-80.0)
    track = track_of(path)
    inner = (track.times_s > 5.0) & (track.times_s < 35.0)
    bias_s = float(np.mean(track.freq_hz[inner] - (50.0 + slope * track.times_s[inner]))) / slope
    assert abs(bias_s) < 0.02


def test_no_hum_is_no_mains_component(tmp_path: Path) -> None:
    path = enf_media.hum_wav(tmp_path / "none.wav", duration_s=30.0, harmonics=(0.0,))
    clip = decode_audio(path)
    det = enf.detect_mains(enf.decimate_for_enf(clip.samples, clip.rate))
    assert det.nominal_hz is None
    assert det.harmonics == ()
    assert all(v < det.threshold_db for f0 in (50.0, 60.0) for v in det.prominence_db[f0] if math.isfinite(v))


def test_phase_jump_measured_at_the_cut(tmp_path: Path) -> None:
    cut = (21.0, 2.0137)  # about 2 s removed
    cycles = quad(lambda t: enf_media.sine_enf(t), cut[0], cut[0] + cut[1], limit=200)[0]
    expected = math.remainder(2.0 * math.pi * cycles, 2.0 * math.pi)
    track = track_of(enf_media.hum_wav(tmp_path / "cut.wav", duration_s=44.0, remove=cut))
    events, residual, valid = phase_jumps(track)
    [jump] = events
    assert jump.time_s == pytest.approx(cut[0], abs=0.1)
    assert track.phase_harmonic == 1
    assert math.degrees(jump.step) == pytest.approx(math.degrees(expected), abs=5.0)  # measured: within 2 degrees
    assert jump.z > 50
    assert residual.shape == valid.shape == track.phase_times_s.shape
    # The uncut recording: no jump.
    clean = track_of(enf_media.hum_wav(tmp_path / "clean.wav", duration_s=44.0))
    assert phase_jumps(clean)[0] == []
    assert frequency_steps(clean) == []


def test_exactly_two_seconds_removed_leaves_a_small_jump_below_the_threshold(tmp_path: Path) -> None:
    # 2.000 s of a curve near 50 Hz is nearly 100 whole cycles: the jump is only the integral of
    # the deviation (4.4 degrees here), below the 10 degree minimum. The frequency also steps by
    # 0.012 Hz at this cut, which the residual absorbs only partly: the jump reads about 10 degrees
    # when the minimum is lowered (a few degrees of uncertainty; at 2 degrees, wander elsewhere in
    # the recording starts to pass too).
    cut = (20.0, 2.0)
    cycles = quad(lambda t: enf_media.sine_enf(t), cut[0], cut[0] + cut[1])[0]
    expected_deg = math.degrees(math.remainder(2.0 * math.pi * cycles, 2.0 * math.pi))
    assert expected_deg == pytest.approx(4.38, abs=0.01)
    track = track_of(enf_media.hum_wav(tmp_path / "cut2.wav", duration_s=44.0, remove=cut))
    assert phase_jumps(track)[0] == []
    low = phase_jumps(track, min_jump_rad=math.radians(2.0))[0]
    [small] = [e for e in low if abs(e.time_s - cut[0]) < 0.25]
    assert 2.0 <= math.degrees(small.step) < 15.0


def test_frequency_step_is_found(tmp_path: Path) -> None:
    # A 0.05 Hz step at 45 s (phase continuous: only the frequency jumps).
    path = enf_media.hum_wav(tmp_path / "step.wav", duration_s=90.0,
                             frequency=lambda t: 50.0 + 0.005 * np.sin(t / 3.0) + np.where(t > 45.0, 0.05, 0.0))
    [step] = frequency_steps(track_of(path))
    assert step.time_s == pytest.approx(45.0, abs=1.0)
    assert step.step == pytest.approx(0.05, abs=0.01)


def test_two_sided_step_of_a_line_is_zero_and_of_a_step_is_the_step() -> None:
    n = np.arange(100, dtype=np.float64)
    valid = np.ones(100, dtype=bool)
    d = two_sided_step(0.3 * n + 2.0, valid, window=10, gap=3)
    assert np.nanmax(np.abs(d)) < 1e-9
    d = two_sided_step(np.where(n >= 50, 1.5, 0.0), valid, window=10, gap=3)
    assert d[50] == pytest.approx(1.5)
    assert np.isnan(d[:13]).all() and np.isnan(d[-13:]).all()


# --- reference logs --------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_reference_iso_and_numeric(tmp_path: Path) -> None:
    hz = enf_media.enf_reference_csv(tmp_path / "ref.csv", duration_s=60.0, seed=1)
    ref = load_reference(tmp_path / "ref.csv")
    assert ref.step_s == 1.0
    assert ref.start == dt.datetime(2024, 3, 5, 14, 0, 0, tzinfo=dt.UTC)
    np.testing.assert_allclose(ref.hz, hz)
    assert ref.sha256 == hashlib.sha256((tmp_path / "ref.csv").read_bytes()).hexdigest()
    enf_media.enf_reference_csv(tmp_path / "num.csv", duration_s=30.0, step_s=0.5, iso=False)
    num = load_reference(tmp_path / "num.csv")
    assert num.start is None and num.step_s == 0.5 and num.hz.size == 60


@pytest.mark.parametrize(("text", "message"), [
    ("timestamp,hz\n" + "".join(f"{i},50.0{i}\n" for i in range(12)) + "12,abc\n", "row 14: frequency 'abc'"),
    ("".join(f"{i},50.01\n" for i in range(12)) + "10.5,50.0\n", "row 13: timestamp does not increase"),
    ("".join(f"{i},50.01\n" for i in range(8)) + "".join(f"{i},50.01\n" for i in range(9, 14)), "row 9: step of 2 s"),
    ("".join(f"2024-03-05T14:00:{i:02d},50.01\n" for i in range(11)) + "2024-03-05T14:00:11+00:00,50.0\n",
     "row 12: mixes timestamps with and without a zone offset"),
    ("".join(f"{i},50.01\n" for i in range(11)) + "yesterday,50.0\n", "row 12: timestamp 'yesterday'"),
    ("0,50.0\n1,50.0\n", "2 data rows"),
    ("".join(f"{i},50.01\n" for i in range(11)) + "11,2000\n", "row 12: frequency 2000.0 Hz is outside"),
])
def test_bad_reference_names_the_row(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EnfReferenceError, match=message):
        load_reference(write(tmp_path / "bad.csv", text))


def test_missing_values_are_allowed(tmp_path: Path) -> None:
    rows = "".join(f"{i},{'' if i == 5 else '50.01'}\n" for i in range(20))
    ref = load_reference(write(tmp_path / "gap.csv", "timestamp,frequency\n" + rows))
    assert np.isnan(ref.hz[5]) and np.isfinite(ref.hz).sum() == 19


def test_smooth_reference_is_a_centred_hann_average() -> None:
    out = smooth_reference(np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0, 7.0]), 1.0, 4.0)
    # Kernel [0.5, 1, 0.5]; the missing value is left out of the average.
    assert out[1] == pytest.approx(2.0)
    assert out[3] == pytest.approx(4.0)
    assert out[2] == pytest.approx((0.5 * 2.0 + 3.0) / 1.5)


def test_split_pieces() -> None:
    assert split_pieces(0.0, 90.0, boundaries_s=(45.0,), segment_s=20.0) == [(0.0, 22.5), (22.5, 45.0),
                                                                            (45.0, 67.5), (67.5, 90.0)]
    assert split_pieces(0.0, 40.0, segment_s=30.0) == [(0.0, 40.0)]
    assert split_pieces(0.0, 40.0, boundaries_s=(35.0,), segment_s=30.0) == [(0.0, 35.0)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("ref") / "grid.csv"
    return path, enf_media.enf_reference_csv(path, duration_s=600.0, seed=7)


def test_match_recovers_the_offset_with_high_significance(tmp_path: Path, reference: tuple[Path, np.ndarray]) -> None:
    path, hz = reference
    offset = 237.4
    track = track_of(enf_media.hum_from_reference_wav(tmp_path / "rec.wav", reference_hz=hz,
                                                      pieces=((offset, 60.0),), seed=7))
    ref = load_reference(path)
    m = match_reference(track.times_s, track.freq_hz, ref, smoothing_s=track.frame_s)
    assert m.best_offset_s == pytest.approx(offset, abs=1.0)  # measured: within 0.03 s
    assert m.timestamp_of_start == ref.start + dt.timedelta(seconds=m.best_offset_s)
    assert m.significance > 6.0  # other offsets: the best of them reaches about 3 to 4
    assert m.p_value < 1e-6
    assert m.correlation > 0.9
    assert m.rmse_hz < 0.003
    assert m.second_best_ratio < 0.7
    assert m.n_points >= 55 and m.n_candidates > 500
    # Restricting the search to offsets that exclude the truth finds nothing as good.
    far = match_reference(track.times_s, track.freq_hz, ref, smoothing_s=track.frame_s, max_offset_s=200.0)
    assert far.best_offset_s <= 200.0 and far.p_value > 1e-3 and far.residual_rms_hz > 3 * m.residual_rms_hz


def test_match_against_an_unrelated_reference_is_not_significant(tmp_path: Path,
                                                                 reference: tuple[Path, np.ndarray]) -> None:
    _, hz = reference
    track = track_of(enf_media.hum_from_reference_wav(tmp_path / "rec.wav", reference_hz=hz,
                                                      pieces=((100.0, 60.0),), seed=7))
    enf_media.enf_reference_csv(tmp_path / "other.csv", duration_s=600.0, seed=99)
    m = match_reference(track.times_s, track.freq_hz, load_reference(tmp_path / "other.csv"), smoothing_s=4.0)
    assert m.significance < 5.0
    assert m.p_value > 1e-3


def test_track_longer_than_reference_is_refused(tmp_path: Path) -> None:
    enf_media.enf_reference_csv(tmp_path / "short.csv", duration_s=20.0)
    with pytest.raises(EnfReferenceError, match="not shorter than the reference"):
        match_reference(np.arange(60.0), np.full(60, 50.0), load_reference(tmp_path / "short.csv"))
