"""The network architecture registry.

Architectures register declaratively on their ``nn.Module`` class::

    @architecture("lfcc_lcnn")
    class LfccLcnn(nn.Module):
        def __init__(self, config: Mapping[str, Any]) -> None: ...

and are built by name from a config mapping (the ``config`` of a model's details file)::

    net = build("aasist", {"gat_dims": [24, 32]})

The built-in architectures live in the modules of :data:`BUILTIN_MODULES`; they are imported on
first use of :func:`build` or :func:`names`, so callers need not import them. A built-in module
that is absent (``ModuleNotFoundError`` for that very module) is logged and skipped.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from forensics_app.domain.errors import ForensicsError, NotFound

log = logging.getLogger(__name__)

BUILTIN_MODULES = (
    "forensics_app.nets.lcnn",
    "forensics_app.nets.aasist",
    "forensics_app.nets.vocoder",
    "forensics_app.nets.residual_mlp",
)

ModuleT = TypeVar("ModuleT", bound=type[nn.Module])

_REGISTRY: dict[str, type[nn.Module]] = {}
_MISSING: dict[str, str] = {}
_loaded = False


def architecture(name: str) -> Callable[[ModuleT], ModuleT]:
    """Register the decorated ``nn.Module`` class under ``name``.

    The class is constructed as ``cls(config)`` with a ``Mapping[str, Any]``. Registering a
    different class under an existing name raises ForensicsError.
    """

    def decorate(cls: ModuleT) -> ModuleT:
        existing = _REGISTRY.get(name)
        if existing is not None and _ident(existing) != _ident(cls):
            raise ForensicsError(f"architecture {name!r} is registered twice "
                                 f"({_ident(existing)} and {_ident(cls)})")
        _REGISTRY[name] = cls
        return cls

    return decorate


def _ident(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve_config(name: str, defaults: Mapping[str, Any], config: Mapping[str, Any],
                   *, ignored: tuple[str, ...] = ("architecture",)) -> dict[str, Any]:
    """``defaults`` overlaid with ``config``; a key not in ``defaults`` raises ForensicsError.

    Keys in ``ignored`` (the official AASIST configs carry ``"architecture"``) are dropped.
    """
    unknown = sorted(set(config) - set(defaults) - set(ignored))
    if unknown:
        raise ForensicsError(f"architecture {name!r}: unknown config key(s) {unknown}; "
                             f"known: {sorted(defaults)}")
    return {key: config.get(key, value) for key, value in defaults.items()}


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            log.info("built-in architecture module %s is absent; skipped", module)
            _MISSING[module] = str(exc)


def names() -> list[str]:
    """The registered architecture names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> type[nn.Module]:
    """The architecture class registered as ``name``; NotFound lists the known names."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NotFound(f"no network architecture {name!r}; known: "
                       f"{', '.join(sorted(_REGISTRY)) or '(none)'}") from None


def build(name: str, config: Mapping[str, Any] | None = None) -> nn.Module:
    """A new, randomly initialised network of architecture ``name``.

    Parameters
    ----------
    name : str
        Registered architecture name, e.g. ``"lfcc_lcnn"`` or ``"aasist"``.
    config : Mapping, optional
        Architecture settings; keys left out take the architecture's defaults.

    Returns
    -------
    torch.nn.Module
        On the CPU, in training mode (``torch.nn.Module`` default).
    """
    return get(name)(dict(config or {}))
