"""The registry of synthetic-speech generators used to make spoofed training data.

Generators register declaratively::

    @generator(id="world", family="vocoder", description="WORLD analysis-synthesis")
    def world(wave, *, rate, rng, context):
        ...

A generator function takes a bona fide mono float32 waveform at ``rate`` Hz and returns a spoofed
one at the same rate. Call it through its :class:`GeneratorSpec` (``get("world")(wave, ...)``),
which checks the input and brings the output to the contract: finite float32, mono, at most
:data:`MAX_LENGTH_RATIO` times the input's duration, peak-normalised to the input's peak.

Built-in generators live in the modules of :data:`BUILTIN_MODULES`, imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.training.audio_io import match_peak, peak

#: Families of generators, in the order they are listed.
FAMILIES = ("vocoder", "tts", "neural")

BUILTIN_MODULES = (
    "forensics_app.training.generators.world",
    "forensics_app.training.generators.griffinlim",
    "forensics_app.training.generators.lpc",
    "forensics_app.training.generators.espeak",
    "forensics_app.training.generators.neural",
)

#: A generator's output is cropped to this multiple of the input's length.
MAX_LENGTH_RATIO = 1.25

#: Shortest input a generator accepts (s).
MIN_DURATION_S = 0.1

GeneratorFunc = Callable[..., np.ndarray]


@dataclass(frozen=True)
class GeneratorContext:
    """Resources a generator may need beyond the waveform.

    Attributes
    ----------
    vocoder_weights : Path, optional
        Trained weights of the project's neural vocoder (the ``neural`` generator needs them).
    """

    vocoder_weights: Path | None = None


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator.

    Attributes
    ----------
    id : str
        Unique id, written in the dataset manifest's ``generator`` column.
    family : str
        One of :data:`FAMILIES`.
    description : str
        One line for listings and model cards.
    func : callable
        ``func(wave, *, rate, rng, context) -> ndarray`` (the raw registered function).
    """

    id: str
    family: str
    description: str
    func: GeneratorFunc = field(repr=False, compare=False)

    def __call__(
        self,
        wave: np.ndarray,
        *,
        rate: int,
        rng: np.random.Generator,
        context: GeneratorContext | None = None,
    ) -> np.ndarray:
        """Make the spoofed counterpart of ``wave``.

        Parameters
        ----------
        wave : ndarray, shape (n,)
            Bona fide mono signal at ``rate`` Hz, float32 in [-1, 1].
        rate : int
            Sample rate (Hz) of input and output.
        rng : numpy.random.Generator
            Source of every random choice; the same state gives the same output.
        context : GeneratorContext, optional
            Shared resources (defaults to an empty context).

        Returns
        -------
        ndarray, shape (m,), float32
            ``m`` close to ``n`` (never above ``MAX_LENGTH_RATIO * n``), peak equal to the input's.

        Raises
        ------
        ForensicsError
            Bad input, or the generator produced NaN/infinity or nothing.
        """
        x = np.asarray(wave, dtype=np.float32)
        if x.ndim != 1:
            raise ForensicsError(f"generator {self.id}: expected a mono (n,) signal, got shape {x.shape}")
        if len(x) < MIN_DURATION_S * rate:
            raise ForensicsError(
                f"generator {self.id}: input of {len(x) / rate:.3f} s is shorter than {MIN_DURATION_S} s"
            )
        if not np.all(np.isfinite(x)):
            raise ForensicsError(f"generator {self.id}: the input holds NaN or infinity")
        y = np.asarray(
            self.func(x, rate=int(rate), rng=rng, context=context or GeneratorContext()),
            dtype=np.float32,
        )
        if y.ndim != 1 or y.size == 0:
            raise ForensicsError(f"generator {self.id}: produced no mono signal (shape {y.shape})")
        if not np.all(np.isfinite(y)):
            raise ForensicsError(f"generator {self.id}: produced NaN or infinity")
        y = y[: int(MAX_LENGTH_RATIO * len(x))]
        return match_peak(y, target_peak=peak(x))


_REGISTRY: dict[str, GeneratorSpec] = {}
_loaded = False


def generator(*, id: str, family: str, description: str) -> Callable[[GeneratorFunc], GeneratorFunc]:  # noqa: A002
    """Register the decorated function as a generator (returns the function unchanged).

    Raises
    ------
    ForensicsError
        Unknown family, or a second function registered under an existing id.
    """
    if family not in FAMILIES:
        raise ForensicsError(f"generator {id!r}: unknown family {family!r}; expected one of {list(FAMILIES)}")

    def decorate(func: GeneratorFunc) -> GeneratorFunc:
        existing = _REGISTRY.get(id)
        if existing is not None and existing.func is not func:
            raise ForensicsError(f"generator id {id!r} is registered twice")
        _REGISTRY[id] = GeneratorSpec(id=id, family=family, description=description, func=func)
        return func

    return decorate


def _import_builtin(name: str) -> None:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # A built-in module that is not part of this installation is skipped; a module that
        # exists but misses one of its own imports is a real error.
        if exc.name != name:
            raise


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in BUILTIN_MODULES:
        _import_builtin(name)


def get(id: str) -> GeneratorSpec:  # noqa: A002
    """The generator registered under ``id``.

    Raises
    ------
    NotFound
        No such generator (the message lists the known ids).
    """
    if id not in _REGISTRY:
        # Built-in generators live in a module named after their id: import just that one first
        # (a worker process that needs "lpc" does not pay for importing torch).
        own = f"{__package__}.{id}"
        if own in BUILTIN_MODULES:
            _import_builtin(own)
    if id not in _REGISTRY:
        _load_builtins()
    try:
        return _REGISTRY[id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise NotFound(f"unknown generator {id!r}; known generators: {known}") from None


def all_generators() -> tuple[GeneratorSpec, ...]:
    """Every registered generator, by family (in :data:`FAMILIES` order) then id."""
    _load_builtins()
    return tuple(sorted(_REGISTRY.values(), key=lambda g: (FAMILIES.index(g.family), g.id)))


def families() -> dict[str, tuple[str, ...]]:
    """Family name -> ids of its registered generators (families without one are left out)."""
    out: dict[str, tuple[str, ...]] = {}
    for g in all_generators():
        out[g.family] = (*out.get(g.family, ()), g.id)
    return out
