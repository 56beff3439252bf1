"""Seeded generators of small evidence files with known, planted properties (public facade).

Every generator writes one file and returns its path. The same arguments give the same samples,
frames and pixels (the encoders are run single-threaded); file bytes are reproducible for a
given build of libsndfile, FFmpeg/x264, libjpeg and espeak-ng.

The generators live in one module per kind of media and are re-exported here, so
``from forensics_app.demo import media; media.exif_jpeg(...)`` keeps working:

* :mod:`forensics_app.demo.audio_media`: 16-bit PCM WAV through libsndfile (tones, noise,
  espeak-ng speech, a spliced recording, clipping, band limiting).
* :mod:`forensics_app.demo.video_media`: a moving test pattern encoded with PyAV, with planted
  frame drops and duplicates.
* :mod:`forensics_app.demo.image_media`: a camera-like scene written with Pillow as JPEG (EXIF,
  XMP, ICC, copy-move and thumbnail-mismatch edits) or PNG.
* :mod:`forensics_app.demo.exif_writer`: the EXIF block of :func:`exif_jpeg` (IFD0, Exif IFD,
  GPS IFD and IFD1 with an embedded JPEG thumbnail), built byte by byte because Pillow cannot
  write IFD1.
"""

from __future__ import annotations

import shutil  # noqa: F401 - kept for callers that patch ``media.shutil.which`` (no espeak-ng)

from forensics_app.demo.audio_media import (
    band_limited_wav,
    clipped_wav,
    noise_wav,
    speech_wav,
    spliced_recording_wav,
    tone_wav,
)
from forensics_app.demo.image_media import exif_jpeg, png_image, synthetic_scene
from forensics_app.demo.video_media import test_video

__all__ = [
    "band_limited_wav",
    "clipped_wav",
    "exif_jpeg",
    "noise_wav",
    "png_image",
    "speech_wav",
    "spliced_recording_wav",
    "synthetic_scene",
    "test_video",
    "tone_wav",
]
