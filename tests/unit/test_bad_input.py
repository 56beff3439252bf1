"""Bad evidence is refused with the right exception and a message naming the file and the reason.

Every damaged file here is made from a real, valid file generated in the test (truncated, bytes
flipped, header fields changed), and the same refusals are checked through acquisition.
"""

from __future__ import annotations

import os
import resource
import struct
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from badfiles import (
    cut,
    first_encoder,
    flip_byte,
    has_encoder,
    iso_boxes,
    png_chunk_offsets,
    png_with_size,
    tone,
    wav_bytes,
    write_av_audio,
    write_av_video,
    write_image,
    write_sf,
)
from PIL import Image, ImageFile, features

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_audio
from forensics_app.ingest.probe import (
    FFMPEG_FORMATS,
    MAX_IMAGE_PIXELS,
    mpeg_audio_frame_size,
    probe,
)
from forensics_app.store import repo
from forensics_app.store.case import CaseStore

MP3 = first_encoder("libmp3lame", "mp3")
OPUS = first_encoder("libopus", "opus")
H264 = first_encoder("libx264", "h264")
needs_mp3 = pytest.mark.skipif(MP3 is None, reason="the installed PyAV has no MP3 encoder")
needs_opus = pytest.mark.skipif(OPUS is None, reason="the installed PyAV has no Opus encoder")
needs_h264 = pytest.mark.skipif(H264 is None, reason="the installed PyAV has no H.264 encoder")
needs_mpeg4 = pytest.mark.skipif(not has_encoder("mpeg4"), reason="the installed PyAV has no MPEG-4 encoder")


def refused(path: Path, exc_type: type[Exception], *patterns: str, display_name: str | None = None) -> str:
    """Probe ``path``; it must raise ``exc_type`` naming the file and matching ``patterns``."""
    with pytest.raises(exc_type) as info:
        probe(path, display_name=display_name)
    message = str(info.value)
    assert message.startswith(f"{display_name or path.name}: "), message
    for pattern in patterns:
        assert pattern in message, f"{pattern!r} not in {message!r}"
    return message


# --- not media at all ---------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.touch()
    refused(empty, CorruptMedia, "empty (0 bytes)")


def test_text_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Interview transcript, page 1.\nNothing to see here.\n" * 40)
    refused(notes, UnsupportedMedia, "not audio, video or a still image")


def test_plain_text_that_ffmpegs_tty_demuxer_accepts_is_unsupported(tmp_path: Path) -> None:
    notes = tmp_path / "readme.txt"
    notes.write_text("plain ASCII text, as a .txt/.nfo/.asc file\n" * 100)
    with av.open(str(notes)) as container:  # FFmpeg alone would take it as a 'video'
        assert container.format.name == "tty" and container.streams.video
    assert "tty" not in FFMPEG_FORMATS
    refused(notes, UnsupportedMedia, "not audio, video or a still image")


@pytest.mark.parametrize(("fname", "text"), [
    ("subs.srt", "1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:03,000 --> 00:00:04,000\nBye\n"),
    ("subs.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nHello\n"),
    ("list.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nsegment0.ts\n#EXT-X-ENDLIST\n"),
    ("concat.ffconcat", "ffconcat version 1.0\nfile 'other.wav'\n"),
    ("meta.txt", ";FFMETADATA1\ntitle=nothing\n"),
])
def test_subtitles_playlists_and_metadata_are_unsupported(tmp_path: Path, fname: str, text: str) -> None:
    path = tmp_path / fname
    path.write_text(text)
    refused(path, UnsupportedMedia)


