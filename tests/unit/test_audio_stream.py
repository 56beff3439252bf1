"""AudioStream: chunked random access to real generated audio in every accepted format.

Lossless files (WAV, FLAC, AIFF) must read back sample-exactly; compressed ones are compared
with the full in-memory decode (the same decoder: exact) and with the tone that was encoded
(length within the codec's delay, spectral peak at the encoded frequency). Damaged files are
real files cut short.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from badfiles import first_encoder, tone, write_av_audio, write_av_video, write_sf

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.ingest import audio_sources as sources_mod
from forensics_app.ingest import audio_stream as stream_mod
from forensics_app.ingest.audio_stream import DecodeReport, open_audio_stream
from forensics_app.ingest.decode import decode_audio

MP3 = first_encoder("libmp3lame", "mp3")
OPUS = first_encoder("libopus", "opus")
H264 = first_encoder("libx264", "h264")
needs_mp3 = pytest.mark.skipif(MP3 is None, reason="the installed PyAV has no MP3 encoder")
needs_opus = pytest.mark.skipif(OPUS is None, reason="the installed PyAV has no Opus encoder")
needs_h264 = pytest.mark.skipif(H264 is None, reason="the installed PyAV has no H.264 encoder")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1.0 / rate)[int(np.argmax(spec))])


def noise_tone(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Tone plus noise (compresses like real audio: Ogg pages stay small)."""
    rng = np.random.default_rng(seed)
    return (tone(duration_s=seconds, rate=rate, channels=channels, amplitude=0.3)
            + 0.1 * rng.standard_normal((int(round(seconds * rate)), channels))).astype(np.float32)


def cut(path: Path, out: Path, fraction: float) -> Path:
    data = path.read_bytes()
    out.write_bytes(data[:int(len(data) * fraction)])
    return out


# --- lossless: read in place, sample-exact --------------------------------------------------------

DIRECT = [
    ("pcm16.wav", "WAV", "PCM_16", 16000, 2),
    ("pcm24.wav", "WAV", "PCM_24", 44100, 1),
    ("float.wav", "WAV", "FLOAT", 22050, 2),
    ("pcm32.wav", "WAV", "PCM_32", 8000, 1),
    ("six.wav", "WAVEX", "PCM_16", 48000, 6),
    ("tone.flac", "FLAC", "PCM_24", 48000, 2),
    ("tone.aiff", "AIFF", "PCM_16", 11025, 1),
]


@pytest.mark.parametrize(("fname", "fmt", "subtype", "rate", "channels"), DIRECT)
def test_lossless_files_read_in_place_exactly(tmp_path: Path, cache: Path, fname: str, fmt: str, subtype: str,
                                              rate: int, channels: int) -> None:
    x = noise_tone(1.5, rate, channels)
    path = tmp_path / fname
    sf.write(str(path), x, rate, format=fmt, subtype=subtype)
    full, _ = sf.read(str(path), dtype="float32", always_2d=True)
    with open_audio_stream(path, cache_dir=cache) as s:
        assert (s.rate, s.n_channels, s.n_samples, s.sample_format) == (rate, channels, len(x), subtype)
        assert s.duration_s == pytest.approx(1.5, abs=1e-3)
        assert not s.cached and s.decoder == "libsndfile" and s.decode_report is None
        assert np.array_equal(s.read(0, s.n_samples), full)
        rng = np.random.default_rng(1)
        for a in rng.integers(0, len(x) - 1, 20):
            b = int(a + rng.integers(1, 5000))
            ch = int(rng.integers(0, channels))
            assert np.array_equal(s.read(a, b), full[a:b])
            got = s.read(a, b, channel=ch)
            assert got.shape == (min(b, len(x)) - a,) and got.dtype == np.float32
            assert np.array_equal(got, full[a:b, ch])
            assert np.allclose(s.read_mono(a, b), full[a:b].mean(axis=1), atol=1e-6)
    assert not cache.exists() or not any(cache.iterdir()), "lossless files need no cache"


