"""A broadcast and its "leaked" copy: the demo's reference-comparison pair.

The reference is a short statement spoken by espeak-ng, written as 16 kHz mono PCM. The leaked
copy is the same recording with one phrase replaced by audio from elsewhere (another voice, other
words), a pause of :data:`INSERTED_PAUSE_S` seconds added after the first phrase, a level change,
and a different format: 44.1 kHz stereo MP3. What was planted, and where, is returned so tests and
the demo's description can state it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from forensics_app.demo.audio_media import speech_wav
from forensics_app.demo.codec_media import encode_lossy
from forensics_app.demo.wav_io import write_wav

#: The reference statement, in three phrases; the middle one is replaced in the leaked copy.
PHRASES = ("The harbour contract was", "approved by the council", "on Monday morning after a long debate.")
#: What the leaked copy says instead of the middle phrase (another voice).
REPLACEMENT = "rejected by the mayor"
#: Silence between phrases in the reference (s) and the pause added to the leaked copy (s).
GAP_S, INSERTED_PAUSE_S = 0.25, 1.5
#: Gain of the leaked copy (dB).
LEAKED_GAIN_DB = -6.0


@dataclass(frozen=True)
class ComparisonPair:
    """The two files and the planted edit.

    Attributes
    ----------
    reference, questioned : Path
        The broadcast (WAV) and its leaked copy (MP3).
    replaced_reference_s : tuple of float
        The replaced phrase's span in the reference (s).
    replaced_questioned_s : tuple of float
        The replacement's span in the leaked copy (s).
    inserted_pause_s : tuple of float
        The added pause's span in the leaked copy (s).
    """

    reference: Path
    questioned: Path
    replaced_reference_s: tuple[float, float]
    replaced_questioned_s: tuple[float, float]
    inserted_pause_s: tuple[float, float]


def _render(text: str, *, voice: str, rate: int, folder: Path) -> np.ndarray:
    """espeak-ng speech of ``text`` at ``rate`` Hz with leading/trailing silence trimmed."""
    path = speech_wav(folder / "phrase.wav", text=text, voice=voice, rate=rate)
    x, _ = sf.read(str(path), dtype="float64")
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.max(np.abs(x)))
    return x[loud[0]:loud[-1] + 1] if loud.size else x


def broadcast_pair(folder: Path, *, rate: int = 16000) -> ComparisonPair:
    """Write ``press_briefing_broadcast.wav`` and ``press_briefing_leaked.mp3`` into ``folder``.

    Raises
    ------
    ForensicsError
        If espeak-ng is not installed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="forensics-demo-pair-") as tmp:
        parts = [_render(p, voice="en", rate=rate, folder=Path(tmp)) for p in PHRASES]
        other = _render(REPLACEMENT, voice="en-us+f3", rate=rate, folder=Path(tmp))
    gap = np.zeros(int(GAP_S * rate))
    pause = np.zeros(int(INSERTED_PAUSE_S * rate))
    reference = np.concatenate([parts[0], gap, parts[1], gap, parts[2]])
    leaked = np.concatenate([parts[0], gap, pause, other, gap, parts[2]])
    ref_start = (parts[0].size + gap.size) / rate
    q_start = (parts[0].size + gap.size + pause.size) / rate
    ref_path = write_wav(folder / "press_briefing_broadcast.wav", 0.5 * reference / np.max(np.abs(reference)), rate)

    out_rate = 44100
    g = gcd(out_rate, rate)
    y = signal.resample_poly(0.5 * leaked / np.max(np.abs(leaked)), out_rate // g, rate // g)
    y *= 10 ** (LEAKED_GAIN_DB / 20)
    stereo = np.stack([y, 0.9 * y], axis=1).astype(np.float32)
    q_path = folder / "press_briefing_leaked.mp3"
    q_path.write_bytes(encode_lossy(stereo, rate=out_rate, codec="mp3", bitrate=96000))
    return ComparisonPair(
        reference=ref_path, questioned=q_path,
        replaced_reference_s=(ref_start, ref_start + parts[1].size / rate),
        replaced_questioned_s=(q_start, q_start + other.size / rate),
        inserted_pause_s=(q_start - pause.size / rate, q_start),
    )
