"""The bona fide speech corpus and its speaker-disjoint split.

A corpus is a folder of speech files named ``speaker-chapter-utterance.<ext>`` (LibriSpeech style),
optionally with a ``SPEAKERS.TXT`` (``id | sex | ...``). Speakers, never utterances, are assigned to
the train / validation / calibration splits, so no voice is seen in two splits. The assignment is
seeded and stratified by sex.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forensics_app.domain.errors import ForensicsError

#: Audio file extensions accepted in a corpus folder.
AUDIO_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3")

#: The splits, in the order they are filled.
SPLITS = ("train", "validation", "calibration")


@dataclass(frozen=True)
class Utterance:
    """One bona fide recording of the corpus.

    Attributes
    ----------
    path : Path
        The audio file.
    speaker : str
        Speaker id (the file name up to the first ``-``).
    utterance : str
        The file name without its extension (unique in the corpus).
    sex : str
        ``"F"``, ``"M"`` or ``"?"`` when SPEAKERS.TXT does not say.
    """

    path: Path
    speaker: str
    utterance: str
    sex: str = "?"


@dataclass(frozen=True)
class Splits:
    """Speaker-disjoint lists of utterances."""

    train: tuple[Utterance, ...]
    validation: tuple[Utterance, ...]
    calibration: tuple[Utterance, ...]

    def by_name(self, name: str) -> tuple[Utterance, ...]:
        """The utterances of split ``name`` (one of :data:`SPLITS`)."""
        if name not in SPLITS:
            raise ForensicsError(f"unknown split {name!r}; expected one of {list(SPLITS)}")
        return getattr(self, name)


def _read_sexes(folder: Path) -> dict[str, str]:
    table = folder / "SPEAKERS.TXT"
    out: dict[str, str] = {}
    if not table.is_file():
        return out
    for line in table.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 2 and fields[1] in {"F", "M"}:
            out[fields[0]] = fields[1]
    return out


def list_corpus(folder: Path) -> list[Utterance]:
    """Every speech file in ``folder`` (not recursive), sorted by name.

    Raises
    ------
    NotFound-like ForensicsError
        When the folder does not exist or holds no audio files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ForensicsError(f"corpus folder {folder} does not exist")
    sexes = _read_sexes(folder)
    out = []
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in AUDIO_SUFFIXES or not p.is_file():
            continue
        speaker = p.stem.split("-", 1)[0]
        out.append(Utterance(path=p, speaker=speaker, utterance=p.stem, sex=sexes.get(speaker, "?")))
    if not out:
        raise ForensicsError(f"corpus folder {folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return out


def split_speakers(
    utterances: Sequence[Utterance], *, seed: int = 0, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> Splits:
    """Assign whole speakers to train / validation / calibration, stratified by sex.

    Parameters
    ----------
    utterances : sequence of Utterance
        The corpus.
    seed : int
        Seed of the shuffle; the same seed and corpus give the same split.
    fractions : (float, float, float)
        Target share of speakers per split (normalised to sum 1).

    Returns
    -------
    Splits
        Speaker-disjoint splits; each holds at least one speaker when there are three or more.
    """
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) <= 0:
        raise ForensicsError(f"split fractions must be three non-negative numbers, got {fractions}")
    total = float(sum(fractions))
    shares = [f / total for f in fractions]
    by_speaker: dict[str, list[Utterance]] = {}
    for u in utterances:
        by_speaker.setdefault(u.speaker, []).append(u)
    rng = np.random.default_rng(seed)
    assigned: dict[str, str] = {}
    for sex in sorted({u.sex for u in utterances}):
        speakers = sorted(s for s, us in by_speaker.items() if us[0].sex == sex)
        order = [speakers[i] for i in rng.permutation(len(speakers))]
        n = len(order)
        n_val = int(round(n * shares[1]))
        n_cal = int(round(n * shares[2]))
        for i, spk in enumerate(order):
            assigned[spk] = "validation" if i < n_val else "calibration" if i < n_val + n_cal else "train"
    if len(by_speaker) >= 3:  # rounding within small sex groups can leave a split empty
        for name in SPLITS:
            if name not in assigned.values():
                counts = {n: sum(1 for v in assigned.values() if v == n) for n in SPLITS}
                donor = max(counts, key=lambda n: counts[n])
                spk = next(k for k in sorted(assigned, reverse=True) if assigned[k] == donor)
                assigned[spk] = name
    groups: dict[str, list[Utterance]] = {name: [] for name in SPLITS}
    for spk in sorted(by_speaker):
        groups[assigned[spk]].extend(by_speaker[spk])
    return Splits(**{name: tuple(sorted(us, key=lambda u: u.utterance)) for name, us in groups.items()})
