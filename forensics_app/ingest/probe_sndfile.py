"""Audio that libsndfile reads (WAV, AIFF, FLAC, Ogg...): decoded in blocks to its declared end.

Memory stays bounded (:data:`~forensics_app.ingest.probe_base.AUDIO_BLOCK_FRAMES` frames at a
time); the decoded length must reach what the header declares and every sample must be finite.
Containers that :func:`~forensics_app.ingest.probe_base.sndfile_reads` leaves to FFmpeg are not
claimed here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

from forensics_app.domain.errors import CorruptMedia
from forensics_app.domain.media import MediaKind
from forensics_app.ingest.names import nameless
from forensics_app.ingest.probe_base import (
    AUDIO_BLOCK_FRAMES,
    ProbeResult,
    check_audio_params,
    reason,
    sndfile_reads,
)


def probe_soundfile(path: Path, name: str, kind: str | None) -> ProbeResult | None:
    """Probe ``path`` with libsndfile; None when libsndfile does not read it (FFmpeg's turn)."""
    with nameless(path) as raw:
        try:
            snd = sf.SoundFile(raw)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            return None
        with snd:
            fmt, subtype = snd.format, snd.subtype
            if not sndfile_reads(fmt, subtype):
                return None
            rate, channels, declared = int(snd.samplerate), int(snd.channels), int(snd.frames)
            check_audio_params(name, fmt, rate, channels)
            if declared <= 0:
                raise CorruptMedia(f"{name}: the {fmt} audio holds no samples")
            counted = 0
            peak = 0.0
            buf = np.empty((AUDIO_BLOCK_FRAMES, channels), dtype=np.float32)
            try:
                while True:
                    n = snd.buffer_read_into(buf, dtype="float32")
                    if n <= 0:
                        break
                    block = buf[:n]
                    block_peak = float(np.max(np.abs(block)))
                    if not math.isfinite(block_peak):
                        first = counted + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
                        raise CorruptMedia(
                            f"{name}: the {fmt} audio holds non-finite sample values (NaN/inf), "
                            f"the first at {first / rate:.4f} s (sample {first})"
                        )
                    peak = max(peak, block_peak)
                    counted += n
                    if n < AUDIO_BLOCK_FRAMES:
                        break
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise CorruptMedia(
                    f"{name}: the {fmt} audio is truncated or damaged: decoding fails between "
                    f"{counted / rate:.3f} s and {(counted + AUDIO_BLOCK_FRAMES) / rate:.3f} s ({reason(exc)})"
                ) from exc
    if counted == 0:
        raise CorruptMedia(f"{name}: the {fmt} audio decodes to no samples")
    if counted < declared:
        raise CorruptMedia(
            f"{name}: the {fmt} audio is truncated: its header declares {declared} samples "
            f"({declared / rate:.3f} s) but only {counted} ({counted / rate:.3f} s) decode"
        )
    return ProbeResult(
        MediaKind.AUDIO,
        {
            "container": fmt,
            "codec": subtype,
            "sample_rate": rate,
            "channels": channels,
            "duration_s": counted / rate,
            "samples": counted,
            "peak": round(peak, 6),
            "decoder": "libsndfile",
        },
    )
