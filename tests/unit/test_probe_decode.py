"""Probe and decode accept real audio, video and image files with the right kind and metadata."""

from __future__ import annotations

import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from badfiles import (
    first_encoder,
    has_encoder,
    noise_rgb,
    tone,
    write_av_audio,
    write_av_video,
    write_image,
    write_sf,
)
from PIL import Image, features

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.domain.media import AudioClip, MediaKind, StillImage, VideoSource
from forensics_app.ingest import probe_av as probe_mod
from forensics_app.ingest.decode import (
    audio_frame_to_float32,
    decode,
    decode_audio,
    decode_image,
    open_video,
)
from forensics_app.ingest.probe import probe

MP3 = first_encoder("libmp3lame", "mp3")
OPUS = first_encoder("libopus", "opus")
H264 = first_encoder("libx264", "h264")
needs_mp3 = pytest.mark.skipif(MP3 is None, reason="the installed PyAV has no MP3 encoder")
needs_opus = pytest.mark.skipif(OPUS is None, reason="the installed PyAV has no Opus encoder")
needs_h264 = pytest.mark.skipif(H264 is None, reason="the installed PyAV has no H.264 encoder")
needs_mpeg4 = pytest.mark.skipif(not has_encoder("mpeg4"), reason="the installed PyAV has no MPEG-4 encoder")


