"""Plain-text formatting of report values (Jinja2 filters). No HTML is produced here.

Every function takes a plain value from :mod:`forensics_app.report.model` and returns a string;
the template escapes it (autoescape is on).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

#: Key details shown per finding in the HTML/PDF (all of them are in the JSON export).
MAX_DETAILS = 8
#: Longest value text shown in a details list before it is shortened with an ellipsis.
MAX_VALUE_CHARS = 90


def fake_likelihood(value: float | None) -> str:
    """``"0.873"`` or ``"descriptive"``."""
    return "descriptive" if value is None else f"{value:.3f}"


def timestamp(value: str | None) -> str:
    """ISO 8601 UTC text as ``"2024-05-01 12:34:56 UTC"`` (``"—"`` when absent)."""
    if not value:
        return "\u2014"
    try:
        t = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    except ValueError:
        return value
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def timestamp_precise(value: str | None) -> str:
    """ISO 8601 UTC text with milliseconds, ``"2024-05-01 12:34:56.123 UTC"``."""
    if not value:
        return "\u2014"
    try:
        t = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    except ValueError:
        return value
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d} UTC"


def byte_size(n: int | None) -> str:
    """``"1,234,567 bytes (1.18 MiB)"``."""
    if n is None:
        return "\u2014"
    exact = f"{n:,} bytes"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{exact} ({n / scale:.2f} {unit})"
    return exact


def number(value: Any) -> str:
    """Numbers with at most 6 significant digits; other values as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-4):
            return f"{value:.4g}"
        return f"{value:.6g}"
    if value is None:
        return "\u2014"
    return str(value)


def seconds(value: float | None) -> str:
    """``"12.345 s"``."""
    return "\u2014" if value is None else f"{value:.3f} s"


def time_range(item: Any) -> str:
    """Time and/or frame range of a finding or annotation, e.g. ``"1.250 – 2.000 s"``."""
    parts = []
    if item.start_s is not None:
        end = item.end_s if item.end_s is not None else item.start_s
        parts.append(f"{item.start_s:.3f} \u2013 {end:.3f} s" if end != item.start_s else f"{item.start_s:.3f} s")
    if item.start_frame is not None:
        if item.end_frame is None or item.end_frame == item.start_frame + 1:
            parts.append(f"frame {item.start_frame}")
        else:
            parts.append(f"frames {item.start_frame} \u2013 {item.end_frame - 1}")
    low, high = getattr(item, "low_hz", None), getattr(item, "high_hz", None)
    if low is not None or high is not None:
        parts.append(f"{number(low if low is not None else 0.0)} \u2013 {number(high) if high is not None else '…'} Hz")
    return "; ".join(parts)


def span(value: tuple[float | None, float | None] | None) -> str:
    """A (start, end) pair in seconds: ``"1.250 – 2.000 s"``, ``"1.250 s"`` for one instant, ``"—"``."""
    if not value or value[0] is None:
        return "\u2014"
    start, end = value
    if end is None or end == start:
        return f"{start:.3f} s"
    return f"{start:.3f} \u2013 {end:.3f} s"


def region(value: Mapping[str, Any] | None) -> str:
    """``"x 10, y 20, 64 × 48 px"``."""
    if not value:
        return ""
    return (f"x {value.get('x')}, y {value.get('y')}, "
            f"{value.get('width')} \u00d7 {value.get('height')} px")


def compact(value: Any, *, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as short text: numbers formatted, containers as compact JSON, long text shortened."""
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    else:
        text = number(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def details(value: Mapping[str, Any] | None, *, limit: int = MAX_DETAILS) -> list[tuple[str, str]]:
    """The first ``limit`` entries of a details mapping as (key, short text) pairs."""
    if not value:
        return []
    return [(str(k), compact(v)) for k, v in list(value.items())[:limit]]


def more_details(value: Mapping[str, Any] | None, *, limit: int = MAX_DETAILS) -> int:
    """How many entries :func:`details` leaves out."""
    return max(0, len(value or {}) - limit)


def all_items(value: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Every entry of a mapping as (key, text) with the full value (JSON for containers)."""
    if not value:
        return []
    out = []
    for k, v in value.items():
        if isinstance(v, (dict, list, tuple)):
            out.append((str(k), json.dumps(v, ensure_ascii=False, separators=(", ", ": "), default=str)))
        else:
            out.append((str(k), number(v)))
    return out


def json_text(value: Any) -> str:
    """Compact JSON, keys sorted (for audit details)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "), default=str)


FILTERS = {
    "fl": fake_likelihood,
    "ts": timestamp,
    "ts_precise": timestamp_precise,
    "bytesize": byte_size,
    "num": number,
    "secs": seconds,
    "trange": time_range,
    "span": span,
    "region": region,
    "compact": compact,
    "details": details,
    "more_details": more_details,
    "all_items": all_items,
    "json_text": json_text,
}
