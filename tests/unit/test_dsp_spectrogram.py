"""Spectrogram engine, frequency scales and waveform envelopes on generated recordings.

Ground truth: tones at known frequencies, a linear chirp whose instantaneous frequency is known
at every instant, tone bursts at known times, single-sample spikes at known positions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.dsp import envelope as envelope_mod
from forensics_app.dsp.envelope import waveform_envelope
from forensics_app.dsp.scales import FrequencyScale, hz_to_mel, mel_to_hz
from forensics_app.dsp.spectrogram import MAX_FRAMES_PER_COLUMN, SpectrogramEngine, settings_for
from forensics_app.dsp.stft import STFTSettings
from forensics_app.ingest.audio_stream import open_audio_stream

RATE = 16000
SCALES = ["linear", "log", "mel"]


def write(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    sf.write(str(path), x.astype(np.float32), rate, subtype="FLOAT")
    return path


def sine(freq: float, seconds: float, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def peak_rows_hz(image) -> np.ndarray:
    """Centre frequency (Hz, on the image's axis) of the loudest row in each column."""
    edges = image.row_edges_hz
    rows = image.db.argmax(axis=0)
    return (edges[rows] + edges[rows + 1]) / 2.0


# --- scales -----------------------------------------------------------------------------------------


def test_mel_is_the_htk_formula() -> None:
    assert hz_to_mel(np.array([0.0, 700.0, 1000.0]))[1] == pytest.approx(2595 * np.log10(2))
    assert hz_to_mel(np.array(1000.0)) == pytest.approx(999.9855, abs=1e-3)
    f = np.array([0.0, 50.0, 440.0, 8000.0])
    assert np.allclose(mel_to_hz(hz_to_mel(f)), f)


@pytest.mark.parametrize("kind", SCALES)
def test_row_edges_are_equally_spaced_on_the_axis(kind: str) -> None:
    scale = FrequencyScale(kind).resolved(np.linspace(0, 8000, 513))
    edges = scale.row_edges_hz(100)
    assert edges.shape == (101,) and np.all(np.diff(edges) > 0)
    assert edges[-1] == 8000.0
    axis = {"linear": lambda f: f, "log": np.log, "mel": hz_to_mel}[kind](edges)
    assert np.allclose(np.diff(axis), np.diff(axis)[0])
    assert edges[0] == (20.0 if kind == "log" else 0.0)
    with pytest.raises(ValueError, match="resolved"):
        FrequencyScale(kind).row_edges_hz(10)
    with pytest.raises(ValueError):
        FrequencyScale("bark")


@pytest.mark.parametrize("kind", SCALES)
def test_bins_to_rows_keeps_a_tone_in_its_row_at_its_level(kind: str) -> None:
    freqs = np.arange(513) * RATE / 1024
    power = np.full((513, 3), 1e-6, np.float32)
    power[64, :] = 1.0  # 1000 Hz
    power[300, 1] = 0.5  # 4687.5 Hz in column 1
    for n_rows in (40, 200, 1000):  # rows wider than bins, similar, narrower
        scale = FrequencyScale(kind)
        rows = scale.bins_to_rows(power, freqs, n_rows)
        edges = scale.resolved(freqs).row_edges_hz(n_rows)
        assert rows.shape == (n_rows, 3)
        r = int(rows[:, 0].argmax())
        assert edges[r] - RATE / 1024 <= 1000.0 <= edges[r + 1] + RATE / 1024
        # rows at least as wide as a bin keep the tone's level (peak); narrower ones interpolate
        assert rows[r, 0] == pytest.approx(1.0, rel=1e-6 if n_rows <= 200 else 0.3)
        if n_rows <= 200:
            r2 = int(np.searchsorted(edges, 4687.5, side="right") - 1)
            assert rows[r2, 1] == pytest.approx(0.5) and rows[r2, 0] == pytest.approx(1e-6)
            assert int(np.argsort(rows[:, 1])[-2]) == r2
        assert np.all(rows[:, 2] == rows[:, 0])


# --- engine -----------------------------------------------------------------------------------------


@pytest.fixture
def tone_stream(tmp_path: Path):
    with open_audio_stream(write(tmp_path / "tone.wav", sine(1000.0, 6.0)), cache_dir=tmp_path / "c") as s:
        yield s


@pytest.mark.parametrize("kind", SCALES)
@pytest.mark.parametrize(("t0", "t1", "n_cols", "full"), [(0.0, 6.0, 40, False), (0.0, 6.0, 150, True),
                                                          (2.0, 2.5, 300, True)])
def test_a_1khz_sine_peaks_at_1khz_at_its_level(tone_stream, kind: str, t0: float, t1: float, n_cols: int,
                                                full: bool) -> None:
    engine = SpectrogramEngine(tone_stream, settings=STFTSettings(win_length=1024, n_fft=1024, hop=256))
    image = engine.render(t0=t0, t1=t1, n_cols=n_cols, n_rows=300, scale=FrequencyScale(kind))
    assert image.db.shape == (300, n_cols) and image.db.dtype == np.float32 and not image.db.flags.writeable
    assert image.full_detail is full and image.scale == kind
    assert (image.t0, image.t1) == (t0, t1) and image.f_high_hz == RATE / 2
    edges = image.row_edges_hz
    rows = image.db[:, 2:-2].argmax(axis=0)
    assert np.all(edges[rows] <= 1000.0 + 16) and np.all(edges[rows + 1] >= 1000.0 - 16)
    # amplitude 0.5 reads -6.02 dBFS (1000 Hz sits on bin 64: no scalloping)
    assert image.db[:, 2:-2].max(axis=0) == pytest.approx(np.full(n_cols - 4, -6.02), abs=0.05)
    assert image.level_at((t0 + t1) / 2, 1000.0) == pytest.approx(-6.02, abs=0.05)
    assert image.level_at((t0 + t1) / 2, 5000.0) < -60 and image.level_at(t1 + 1, 1000.0) is None


@pytest.mark.parametrize("kind", SCALES)
def test_a_chirp_peak_follows_its_known_frequency(tmp_path: Path, kind: str) -> None:
    seconds, f0, f1 = 6.0, 300.0, 6000.0
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.5 * scipy.signal.chirp(t, f0=f0, t1=seconds, f1=f1, method="linear")
    with open_audio_stream(write(tmp_path / "chirp.wav", x), cache_dir=tmp_path / "c") as s:
        engine = SpectrogramEngine(s, settings=STFTSettings(win_length=512, n_fft=512, hop=128))
        sweep = (f1 - f0) / seconds  # Hz per second
        for t0, t1, n_cols, full in ((0.0, seconds, 60, False), (2.0, 3.0, 400, True)):
            image = engine.render(t0=t0, t1=t1, n_cols=n_cols, n_rows=256, scale=FrequencyScale(kind))
            assert image.full_detail is full
            times = image.column_times_s()
            want = f0 + sweep * times
            got = peak_rows_hz(image)
            edges = image.row_edges_hz
            row_width = np.interp(want, edges[1:], np.diff(edges))
            # a column spans (t1 - t0) / n_cols of sweep; the 32 ms window smears 30 Hz; one bin 31 Hz
            tol = sweep * (t1 - t0) / n_cols / 2 + row_width + 2 * RATE / 512
            inner = slice(1, n_cols - 1)
            assert np.all(np.abs(got[inner] - want[inner]) <= tol[inner]), np.max(np.abs(got - want) - tol)


def burst_recording(seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.001 * rng.standard_normal(len(t))
    on = (t >= 2.0) & (t < 3.5)
    x[on] += 0.5 * np.sin(2 * np.pi * 3000.0 * t[on])
    on = (t >= 6.0) & (t < 6.4)
    x[on] += 0.5 * np.sin(2 * np.pi * 500.0 * t[on])
    return x


def test_overview_and_full_detail_agree_on_where_the_energy_is(tmp_path: Path) -> None:
    with open_audio_stream(write(tmp_path / "bursts.wav", burst_recording()), cache_dir=tmp_path / "c") as s:
        settings = STFTSettings(win_length=256, n_fft=256, hop=64)  # 2500 frames
        engine = SpectrogramEngine(s, settings=settings)
        overview = engine.render(t0=0.0, t1=10.0, n_cols=100, n_rows=128, scale=FrequencyScale("linear"))
        assert not overview.full_detail and overview.frames_per_column == 25.0
        detail = engine.render(t0=0.0, t1=10.0, n_cols=2500, n_rows=128, scale=FrequencyScale("linear"))
        assert detail.full_detail
        edges = overview.row_edges_hz
        for f, (a, b) in ((3000.0, (2.0, 3.5)), (500.0, (6.0, 6.4))):
            row = int(np.searchsorted(edges, f) - 1)
            band_over = overview.db[row]
            band_detail = 10 * np.log10(np.mean(10 ** (detail.db[row].reshape(100, 25) / 10), axis=1))
            lit_over = np.flatnonzero(band_over > -30)
            lit_detail = np.flatnonzero(band_detail > -30)
            want = np.arange(int(a * 10), int(b * 10))  # 0.1 s columns
            # both light up the burst's columns; they may differ only on the two boundary columns
            assert set(want) <= set(lit_over) and set(want) <= set(lit_detail)
            assert set(lit_over) ^ set(lit_detail) <= {want[0] - 1, want[-1] + 1}
            assert len(set(lit_over) - set(want)) <= 2
            inside = want[1:-1]
            assert np.allclose(band_over[inside], band_detail[inside], atol=1.0)


def test_screen_resolution_cost_does_not_depend_on_the_recording_length(tmp_path: Path) -> None:
    counts = []
    for seconds in (5.0, 20.0):
        path = write(tmp_path / f"n{seconds:g}.wav", 0.1 * np.random.default_rng(0).standard_normal(int(seconds * RATE)))
        with open_audio_stream(path, cache_dir=tmp_path / "c") as s:
            engine = SpectrogramEngine(s, settings=STFTSettings(win_length=256, n_fft=256, hop=64))
            engine.overview(n_cols=50, n_rows=64, scale=FrequencyScale("mel"))
            counts.append(engine.cache_info()["frames_computed"])
    assert counts == [50 * MAX_FRAMES_PER_COLUMN] * 2


def test_rendered_tiles_are_cached_and_not_recomputed(tone_stream) -> None:
    engine = SpectrogramEngine(tone_stream, settings=STFTSettings(win_length=512, n_fft=512, hop=128), cache_size=2)
    lin = FrequencyScale("linear")
    first = engine.render(t0=1.0, t1=3.0, n_cols=100, n_rows=64, scale=lin)
    computed = engine.cache_info()["frames_computed"]
    again = engine.render(t0=1.0, t1=3.0, n_cols=100, n_rows=64, scale=lin)
    info = engine.cache_info()
    assert info["frames_computed"] == computed and info["hits"] == 1 and info["misses"] == 1
    assert np.array_equal(first.db, again.db)
    # only the colour scale changes: served from the cache, clipped at the new floor
    engine.set_settings(STFTSettings(win_length=512, n_fft=512, hop=128, db_floor=-40.0, db_range=40.0))
    clipped = engine.render(t0=1.0, t1=3.0, n_cols=100, n_rows=64, scale=lin)
    assert engine.cache_info()["frames_computed"] == computed
    assert clipped.db.min() == -40.0 and clipped.levels == (-40.0, 0.0)
    assert np.array_equal(clipped.db, np.maximum(first.db, -40.0))
    # another scale, then two more ranges: the LRU of 2 tiles drops the oldest
    engine.render(t0=1.0, t1=3.0, n_cols=100, n_rows=64, scale=FrequencyScale("mel"))
    engine.render(t0=0.0, t1=1.0, n_cols=100, n_rows=64, scale=lin)
    assert engine.cache_info()["tiles"] == 2
    before = engine.cache_info()["frames_computed"]
    engine.render(t0=1.0, t1=3.0, n_cols=100, n_rows=64, scale=lin)
    assert engine.cache_info()["frames_computed"] > before
    # the overview is kept apart from the tile LRU
    engine.overview(n_cols=50, n_rows=64, scale=lin)
    for k in range(3):
        engine.render(t0=k, t1=k + 1.0, n_cols=80, n_rows=64, scale=lin)
    before = engine.cache_info()["frames_computed"]
    engine.overview(n_cols=50, n_rows=64, scale=lin)
    assert engine.cache_info()["frames_computed"] == before


def test_rendering_can_be_cancelled(tmp_path: Path) -> None:
    with open_audio_stream(write(tmp_path / "n.wav", burst_recording()), cache_dir=tmp_path / "c") as s:
        engine = SpectrogramEngine(s, settings=STFTSettings(win_length=256, n_fft=256, hop=64))
        token = ProgressToken()
        token.cancel()
        with pytest.raises(Cancelled):
            engine.render(t0=0.0, t1=10.0, n_cols=400, n_rows=64, scale=FrequencyScale("linear"), progress=token)
        reports: list[float] = []

        def cancel_after_first_block(fraction: float, message: str) -> None:
            reports.append(fraction)
            mid.cancel()

        mid = ProgressToken(cancel_after_first_block)
        with pytest.raises(Cancelled):  # sparse: 256 columns per block, so 600 columns take 3 blocks
            engine.render(t0=0.0, t1=10.0, n_cols=600, n_rows=64, scale=FrequencyScale("linear"), progress=mid)
        assert len(reports) == 1 and 0 < reports[0] < 1
        assert engine.cache_info()["tiles"] == 0
        ok = ProgressToken()
        engine.render(t0=0.0, t1=10.0, n_cols=600, n_rows=64, scale=FrequencyScale("linear"), progress=ok)
        assert ok.last_fraction == 1.0


def test_channel_selection(tmp_path: Path) -> None:
    x = np.stack([sine(1000.0, 2.0), sine(3000.0, 2.0)], axis=1)
    with open_audio_stream(write(tmp_path / "st.wav", x), cache_dir=tmp_path / "c") as s:
        settings = STFTSettings(win_length=512, n_fft=512, hop=128)
        for channel, want in ((0, [1000.0]), (1, [3000.0]), (None, [1000.0, 3000.0])):
            img = SpectrogramEngine(s, settings=settings, channel=channel).render(
                t0=0.5, t1=1.5, n_cols=20, n_rows=256, scale=FrequencyScale("linear"))
            for f in (1000.0, 3000.0):
                level = img.level_at(1.0, f)
                assert (level > -20) is (f in want), (channel, f, level)
        with pytest.raises(ValueError, match="channel 2"):
            SpectrogramEngine(s, settings=settings, channel=2)


def test_render_clips_the_range_and_refuses_empty_ones(tone_stream) -> None:
    engine = SpectrogramEngine(tone_stream, settings=settings_for(tone_stream))
    assert engine.settings.win_length == 1024 and engine.settings.hop == 256
    img = engine.render(t0=-2.0, t1=100.0, n_cols=30, n_rows=20, scale=FrequencyScale("log"))
    assert (img.t0, img.t1) == (0.0, 6.0) and img.f_low_hz == 20.0
    with pytest.raises(ValueError, match="empty time range"):
        engine.render(t0=7.0, t1=8.0, n_cols=10, n_rows=10, scale=FrequencyScale("linear"))


# --- waveform envelope -------------------------------------------------------------------------------


def spiky(seconds: float = 30.0, rate: int = 8000) -> tuple[np.ndarray, dict[int, float]]:
    rng = np.random.default_rng(5)
    x = 0.05 * rng.standard_normal(int(seconds * rate))
    spikes = {12345: 0.9, 100_000: -0.8, 200_001: 0.7}
    for pos, v in spikes.items():
        x[pos] = v
    return x, spikes


def test_envelope_is_exact_for_short_ranges(tmp_path: Path) -> None:
    x, _ = spiky()
    with open_audio_stream(write(tmp_path / "s.wav", x, 8000), cache_dir=tmp_path / "c") as s:
        xs = x.astype(np.float32)
        times, lo, hi = waveform_envelope(s, t0=1.0, t1=1.01, n_cols=500)  # 80 samples < 500 columns
        assert len(times) == 80 and np.array_equal(lo, xs[8000:8080]) and np.array_equal(hi, lo)
        assert times[0] == pytest.approx(1.0)
        times, lo, hi = waveform_envelope(s, t0=0.0, t1=30.0, n_cols=300)  # 240 000 samples: exact
        cols = xs.reshape(300, 800)
        assert np.array_equal(lo, cols.min(axis=1)) and np.array_equal(hi, cols.max(axis=1))
        assert np.allclose(times, (np.arange(300) + 0.5) * 0.1)


def test_envelope_pyramid_for_long_ranges_keeps_every_spike(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(envelope_mod, "EXACT_SAMPLES", 10_000)  # force the pyramid on a short file
    x, spikes = spiky()
    xs = x.astype(np.float32)
    with open_audio_stream(write(tmp_path / "s.wav", x, 8000), cache_dir=tmp_path / "c") as s:
        for n_cols in (37, 300, 1000):
            times, lo, hi = waveform_envelope(s, t0=0.0, t1=30.0, n_cols=n_cols)
            assert len(times) == n_cols
            assert hi.max() == pytest.approx(0.9) and lo.min() == pytest.approx(-0.8)
            bounds = (np.arange(n_cols + 1) * len(xs)) // n_cols
            per_col = len(xs) / n_cols
            level = 0
            while envelope_mod.BASE_BLOCK * envelope_mod.LEVEL_FACTOR ** (level + 1) * 2 <= per_col:
                level += 1
            block = envelope_mod.BASE_BLOCK * envelope_mod.LEVEL_FACTOR ** level
            for pos, v in spikes.items():
                col = int(np.searchsorted(bounds, pos, side="right") - 1)
                near = (hi if v > 0 else lo)[max(0, col - 1):col + 2]
                assert v in near
            # each column's extremes are exact over its span give or take half a block at each edge
            for c in range(0, n_cols, max(1, n_cols // 50)):
                a, b = int(bounds[c]), int(bounds[c + 1])
                outer = xs[max(0, a - block):b + block]
                inner = xs[a + block // 2 + 1:b - block // 2 - 1] if b - a > block + 2 else xs[a:a + 1]
                assert outer.min() <= lo[c] <= inner.min() and inner.max() <= hi[c] <= outer.max()

        # a sub-range: spikes outside it (by more than a block) stay outside
        times, lo, hi = waveform_envelope(s, t0=2.0, t1=12.0, n_cols=40)  # samples 16 000 .. 96 000
        assert times[0] > 2.0 and times[-1] < 12.0
        assert hi.max() < 0.5 and lo.min() > -0.5  # the spikes at 12 345 and 100 000 are outside
        exact = xs[16000:96000].reshape(40, 2000)
        assert np.all(hi >= np.sort(exact, axis=1)[:, -2]) and np.all(lo <= np.sort(exact, axis=1)[:, 1])
        times, lo, hi = waveform_envelope(s, t0=1.0, t1=12.4, n_cols=40)  # 12 345 in, 100 000 not
        assert hi.max() == pytest.approx(0.9) and lo.min() > -0.5

        def no_reading(*args, **kwargs):
            raise AssertionError("the pyramid is built once")

        monkeypatch.setattr(s, "blocks", no_reading)
        waveform_envelope(s, t0=3.0, t1=25.0, n_cols=200)


def test_envelope_over_all_channels_and_one(tmp_path: Path) -> None:
    x = np.stack([sine(100.0, 2.0, 0.2), sine(100.0, 2.0, 0.6)], axis=1)
    with open_audio_stream(write(tmp_path / "st.wav", x), cache_dir=tmp_path / "c") as s:
        _, lo, hi = waveform_envelope(s, t0=0.0, t1=2.0, n_cols=20)
        assert hi.max() == pytest.approx(0.6, abs=1e-3) and lo.min() == pytest.approx(-0.6, abs=1e-3)
        _, lo0, hi0 = waveform_envelope(s, t0=0.0, t1=2.0, n_cols=20, channel=0)
        assert hi0.max() == pytest.approx(0.2, abs=1e-3)
        with pytest.raises(ValueError, match="channel 5"):
            waveform_envelope(s, t0=0.0, t1=1.0, n_cols=10, channel=5)
