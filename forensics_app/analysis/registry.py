"""The analyzer registry.

Analyzers register declaratively::

    @analyzer(id="audio.signal_stats", version="1.0.0", media=[MediaKind.AUDIO],
              label="Audio signal statistics", params=[Param("frame_s", 0.05, "Analysis frame (s)")])
    def signal_stats(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
        ...

Built-in analyzers live in the modules listed in :data:`BUILTIN_MODULES`; third-party plugins
register the same way from packages that declare an entry point in the group
``forensics_app.analyzers``. Both are imported by :func:`load_all`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from forensics_app.domain.errors import AnalyzerError, NotFound
from forensics_app.domain.media import MediaKind
from forensics_app.domain.results import AnalysisResult

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "forensics_app.analyzers"
BUILTIN_MODULES = (
    "forensics_app.analysis.audio.signal_stats",
    "forensics_app.analysis.image.metadata",
    "forensics_app.analysis.video.stream_summary",
    "forensics_app.analysis.audio.bandwidth",
    "forensics_app.analysis.audio.levels",
    "forensics_app.analysis.audio.codec_history",
    "forensics_app.analysis.audio.enf",
    "forensics_app.analysis.audio.splice",
    "forensics_app.analysis.audio.synthetic_speech",
    "forensics_app.analysis.audio.detector_robustness",
    "forensics_app.analysis.resynthesis.self_resynthesis",
    "forensics_app.analysis.resynthesis.reference_comparison",
    "forensics_app.analysis.resynthesis.transcript_alignment",
)

AnalyzerFunc = Callable[..., AnalysisResult]


@dataclass(frozen=True)
class Param:
    """A parameter of an analyzer.

    Attributes
    ----------
    name : str
        Keyword in ``params``.
    default : int, float, str or bool
        Default value; its type is the parameter's type.
    description : str
        Shown in the GUI and the report (with the unit).
    minimum, maximum : float, optional
        Bounds for numbers.
    choices : tuple, optional
        Allowed values for strings.
    """

    name: str
    default: Any
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()

    def coerce(self, value: Any) -> Any:
        """Validate and convert a user-supplied value (raises AnalyzerError)."""
        kind = type(self.default)
        try:
            if kind is bool:
                if isinstance(value, str):
                    if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                        raise ValueError(value)
                    out: Any = value.lower() in {"true", "1", "yes"}
                else:
                    out = bool(value)
            else:
                out = kind(value)
        except (TypeError, ValueError) as exc:
            raise AnalyzerError(f"parameter {self.name!r}: {value!r} is not a {kind.__name__}") from exc
        if self.minimum is not None and out < self.minimum:
            raise AnalyzerError(f"parameter {self.name!r}: {out} is below the minimum {self.minimum}")
        if self.maximum is not None and out > self.maximum:
            raise AnalyzerError(f"parameter {self.name!r}: {out} is above the maximum {self.maximum}")
        if self.choices and out not in self.choices:
            raise AnalyzerError(f"parameter {self.name!r}: {out!r} is not one of {list(self.choices)}")
        return out


@dataclass(frozen=True)
class AnalyzerInfo:
    """A registered analyzer and its metadata."""

    id: str
    version: str
    media: frozenset[MediaKind]
    label: str
    func: AnalyzerFunc = field(repr=False, compare=False)
    description: str = ""
    params: tuple[Param, ...] = ()
    model_sha256: str | None = None
    needs_reference: bool = False
    on_demand: bool = False

    def resolve_params(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``given``, validated; unknown names raise AnalyzerError."""
        given = dict(given or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise AnalyzerError(f"{self.id}: unknown parameter(s) {unknown}; known: {sorted(known)}")
        return {name: p.coerce(given[name]) if name in given else p.default for name, p in known.items()}

    def as_json(self) -> dict[str, Any]:
        """JSON form for ``forensics-app analyzers``."""
        return {
            "id": self.id,
            "version": self.version,
            "media": sorted(m.value for m in self.media),
            "label": self.label,
            "description": self.description,
            "params": [{"name": p.name, "default": p.default, "description": p.description} for p in self.params],
            "needs_reference": self.needs_reference,
            "on_demand": self.on_demand,
        }


_REGISTRY: dict[str, AnalyzerInfo] = {}
_LOAD_ERRORS: dict[str, str] = {}
_loaded = False
_LOAD_LOCK = threading.RLock()


def analyzer(
    *,
    id: str,  # noqa: A002 - the registry's vocabulary
    version: str,
    media: Iterable[MediaKind | str],
    label: str,
    description: str = "",
    params: Sequence[Param] = (),
    model_sha256: str | None = None,
    reference: bool = False,
    on_demand: bool = False,
) -> Callable[[AnalyzerFunc], AnalyzerFunc]:
    """Register the decorated function as an analyzer.

    The function is called as ``func(media, *, params, progress)`` and returns an AnalysisResult.
    An analyzer registered with ``reference=True`` compares the evidence with a second evidence
    item of the same case: it must declare an integer parameter ``reference_id``, and the runner
    verifies and decodes that item too and calls ``func(media, *, params, progress, reference)``.
    An ``on_demand`` analyzer needs an input from the investigator (a reference, a transcript) and
    is never part of an "every applicable analyzer" batch (:func:`for_media`); ``reference=True``
    implies it.
    Registering a second analyzer under an existing id raises AnalyzerError.
    """
    if reference and "reference_id" not in {p.name for p in params}:
        raise AnalyzerError(f"analyzer {id!r} compares with a reference but declares no 'reference_id' parameter")

    def decorate(func: AnalyzerFunc) -> AnalyzerFunc:
        info = AnalyzerInfo(
            id=id, version=version, media=frozenset(MediaKind(m) for m in media), label=label,
            func=func, description=description or (func.__doc__ or "").strip().split("\n")[0],
            params=tuple(params), model_sha256=model_sha256, needs_reference=reference,
            on_demand=on_demand or reference,
        )
        existing = _REGISTRY.get(id)
        if existing is not None and existing.func is not func:
            raise AnalyzerError(f"analyzer id {id!r} is registered twice")
        _REGISTRY[id] = info
        return func

    return decorate


def load_all() -> None:
    """Import built-in analyzer modules and plugins (once).

    A module that fails to import is logged and listed by :func:`load_errors`; the analyzers
    that did load stay available (one broken module must not take the workstation down).
    """
    global _loaded
    with _LOAD_LOCK:  # the GUI loads on a worker: a second caller waits for the whole import
        if _loaded:
            return
        _loaded = True  # first, so a module that asks the registry while it imports does not recurse
        _import_all()


def _import_all() -> None:
    sources = [(name, lambda n=name: importlib.import_module(n)) for name in BUILTIN_MODULES]
    sources += [(f"plugin {ep.name} ({ep.value})", ep.load)
                for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for name, load in sources:
        try:
            load()
        except Exception as exc:
            log.exception("analyzer module %s failed to load", name)
            _LOAD_ERRORS[name] = f"{type(exc).__name__}: {exc}"


def load_errors() -> dict[str, str]:
    """Analyzer modules that failed to import, with the error (empty when all loaded)."""
    load_all()
    return dict(_LOAD_ERRORS)


def all_analyzers() -> list[AnalyzerInfo]:
    """Every registered analyzer, sorted by id."""
    load_all()
    return sorted(_REGISTRY.values(), key=lambda a: a.id)


def for_media(kind: MediaKind | str, *, on_demand: bool = False) -> list[AnalyzerInfo]:
    """Analyzers that accept this media kind (without the on-demand ones unless ``on_demand``)."""
    kind = MediaKind(kind)
    return [a for a in all_analyzers() if kind in a.media and (on_demand or not a.on_demand)]


def get(analyzer_id: str) -> AnalyzerInfo:
    """An analyzer by id; NotFound lists the known ids."""
    load_all()
    try:
        return _REGISTRY[analyzer_id]
    except KeyError:
        raise NotFound(f"no analyzer {analyzer_id!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def unregister(analyzer_id: str) -> None:
    """Remove an analyzer (tests register temporary ones)."""
    _REGISTRY.pop(analyzer_id, None)
