"""Content-addressed artifact files in ``<case>/artifacts``.

Large arrays and figures never go into SQLite: they are written once under their SHA-256
(``artifacts/ab/abcdef....npy``) and referenced from findings by hash. Writes are atomic and
idempotent; stored artifacts are made read-only.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.domain.errors import IntegrityError, NotFound
from forensics_app.domain.results import AlignmentMatrix, TimeFreqMap, TimeSeries


class ArtifactStore:
    """Content-addressed files under one folder.

    Parameters
    ----------
    root : Path
        The case's ``artifacts`` folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str, suffix: str) -> Path:
        """Where the artifact with this hash and suffix lives."""
        return self.root / sha256[:2] / f"{sha256}{suffix}"

    def put_bytes(self, data: bytes, *, suffix: str) -> str:
        """Store bytes; return their SHA-256 (hex). Existing identical content is reused."""
        sha = hashlib.sha256(data).hexdigest()
        dest = self.path_for(sha, suffix)
        if dest.exists():
            return sha
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        tmp.replace(dest)
        return sha

    def get_bytes(self, sha256: str, *, suffix: str, verify: bool = True) -> bytes:
        """Read an artifact, checking its hash."""
        path = self.path_for(sha256, suffix)
        if not path.exists():
            raise NotFound(f"artifact {sha256}{suffix} is missing from {self.root}")
        data = path.read_bytes()
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"artifact {path.name} does not match its hash")
        return data

    def put_array(self, array: np.ndarray) -> str:
        """Store an array as ``.npy`` (deterministic bytes); return its hash."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        return self.put_bytes(buf.getvalue(), suffix=".npy")

    def get_array(self, sha256: str) -> np.ndarray:
        """Load an array stored with :meth:`put_array` (no pickles)."""
        return np.load(io.BytesIO(self.get_bytes(sha256, suffix=".npy")), allow_pickle=False)

    def put_series(self, series: TimeSeries) -> dict[str, str]:
        """Store a time series as a (2, n) array; return its artifact reference."""
        sha = self.put_array(np.vstack([series.times_s, series.values]))
        return {"kind": "timeseries", "name": series.name, "unit": series.unit, "sha256": sha}

    def get_series(self, ref: dict[str, str]) -> TimeSeries:
        """Load a time series from its reference."""
        arr = self.get_array(ref["sha256"])
        return TimeSeries(name=ref["name"], unit=ref["unit"], times_s=arr[0], values=arr[1])

    def put_map(self, tf_map: TimeFreqMap) -> dict[str, str]:
        """Store a time x frequency map as three arrays; return its artifact reference."""
        return {
            "kind": "tfmap", "name": tf_map.name, "unit": tf_map.unit,
            "times_sha256": self.put_array(tf_map.times_s),
            "freqs_sha256": self.put_array(tf_map.freqs_hz),
            "sha256": self.put_array(tf_map.values),
        }

    def get_map(self, ref: dict[str, str]) -> TimeFreqMap:
        """Load a time x frequency map from its reference."""
        return TimeFreqMap(
            name=ref["name"], unit=ref["unit"], times_s=self.get_array(ref["times_sha256"]),
            freqs_hz=self.get_array(ref["freqs_sha256"]), values=self.get_array(ref["sha256"]),
        )

    def put_alignment(self, matrix: AlignmentMatrix) -> dict[str, Any]:
        """Store an alignment matrix as arrays plus its labels; return its artifact reference."""
        ref: dict[str, Any] = {
            "kind": "alignment", "name": matrix.name, "unit": matrix.unit, "row_axis": matrix.row_axis,
            "row_labels": list(matrix.row_labels),
            "times_sha256": self.put_array(matrix.times_s),
            "rows_sha256": self.put_array(matrix.row_times_s),
            "path_sha256": self.put_array(matrix.path),
            "sha256": self.put_array(matrix.values),
        }
        if matrix.row_spans_s is not None:
            ref["spans_sha256"] = self.put_array(matrix.row_spans_s)
        return ref

    def get_alignment(self, ref: Mapping[str, Any]) -> AlignmentMatrix:
        """Load an alignment matrix from its reference."""
        spans = ref.get("spans_sha256")
        return AlignmentMatrix(
            name=ref["name"], unit=ref["unit"], times_s=self.get_array(ref["times_sha256"]),
            row_times_s=self.get_array(ref["rows_sha256"]), values=self.get_array(ref["sha256"]),
            path=self.get_array(ref["path_sha256"]), row_labels=tuple(ref.get("row_labels", ())),
            row_spans_s=None if spans is None else self.get_array(spans),
            row_axis=ref.get("row_axis", "reference recording (s)"),
        )
