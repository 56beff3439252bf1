"""The STFT core against a direct per-frame numpy reference, and its conventions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from forensics_app.dsp.stft import (
    WINDOWS,
    STFTSettings,
    power_to_db,
    stft_power,
    stft_power_at,
    window_array,
)

RATE = 16000


def reference_power(x: np.ndarray, settings: STFTSettings, frames: np.ndarray) -> np.ndarray:
    """Frame k centred on sample k*hop, zeros outside, float64 numpy rfft per frame: (n_freqs, k)."""
    w = scipy.signal.get_window(WINDOWS[settings.window], settings.win_length, fftbins=True)
    half = settings.win_length // 2
    padded = np.concatenate([np.zeros(half), x.astype(np.float64), np.zeros(settings.win_length)])
    out = np.empty((settings.n_freqs, len(frames)))
    for j, k in enumerate(frames):
        seg = padded[k * settings.hop:k * settings.hop + settings.win_length]  # samples k*hop - half ...
        out[:, j] = np.abs(np.fft.rfft(seg * w, n=settings.n_fft)) ** 2
    return out


def assert_close(got: np.ndarray, ref: np.ndarray) -> None:
    """Relative tolerance 1e-4, scaled by each frame's largest bin (float32 against float64)."""
    scale = np.maximum(ref.max(axis=0, keepdims=True), 1e-30)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.all(np.abs(got - ref) <= 1e-4 * scale), float(np.max(np.abs(got - ref) / scale))


def signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    return (0.4 * np.sin(2 * np.pi * 1234.5 * t) + 0.1 * rng.standard_normal(n)).astype(np.float32)


SETTINGS = [
    STFTSettings(window="hann", win_length=512, n_fft=512, hop=128),
    STFTSettings(window="hamming", win_length=400, n_fft=512, hop=160),   # zero-padded, hop not dividing
    STFTSettings(window="blackman", win_length=255, n_fft=256, hop=100),  # odd window
    STFTSettings(window="blackmanharris", win_length=1024, n_fft=2048, hop=256),
    STFTSettings(window="rectangular", win_length=64, n_fft=64, hop=64),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s.window}-{s.win_length}-{s.n_fft}-{s.hop}")
def test_stft_power_matches_a_per_frame_numpy_reference(settings: STFTSettings) -> None:
    x = signal(RATE // 2 + 37)
    got = stft_power(x, rate=RATE, settings=settings)
    n_frames = 1 + (len(x) - 1) // settings.hop
    assert got.shape == (settings.n_freqs, n_frames)
    assert_close(got, reference_power(x, settings, np.arange(n_frames)))


def test_more_frames_than_one_block_and_a_memory_map(tmp_path) -> None:
    settings = STFTSettings(win_length=256, n_fft=256, hop=32)  # blocks of 512 frames
    x = signal(3 * RATE, seed=3)
    path = tmp_path / "x.f32"
    x.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r")
    got = stft_power(mm, rate=RATE, settings=settings)
    frames = np.array([0, 1, 511, 512, 513, 1023, 1024, got.shape[1] - 1])
    assert_close(got[:, frames], reference_power(x, settings, frames))


def test_a_frame_range_and_a_chunk_with_offset_give_the_same_columns() -> None:
    settings = STFTSettings(win_length=512, n_fft=512, hop=128)
    x = signal(2 * RATE, seed=1)
    whole = stft_power(x, rate=RATE, settings=settings)
    part = stft_power(x, rate=RATE, settings=settings, start_frame=40, n_frames=30)
    assert np.array_equal(part, whole[:, 40:70])
    # a chunk that covers exactly those frames, passed with its offset in the recording
    lo = 40 * 128 - 256
    hi = 69 * 128 - 256 + 512
    chunk = stft_power(x[lo:hi], rate=RATE, settings=settings, start_frame=40, n_frames=30, offset=lo)
    assert np.allclose(chunk, whole[:, 40:70], rtol=1e-6, atol=1e-6 * whole.max())
    # into a caller's buffer (reused across chunks): the same values, the buffer transposed
    buf = np.empty((30, settings.n_freqs), np.float32)
    into = stft_power(x, rate=RATE, settings=settings, start_frame=40, n_frames=30, out=buf)
    assert np.shares_memory(into, buf) and np.array_equal(into, part)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        stft_power(x, rate=RATE, settings=settings, n_frames=30, out=np.empty((settings.n_freqs, 30), np.float32))
    # frames cut elsewhere (any positions) give the same spectra
    cut = np.stack([x[k * 128 - 256:k * 128 + 256] for k in (45, 3, 60)])
    assert np.allclose(stft_power_at(cut, settings=settings), whole[:, [45, 3, 60]], rtol=1e-6,
                       atol=1e-6 * whole.max())


def test_frames_are_centred_at_k_times_hop_over_rate() -> None:
    """A click at sample s is centred in frame s / hop: its energy peaks there."""
    settings = STFTSettings(win_length=512, n_fft=512, hop=128)
    x = np.zeros(RATE, np.float32)
    for s in (128 * 20, 128 * 77):
        x[s] = 1.0
    energy = stft_power(x, rate=RATE, settings=settings).sum(axis=0)
    peaks = sorted(np.argsort(energy)[-2:])
    assert peaks == [20, 77]
    assert settings.frame_time_s(20, RATE) == pytest.approx(20 * 128 / RATE)
    assert np.allclose(settings.frame_time_s(np.array([0, 77]), RATE), [0.0, 77 * 128 / RATE])
    assert settings.n_frames(RATE) == 125 and settings.n_frames(1) == 1 and settings.n_frames(0) == 0


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_dbfs_of_a_sine_centred_on_a_bin(window: str) -> None:
    settings = STFTSettings(window=window, win_length=1024, n_fft=1024, hop=256)
    t = np.arange(RATE) / RATE
    for amplitude, want in ((1.0, 0.0), (0.1, -20.0), (0.01, -40.0)):
        x = (amplitude * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)  # bin 64 exactly
        db = power_to_db(stft_power(x, rate=RATE, settings=settings)[:, 10:-10], ref=settings.full_scale_power(),
                         floor_db=-150.0)
        assert np.all(db.argmax(axis=0) == 64)
        assert db.max(axis=0) == pytest.approx(np.full(db.shape[1], want), abs=0.01)


def test_power_to_db_floor_and_silence() -> None:
    db = power_to_db(np.array([[0.0, 1e-20, 1.0, 100.0]]), ref=1.0, floor_db=-90.0)
    assert db.dtype == np.float32
    assert np.allclose(db, [[-90.0, -90.0, 0.0, 20.0]])
    assert power_to_db(np.zeros(3), floor_db=None).min() <= -290.0


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown window"):
        STFTSettings(window="kaiser")
    with pytest.raises(ValueError, match="FFT size"):
        STFTSettings(win_length=1024, n_fft=512)
    with pytest.raises(ValueError, match="hop"):
        STFTSettings(hop=0)
    with pytest.raises(ValueError, match="dB range"):
        STFTSettings(db_range=0)
    s = STFTSettings(db_floor=-90.0, db_range=80.0)
    assert s.levels == (-90.0, -10.0) and s.n_freqs == 513
    assert s.spectral_key() == STFTSettings().spectral_key()
    assert window_array("hann", 8).flags.writeable is False
    with pytest.raises(ValueError, match="mono"):
        stft_power(np.zeros((10, 2)), rate=RATE, settings=s)
