"""Identify an evidence file's media kind and metadata, and refuse what cannot be read.

Probing looks at content, never at the file name: a WAV named ``.jpg`` is audio. The decoders
read the file through a nameless file object, so neither FFmpeg nor libsndfile can fall back on
the extension (the name is used only in messages). FFmpeg may only use the demuxers listed in
``FFMPEG_FORMATS`` (text, subtitle, playlist and image demuxers never open evidence) and Pillow
only the plugins in ``IMAGE_FORMATS``. A file is accepted only if it decodes from start to end:

* structure first, without a decoder: WAV/AIFF data chunks, MP4/HEIF boxes and the Matroska
  segment must fit in the file, an MP4 needs its 'moov' index, an Ogg stream must end with a
  complete end-of-stream page;
* images: the pixel count checked *before* decoding (decompression bombs), every frame decoded,
  PNG chunk CRCs and IEND checked, the JPEG marker chain walked to its EOI;
* audio: decoded in fixed-size blocks (memory stays bounded) and the decoded length compared
  with what the header declares (FLAC STREAMINFO, MP3 Xing/Info header, MP4 sample tables);
  an MPEG audio stream must not end in a partial frame; implausible channel counts or sample
  rates are refused;
* video: every packet demuxed but only the first video and audio frames and the last keyframe
  decoded; packet counts and end times compared with what the header declares.

Truncated or damaged files raise :class:`CorruptMedia`, everything else that is not audio, video
or a still image raises :class:`UnsupportedMedia`; each message names the file (control
characters escaped) and the reason. Nothing here changes global state (Pillow's limits
included), so probing is safe from worker threads.

Modules, one concept each: :mod:`~forensics_app.ingest.structure` (file type and container
structure), :mod:`~forensics_app.ingest.probe_image` (Pillow),
:mod:`~forensics_app.ingest.probe_sndfile` (libsndfile), :mod:`~forensics_app.ingest.probe_av`
(FFmpeg), :mod:`~forensics_app.ingest.probe_base` (result type, limits, accepted formats) and
:mod:`~forensics_app.ingest.names` (file names in messages and decoders). This module is the
entry point: after the structure check it asks the image, libsndfile and FFmpeg probers in turn.
"""

from __future__ import annotations

import stat
from pathlib import Path

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.ingest.names import display_label
from forensics_app.ingest.probe_av import probe_av
from forensics_app.ingest.probe_base import (
    AUDIO_BLOCK_FRAMES,
    FFMPEG_FORMATS,
    IMAGE_FORMATS,
    MAX_CHANNELS,
    MAX_IMAGE_PIXELS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    MPEG_AUDIO_CODECS,
    SNDFILE_FORMATS,
    ProbeResult,
    sndfile_reads,
)
from forensics_app.ingest.probe_image import probe_image
from forensics_app.ingest.probe_sndfile import probe_soundfile
from forensics_app.ingest.structure import check_structure, mpeg_audio_frame_size, sniff

__all__ = [
    "probe", "ProbeResult", "sniff", "mpeg_audio_frame_size", "sndfile_reads",
    "MAX_IMAGE_PIXELS", "MAX_CHANNELS", "MIN_SAMPLE_RATE", "MAX_SAMPLE_RATE", "AUDIO_BLOCK_FRAMES",
    "IMAGE_FORMATS", "SNDFILE_FORMATS", "FFMPEG_FORMATS", "MPEG_AUDIO_CODECS",
]

# --- entry point --------------------------------------------------------------------------------


def probe(path: Path, *, display_name: str | None = None) -> ProbeResult:
    """Probe a file and check that it decodes end to end.

    Parameters
    ----------
    path : Path
        File to examine (opened read-only, never changed).
    display_name : str, optional
        Name used in error messages (the original file name when probing a copy).

    Returns
    -------
    ProbeResult
        Kind and JSON-serialisable metadata.

    Raises
    ------
    CorruptMedia
        Empty, truncated or damaged media, or a header with implausible values.
    UnsupportedMedia
        Not a regular file, or not audio, video or a still image the workstation reads.
    """
    path = Path(path)
    name = display_label(display_name or path.name)
    try:
        st = path.stat()
    except OSError as exc:
        raise UnsupportedMedia(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise UnsupportedMedia(f"{name}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedMedia(f"{name}: not a regular file")
    if st.st_size == 0:
        raise CorruptMedia(f"{name}: the file is empty (0 bytes)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise CorruptMedia(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    kind = sniff(head)
    try:
        check_structure(path, name, kind)
        image = probe_image(path, name, kind)
        if image is not None:
            return image
        audio = probe_soundfile(path, name, kind)
        if audio is not None:
            return audio
        return probe_av(path, name, kind)
    except MemoryError as exc:
        raise UnsupportedMedia(f"{name}: too large to examine in the available memory") from exc
    except OSError as exc:  # a read failing under a structure check (I/O error, file shrinking)
        raise CorruptMedia(f"{name}: cannot be read ({exc.strerror or exc})") from exc
