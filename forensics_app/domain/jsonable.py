"""Turn analyzer output (numpy scalars and arrays, paths, times, enums) into plain JSON values."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from pathlib import PurePath
from typing import Any

import numpy as np


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """A deep copy of ``value`` made only of dict, list, str, int, float (finite), bool and None."""
    return _finite(json.loads(json.dumps(value, default=_default)))


def canonical_json(value: Any) -> str:
    """Deterministic JSON text (sorted keys, no whitespace, UTF-8 kept)."""
    return json.dumps(json_safe(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
