"""Local synthetic rendering of a transcript with eSpeak NG, with the time span of every word.

libespeak-ng is called in-process through :mod:`ctypes` (no shell, no subprocess): the text goes
to ``espeak_Synth`` as UTF-8 bytes in memory, the samples come back through the synthesis callback
together with eSpeak's *word events*. A word event carries the character position of the word in
the text and the sample at which eSpeak starts to speak it, so word onsets are exact in the
synthetic time line; a word's span ends where the next word starts (the last one at the end of
the audio), minus the silence at either edge (5 ms frames more than :data:`TRIM_DB` below the
rendering's loudest frame), so the pause after a comma belongs to no word.

eSpeak speaks numbers and abbreviations as several words ("1984" -> "nineteen eighty-four") and
may emit several events for one token; every event is credited to the transcript word whose token
holds its character position, so one typed word gets one span however eSpeak reads it. A word
that gets no event (rare: eSpeak joins some hyphenated tokens) starts halfway between its
neighbours.

libespeak-ng keeps global state, so renderings are serialised by a lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import threading
from dataclasses import dataclass

import numpy as np

from forensics_app.domain.errors import AnalyzerError, Cancelled
from forensics_app.domain.jobs import Progress
from forensics_app.transcript.text import Transcript

#: A word's span is trimmed of edge frames this far below the loudest 5 ms frame (dB).
TRIM_DB = 40.0
#: Voice names: ``language[+variant]`` with letters, digits, ``-`` and ``_``.
VOICE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}(\+[A-Za-z0-9_-]{1,40})?$")

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_WORDGAP = 1, 2, 3, 4, 7


class _Event(ctypes.Structure):
    """``espeak_EVENT`` of speak_lib.h (eSpeak NG 1.49 and later)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


class _VoiceSpec(ctypes.Structure):
    """``espeak_VOICE`` of speak_lib.h (for selection by language)."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Rendering:
    """A transcript spoken by eSpeak NG.

    Attributes
    ----------
    samples : np.ndarray
        Shape (n,), float32 in [-1, 1], mono.
    rate : int
        Sample rate (Hz), eSpeak's own (22050 Hz).
    words : tuple of str
        The transcript's words, in order.
    spans_s : np.ndarray
        Shape (n_words, 2), float64: start and end of each word in the rendering (s).
    voice : str
        The eSpeak voice used.
    """

    samples: np.ndarray
    rate: int
    words: tuple[str, ...]
    spans_s: np.ndarray
    voice: str

    @property
    def duration_s(self) -> float:
        """Length of the rendering (s)."""
        return self.samples.size / float(self.rate)


class _Engine:
    """The process-wide libespeak-ng instance (loaded on first use)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lib: ctypes.CDLL | None = None
        self.rate = 0
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, int]] = []  # (character position, sample)
        self.abort: Progress | None = None
        self.callback = _CALLBACK(self._on_synth)

    def _on_synth(self, wav: ctypes._Pointer, n: int, events: ctypes._Pointer) -> int:
        if n > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_WORD and ev.text_position > 0:
                self.events.append((int(ev.text_position) - 1, int(ev.sample)))
            i += 1
        return 1 if (self.abort is not None and self.abort.cancelled) else 0

    def select_voice(self, voice: str) -> bool:
        """Select a voice by name, else by language (as the espeak-ng command does): True on success."""
        assert self.lib is not None
        name = voice.encode("ascii")
        if self.lib.espeak_SetVoiceByName(name) == 0:
            return True
        spec = _VoiceSpec(languages=name)
        return int(self.lib.espeak_SetVoiceByProperties(ctypes.byref(spec))) == 0

    def load(self) -> ctypes.CDLL:
        if self.lib is not None:
            return self.lib
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise AnalyzerError("libespeak-ng is not installed (Debian package libespeak-ng1); the transcript "
                                "alignment needs it to read the transcript aloud") from exc
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_VoiceSpec)]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = int(lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0))
        if rate <= 0:
            raise AnalyzerError(f"libespeak-ng failed to initialise (returned {rate}); is espeak-ng-data installed?")
        lib.espeak_SetSynthCallback(self.callback)
        self.lib, self.rate = lib, rate
        return lib


_ENGINE = _Engine()


def _trim(x: np.ndarray, a: int, b: int, *, hop: int, floor: float) -> tuple[int, int]:
    """Shrink [a, b) to its first and last 5 ms frame louder than ``floor`` (RMS)."""
    if b - a <= hop:
        return a, b
    n = (b - a) // hop
    frames = x[a : a + n * hop].reshape(n, hop).astype(np.float64)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) > floor)
    if loud.size == 0:
        return a, min(b, a + hop)
    return a + int(loud[0]) * hop, min(b, a + (int(loud[-1]) + 1) * hop)


