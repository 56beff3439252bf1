"""Text-to-speech with eSpeak NG: formant / Klatt synthesis of generated English sentences.

The corpus has no transcripts, so the text is made up: :func:`sentences` draws grammatical
English sentences from a small built-in grammar, enough words to last about as long as the
source utterance. eSpeak NG runs as a subprocess (``espeak-ng --stdout``, no network).
"""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import soundfile as sf

from forensics_app.domain.errors import ForensicsError
from forensics_app.training.audio_io import fit_length, resample
from forensics_app.training.generators.registry import GeneratorContext, generator

#: English voices of eSpeak NG 1.51 (``espeak-ng --voices=en``), MBROLA ones left out.
LANGUAGES = (
    "en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)

#: Voice variants (files in ``espeak-ng-data/voices/!v``); "" is the language's default voice.
#: Whisper and effect voices are left out: bona fide speech is never whispered in the corpus.
VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt6", "Andy", "Annie", "Denis", "Gene", "Lee",
    "Michael", "adam", "anika", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed",
    "edward", "grandma", "grandpa", "john", "linda", "max", "norbert", "paul", "quincy", "rob",
    "robert", "steph", "travis", "victor",
)

_NAMES = ("Anna", "Peter", "Mary", "Thomas", "Helen", "George", "Alice", "Robert", "Clara", "Henry")
_DETERMINERS = ("the", "a", "that", "his", "her", "our", "every", "one")
_ADJECTIVES = (
    "old", "young", "quiet", "small", "large", "bright", "dark", "green", "heavy", "gentle",
    "strange", "careful", "happy", "tired", "cold", "warm", "little", "distant", "silver", "wooden",
)
_NOUNS = (
    "house", "river", "garden", "letter", "window", "horse", "village", "road", "table", "forest",
    "ship", "child", "book", "door", "field", "mountain", "city", "friend", "fire", "bridge",
    "stone", "lamp", "basket", "soldier", "teacher", "picture", "boat", "kitchen", "valley", "coat",
)
_TRANSITIVE = (
    "opened", "found", "carried", "watched", "painted", "followed", "remembered", "brought",
    "closed", "visited", "described", "noticed", "washed", "crossed", "wrote", "left", "built",
    "heard", "sold", "lost",
)
_INTRANSITIVE = (
    "waited", "smiled", "walked", "listened", "laughed", "slept", "returned", "stopped", "spoke",
    "hurried", "wandered", "rested",
)
_ADVERBS = ("slowly", "quickly", "quietly", "suddenly", "again", "carefully", "early", "together")
_PREPOSITIONS = ("near", "behind", "under", "across", "beside", "beyond", "through", "along", "towards")
_TIMES = (
    "in the morning", "after dinner", "before dawn", "on that day", "last winter", "at noon",
    "every evening", "during the storm", "long ago", "the next day",
)
_CONJUNCTIONS = ("and", "but", "while", "because", "so", "until")


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[int(rng.integers(len(words)))]


def _noun_phrase(rng: np.random.Generator) -> str:
    if rng.random() < 0.2:
        return _pick(rng, _NAMES)
    adjective = f"{_pick(rng, _ADJECTIVES)} " if rng.random() < 0.5 else ""
    det = _pick(rng, _DETERMINERS)
    if det == "a" and adjective[:1] in "aeiou" and adjective:
        det = "an"
    return f"{det} {adjective}{_pick(rng, _NOUNS)}"


def _clause(rng: np.random.Generator) -> str:
    if rng.random() < 0.6:
        words = [_noun_phrase(rng), _pick(rng, _TRANSITIVE), _noun_phrase(rng)]
    else:
        words = [_noun_phrase(rng), _pick(rng, _INTRANSITIVE)]
        if rng.random() < 0.5:
            words.append(_pick(rng, _ADVERBS))
    if rng.random() < 0.5:
        words.append(f"{_pick(rng, _PREPOSITIONS)} {_noun_phrase(rng)}")
    return " ".join(words)


def sentence(rng: np.random.Generator) -> str:
    """One English sentence from the built-in grammar, capitalised and punctuated."""
    text = _clause(rng)
    if rng.random() < 0.3:
        text = f"{_pick(rng, _TIMES)}, {text}"
    if rng.random() < 0.35:
        text = f"{text} {_pick(rng, _CONJUNCTIONS)} {_clause(rng)}"
    return text[0].upper() + text[1:] + "."