def test_read_clips_to_the_recording_and_checks_arguments(tmp_path: Path, cache: Path) -> None:
    path = write_sf(tmp_path / "a.wav", duration_s=0.5, channels=2, fmt="WAV", subtype="PCM_16")
    s = open_audio_stream(path, cache_dir=cache)
    assert s.read(-100, 10).shape == (10, 2)
    assert s.read(7990, 9000, channel=1).shape == (10,)
    assert s.read(9000, 9100).shape == (0, 2) and s.read(50, 40, channel=0).shape == (0,)
    with pytest.raises(ValueError, match="channel 2"):
        s.read(0, 10, channel=2)
    with pytest.raises(ValueError, match="positive"):
        list(s.blocks(size=0))
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.read(0, 10)


@pytest.mark.parametrize("size", [1000, 4096, 8000, 100_000])
def test_blocks_cover_the_file_exactly_once(tmp_path: Path, cache: Path, size: int) -> None:
    path = tmp_path / "b.flac"
    x = noise_tone(0.5, 16000, 2)
    sf.write(str(path), x, 16000, subtype="PCM_16")
    with open_audio_stream(path, cache_dir=cache) as s:
        full = s.read(0, s.n_samples)
        blocks = list(s.blocks(size=size))
        assert [b for b, _ in blocks] == list(range(0, 8000, size))
        assert all(len(blk) == size for _, blk in blocks[:-1]) and 0 < len(blocks[-1][1]) <= size
        assert np.array_equal(np.concatenate([blk for _, blk in blocks]), full)
        part = list(s.blocks(size=size, channel=1, start=123, stop=7000))
        assert np.array_equal(np.concatenate([blk for _, blk in part]), full[123:7000, 1])


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_32"])  # memory-mapped / libsndfile seeks
def test_read_windows_matches_slices_with_zeros_outside(tmp_path: Path, cache: Path, subtype: str) -> None:
    path = tmp_path / "w.wav"
    x = noise_tone(1.0, 16000, 3)
    sf.write(str(path), x, 16000, subtype=subtype)
    full, _ = sf.read(str(path), dtype="float32", always_2d=True)
    padded = np.concatenate([np.zeros((600, 3), np.float32), full, np.zeros((600, 3), np.float32)])
    starts = np.array([-500, 0, 7, 3000, 3100, 15800, 15990, 9000])
    with open_audio_stream(path, cache_dir=cache) as s:
        for channel in (None, 0, 2):
            got = s.read_windows(starts, length=512, channel=channel)
            assert got.shape == (len(starts), 512) and got.dtype == np.float32
            for k, a in enumerate(starts):
                seg = padded[a + 600:a + 600 + 512]
                want = seg.mean(axis=1) if channel is None else seg[:, channel]
                assert np.allclose(got[k], want, atol=1e-6)