def dominant_hz(x: np.ndarray, rate: int) -> float:
    """Frequency of the strongest spectral peak of a mono signal."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1.0 / rate)[int(np.argmax(spec))])


# --- audio --------------------------------------------------------------------------------------

SNDFILE_CASES = [
    # file name, format, subtype, rate, channels, expected container, expected codec
    ("pcm16.wav", "WAV", "PCM_16", 16000, 1, "WAV", "PCM_16"),
    ("float.wav", "WAV", "FLOAT", 22050, 2, "WAV", "FLOAT"),
    ("six.wav", "WAVEX", "PCM_24", 48000, 6, "WAVEX", "PCM_24"),
    ("tone.flac", "FLAC", "PCM_16", 16000, 2, "FLAC", "PCM_16"),
    ("tone.ogg", "OGG", "VORBIS", 16000, 1, "OGG", "VORBIS"),
    ("tone.opus", "OGG", "OPUS", 48000, 1, "OGG", "OPUS"),
    ("tone.aiff", "AIFF", "PCM_16", 8000, 1, "AIFF", "PCM_16"),
]


@pytest.mark.parametrize(("fname", "fmt", "subtype", "rate", "channels", "container", "codec"), SNDFILE_CASES)
def test_libsndfile_audio_is_probed_and_decoded(tmp_path: Path, fname: str, fmt: str, subtype: str, rate: int,
                                                channels: int, container: str, codec: str) -> None:
    path = write_sf(tmp_path / fname, duration_s=0.5, rate=rate, channels=channels, fmt=fmt, subtype=subtype)
    result = probe(path)
    assert result.kind is MediaKind.AUDIO
    m = result.metadata
    assert (m["container"], m["codec"], m["sample_rate"], m["channels"]) == (container, codec, rate, channels)
    assert m["duration_s"] == pytest.approx(0.5, abs=0.03)
    assert m["decoder"] == "libsndfile"
    clip = decode_audio(path)
    assert isinstance(clip, AudioClip) and clip.samples.dtype == np.float32
    assert clip.samples.shape == (m["samples"], channels) and clip.rate == rate
    assert dominant_hz(clip.samples[:, 0], rate) == pytest.approx(440.0, abs=8.0)
    if channels > 1:
        assert dominant_hz(clip.samples[:, 1], rate) == pytest.approx(660.0, abs=8.0)
    if fmt in ("WAV", "WAVEX", "FLAC", "AIFF"):  # lossless: the samples themselves come back
        expected = tone(duration_s=0.5, rate=rate, channels=channels)
        assert np.max(np.abs(clip.samples - expected)) < 1e-3


@needs_mp3
@pytest.mark.parametrize("xing", [True, False], ids=["xing-header", "no-xing-header"])
def test_mp3_is_probed_and_decoded_with_ffmpeg(tmp_path: Path, xing: bool) -> None:
    path = write_av_audio(tmp_path / "tone.mp3", MP3, container="mp3", duration_s=1.0, rate=16000,
                          bit_rate=32000, options={} if xing else {"write_xing": "0"})
    m = probe(path).metadata
    assert probe(path).kind is MediaKind.AUDIO
    assert (m["container"], m["sample_rate"], m["channels"], m["decoder"]) == ("mp3", 16000, 1, "ffmpeg")
    assert m["codec"].startswith("mp3")
    assert m["duration_s"] == pytest.approx(1.0, abs=0.15)
    clip = decode_audio(path)
    assert clip.samples.shape == (m["samples"], 1)
    assert dominant_hz(clip.mono(), 16000) == pytest.approx(440.0, abs=8.0)


def test_mp3_written_by_libsndfile_is_accepted(tmp_path: Path) -> None:
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    path = write_sf(tmp_path / "lame.mp3", duration_s=1.0, rate=16000, fmt="MP3", subtype="MPEG_LAYER_III")
    m = probe(path).metadata
    assert m["container"] == "mp3" and m["duration_s"] == pytest.approx(1.0, abs=0.1)
    assert decode_audio(path).samples.shape[0] == m["samples"]


def test_aac_in_m4a_is_probed_and_decoded(tmp_path: Path) -> None:
    path = write_av_audio(tmp_path / "voice.m4a", "aac", container="ipod", duration_s=1.0, rate=16000, channels=2)
    result = probe(path)
    m = result.metadata
    assert result.kind is MediaKind.AUDIO
    assert "mp4" in m["container"] and m["codec"] == "aac"
    assert (m["sample_rate"], m["channels"]) == (16000, 2)
    assert m["duration_s"] == pytest.approx(1.0, abs=0.15)
    clip = decode_audio(path)
    assert clip.samples.shape == (m["samples"], 2) and clip.sample_format == "fltp"
    assert dominant_hz(clip.samples[:, 0], 16000) == pytest.approx(440.0, abs=8.0)
    assert dominant_hz(clip.samples[:, 1], 16000) == pytest.approx(660.0, abs=8.0)


@needs_opus
@pytest.mark.parametrize(("container", "suffix", "decoder"), [("ogg", ".opus", "libsndfile"),
                                                              ("webm", ".webm", "ffmpeg")])
def test_opus_encoded_by_pyav_is_accepted(tmp_path: Path, container: str, suffix: str, decoder: str) -> None:
    path = write_av_audio(tmp_path / f"tone{suffix}", OPUS, container=container, duration_s=1.0, rate=48000)
    result = probe(path)
    m = result.metadata
    assert result.kind is MediaKind.AUDIO and m["decoder"] == decoder
    assert m["sample_rate"] == 48000 and m["channels"] == 1
    assert m["duration_s"] == pytest.approx(1.0, abs=0.1)
    clip = decode_audio(path)
    assert clip.rate == 48000 and clip.samples.shape == (m["samples"], 1)
    assert dominant_hz(clip.mono(), 48000) == pytest.approx(440.0, abs=8.0)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_32", "DOUBLE", "ULAW", "ALAW", "IMA_ADPCM", "MS_ADPCM",
                                     "GSM610"])
def test_other_wav_encodings_are_accepted(tmp_path: Path, subtype: str) -> None:
    rate = 8000 if subtype == "GSM610" else 16000
    path = write_sf(tmp_path / f"{subtype}.wav", duration_s=1.0, rate=rate, fmt="WAV", subtype=subtype)
    m = probe(path).metadata
    assert (m["codec"], m["sample_rate"]) == (subtype, rate)
    assert m["duration_s"] == pytest.approx(1.0, abs=0.05)
    clip = decode_audio(path)
    assert clip.samples.shape == (m["samples"], 1)
    assert dominant_hz(clip.mono(), rate) == pytest.approx(440.0, abs=8.0)


@needs_mp3
def test_mp3_inside_wav_goes_to_ffmpeg_at_probe_and_decode(tmp_path: Path) -> None:
    """libsndfile only estimates the length of MPEG audio in WAV, so FFmpeg reads it, both times."""
    path = write_av_audio(tmp_path / "mp3.wav", MP3, container="wav", duration_s=1.0, bit_rate=32000)
    m = probe(path).metadata
    assert m["decoder"] == "ffmpeg" and m["codec"].startswith("mp3")
    assert decode_audio(path).samples.shape == (m["samples"], 1)


def test_m4a_with_cover_art_is_audio(tmp_path: Path) -> None:
    path = tmp_path / "song.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=16000, layout="mono")
        a.format = "fltp"
        art = out.add_stream("png", rate=1)
        art.width, art.height, art.pix_fmt = 32, 32, "rgb24"
        art.disposition = av.stream.Disposition.attached_pic
        for packet in art.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            out.mux(packet)
        for packet in art.encode(None):
            out.mux(packet)
        x = tone(duration_s=1.0)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x.T), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 16000, 0, Fraction(1, 16000)
        for packet in [*a.encode(frame), *a.encode(None)]:
            out.mux(packet)
    with av.open(str(path)) as c:
        assert c.streams.video, "the cover is stored as a (attached picture) video stream"
    result = probe(path)
    assert result.kind is MediaKind.AUDIO and result.metadata["codec"] == "aac"
    assert decode_audio(path).samples.shape[0] == result.metadata["samples"]


@pytest.mark.parametrize("codec", ["pcm_s16le", "pcm_s32le", "pcm_f32le", "pcm_f64le", "pcm_u8"])
def test_pcm_in_matroska_decodes_through_pyav_exactly(tmp_path: Path, codec: str) -> None:
    """Packed s16/s32/flt/dbl/u8 from FFmpeg are scaled to full scale 1.0, channels in order."""
    path = write_av_audio(tmp_path / f"{codec}.mka", codec, container="matroska", duration_s=0.25,
                          rate=16000, channels=2)
    m = probe(path).metadata
    assert m["decoder"] == "ffmpeg" and m["channels"] == 2 and m["samples"] == 4000
    clip = decode_audio(path)
    expected = tone(duration_s=0.25, rate=16000, channels=2)
    tol = 1.0 / 100 if codec == "pcm_u8" else 1e-4
    assert clip.samples.shape == expected.shape
    assert np.max(np.abs(clip.samples - expected)) < tol


@pytest.mark.parametrize("fmt", ["u8", "s16", "s32", "flt", "dbl", "u8p", "s16p", "s32p", "fltp", "dblp"])
def test_audio_frame_conversion_handles_packed_and_planar(fmt: str) -> None:
    x = tone(duration_s=0.01, rate=16000, channels=2)  # (160, 2)
    base = fmt.rstrip("p")
    scale = {"u8": 127.0, "s16": 32767.0, "s32": 2147483647.0}.get(base)
    data = x.astype(np.float64) if scale is None else np.round(x.astype(np.float64) * scale)
    if base == "u8":
        data = data + 128
    dtype = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "flt": np.float32, "dbl": np.float64}[base]
    data = data.astype(dtype)
    arr = np.ascontiguousarray(data.T) if fmt.endswith("p") else data.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(arr, format=fmt, layout="stereo")
    frame.sample_rate = 16000
    out = audio_frame_to_float32(frame)
    assert out.dtype == np.float32 and out.shape == (160, 2)
    assert np.max(np.abs(out - x)) < (0.01 if base == "u8" else 1e-4)


def test_resampled_frames_keep_channel_order() -> None:
    """Frames coming out of PyAV's resampler (packed s16) convert like decoded ones."""
    x = tone(duration_s=0.02, rate=16000, channels=2)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x.T), format="fltp", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = 16000, 0, Fraction(1, 16000)
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=16000)
    out = np.concatenate([audio_frame_to_float32(f) for f in [*resampler.resample(frame), *resampler.resample(None)]])
    assert out.shape == x.shape and np.max(np.abs(out - x)) < 1e-3