def test_random_bytes_without_a_media_name_are_unsupported(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(np.random.default_rng(1).bytes(64_000))
    refused(blob, UnsupportedMedia, "not audio, video or a still image")
    blob2 = tmp_path / "noextension"
    blob2.write_bytes(np.random.default_rng(2).bytes(5_000))
    refused(blob2, UnsupportedMedia)


@pytest.mark.parametrize("suffix", [".mp4", ".wav", ".jpg", ".mp3", ".flac", ".png", ".mkv"])
def test_random_bytes_with_a_media_name_are_corrupt(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"evidence{suffix}"
    path.write_bytes(np.random.default_rng(3).bytes(64_000))
    refused(path, CorruptMedia, f"looks like {suffix[1:].upper()} media by its name, but")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "clip.wav"
    folder.mkdir()
    refused(folder, UnsupportedMedia, "is a folder, not a file")


def test_fifo_is_not_a_regular_file_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    refused(fifo, UnsupportedMedia, "not a regular file")


def test_unaccepted_image_format_is_not_taken_for_a_one_frame_video(tmp_path: Path) -> None:
    icon = tmp_path / "icon.ico"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(icon)
    with av.open(str(icon)) as container:  # FFmpeg alone would call it video
        assert container.streams.video
    refused(icon, UnsupportedMedia)


# --- audio --------------------------------------------------------------------------------------


def test_truncated_wav_is_refused_although_libsndfile_clamps_its_length(tmp_path: Path) -> None:
    good = write_sf(tmp_path / "good.wav", duration_s=1.0, fmt="WAV", subtype="PCM_16")
    bad = cut(good, tmp_path / "cut.wav", 0.5)
    # libsndfile silently reports the frames present, not the frames the data chunk declares
    info = sf.info(str(bad))
    assert info.frames < 16000 and abs(info.frames - 8000) < 20
    refused(bad, CorruptMedia, "WAV audio is truncated", "data chunk declares")


def test_wav_cut_inside_its_header_is_corrupt(tmp_path: Path) -> None:
    good = write_sf(tmp_path / "good.wav", duration_s=1.0, fmt="WAV", subtype="PCM_16")
    refused(cut(good, tmp_path / "head.wav", 30 / good.stat().st_size), CorruptMedia, "WAV audio is truncated")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_flac(tmp_path: Path, fraction: float) -> None:
    good = write_sf(tmp_path / "good.flac", duration_s=3.0, fmt="FLAC")
    refused(cut(good, tmp_path / "cut.flac", fraction), CorruptMedia, "FLAC")


def test_flac_cut_at_a_frame_boundary(tmp_path: Path) -> None:
    good = write_sf(tmp_path / "good.flac", duration_s=3.0, fmt="FLAC")
    data = good.read_bytes()
    syncs = [i for i in range(42, len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xF8]
    bad = tmp_path / "boundary.flac"
    bad.write_bytes(data[:syncs[len(syncs) // 2]])
    refused(bad, CorruptMedia, "FLAC audio is truncated")


@needs_mp3
def test_truncated_mp3_with_xing_header(tmp_path: Path) -> None:
    good = write_av_audio(tmp_path / "good.mp3", MP3, container="mp3", duration_s=2.0, bit_rate=32000)
    refused(cut(good, tmp_path / "cut.mp3", 0.5), CorruptMedia, "truncated", "declares 2.000 s")


@needs_mp3
def test_truncated_mp3_without_xing_header_ends_in_a_partial_frame(tmp_path: Path) -> None:
    good = write_av_audio(tmp_path / "good.mp3", MP3, container="mp3", duration_s=2.0, bit_rate=32000,
                          options={"write_xing": "0"})
    assert probe(good).metadata["duration_s"] > 1.9
    refused(cut(good, tmp_path / "cut.mp3", 0.5), CorruptMedia, "MPEG audio is truncated", "last frame")


@needs_mp3
def test_mp3_with_tags_or_padding_after_the_last_frame_is_accepted(tmp_path: Path) -> None:
    good = write_av_audio(tmp_path / "good.mp3", MP3, container="mp3", duration_s=1.0, bit_rate=32000)
    samples = probe(good).metadata["samples"]
    id3v1 = b"TAG" + b"title".ljust(30, b"\0") + b"\0" * 95
    for tail in (id3v1, b"\0" * 50):
        padded = tmp_path / "padded.mp3"
        padded.write_bytes(good.read_bytes() + tail)
        assert probe(padded).metadata["samples"] == samples
        assert decode_audio(padded).samples.shape[0] == samples


@needs_mp3
def test_mp3_with_garbage_in_the_middle(tmp_path: Path) -> None:
    good = write_av_audio(tmp_path / "good.mp3", MP3, container="mp3", duration_s=2.0, bit_rate=32000)
    data = good.read_bytes()
    bad = tmp_path / "spliced.mp3"
    bad.write_bytes(data[:len(data) // 2] + b"\0" * 400 + data[len(data) // 2:])
    refused(bad, CorruptMedia, "MP3 audio")


def test_adts_aac_accepted_and_truncated(tmp_path: Path) -> None:
    good = write_av_audio(tmp_path / "good.aac", "aac", container="adts", duration_s=2.0)
    m = probe(good).metadata
    assert (m["container"], m["codec"]) == ("aac", "aac") and m["duration_s"] == pytest.approx(2.0, abs=0.15)
    assert decode_audio(good).samples.shape[0] == m["samples"]
    refused(cut(good, tmp_path / "cut.aac", 0.5), CorruptMedia, "AAC (ADTS) audio")


def test_mpeg_audio_frame_size() -> None:
    assert mpeg_audio_frame_size(bytes([0xFF, 0xFB, 0x90, 0x64])) == 417  # MPEG-1 L3 128k 44.1k
    assert mpeg_audio_frame_size(bytes([0xFF, 0xFB, 0x92, 0x64])) == 418  # padded
    assert mpeg_audio_frame_size(bytes([0xFF, 0xF3, 0x48, 0xC4])) == 144  # MPEG-2 L3 32k 16k
    assert mpeg_audio_frame_size(bytes([0xFF, 0xF3, 0x40, 0xC4])) == 104  # MPEG-2 L3 32k 22.05k
    assert mpeg_audio_frame_size(b"TAG\x00") is None


def test_truncated_ogg_vorbis(tmp_path: Path) -> None:
    good = write_sf(tmp_path / "good.ogg", duration_s=3.0, fmt="OGG", subtype="VORBIS")
    refused(cut(good, tmp_path / "cut.ogg", 0.5), CorruptMedia, "Ogg")


@pytest.mark.parametrize("where", ["mid-page", "page-boundary"])
def test_truncated_ogg_opus(tmp_path: Path, where: str) -> None:
    good = write_sf(tmp_path / "good.opus", duration_s=3.0, rate=48000, fmt="OGG", subtype="OPUS")
    data = good.read_bytes()
    pages = [i for i in range(len(data)) if data[i:i + 4] == b"OggS"]
    end = pages[-1] if where == "page-boundary" else (pages[-2] + pages[-1]) // 2
    bad = tmp_path / "cut.opus"
    bad.write_bytes(data[:end])
    refused(bad, CorruptMedia, "Ogg stream is truncated")


def test_truncated_m4a(tmp_path: Path) -> None:
    good = write_av_audio(tmp_path / "good.m4a", "aac", container="ipod", duration_s=2.0)
    refused(cut(good, tmp_path / "cut.m4a", 0.6), CorruptMedia, "truncated")


@pytest.mark.parametrize(("header", "patterns"), [
    ({"channels": 0}, ["declares 0 channels"]),
    ({"channels": 5000}, ["declares 5000 channels"]),
    ({"channels": 65535}, ["declares 65535 channels"]),
    ({"rate": 0}, ["sample rate of 0 Hz"]),
    ({"rate": 1}, ["sample rate of 1 Hz"]),
    ({"rate": 3_000_000}, ["sample rate of 3000000 Hz"]),
    ({"rate": 0xFFFFFFFF}, ["sample rate of 4294967295 Hz"]),
])
def test_wav_header_with_absurd_values(tmp_path: Path, header: dict, patterns: list[str]) -> None:
    path = tmp_path / "absurd.wav"
    path.write_bytes(wav_bytes(**header))
    refused(path, CorruptMedia, *patterns)
    odd_name = tmp_path / "absurd.dat"  # the same content under another name
    odd_name.write_bytes(path.read_bytes())
    refused(odd_name, CorruptMedia, *patterns)


def test_wav_with_nan_samples(tmp_path: Path) -> None:
    x = tone(duration_s=0.5)
    x[1234, 0] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    refused(path, CorruptMedia, "non-finite")


def test_streamed_wav_with_unpatched_sizes_is_accepted(tmp_path: Path) -> None:
    """A recorder that never patched the data size (0xFFFFFFFF) left a readable file."""
    path = tmp_path / "streamed.wav"
    path.write_bytes(wav_bytes(n_bytes=3200, data_size=0xFFFFFFFF))
    assert probe(path).metadata["samples"] == 1600


# --- video --------------------------------------------------------------------------------------


@needs_h264
def test_truncated_mp4_without_its_moov_index(tmp_path: Path) -> None:
    good = write_av_video(tmp_path / "good.mp4", H264, container="mp4", frames=50, audio="aac")
    boxes = [b for b, _, _ in iso_boxes(good.read_bytes())]
    assert boxes.index(b"moov") > boxes.index(b"mdat"), "the index is written at the end"
    refused(cut(good, tmp_path / "half.mp4", 0.5), CorruptMedia, "truncated", "'mdat'")
    mdat = next((o, s) for b, o, s in iso_boxes(good.read_bytes()) if b == b"mdat")
    no_moov = tmp_path / "nomoov.mp4"
    no_moov.write_bytes(good.read_bytes()[:sum(mdat)])
    refused(no_moov, CorruptMedia, "no 'moov' index")


@needs_h264
@pytest.mark.parametrize("fraction", [0.3, 0.9, 0.995])
def test_mp4_with_moov_first_but_frames_cut(tmp_path: Path, fraction: float) -> None:
    good = write_av_video(tmp_path / "good.mp4", H264, container="mp4", frames=50, audio="aac",
                          options={"movflags": "faststart"})
    boxes = [b for b, _, _ in iso_boxes(good.read_bytes())]
    assert boxes.index(b"moov") < boxes.index(b"mdat")
    refused(cut(good, tmp_path / "cut.mp4", fraction), CorruptMedia, "truncated")


@needs_h264
def test_mp4_with_a_patched_mdat_size_still_misses_frames(tmp_path: Path) -> None:
    """Even when the box sizes were 'repaired' to fit, the sample tables expose missing frames."""
    good = write_av_video(tmp_path / "good.mp4", H264, container="mp4", frames=50,
                          options={"movflags": "faststart"})
    data = good.read_bytes()
    offset, size = next((o, s) for b, o, s in iso_boxes(data) if b == b"mdat")
    keep = offset + size // 2
    bad = bytearray(data[:keep])
    bad[offset:offset + 4] = struct.pack(">I", keep - offset)
    path = tmp_path / "patched.mp4"
    path.write_bytes(bytes(bad))
    message = refused(path, CorruptMedia)
    assert "declares 50 frames" in message or "corrupt video packet" in message


@needs_mpeg4
@pytest.mark.parametrize("segment", ["known-size", "unknown-size"])
def test_truncated_matroska(tmp_path: Path, segment: str) -> None:
    good = write_av_video(tmp_path / "good.mkv", "mpeg4", container="matroska", frames=100, audio="aac")
    data = bytearray(good.read_bytes())
    if segment == "unknown-size":  # as a live recorder writes it: the check falls to the duration
        k = data.find(bytes.fromhex("18538067"))
        data[k + 4:k + 12] = bytes.fromhex("01ffffffffffffff")
        (tmp_path / "live.mkv").write_bytes(bytes(data))
        assert probe(tmp_path / "live.mkv").metadata["frame_count"] == 100
    bad = tmp_path / "cut.mkv"
    bad.write_bytes(bytes(data[:int(len(data) * 0.6)]))
    refused(bad, CorruptMedia, "truncated")


# --- images -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP", "GIF"])
@pytest.mark.parametrize("fraction", [0.5, 0.95])
def test_truncated_images(tmp_path: Path, fmt: str, fraction: float) -> None:
    good = write_image(tmp_path / f"good.{fmt.lower()}", fmt, width=120, height=90)
    refused(cut(good, tmp_path / f"cut.{fmt.lower()}", fraction), CorruptMedia, fmt if fmt != "WEBP" else "")


def test_truncated_avif_and_unsupported_heic(tmp_path: Path) -> None:
    if not features.check("avif"):
        pytest.skip("Pillow built without AVIF")
    good = write_image(tmp_path / "good.avif", "AVIF", quality=80)
    refused(cut(good, tmp_path / "cut.avif", 0.5), CorruptMedia, "HEIF/AVIF image is truncated")
    heic = bytearray(good.read_bytes())
    heic[8:12] = b"heic"  # same ISO-BMFF layout, a HEIC brand: no decoder here
    (tmp_path / "photo.heic").write_bytes(bytes(heic))
    refused(tmp_path / "photo.heic", UnsupportedMedia, "HEIF/HEIC images are not supported")


def test_jpeg_missing_only_its_end_marker(tmp_path: Path) -> None:
    good = write_image(tmp_path / "good.jpg", "JPEG")
    data = good.read_bytes()
    assert data.endswith(b"\xff\xd9")
    bad = tmp_path / "noeoi.jpg"
    bad.write_bytes(data[:-2])
    refused(bad, CorruptMedia, "JPEG image is truncated")


def test_jpeg_and_png_checks_hold_when_pillow_is_told_to_load_truncated_images(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    jpg = write_image(tmp_path / "good.jpg", "JPEG", width=160, height=120, progressive=True)
    png = write_image(tmp_path / "good.png", "PNG", width=160, height=120)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # a global someone else may set
    refused(cut(jpg, tmp_path / "cut.jpg", 0.5), CorruptMedia, "JPEG image is truncated")
    refused(cut(png, tmp_path / "cut.png", 0.7), CorruptMedia, "PNG image is truncated")


def test_data_appended_after_an_image_is_accepted_and_counted(tmp_path: Path) -> None:
    """Motion photos append a video after the JPEG's EOI; random bytes may hold 0xFFDA/0xFFD9."""
    jpg = write_image(tmp_path / "photo.jpg", "JPEG", width=160, height=120)
    tail = np.random.default_rng(8).bytes(200_000) + b"\xff\xda\x00\x05abc"
    motion = tmp_path / "motion.jpg"
    motion.write_bytes(jpg.read_bytes() + tail)
    assert probe(motion).metadata["trailing_bytes"] == len(tail)
    png = write_image(tmp_path / "image.png", "PNG")
    appended = tmp_path / "appended.png"
    hidden = b"PK\x03\x04 hidden archive"
    appended.write_bytes(png.read_bytes() + hidden)
    assert probe(appended).metadata["trailing_bytes"] == len(hidden)


@needs_h264
def test_data_appended_after_an_mp4_is_not_a_damaged_box(tmp_path: Path) -> None:
    mp4 = write_av_video(tmp_path / "clip.mp4", H264, container="mp4", frames=10)
    padded = tmp_path / "padded.mp4"
    padded.write_bytes(mp4.read_bytes() + b"\x00\x01\x02\x03\xfe\xff" * 100)
    assert probe(padded).metadata["frame_count"] == 10


def test_png_missing_only_its_iend_chunk(tmp_path: Path) -> None:
    good = write_image(tmp_path / "good.png", "PNG")
    bad = tmp_path / "noiend.png"
    bad.write_bytes(good.read_bytes()[:-12])
    refused(bad, CorruptMedia, "PNG image is truncated")


def test_png_with_a_corrupted_idat_crc(tmp_path: Path) -> None:
    good = write_image(tmp_path / "good.png", "PNG")
    pos, length = png_chunk_offsets(good.read_bytes())[b"IDAT"]
    crc_only = flip_byte(good, tmp_path / "crc.png", pos + 8 + length)  # the pixels still decode
    with Image.open(crc_only) as img:
        img.load()  # Pillow does not check IDAT CRCs
    refused(crc_only, CorruptMedia, "CRC mismatch", "IDAT")
    data_flip = flip_byte(good, tmp_path / "data.png", pos + 8 + length // 2)
    refused(data_flip, CorruptMedia, "PNG")


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (20_000, 10_000), (2**31 - 1, 2)])
def test_image_bomb_is_refused_quickly_without_allocating(tmp_path: Path, width: int, height: int,
                                                          monkeypatch) -> None:
    bomb = png_with_size(tmp_path / "bomb.png", width, height)
    rss_before = _max_rss_mib()
    t0 = time.perf_counter()
    refused(bomb, UnsupportedMedia, "too large")
    # the same with Pillow's own guard switched off by someone else: the local check still holds
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    refused(bomb, UnsupportedMedia, "too large", f"{MAX_IMAGE_PIXELS:,}")
    assert time.perf_counter() - t0 < 1.0
    assert _max_rss_mib() - rss_before < 200


# --- names --------------------------------------------------------------------------------------


def test_hostile_file_name_is_still_named(tmp_path: Path) -> None:
    name = "Zeugenaussage – ünïcødé 証拠 $(rm -rf ~)\nfake line.wav"
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(4).bytes(10_000))
    escaped = "Zeugenaussage – ünïcødé 証拠 $(rm -rf ~)\\nfake line.wav"
    message = refused(path, CorruptMedia, display_name=escaped)
    assert "\n" not in message
    with pytest.raises(CorruptMedia) as info:
        probe(path)
    assert str(info.value).startswith(escaped + ": ")
    # a display name (the original, when a copy is probed) is what the message names
    copy = tmp_path / "0123abcd.part"
    copy.write_bytes(path.read_bytes())
    with pytest.raises(CorruptMedia) as info:
        probe(copy, display_name=name)
    assert str(info.value).startswith(escaped + ": ") and "0123abcd" not in str(info.value)
    # a right-to-left override would make "invoice_\\u202egpj.mp4" display as "invoice_4pm.jpg"
    with pytest.raises(CorruptMedia) as info:
        probe(copy, display_name="invoice_\u202egpj.mp4")
    assert str(info.value).startswith("invoice_\\u202egpj.mp4: ")


def test_probing_a_copy_ignores_its_name(tmp_path: Path) -> None:
    """At acquisition the copy is named *.part: content alone decides, the message uses the original."""
    wav = write_sf(tmp_path / "x.part", fmt="WAV", subtype="PCM_16")
    assert probe(wav, display_name="call.mp4").kind.value == "audio"
    blob = tmp_path / "y.part"
    blob.write_bytes(np.random.default_rng(5).bytes(20_000))
    with pytest.raises(CorruptMedia, match=r"^call\.mp4: looks like MP4 media by its name"):
        probe(blob, display_name="call.mp4")


# --- acquisition --------------------------------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    empty = tmp_path / "empty.wav"
    empty.touch()
    files["empty"] = empty
    text = tmp_path / "notes.txt"
    text.write_text("not media\n" * 100)
    files["text"] = text
    rnd = tmp_path / "random.mp4"
    rnd.write_bytes(np.random.default_rng(6).bytes(30_000))
    files["random"] = rnd
    files["truncated-wav"] = cut(write_sf(tmp_path / "w.wav", duration_s=1.0), tmp_path / "cut wav.wav", 0.5)
    files["truncated-png"] = cut(write_image(tmp_path / "p.png", "PNG"), tmp_path / "cut.png", 0.5)
    files["bomb"] = png_with_size(tmp_path / "bomb.png", 100_000, 100_000)
    absurd = tmp_path / "absurd.wav"
    absurd.write_bytes(wav_bytes(channels=5000))
    files["absurd-wav"] = absurd
    hostile = tmp_path / "é 証拠\nline.jpg"
    hostile.write_bytes(np.random.default_rng(7).bytes(3_000))
    files["hostile-name"] = hostile
    return files


@pytest.mark.parametrize("which", ["empty", "text", "random", "truncated-wav", "truncated-png", "bomb",
                                   "absurd-wav", "hostile-name"])
def test_refused_file_leaves_the_case_unchanged(case: CaseStore, tmp_path: Path, which: str) -> None:
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = _bad_files(src_dir)[which]
    before_bytes, before_stat = src.read_bytes(), src.stat()
    with case.session() as s:
        n_audit = len(repo.list_audit(s))
    r = add_evidence(case, src, examiner="Ann")
    assert r.outcome is Outcome.REFUSED and r.evidence_id is None
    assert src.name.split("\n")[0] in r.reason
    with case.session() as s:
        assert list(repo.list_evidence(s)) == []
        events = repo.list_audit(s)
    assert len(events) == n_audit + 1
    last = events[-1]
    assert last.action == "evidence.refused" and last.details["reason"] == r.reason
    assert last.details["file"] == str(src)
    assert [p for p in case.evidence_dir.rglob("*") if not p.is_dir()] == []
    incoming = case.evidence_dir / ".incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []
    after = src.stat()
    assert src.read_bytes() == before_bytes
    assert (after.st_mtime_ns, after.st_size, after.st_mode) == (
        before_stat.st_mtime_ns, before_stat.st_size, before_stat.st_mode)


def test_missing_file_with_a_hostile_name_is_refused_with_the_name_escaped(case: CaseStore,
                                                                            tmp_path: Path) -> None:
    """The early refusals (before any probe) escape the name too: no forged line, no RTL trick."""
    src = tmp_path / "statement\nforged line \u202egpj.wav"
    r = add_evidence(case, src, examiner="Ann")
    assert r.outcome is Outcome.REFUSED and r.evidence_id is None
    assert r.reason.startswith("statement\\nforged line \\u202egpj.wav: cannot be read (")
    assert "\n" not in r.reason and "\u202e" not in r.reason
    assert r.original == str(src)  # the record keeps the real path; only the message is escaped


def test_refusal_then_good_file_is_added(case: CaseStore, tmp_path: Path) -> None:
    bad = cut(write_sf(tmp_path / "a.flac", duration_s=2.0, fmt="FLAC"), tmp_path / "cut.flac", 0.5)
    assert add_evidence(case, bad, examiner="Ann").outcome is Outcome.REFUSED
    good = write_sf(tmp_path / "b.flac", duration_s=2.0, fmt="FLAC")
    r = add_evidence(case, good, examiner="Ann")
    assert r.outcome is Outcome.ADDED and r.media_kind == "audio"
    assert r.metadata["container"] == "FLAC" and r.metadata["samples"] == 32000
    with case.session() as s:
        assert [e.original_name for e in repo.list_evidence(s)] == ["b.flac"]
    assert list((case.evidence_dir / ".incoming").iterdir()) == []