def test_concurrent_reads_from_threads_are_correct(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "t.wav"
    x = noise_tone(2.0, 16000, 2)
    sf.write(str(path), x, 16000, subtype="PCM_32")  # libsndfile seek+read under the stream's lock
    full, _ = sf.read(str(path), dtype="float32", always_2d=True)
    errors: list[str] = []
    with open_audio_stream(path, cache_dir=cache) as s:
        def worker(seed: int) -> None:
            rng = np.random.default_rng(seed)
            for a in rng.integers(0, 30000, 200):
                if not np.array_equal(s.read(a, a + 777), full[a:a + 777]):
                    errors.append(f"read at {a}")
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors


def test_mapped_wav_stays_exact_after_dropping_resident_pages(tmp_path: Path, cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(sources_mod, "RESIDENT_BUDGET", 4096)  # drop pages after nearly every read
    path = tmp_path / "m.wav"
    sf.write(str(path), noise_tone(1.0, 16000, 1), 16000, subtype="PCM_16")
    full, _ = sf.read(str(path), dtype="float32", always_2d=True)
    with open_audio_stream(path, cache_dir=cache) as s:
        for a in range(0, 16000, 1500):
            assert np.array_equal(s.read(a, a + 2000), full[a:a + 2000])


# --- decoded once into the cache --------------------------------------------------------------------

COMPRESSED = [
    pytest.param("tone.ogg", lambda p: write_sf(p, duration_s=1.0, fmt="OGG", subtype="VORBIS"), 1, 16000,
                 "libsndfile", id="ogg-vorbis"),
    pytest.param("tone.opus", lambda p: write_sf(p, duration_s=1.0, rate=48000, fmt="OGG", subtype="OPUS"), 1,
                 48000, "libsndfile", id="ogg-opus"),
    pytest.param("tone.mp3", lambda p: write_av_audio(p, MP3, container="mp3", duration_s=1.0, bit_rate=64000), 1,
                 16000, "ffmpeg", id="mp3", marks=needs_mp3),
    pytest.param("tone.m4a", lambda p: write_av_audio(p, "aac", container="ipod", duration_s=1.0, channels=2), 2,
                 16000, "ffmpeg", id="m4a-aac-stereo"),
    pytest.param("tone.webm", lambda p: write_av_audio(p, OPUS, container="webm", duration_s=1.0, rate=48000), 1,
                 48000, "ffmpeg", id="webm-opus", marks=needs_opus),
    pytest.param("clip.mp4", lambda p: write_av_video(p, H264, container="mp4", frames=25, audio="aac"), 1,
                 16000, "ffmpeg", id="mp4-video-aac", marks=needs_h264),
]


@pytest.mark.parametrize(("fname", "make", "channels", "rate", "decoder"), COMPRESSED)
def test_compressed_audio_is_decoded_once_and_read_like_a_full_decode(tmp_path: Path, cache: Path, fname: str,
                                                                      make, channels: int, rate: int,
                                                                      decoder: str) -> None:
    path = make(tmp_path / fname)
    ref = decode_audio(path).samples  # the in-memory decode of the same decoder
    with open_audio_stream(path, cache_dir=cache) as s:
        assert s.cached and s.decoder == decoder and s.decode_report is None
        assert (s.rate, s.n_channels) == (rate, channels)
        # length: the 1 s that was encoded, give or take the codec's delay and padding
        assert abs(s.n_samples - rate) <= 0.07 * rate
        full = s.read(0, s.n_samples)
        assert np.array_equal(full, ref)
        rng = np.random.default_rng(2)
        for a in rng.integers(0, s.n_samples - 1, 10):
            assert np.array_equal(s.read(a, a + 3000), ref[a:a + 3000])
        assert dominant_hz(s.read(0, s.n_samples, channel=0), rate) == pytest.approx(440.0, abs=6.0)
        if channels == 2:
            assert dominant_hz(s.read(0, s.n_samples, channel=1), rate) == pytest.approx(660.0, abs=6.0)
    entries = sorted(p.suffix for p in cache.iterdir())
    assert entries == [".f32", ".json"], entries  # one complete entry, no temporary files left


@needs_mp3
def test_second_open_reuses_the_cache_without_decoding(tmp_path: Path, cache: Path, monkeypatch) -> None:
    path = write_av_audio(tmp_path / "a.mp3", MP3, container="mp3", duration_s=1.0, bit_rate=64000)
    first = open_audio_stream(path, cache_dir=cache)
    data_file = next(cache.glob("*.f32"))
    stamp = data_file.stat().st_mtime_ns
    samples = first.read(0, first.n_samples)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(stream_mod, "decode_av", no_decoding)
    second = open_audio_stream(path, cache_dir=cache)
    assert np.array_equal(second.read(0, second.n_samples), samples)
    assert data_file.stat().st_mtime_ns == stamp
    monkeypatch.undo()
    # a changed file is a different key: decoded again
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    calls = []
    real = stream_mod.decode_av
    monkeypatch.setattr(stream_mod, "decode_av", lambda p, sink: calls.append(p) or real(p, sink))
    third = open_audio_stream(path, cache_dir=cache)
    assert calls == [path] and third.n_samples == first.n_samples
    assert len(list(cache.glob("*.json"))) == 2


@needs_mp3
def test_failed_decode_leaves_no_cache_entry(tmp_path: Path, cache: Path, monkeypatch) -> None:
    path = write_av_audio(tmp_path / "a.mp3", MP3, container="mp3", duration_s=1.0, bit_rate=64000)
    real = stream_mod.decode_av

    def crash(p, sink):
        def half_then_fail(block):
            sink(block)
            raise OSError("disk full")
        return real(p, half_then_fail)

    monkeypatch.setattr(stream_mod, "decode_av", crash)
    with pytest.raises(OSError, match="disk full"):
        open_audio_stream(path, cache_dir=cache)
    assert list(cache.iterdir()) == []
    monkeypatch.undo()
    assert open_audio_stream(path, cache_dir=cache).decode_report is None


# --- damaged files: what decodes, and where it stopped ----------------------------------------------


def assert_report(s, *, about_s: float, tol_s: float, words: str) -> DecodeReport:
    rep = s.decode_report
    assert isinstance(rep, DecodeReport), "a damaged file must carry a decode report"
    assert rep.decoded_samples == s.n_samples and rep.stopped_at_s == pytest.approx(s.duration_s)
    assert rep.stopped_at_s == pytest.approx(about_s, abs=tol_s)
    assert words in rep.reason and s.path.name in rep.reason
    return rep


@needs_mp3
def test_truncated_mp3_with_xing_header_keeps_the_first_half(tmp_path: Path, cache: Path) -> None:
    good = write_av_audio(tmp_path / "good.mp3", MP3, container="mp3", duration_s=4.0, bit_rate=32000)
    intact = decode_audio(good).samples
    with open_audio_stream(cut(good, tmp_path / "cut.mp3", 0.5), cache_dir=cache) as s:
        assert_report(s, about_s=2.0, tol_s=0.25, words="declares 4.000 s")
        # the decoded part is the intact file's beginning
        n = int(1.5 * s.rate)
        assert np.allclose(s.read(0, n), intact[:n], atol=1e-6)


@needs_mp3
def test_truncated_mp3_without_xing_header_is_found_by_its_cut_last_frame(tmp_path: Path, cache: Path) -> None:
    good = write_av_audio(tmp_path / "good.mp3", MP3, container="mp3", duration_s=4.0, bit_rate=32000,
                          options={"write_xing": "0"})
    with open_audio_stream(cut(good, tmp_path / "cut.mp3", 0.5), cache_dir=cache) as s:
        assert_report(s, about_s=2.0, tol_s=0.25, words="last frame holds")


def test_truncated_fast_start_m4a_keeps_the_decodable_part(tmp_path: Path, cache: Path) -> None:
    good = write_av_audio(tmp_path / "good.m4a", "aac", container="ipod", duration_s=4.0,
                          options={"movflags": "faststart"})
    intact = decode_audio(good).samples
    with open_audio_stream(cut(good, tmp_path / "cut.m4a", 0.5), cache_dir=cache) as s:
        assert_report(s, about_s=2.0, tol_s=0.4, words="incomplete")
        n = int(1.0 * s.rate)
        assert np.allclose(s.read(0, n), intact[:n], atol=1e-6)
        assert dominant_hz(s.read(0, s.n_samples, channel=0), s.rate) == pytest.approx(440.0, abs=6.0)


def test_m4a_cut_before_its_index_cannot_be_read_and_says_why(tmp_path: Path, cache: Path) -> None:
    """FFmpeg writes 'moov' (the sample index) last unless asked for fast start: cut, nothing decodes."""
    good = write_av_audio(tmp_path / "good.m4a", "aac", container="ipod", duration_s=4.0)
    with pytest.raises(CorruptMedia, match="moov"):
        open_audio_stream(cut(good, tmp_path / "cut.m4a", 0.5), cache_dir=cache)
    assert not cache.exists() or not list(cache.glob("*.f32"))


def test_truncated_wav_is_read_in_place_with_a_report(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "good.wav"
    x = noise_tone(4.0, 16000)
    sf.write(str(path), x, 16000, subtype="PCM_16")
    with open_audio_stream(cut(path, tmp_path / "cut.wav", 0.5), cache_dir=cache) as s:
        assert not s.cached
        assert_report(s, about_s=2.0, tol_s=0.01, words="data chunk of 128000 bytes")
        assert np.allclose(s.read(0, s.n_samples)[:, 0], x[:s.n_samples, 0], atol=1 / 32768)


def test_truncated_flac_keeps_the_decodable_part(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "good.flac"
    x = noise_tone(4.0, 16000)
    sf.write(str(path), x, 16000, subtype="PCM_16")
    with open_audio_stream(cut(path, tmp_path / "cut.flac", 0.5), cache_dir=cache) as s:
        assert s.cached
        assert_report(s, about_s=2.0, tol_s=0.5, words="cut.flac")
        assert np.allclose(s.read(0, s.n_samples)[:, 0], x[:s.n_samples, 0], atol=1 / 32768)


def test_flac_damaged_in_the_middle_reads_up_to_the_damage_then_says_where(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "good.flac"
    x = noise_tone(4.0, 16000)
    sf.write(str(path), x, 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 3000] = bytes(3000)  # about 2 s in
    bad = tmp_path / "bad.flac"
    bad.write_bytes(bytes(data))
    with open_audio_stream(bad, cache_dir=cache) as s:  # its end decodes: read in place
        assert not s.cached and s.n_samples == len(x)
        assert np.allclose(s.read(0, 16000)[:, 0], x[:16000, 0], atol=1 / 32768)
        with pytest.raises(CorruptMedia, match=r"bad.flac: the audio between .* does not decode"):
            s.read(0, s.n_samples)


@pytest.mark.parametrize(("subtype", "rate"), [("VORBIS", 16000), ("OPUS", 48000)])
def test_truncated_ogg_is_recognised_by_its_missing_end_of_stream_page(tmp_path: Path, cache: Path, subtype: str,
                                                                       rate: int) -> None:
    """Ogg declares no length anywhere: a cut file ends without its end-of-stream page."""
    path = tmp_path / "good.ogg"
    sf.write(str(path), noise_tone(6.0, rate), rate, format="OGG", subtype=subtype)
    with open_audio_stream(cut(path, tmp_path / "cut.ogg", 0.5), cache_dir=cache) as s:
        rep = assert_report(s, about_s=3.0, tol_s=1.5, words="Ogg stream is truncated")
        assert 0.5 < rep.stopped_at_s < 4.5


def test_nothing_decodable_or_no_audio_raises(tmp_path: Path, cache: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CorruptMedia, match="junk.mp3"):
        open_audio_stream(junk, cache_dir=cache)
    with pytest.raises(CorruptMedia, match="not a file"):
        open_audio_stream(tmp_path / "missing.wav", cache_dir=cache)
    if H264:
        silent = write_av_video(tmp_path / "silent.mp4", H264, container="mp4", frames=10)
        with pytest.raises(UnsupportedMedia, match="no audio"):
            open_audio_stream(silent, cache_dir=cache)


# --- decode_audio for long files: a read-only map, not an in-memory copy -----------------------------


def _mapped(a: np.ndarray) -> bool:
    import mmap

    base = a
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = base.base if isinstance(base, np.ndarray) else getattr(base, "obj", None)
    return False


@pytest.mark.parametrize("kind", ["pcm16-wav", "float-wav", "flac", "mp3"])
def test_decode_audio_maps_long_files_read_only(tmp_path: Path, cache: Path, kind: str) -> None:
    if kind == "mp3" and MP3 is None:
        pytest.skip("no MP3 encoder")
    path = {
        "pcm16-wav": lambda: write_sf(tmp_path / "a.wav", duration_s=1.0, channels=2, fmt="WAV", subtype="PCM_16"),
        "float-wav": lambda: write_sf(tmp_path / "a.wav", duration_s=1.0, channels=2, fmt="WAV", subtype="FLOAT"),
        "flac": lambda: write_sf(tmp_path / "a.flac", duration_s=1.0, fmt="FLAC", subtype="PCM_16"),
        "mp3": lambda: write_av_audio(tmp_path / "a.mp3", MP3, container="mp3", duration_s=1.0, bit_rate=64000),
    }[kind]()
    in_memory = decode_audio(path)
    assert in_memory.samples.flags.writeable and not _mapped(in_memory.samples)  # short: as before
    long = decode_audio(path, max_in_memory_bytes=0, cache_dir=cache)
    assert long.samples.dtype == np.float32 and long.samples.shape == in_memory.samples.shape
    assert not long.samples.flags.writeable and _mapped(long.samples)
    assert np.array_equal(long.samples, in_memory.samples)
    assert (long.rate, long.sample_format) == (in_memory.rate, in_memory.sample_format)
    assert long.mono().shape == (len(long.samples),)


@needs_mp3
def test_decode_audio_refuses_a_damaged_long_file(tmp_path: Path, cache: Path) -> None:
    good = write_av_audio(tmp_path / "good.mp3", MP3, container="mp3", duration_s=4.0, bit_rate=32000)
    with pytest.raises(CorruptMedia, match="does not decode to its end"):
        decode_audio(cut(good, tmp_path / "cut.mp3", 0.5), max_in_memory_bytes=0, cache_dir=cache)
