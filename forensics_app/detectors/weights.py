"""Safe loading of network weights: hash first, then tensors only.

A weights file is read into memory once; its SHA-256 is checked against the expected value on
exactly those bytes, and only then are they unpickled by ``torch.load(..., weights_only=True)``,
which restores tensors and plain containers and refuses any other object (no pickled code runs).
Reading once means the file cannot be swapped between the check and the load.

Accepted layouts: a bare ``state_dict`` (name -> Tensor; the official AASIST ``AASIST.pth`` and
``AASIST-L.pth`` are plain ``OrderedDict`` state_dicts of 229 tensors), or a checkpoint dict holding
one under ``"state_dict"``, ``"model_state_dict"`` or ``"model"``. A ``"module."`` prefix on every
key (``nn.DataParallel``) is removed.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forensics_app.domain.errors import ForensicsError, IntegrityError
from forensics_app.ingest import hashing

__all__ = ["sha256_file", "load_state_dict", "state_dict_from", "MAX_WEIGHTS_BYTES"]

#: Largest weights file read into memory (bytes).
MAX_WEIGHTS_BYTES = 2 << 30

_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save since PyTorch 1.6
_PICKLE_PROTO = b"\x80"  # legacy torch.save: a pickle (protocol >= 2)


def _unpickler_reason(exc: BaseException) -> str:
    """The one line of torch's weights-only refusal that says what was refused."""
    text = str(exc)
    m = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    return m.group(1).strip() if m else (text.strip().splitlines() or ["unknown reason"])[0]


def sha256_file(path: Path) -> str:
    """SHA-256 (lower-case hex) of a file, read without changing it."""
    return hashing.sha256_file(Path(path))


def _read_weights_file(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise IntegrityError(f"weights file {path} is missing") from exc
    except OSError as exc:
        raise IntegrityError(f"weights file {path} cannot be read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(st.st_mode):
        raise IntegrityError(f"weights file {path} is not a regular file")
    if st.st_size > MAX_WEIGHTS_BYTES:
        raise ForensicsError(f"weights file {path} is {st.st_size:,d} bytes; at most "
                             f"{MAX_WEIGHTS_BYTES:,d} are loaded")
    fd = hashing.open_readonly(path)
    with open(fd, "rb", closefd=True) as fh:
        return fh.read()


def state_dict_from(obj: Any, *, name: str) -> dict[str, Any]:
    """The name -> Tensor mapping inside a loaded weights object.

    Parameters
    ----------
    obj : Any
        What ``torch.load`` returned.
    name : str
        File name for messages.

    Raises
    ------
    ForensicsError
        No tensor mapping found, or it holds something other than tensors.
    """
    import torch

    if isinstance(obj, Mapping) and obj and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in _CHECKPOINT_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj:
        raise ForensicsError(f"{name}: not a state_dict (expected a mapping of parameter names to "
                             f"tensors, found {type(obj).__name__})")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ForensicsError(f"{name}: not a state_dict: {len(bad)} entr(ies) are not tensors "
                             f"(first: {bad[0]!r})")
    out = dict(obj)
    if all(k.startswith("module.") for k in out):
        out = {k[len("module."):]: v for k, v in out.items()}
    return out


def load_state_dict(path: Path, *, expected_sha256: str | None) -> dict[str, Any]:
    """Verify and load a weights file on the CPU.

    Parameters
    ----------
    path : Path
        A ``.pt`` / ``.pth`` file written by ``torch.save``.
    expected_sha256 : str or None
        Lower- or upper-case hex SHA-256 the bytes must have; None skips the check (only for
        files the caller has just produced itself).

    Returns
    -------
    dict of str to torch.Tensor
        Parameter name -> CPU tensor, in file order.

    Raises
    ------
    IntegrityError
        The file is missing, not a regular file, or its SHA-256 differs (both hashes named).
    ForensicsError
        The bytes are not a tensor-only PyTorch file or hold no state_dict.
    """
    import torch

    path = Path(path)
    data = _read_weights_file(path)
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256.strip().lower():
            raise IntegrityError(f"weights file {path} does not match its recorded hash: expected "
                                 f"SHA-256 {expected_sha256.strip().lower()}, file has {actual}")
    if not (data.startswith(_ZIP_MAGIC) or data.startswith(_PICKLE_PROTO)):
        raise ForensicsError(f"{path.name}: not a PyTorch weights file (neither a torch.save archive "
                             "nor a legacy pickle)")
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ForensicsError(f"{path.name}: refused: the file holds objects other than tensors and "
                             f"plain containers (weights-only loading: {_unpickler_reason(exc)})") from exc
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise ForensicsError(f"{path.name}: not a readable PyTorch weights file ({exc})") from exc
    return state_dict_from(obj, name=path.name)
