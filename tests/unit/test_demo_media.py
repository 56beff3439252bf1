"""The demo media generators: deterministic, readable by ingest, and carrying what they claim."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import ExifTags, Image

from forensics_app.demo import media as demo
from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.media import MediaKind
from forensics_app.ingest.decode import decode_audio, decode_image, open_video
from forensics_app.ingest.probe import probe


def test_tone_and_noise_are_deterministic(tmp_path: Path) -> None:
    a = demo.noise_wav(tmp_path / "a.wav", seed=1)
    b = demo.noise_wav(tmp_path / "b.wav", seed=1)
    c = demo.noise_wav(tmp_path / "c.wav", seed=2)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    info = sf.info(str(demo.tone_wav(tmp_path / "t.wav", rate=22050, duration_s=1.5, channels=2)))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (22050, 2, 33075, "PCM_16")


def test_speech_wav(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); speech demo media cannot be made")
    path = demo.speech_wav(tmp_path / "speech.wav", text="This is a synthetic test sentence.", rate=16000)
    clip = decode_audio(path)
    assert clip.rate == 16000 and clip.n_channels == 1
    assert 1.0 < clip.duration_s < 6.0
    assert float(np.sqrt(np.mean(clip.samples ** 2))) > 0.01  # not silence
    assert probe(path).kind is MediaKind.AUDIO
    again = demo.speech_wav(tmp_path / "again.wav", text="This is a synthetic test sentence.", rate=16000)
    assert again.read_bytes() == path.read_bytes()


def test_speech_wav_without_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo.shutil, "which", lambda _name: None)
    with pytest.raises(ForensicsError, match="espeak-ng is not installed"):
        demo.speech_wav(tmp_path / "s.wav", text="hello")


def test_spliced_recording_changes_at_the_splice(tmp_path: Path) -> None:
    rate = 16000
    clip = decode_audio(demo.spliced_recording_wav(tmp_path / "s.wav", rate=rate, duration_s=4.0, splice_s=1.5))
    x = clip.mono().astype(np.float64)
    assert clip.duration_s == pytest.approx(4.0)
    cut = int(1.5 * rate)
    t = np.arange(x.size) / rate
    # Remove the tone by projecting it out on each side; what is left is hum + noise.
    def residual(seg: slice) -> np.ndarray:
        basis = np.stack([np.sin(2 * np.pi * 300 * t[seg]), np.cos(2 * np.pi * 300 * t[seg])], axis=1)
        coef, *_ = np.linalg.lstsq(basis, x[seg], rcond=None)
        return x[seg] - basis @ coef, coef
    before, cb = residual(slice(0, cut))
    after, ca = residual(slice(cut, None))
    # The tone's phase jumps by 90 degrees.
    phase = np.angle(complex(ca[1], ca[0]) / complex(cb[1], cb[0]))
    assert abs(phase) == pytest.approx(np.pi / 2, abs=0.05)
    # Before: hum (50 Hz, 0.01) + quiet low-passed noise; after: no hum, louder high-passed noise.
    spec_b = np.abs(np.fft.rfft(before))
    spec_a = np.abs(np.fft.rfft(after))
    fb = np.fft.rfftfreq(before.size, 1 / rate)
    fa = np.fft.rfftfreq(after.size, 1 / rate)
    assert spec_b[np.argmin(np.abs(fb - 50))] > 20 * np.median(spec_b)
    assert np.mean(spec_a[fa > 3000] ** 2) > 100 * np.mean(spec_b[fb > 3000] ** 2)
    with pytest.raises(ForensicsError):
        demo.spliced_recording_wav(tmp_path / "bad.wav", duration_s=2.0, splice_s=3.0)


def test_clipped_wav_clips_only_in_the_bursts(tmp_path: Path) -> None:
    rate = 16000
    clip = decode_audio(demo.clipped_wav(tmp_path / "c.wav", rate=rate, clip_times_s=(0.5,), clip_duration_s=0.2))
    x = clip.samples[:, 0]
    at_full_scale = np.flatnonzero(np.abs(x) >= 0.999)
    assert at_full_scale.size > 100
    assert at_full_scale.min() >= int(0.5 * rate) and at_full_scale.max() < int(0.7 * rate)
    assert np.abs(x[: int(0.5 * rate)]).max() == pytest.approx(0.5, abs=1e-3)


def test_band_limited_wav_has_no_content_above_the_band(tmp_path: Path) -> None:
    clip = decode_audio(demo.band_limited_wav(tmp_path / "b.wav", content_rate=8000, file_rate=44100))
    assert clip.rate == 44100
    power = np.abs(np.fft.rfft(clip.samples[:, 0].astype(np.float64))) ** 2
    f = np.fft.rfftfreq(clip.samples.shape[0], 1 / 44100)
    inside = power[(f > 500) & (f < 3500)].mean()
    outside = power[f > 4500].mean()
    assert 10 * np.log10(inside / outside) > 70.0


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_test_video_probes_and_decodes(tmp_path: Path, suffix: str) -> None:
    path = demo.test_video(tmp_path / f"v{suffix}", n_frames=30, fps=25, width=96, height=64,
                           drop_frames=(7,), duplicate_frames=(15,), with_audio=True)
    meta = probe(path)
    assert meta.kind is MediaKind.VIDEO
    assert meta.metadata["frame_count"] == 29
    assert (meta.metadata["width"], meta.metadata["height"]) == (96, 64)
    assert meta.metadata["audio_track"] is True
    video = open_video(path)
    frames = list(video.frames())
    assert len(frames) == 29
    times = [t for _i, t, _f in frames]
    assert times[7] - times[6] == pytest.approx(0.08, abs=1e-3)  # frame 7 is missing
    # Original frame 15 (decoded 14) repeats original frame 14 (decoded 13) exactly or nearly.
    assert np.abs(frames[14][2].astype(int) - frames[13][2].astype(int)).mean() < 0.5
    assert np.abs(frames[13][2].astype(int) - frames[12][2].astype(int)).mean() > 5.0
    assert decode_audio(path).duration_s == pytest.approx(1.2, abs=0.1)


def test_test_video_is_deterministic_and_validates(tmp_path: Path) -> None:
    a = demo.test_video(tmp_path / "a.mkv", n_frames=12)
    b = demo.test_video(tmp_path / "b.mkv", n_frames=12)
    fa = [f for _i, _t, f in open_video(a).frames()]
    fb = [f for _i, _t, f in open_video(b).frames()]
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))
    with pytest.raises(ForensicsError):
        demo.test_video(tmp_path / "odd.mp4", width=161)
    with pytest.raises(ForensicsError):
        demo.test_video(tmp_path / "dup0.mp4", duplicate_frames=(0,))


def test_mpeg4_fallback_codec(tmp_path: Path) -> None:
    meta = probe(demo.test_video(tmp_path / "v.avi", n_frames=10, codec="mpeg4"))
    assert meta.metadata["codec"] == "mpeg4" and meta.metadata["frame_count"] == 10


def test_exif_jpeg_structure(tmp_path: Path) -> None:
    path = demo.exif_jpeg(tmp_path / "a.jpg", software="Darktable 4.6", gps=(-33.8568, 151.2153))
    with Image.open(path) as img:
        exif = img.getexif()
        assert exif[ExifTags.Base.Make] == "DemoCam"
        assert exif[ExifTags.Base.Software] == "Darktable 4.6"
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        assert sub[ExifTags.Base.DateTimeOriginal] == "2024:05:17 10:42:07"
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert gps[ExifTags.GPS.GPSLatitudeRef] == "S"
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
        raw = img.info["exif"][6:]
        thumb_bytes = raw[ifd1[0x0201]:ifd1[0x0201] + ifd1[0x0202]]
        size = img.size
    with Image.open(io.BytesIO(thumb_bytes)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (160, 120)
    assert size == (640, 480)
    meta = probe(path).metadata
    assert meta["exif"] is True and meta["container"] == "JPEG"
    assert demo.exif_jpeg(tmp_path / "b.jpg", software="Darktable 4.6",
                          gps=(-33.8568, 151.2153)).read_bytes() == path.read_bytes()


def test_exif_jpeg_without_thumbnail_has_no_ifd1(tmp_path: Path) -> None:
    with Image.open(demo.exif_jpeg(tmp_path / "n.jpg", with_thumbnail=False)) as img:
        assert img.getexif().get_ifd(ExifTags.IFD.IFD1) == {}


def test_pasted_region_is_a_copy_of_another_block(tmp_path: Path) -> None:
    region = (40, 300, 96, 96)
    x, y, w, h = region
    pixels = decode_image(demo.exif_jpeg(tmp_path / "cm.jpg", pasted_region=region, paste_source=(400, 20),
                                         quality=95)).pixels.astype(int)
    assert np.abs(pixels[y:y + h, x:x + w] - pixels[20:20 + h, 400:400 + w]).mean() < 3.0
    original = demo.synthetic_scene(width=640, height=480, seed=0).astype(int)
    assert np.abs(original[y:y + h, x:x + w] - original[20:20 + h, 400:400 + w]).mean() > 20.0
    # By default the copied block is the most different of the four half-image-away blocks.
    default = decode_image(demo.exif_jpeg(tmp_path / "d.jpg", pasted_region=(40, 40, 64, 48),
                                          quality=95)).pixels.astype(int)
    assert np.abs(default[40:88, 40:104] - default[280:328, 40:104]).mean() < 3.0  # ground pasted into sky
    with pytest.raises(ForensicsError):
        demo.exif_jpeg(tmp_path / "bad.jpg", pasted_region=(600, 0, 100, 100))
    with pytest.raises(ForensicsError):
        demo.exif_jpeg(tmp_path / "overlap.jpg", pasted_region=(40, 40, 64, 48), paste_source=(60, 50))


def test_png_image_text_chunks(tmp_path: Path) -> None:
    path = demo.png_image(tmp_path / "p.png", width=64, height=48, text={"Comment": "made for a test"})
    image = decode_image(path)
    assert image.format == "PNG" and image.pixels.shape == (48, 64, 3)
    with Image.open(path) as img:
        assert img.text == {"Comment": "made for a test"}
    assert np.array_equal(demo.synthetic_scene(width=64, height=48, seed=0), image.pixels)