def _word_starts(transcript: Transcript, events: list[tuple[int, int]], n_samples: int) -> np.ndarray:
    """First event sample of each word; words without one are placed between their neighbours."""
    n = len(transcript.words)
    starts = np.full(n, np.nan)
    bounds = np.array([w.char_start for w in transcript.words])
    for pos, sample in events:
        k = int(np.searchsorted(bounds, pos, side="right")) - 1
        if k < 0 or pos >= transcript.words[k].char_end:
            continue  # an event on punctuation or between tokens
        if np.isnan(starts[k]) or sample < starts[k]:
            starts[k] = sample
    known = np.flatnonzero(~np.isnan(starts))
    if known.size == 0:
        raise AnalyzerError("espeak-ng read none of the transcript's words: is the voice's language that of the text?")
    missing = np.flatnonzero(np.isnan(starts))
    if missing.size:
        xs = np.concatenate([[-1], known, [n]])
        ys = np.concatenate([[0.0], starts[known], [float(n_samples)]])
        starts[missing] = np.interp(missing, xs, ys)
    return np.maximum.accumulate(starts)


def check_voice(voice: str) -> str:
    """Validate a voice name's form (``language[+variant]``); raises AnalyzerError."""
    v = str(voice).strip()
    if not VOICE_PATTERN.match(v):
        raise AnalyzerError(f"voice {voice!r} is not an eSpeak NG voice name such as 'en-us' or 'en-gb+f3'")
    return v


def render(transcript: Transcript, *, voice: str = "en-us", speed_wpm: int = 175, pitch: int = 50,
           pitch_range: int = 50, word_gap: int = 0, progress: Progress | None = None) -> Rendering:
    """Speak a transcript with eSpeak NG and time its words.

    Parameters
    ----------
    transcript : Transcript
        From :func:`forensics_app.transcript.text.parse_transcript`.
    voice : str
        eSpeak voice, ``language[+variant]`` (``"en-us"``, ``"en-gb+f3"``, ``"en+klatt"``).
    speed_wpm : int
        Speaking rate (words per minute, 80-450).
    pitch, pitch_range : int
        Base pitch and pitch range (0-99).
    word_gap : int
        Extra pause between words (units of 10 ms).
    progress : Progress, optional
        Checked while eSpeak speaks; a cancel stops it and raises Cancelled.

    Returns
    -------
    Rendering
        Samples at eSpeak's rate and each word's span (s).

    Raises
    ------
    AnalyzerError
        libespeak-ng is missing, the voice is unknown, or eSpeak produced no audio.
    Cancelled
        ``progress`` was cancelled.
    """
    v = check_voice(voice)
    settings = {"speed_wpm": (speed_wpm, 80, 450), "pitch": (pitch, 0, 99), "pitch_range": (pitch_range, 0, 99),
                "word_gap": (word_gap, 0, 100)}
    for name, (value, lo, hi) in settings.items():
        if not lo <= int(value) <= hi:
            raise AnalyzerError(f"espeak-ng {name} {value} is outside [{lo}, {hi}]")
    data = transcript.text.encode("utf-8")
    with _ENGINE.lock:
        lib = _ENGINE.load()
        if not _ENGINE.select_voice(v):
            raise AnalyzerError(f"espeak-ng has no voice {v!r} (list them with: espeak-ng --voices)")
        for param, value in ((_PARAM_RATE, speed_wpm), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range),
                             (_PARAM_WORDGAP, word_gap), (_PARAM_VOLUME, 100)):
            lib.espeak_SetParameter(param, int(value), 0)
        _ENGINE.chunks, _ENGINE.events, _ENGINE.abort = [], [], progress
        buf = ctypes.create_string_buffer(data)
        try:
            status = lib.espeak_Synth(buf, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        finally:
            _ENGINE.abort = None
        chunks, events, rate = _ENGINE.chunks, _ENGINE.events, _ENGINE.rate
        _ENGINE.chunks, _ENGINE.events = [], []
    if progress is not None:
        progress.check()
    if status != 0 or not chunks:
        raise AnalyzerError(f"espeak-ng could not read the transcript aloud (status {status})")
    if progress is not None and progress.cancelled:
        raise Cancelled("cancelled by the user")
    x = np.concatenate(chunks).astype(np.float32) / 32768.0
    starts = _word_starts(transcript, events, x.size).astype(np.int64)
    ends = np.append(starts[1:], x.size)
    hop = max(1, rate // 200)
    frame_rms = np.sqrt(np.mean(x[: x.size // hop * hop].reshape(-1, hop).astype(np.float64) ** 2, axis=1))
    floor = max(float(frame_rms.max(initial=0.0)) * 10 ** (-TRIM_DB / 20), 1e-6)
    spans = np.array([_trim(x, int(a), int(max(b, a)), hop=hop, floor=floor) for a, b in zip(starts, ends, strict=True)],
                     dtype=np.float64).reshape(-1, 2)
    return Rendering(samples=x, rate=int(rate), words=transcript.labels, spans_s=spans / rate, voice=v)