def test_long_wav_probes_fast_with_bounded_memory(tmp_path: Path) -> None:
    """A 10-minute 16 kHz WAV: decoded in blocks, well under a second, a few MB at most."""
    rate, seconds = 16000, 600
    path = tmp_path / "interview.wav"
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16") as fh:
        block = tone(duration_s=60.0, rate=rate)
        for _ in range(seconds // 60):
            fh.write(block)
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        m = probe(path).metadata
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert m["samples"] == rate * seconds and m["duration_s"] == pytest.approx(600.0)
    assert elapsed < 1.5, f"probe took {elapsed:.2f} s"
    assert peak < 8 * 2**20, f"probe held {peak / 2**20:.1f} MiB (whole-file arrays?)"


# --- video --------------------------------------------------------------------------------------

VIDEO_CASES = [
    pytest.param(H264, "mp4", "clip.mp4", "aac", id="h264-aac-mp4", marks=needs_h264),
    pytest.param(H264, "mpegts", "clip.ts", "aac", id="h264-aac-mpegts", marks=needs_h264),
    pytest.param(H264, "h264", "raw.h264", None, id="raw-h264-not-seekable", marks=needs_h264),
    pytest.param("libvpx-vp9", "webm", "clip.webm", OPUS, id="vp9-opus-webm",
                 marks=pytest.mark.skipif(not (has_encoder("libvpx-vp9") and OPUS), reason="no VP9/Opus encoder")),
    pytest.param(H264, "mp4", "silent.mp4", None, id="h264-mp4-no-audio", marks=needs_h264),
    pytest.param("mpeg4", "matroska", "clip.mkv", "aac", id="mpeg4-aac-mkv", marks=needs_mpeg4),
    pytest.param("mpeg4", "matroska", "silent.mkv", None, id="mpeg4-mkv-no-audio", marks=needs_mpeg4),
    pytest.param("mpeg4", "avi", "clip.avi", None, id="mpeg4-avi", marks=needs_mpeg4),
]


@pytest.mark.parametrize(("codec", "container", "fname", "audio"), VIDEO_CASES)
def test_video_is_probed_and_opened(tmp_path: Path, codec: str, container: str, fname: str, audio: str | None) -> None:
    path = write_av_video(tmp_path / fname, codec, container=container, frames=20, fps=25, audio=audio)
    result = probe(path)
    m = result.metadata
    assert result.kind is MediaKind.VIDEO
    assert (m["width"], m["height"], m["fps"], m["frame_count"]) == (64, 48, 25.0, 20)
    assert m["duration_s"] == pytest.approx(0.8, abs=0.15)
    assert m["keyframes"] >= 2 and m["pixel_format"] == "yuv420p"
    assert m["audio_track"] is (audio is not None)
    if audio:
        assert m["audio_codec"] in ("aac", "opus", "libopus") and m["audio_channels"] == 1
        assert m["audio_sample_rate"] in (16000, 48000)
    assert m["last_keyframe_decoded"] is (container != "h264")  # a raw stream cannot seek
    src = open_video(path)
    assert isinstance(src, VideoSource)
    assert (src.width, src.height, src.n_frames, src.fps) == (64, 48, 20, 25.0)
    frames = list(src.frames())
    assert [i for i, _, _ in frames] == list(range(20))
    assert all(rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8 for _, _, rgb in frames)
    assert np.diff([t for _, t, _ in frames]) == pytest.approx(np.full(19, 0.04), abs=1e-3)
    # the moving white bar is where it was drawn
    assert int(np.argmax(frames[5][2][:, :, 0].mean(axis=0))) == 15
    part = list(src.frames(start=5, stop=8))
    assert [i for i, _, _ in part] == [5, 6, 7]
    assert np.array_equal(part[0][2], frames[5][2])
    packets = list(src.packets())
    assert len(packets) == 20 and sum(p.keyframe for p in packets) == m["keyframes"]
    assert packets[0].keyframe and all(p.size > 0 for p in packets)
    if audio:
        clip = decode_audio(path)
        assert clip.rate == m["audio_sample_rate"] and clip.n_channels == 1
        assert clip.duration_s == pytest.approx(0.8, abs=0.15)
        assert dominant_hz(clip.mono(), clip.rate) == pytest.approx(440.0, abs=8.0)
    else:
        with pytest.raises(UnsupportedMedia, match=fname):
            decode_audio(path)


@needs_h264
def test_video_probe_demuxes_everything_but_decodes_only_a_few_frames(tmp_path: Path, monkeypatch) -> None:
    path = write_av_video(tmp_path / "long.mp4", H264, frames=300, fps=25, gop=50)
    decoded = {"frames": 0, "packets": 0}
    real_open = av.open

    class Packet:
        def __init__(self, packet):
            self._p = packet

        def __getattr__(self, attr):
            return getattr(self._p, attr)

        def decode(self):
            frames = self._p.decode()
            decoded["frames"] += len(frames)
            return frames

    class Container:
        def __init__(self, container):
            self._c = container

        def __getattr__(self, attr):
            return getattr(self._c, attr)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._c.close()

        def demux(self, *args, **kwargs):
            for packet in self._c.demux(*args, **kwargs):
                decoded["packets"] += 1
                yield Packet(packet)

        def decode(self, *args, **kwargs):
            for frame in self._c.decode(*args, **kwargs):
                decoded["frames"] += 1
                yield frame

    monkeypatch.setattr(probe_mod.av, "open", lambda *a, **k: Container(real_open(*a, **k)))
    m = probe(path).metadata
    assert m["frame_count"] == 300 and m["keyframes"] == 6
    assert decoded["packets"] >= 300
    assert decoded["frames"] <= 4, f"probe decoded {decoded['frames']} frames"


# --- images -------------------------------------------------------------------------------------

IMAGE_CASES = [
    ("photo.jpg", "JPEG", "RGB", {"quality": 92}),
    ("lossless.png", "PNG", "RGB", {}),
    ("scan.tif", "TIFF", "RGB", {"compression": "tiff_lzw"}),
    ("web.webp", "WEBP", "RGB", {"quality": 80}),
    ("anim.gif", "GIF", "P", {}),
    ("bitmap.bmp", "BMP", "RGB", {}),
    pytest.param("modern.avif", "AVIF", "RGB", {"quality": 80}, id="avif",
                 marks=pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")),
]


@pytest.mark.parametrize(("fname", "fmt", "mode", "save"), IMAGE_CASES)
def test_images_are_probed_and_decoded(tmp_path: Path, fname: str, fmt: str, mode: str, save: dict) -> None:
    path = write_image(tmp_path / fname, fmt, mode=mode, width=80, height=60, **save)
    result = probe(path)
    m = result.metadata
    assert result.kind is MediaKind.IMAGE
    assert (m["container"], m["width"], m["height"], m["mode"], m["frames"]) == (fmt, 80, 60, mode, 1)
    still = decode_image(path)
    assert isinstance(still, StillImage) and still.format == fmt
    assert still.pixels.shape == (60, 80, 3) and still.pixels.dtype == np.uint8
    if fmt in ("PNG", "TIFF", "BMP"):
        assert np.array_equal(still.pixels, noise_rgb(80, 60))


def test_animated_gif_counts_frames(tmp_path: Path) -> None:
    frames = [Image.fromarray(noise_rgb(32, 24, seed=i)).convert("P") for i in range(4)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    m = probe(path).metadata
    assert m["container"] == "GIF" and m["frames"] == 4
    assert decode_image(path).pixels.shape == (24, 32, 3)


def test_jpeg_exif_is_reported(tmp_path: Path) -> None:
    img = Image.fromarray(noise_rgb())
    exif = Image.Exif()
    exif[0x010F] = "ACME"
    exif[0x0110] = "Cam 1"
    exif[0x0131] = "GenTool 2.0"
    path = tmp_path / "exif.jpg"
    img.save(path, exif=exif, quality=90)
    m = probe(path).metadata
    assert m["exif"] is True
    assert m["exif_tags"] == {"make": "ACME", "model": "Cam 1", "software": "GenTool 2.0"}
    assert probe(write_image(tmp_path / "plain.jpg", "JPEG")).metadata["exif"] is False


def test_image_pixel_modes_become_rgb_uint8(tmp_path: Path) -> None:
    rgb = noise_rgb(40, 30)
    # palette with transparency
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    out = decode_image(tmp_path / "pal.png").pixels
    assert out.shape == (30, 40, 3)
    assert np.array_equal(out, np.asarray(pal.convert("RGB")))
    # RGBA: alpha dropped, colour kept
    rgba = np.dstack([rgb, np.full((30, 40), 7, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert np.array_equal(decode_image(tmp_path / "rgba.png").pixels, rgb)
    # 16-bit greyscale PNG: scaled to 8 bits, not clipped at 255
    grey16 = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    assert probe(tmp_path / "grey16.png").metadata["mode"].startswith("I")
    out = decode_image(tmp_path / "grey16.png").pixels
    assert out.dtype == np.uint8 and out[..., 0].max() == 255 and out[..., 0].min() == 0
    assert np.abs(out[..., 0].astype(int) - np.round(grey16 / 257.0)).max() <= 1
    assert np.array_equal(out[..., 0], out[..., 2])
    # CMYK JPEG
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert probe(tmp_path / "cmyk.jpg").metadata["mode"] == "CMYK"
    out = decode_image(tmp_path / "cmyk.jpg").pixels
    assert out.shape == (30, 40, 3) and np.abs(out.astype(int) - rgb.astype(int)).mean() < 12
    # greyscale and 1-bit
    Image.fromarray(rgb).convert("L").save(tmp_path / "l.png")
    assert decode_image(tmp_path / "l.png").pixels.shape == (30, 40, 3)
    Image.fromarray(rgb).convert("1").save(tmp_path / "bw.tif")
    assert set(np.unique(decode_image(tmp_path / "bw.tif").pixels)) <= {0, 255}


# --- identification by content ------------------------------------------------------------------


def test_kind_comes_from_content_not_extension(tmp_path: Path) -> None:
    wav = write_sf(tmp_path / "actually_audio.jpg", fmt="WAV", subtype="PCM_16")
    assert probe(wav).kind is MediaKind.AUDIO
    assert isinstance(decode(wav, "audio"), AudioClip)
    jpg = write_image(tmp_path / "actually_image.wav", "JPEG")
    assert probe(jpg).kind is MediaKind.IMAGE
    assert isinstance(decode(jpg, MediaKind.IMAGE), StillImage)
    png = write_image(tmp_path / "noext", "PNG")
    assert probe(png).kind is MediaKind.IMAGE
    if H264:
        mp4 = write_av_video(tmp_path / "actually_video.mp3", H264, frames=10, container="mp4")
        assert probe(mp4).kind is MediaKind.VIDEO
        assert isinstance(decode(mp4, "video"), VideoSource)


def test_decode_refuses_what_it_cannot_open(tmp_path: Path) -> None:
    wav = write_sf(tmp_path / "a.wav", fmt="WAV", subtype="PCM_16")
    with pytest.raises(UnsupportedMedia, match="a.wav"):
        open_video(wav)
    with pytest.raises(UnsupportedMedia, match="unknown media kind"):
        decode(wav, "hologram")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CorruptMedia, match="junk.mp4"):
        open_video(junk)
    with pytest.raises(CorruptMedia, match="junk.mp4"):
        decode_audio(junk)
    with pytest.raises((CorruptMedia, UnsupportedMedia), match="junk.mp4"):
        decode_image(junk)


def test_sample_buffer_grows_past_a_wrong_estimate() -> None:
    from forensics_app.ingest.decode import _SampleBuffer

    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((n, 2)).astype(np.float32) for n in (100, 1000, 37, 5000)]
    for capacity in (0, 10, 6137, 100_000):
        buf = _SampleBuffer(capacity)
        for b in blocks:
            buf.append(b)
        out = buf.result()
        assert out.shape == (6137, 2) and np.array_equal(out, np.concatenate(blocks))


def test_probe_does_not_change_pillow_globals(tmp_path: Path) -> None:
    before = Image.MAX_IMAGE_PIXELS
    probe(write_image(tmp_path / "x.png", "PNG"))
    assert Image.MAX_IMAGE_PIXELS == before


def test_pyav_encoders_available_are_reported() -> None:
    """Documents what the bundled FFmpeg can write (the tests above skip what is missing)."""
    names = ["libmp3lame", "mp3", "aac", "libopus", "opus", "libvorbis", "vorbis", "flac", "libx264",
             "mpeg4", "libvpx-vp9", "libx265", "mjpeg"]
    available = {n: has_encoder(n) for n in names}
    assert available["aac"] and available["flac"]
    print("PyAV encoders:", ", ".join(n for n, ok in available.items() if ok))


def test_video_frames_from_the_middle_seek_and_match_sequential_decoding(tmp_path: Path) -> None:
    from forensics_app.demo import media
    from forensics_app.ingest.decode import open_video

    path = media.test_video(tmp_path / "v.mp4", n_frames=60, fps=25, drop_frames=(20,), seed=1)
    video = open_video(path)
    full = list(video.frames())
    part = list(video.frames(start=41, stop=47))
    assert [i for i, _, _ in part] == list(range(41, 47))
    for (i, t, rgb), (j, u, ref) in zip(part, full[41:47], strict=True):
        assert i == j and abs(t - u) < 1e-6
        np.testing.assert_array_equal(rgb, ref)