def sentences(rng: np.random.Generator, *, words: int) -> str:
    """Sentences from :func:`sentence` until they hold at least ``words`` words."""
    out: list[str] = []
    count = 0
    while count < max(1, words):
        s = sentence(rng)
        out.append(s)
        count += len(s.split())
    return " ".join(out)


def espeak_binary() -> str:
    """Path of the ``espeak-ng`` executable (raises ForensicsError when it is not installed)."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise ForensicsError("espeak-ng is not installed (Debian package espeak-ng); the espeak generator needs it")
    return path


def synthesize(text: str, *, voice: str, speed_wpm: int, pitch: int, gap: int) -> tuple[np.ndarray, int]:
    """Speak ``text`` with eSpeak NG.

    Parameters
    ----------
    text : str
        ASCII text.
    voice : str
        eSpeak voice, ``language[+variant]`` (e.g. ``"en-us+f3"``).
    speed_wpm : int
        Speaking rate (words per minute, 80-450).
    pitch : int
        Base pitch (0-99).
    gap : int
        Extra pause between words (units of 10 ms).

    Returns
    -------
    samples : ndarray, shape (n,), float32
    rate : int
        eSpeak's sample rate (22050 Hz).
    """
    cmd = [espeak_binary(), "--stdout", "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-g", str(gap)]
    try:
        done = subprocess.run(cmd, input=text.encode("ascii"), capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ForensicsError(f"espeak-ng timed out on {len(text)} characters of text") from exc
    if done.returncode != 0 or not done.stdout:
        raise ForensicsError(
            f"espeak-ng failed (exit {done.returncode}): {done.stderr.decode(errors='replace').strip()}"
        )
    samples, rate = sf.read(io.BytesIO(done.stdout), dtype="float32")
    return samples, int(rate)


def _cut_point(y: np.ndarray, *, target: int, rate: int) -> int:
    """Quietest 10 ms frame end in the last 0.6 s before ``target`` (a pause, not mid-word)."""
    hop = rate // 100
    lo = max(hop, target - int(0.6 * rate))
    starts = np.arange(lo, target - hop + 1, hop)
    if len(starts) == 0:
        return target
    energy = np.array([np.sum(y[s : s + hop] ** 2) for s in starts])
    return int(starts[int(np.argmin(energy))] + hop)


@generator(
    id="espeak",
    family="tts",
    description="eSpeak NG text-to-speech (8 English accents, 47 voice variants, random rate and pitch)",
)
def espeak(wave: np.ndarray, *, rate: int, rng: np.random.Generator, context: GeneratorContext) -> np.ndarray:
    """Speak generated sentences lasting about as long as ``wave``.

    Settings drawn from ``rng``: accent, voice variant, speed (130-200 wpm), pitch (25-75), word
    gap (0-2), and the text. The speech is cut at a pause near the source's duration and padded
    with silence to exactly its length. Most
    outputs (70 %) get a faint white noise floor (55-75 dB below the peak), so digital silence
    between words is not on its own the mark of synthetic speech.

    Returns
    -------
    ndarray, shape (n,), float32 at ``rate`` Hz
    """
    language = _pick(rng, LANGUAGES)
    variant = _pick(rng, VARIANTS)
    voice = f"{language}+{variant}" if variant else language
    speed = int(rng.integers(130, 201))
    pitch = int(rng.integers(25, 76))
    gap = int(rng.integers(0, 3))
    floor_db = float(rng.uniform(-75.0, -55.0)) if rng.random() < 0.7 else None
    target_s = len(wave) / rate
    words = max(2, int(round(target_s * speed / 60 * 0.9)))
    text = sentences(rng, words=words)
    for _ in range(4):
        y, src_rate = synthesize(text, voice=voice, speed_wpm=speed, pitch=pitch, gap=gap)
        if len(y) >= 0.95 * target_s * src_rate:
            break
        missing_s = target_s - len(y) / src_rate
        text = f"{text} {sentences(rng, words=max(2, int(np.ceil(missing_s * speed / 60))))}"
    y = resample(y, src_rate=src_rate, dst_rate=rate)
    if len(y) > len(wave):
        y = y[: _cut_point(y, target=len(wave), rate=rate)]
        fade = min(len(y), int(0.01 * rate))
        y[len(y) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    y = fit_length(y, len(wave))  # trailing silence: the length gives nothing away
    if floor_db is not None:
        level = np.max(np.abs(y)) * 10.0 ** (floor_db / 20.0)
        y = y + (level * rng.standard_normal(len(y))).astype(np.float32)
    return y
