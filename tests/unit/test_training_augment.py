"""Channel augmentation on generated signals: alignment, bandwidth, SNR and determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from forensics_app.domain.errors import ForensicsError
from forensics_app.training.augment import (
    CLEAN,
    CODECS,
    MAX_PEAK,
    BandLimit,
    Channel,
    Codec,
    Gain,
    Noise,
    Resample,
    Reverb,
    add_noise,
    apply_channel,
    band_limit,
    codec_delay,
    reencode,
    resample_roundtrip,
    room_impulse_response,
    sample_channel,
)

RATE = 16000


def speechlike(duration_s: float = 1.0, *, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Harmonics of a gliding 110-190 Hz pitch plus noise bursts: unambiguous to align."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * rate)) / rate
    f0 = 110 + 80 * t / duration_s
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(h * phase) / h for h in range(1, 25) if h * 190 < 0.45 * rate)
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    bursts = rng.standard_normal(len(t)) * ((t * 4) % 1 < 0.1)
    x = x + 0.5 * bursts
    return (0.4 * x / np.max(np.abs(x))).astype(np.float32)


def best_lag(x: np.ndarray, y: np.ndarray, max_lag: int = 300) -> int:
    """Lag (samples) at which ``y`` best matches ``x`` (positive: ``y`` is late)."""
    core = slice(max_lag, len(x) - max_lag)
    scores = [np.dot(x[core], y[max_lag + k : len(x) - max_lag + k]) for k in range(-max_lag, max_lag + 1)]
    return int(np.argmax(scores)) - max_lag


def band_power(x: np.ndarray, lo: float, hi: float, rate: int = RATE) -> float:
    f, p = welch(x.astype(np.float64), fs=rate, nperseg=1024)
    return float(p[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize(("codec", "bitrate"), [("mp3", 64000), ("aac", 48000), ("opus", 24000), ("opus", 8000)])
def test_reencode_keeps_length_and_time_alignment(codec, bitrate):
    x = speechlike()
    y = reencode(x, rate=RATE, codec=codec, bitrate=bitrate)
    assert y.dtype == np.float32 and len(y) == len(x)
    assert abs(best_lag(x, y)) <= 2
    assert np.corrcoef(x, y)[0, 1] > 0.5
    assert not np.allclose(x, y, atol=1e-3)  # it really was lossy


def test_reencode_at_a_rate_the_codec_lacks_is_still_aligned():
    x = speechlike(rate=22050)
    y = reencode(x, rate=22050, codec="opus", bitrate=32000)  # Opus runs at 24 kHz here
    assert len(y) == len(x) and abs(best_lag(x, y)) <= 2


def test_codec_delays_are_measured_once():
    assert codec_delay("aac", 48000, RATE) == 1024  # raw AAC priming, not trimmed by ADTS
    assert codec_delay("mp3", 64000, RATE) == 0  # LAME's gapless header is honoured
    with pytest.raises(ForensicsError, match="unknown codec"):
        reencode(speechlike(0.1), rate=RATE, codec="wma", bitrate=64000)


def test_resample_roundtrip_limits_the_bandwidth():
    x = np.random.default_rng(1).standard_normal(RATE).astype(np.float32) * 0.1
    y = resample_roundtrip(x, rate=RATE, via_rate=8000)
    assert len(y) == len(x)
    assert band_power(y, 4300, 8000) < 1e-3 * band_power(x, 4300, 8000)
    assert band_power(y, 200, 3500) == pytest.approx(band_power(x, 200, 3500), rel=0.1)
    wide = resample_roundtrip(x, rate=RATE, via_rate=22050)
    assert band_power(wide, 200, 7500) == pytest.approx(band_power(x, 200, 7500), rel=0.05)


@pytest.mark.parametrize("colour", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_add_noise_hits_the_snr(colour, snr_db):
    x = speechlike()
    y = add_noise(x, snr_db=snr_db, rng=np.random.default_rng(5), colour=colour)
    measured = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x).astype(np.float64) ** 2))
    assert measured == pytest.approx(snr_db, abs=0.5)


def test_noise_colours_differ_in_spectrum():
    x = np.zeros(RATE, np.float32)
    x[::100] = 0.5
    white = add_noise(x, snr_db=0, rng=np.random.default_rng(0)) - x
    brown = add_noise(x, snr_db=0, rng=np.random.default_rng(0), colour="brown") - x
    assert band_power(brown, 0, 500) / band_power(brown, 4000, 8000) > 100 * (
        band_power(white, 0, 500) / band_power(white, 4000, 8000)
    )


def test_band_limit_telephone():
    x = np.random.default_rng(2).standard_normal(RATE).astype(np.float32) * 0.1
    y = band_limit(x, rate=RATE, low_hz=300, high_hz=3400)
    assert band_power(y, 5000, 8000) < 1e-4 * band_power(x, 5000, 8000)
    assert band_power(y, 50, 120) < 1e-3 * band_power(x, 50, 120)
    assert band_power(y, 800, 2500) == pytest.approx(band_power(x, 800, 2500), rel=0.1)


def test_room_impulse_response_has_the_asked_drr():
    h = room_impulse_response(rate=RATE, rt60_s=0.5, drr_db=6.0, rng=np.random.default_rng(0))
    assert h[0] == 1.0 and len(h) == int(1.2 * 0.5 * RATE)
    assert 10 * np.log10(1.0 / np.sum(h[1:] ** 2)) == pytest.approx(6.0, abs=1e-6)
    late = np.sum(h[int(0.4 * RATE):] ** 2) / np.sum(h[1 : int(0.1 * RATE)] ** 2)
    assert late < 1e-3  # decays by tens of dB within the RT60


def test_channel_names_are_short_and_readable():
    assert Channel.of([Codec("mp3", 64000), Noise(25.0)]).name == "mp3-64k+noise-25dB"
    assert Channel.of([Reverb(0.4), BandLimit(300, 3400), Resample(8000), Gain(-6)]).name == (
        "reverb-0.4s+band-300-3400Hz+resample-8k+gain-6dB"
    )
    assert Channel.of([]).name == "clean" == CLEAN.name


def test_sample_channel_variety():
    rng = np.random.default_rng(0)
    channels = [sample_channel(rng) for _ in range(300)]
    names = [c.name for c in channels]
    assert "clean" not in names
    assert all(c.name == "+".join(s.label for s in c.steps) for c in channels)
    assert all(len(n) <= 80 for n in names)
    assert len(set(names)) > 100
    assert any(n.startswith("gain") and "+" not in n for n in names)  # level-only
    kinds = {type(s).__name__ for c in channels for s in c.steps}
    assert kinds == {"Codec", "Resample", "BandLimit", "Noise", "Reverb", "Gain"}
    codecs = {s.codec for c in channels for s in c.steps if isinstance(s, Codec)}
    assert codecs == set(CODECS)


def test_apply_channel_is_deterministic_and_pairs_share_the_realisation():
    x = speechlike()
    other = speechlike(seed=9)[::-1].copy() * 0.5  # a "spoof": another signal, other level
    channel = Channel.of([Reverb(0.3), Noise(10.0)])
    a = apply_channel(x, rate=RATE, channel=channel, rng_seed=42)
    np.testing.assert_array_equal(a, apply_channel(x, rate=RATE, channel=channel, rng_seed=42))
    assert not np.array_equal(a, apply_channel(x, rate=RATE, channel=channel, rng_seed=43))
    # Noise only: the added noise of the pair is the same realisation (up to the level).
    noise_only = Channel.of([Noise(10.0)])
    na = apply_channel(x, rate=RATE, channel=noise_only, rng_seed=7) - x
    nb = apply_channel(other, rate=RATE, channel=noise_only, rng_seed=7) - other
    assert np.corrcoef(na, nb)[0, 1] > 0.999


def test_sampled_channels_keep_length_and_headroom():
    x = speechlike(0.6) * 2.4  # peak 0.96: gains would clip without the limiter
    rng = np.random.default_rng(3)
    for i in range(12):
        channel = sample_channel(rng)
        y = apply_channel(x, rate=RATE, channel=channel, rng_seed=i)
        assert y.dtype == np.float32 and len(y) == len(x), channel.name
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= MAX_PEAK + 1e-6, channel.name
    np.testing.assert_array_equal(apply_channel(x, rate=RATE, channel=CLEAN, rng_seed=0), x)
