"""The model catalog: shipped models, imported third-party weights, and importing them.

Two sources, one :class:`ModelEntry` type:

* **shipped** models live in the repository's ``models/`` folder (``<sys.prefix>/share/
  forensics-app/models`` in a wheel install): ``manifest.toml`` holds one ``[[model]]`` table per
  model (``id, task, architecture, file, sha256, sample_rate, input_length_s, hop_s,
  score_polarity, licence, training_data, card, details``); ``details`` names a JSON file with
  the configuration, calibration, bands, validation figures and limits.
* **imported** models are third-party weights recognised by hash
  (:mod:`~forensics_app.detectors.known_weights`), copied read-only into
  :func:`forensics_app.settings.user_models_dir` and listed in its ``manifest.json``. Their
  description comes from the known-weights table (never from the user's file), their measured
  figures from ``models/third_party/<id>.json``.

Every load verifies the weights' SHA-256 again (:meth:`ModelEntry.load_state_dict`).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import forensics_app
from forensics_app import settings
from forensics_app.detectors import known_weights
from forensics_app.detectors.known_weights import KnownWeights
from forensics_app.domain.errors import ForensicsError, IntegrityError, NotFound
from forensics_app.ingest import hashing
from forensics_app.training.calibration import Bands, Calibration

__all__ = [
    "ModelEntry", "ImportResult", "TASKS", "MANIFEST_TOML", "IMPORTED_MANIFEST",
    "shipped_models_dir", "shipped_models", "imported_models", "all_models", "get_model",
    "write_shipped_entry", "import_weights", "import_model_file", "importable",
]

TASKS = ("speech-detection", "vocoder")
SOURCES = ("shipped", "imported")
MANIFEST_TOML = "manifest.toml"
IMPORTED_MANIFEST = "manifest.json"

#: Fields of a ``[[model]]`` table, in the order they are written.
_TOML_FIELDS = ("id", "task", "architecture", "file", "sha256", "sample_rate", "input_length_s",
                "hop_s", "score_polarity", "licence", "training_data", "card", "details")
_REQUIRED = tuple(f for f in _TOML_FIELDS if f != "card")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ModelEntry:
    """One catalogued model.

    Attributes
    ----------
    id : str
        Unique model id.
    task : str
        ``"speech-detection"`` or ``"vocoder"``.
    architecture : str
        Name in :mod:`forensics_app.nets.registry`.
    weights_path : Path
        Absolute path of the weights file.
    sha256 : str
        SHA-256 the weights must have (checked at every load).
    sample_rate : int
        Input rate (Hz).
    input_length_s : float
        Window the network scores (s); 0 for a vocoder.
    hop_s : float
        Default hop between windows (s); 0 for a vocoder.
    score_polarity : str
        Which output means what.
    licence, training_data : str
        Provenance.
    card_path : Path or None
        The model card (Markdown), if any.
    details : dict
        ``config``, ``calibration`` {a, b}, ``bands`` {t_low, t_high, rates}, ``validation``,
        ``limits`` and anything else measured (not part of the hash).
    source : str
        ``"shipped"`` or ``"imported"``.
    """

    id: str
    task: str
    architecture: str
    weights_path: Path
    sha256: str
    sample_rate: int
    input_length_s: float
    hop_s: float
    score_polarity: str
    licence: str
    training_data: str
    card_path: Path | None
    details: dict[str, Any] = field(default_factory=dict, hash=False)
    source: str = "shipped"

    @property
    def config(self) -> dict[str, Any]:
        """The network configuration (``details["config"]``)."""
        return dict(self.details.get("config") or {})

    @property
    def calibration(self) -> Calibration | None:
        """The score calibration, or None when the model has not been calibrated."""
        data = self.details.get("calibration")
        return None if not data else Calibration.from_dict(data)

    @property
    def bands(self) -> Bands | None:
        """The verdict bands chosen on validation data, or None."""
        data = self.details.get("bands")
        return None if not data else Bands.from_dict(data)

    def load_state_dict(self) -> dict[str, Any]:
        """The weights as CPU tensors, after checking the file's SHA-256 against :attr:`sha256`."""
        from forensics_app.detectors.weights import load_state_dict

        return load_state_dict(self.weights_path, expected_sha256=self.sha256)

    def as_card(self) -> dict[str, Any]:
        """What a user needs to judge the model: identity, input, polarity, calibration,
        bands and validation figures (JSON-serialisable)."""
        return {
            "id": self.id, "task": self.task, "source": self.source,
            "architecture": self.architecture, "sha256": self.sha256,
            "weights_path": str(self.weights_path),
            "input": {"sample_rate_hz": self.sample_rate, "window_s": self.input_length_s,
                      "hop_s": self.hop_s},
            "score_polarity": self.score_polarity, "licence": self.licence,
            "training_data": self.training_data,
            "card_path": None if self.card_path is None else str(self.card_path),
            "calibration": self.details.get("calibration"),
            "bands": self.details.get("bands"),
            "validation": self.details.get("validation"),
            "limits": self.details.get("limits"),
            "provenance": self.details.get("provenance"),
        }


# --- shipped models ------------------------------------------------------------------------------


def shipped_models_dir() -> Path:
    """The folder of shipped models: the repository's ``models/`` (source checkout or editable
    install), else ``<sys.prefix>/share/forensics-app/models`` (wheel install)."""
    repo = Path(forensics_app.__file__).resolve().parents[1] / "models"
    if (repo / MANIFEST_TOML).is_file():
        return repo
    return Path(sys.prefix) / "share" / "forensics-app" / "models"


def _inside(base: Path, rel: str, *, what: str, where: str) -> Path:
    """``base / rel`` for a relative path that stays inside ``base``."""
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or not rel.strip():
        raise ForensicsError(f"{where}: {what} {rel!r} must be a file name relative to {base}")
    return base / p


def _read_json_object(path: Path, *, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ForensicsError(f"{what}: {path} is missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ForensicsError(f"{what}: {path} cannot be read ({exc})") from exc
    if not isinstance(data, dict):
        raise ForensicsError(f"{what}: {path} must hold a JSON object")
    return data


def _entry_from_table(table: Mapping[str, Any], *, models_dir: Path, where: str) -> ModelEntry:
    missing = [f for f in _REQUIRED if f not in table]
    if missing:
        raise ForensicsError(f"{where}: missing field(s) {', '.join(missing)}")
    mid = str(table["id"])
    if not _ID_RE.match(mid):
        raise ForensicsError(f"{where}: id {mid!r} must be lower-case letters, digits, '.', '_', '-'")
    if table["task"] not in TASKS:
        raise ForensicsError(f"{where}: task {table['task']!r} is not one of {', '.join(TASKS)}")
    details = _read_json_object(
        _inside(models_dir, str(table["details"]), what="details", where=where), what=f"model {mid} details")
    card = table.get("card")
    try:
        return ModelEntry(
            id=mid, task=str(table["task"]), architecture=str(table["architecture"]),
            weights_path=_inside(models_dir, str(table["file"]), what="file", where=where),
            sha256=str(table["sha256"]).lower(), sample_rate=int(table["sample_rate"]),
            input_length_s=float(table["input_length_s"]), hop_s=float(table["hop_s"]),
            score_polarity=str(table["score_polarity"]), licence=str(table["licence"]),
            training_data=str(table["training_data"]),
            card_path=_inside(models_dir, str(card), what="card", where=where) if card else None,
            details=details, source="shipped")
    except (TypeError, ValueError) as exc:
        raise ForensicsError(f"{where}: a numeric field is not a number ({exc})") from exc


def _read_manifest_tables(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ForensicsError(f"{path} cannot be read ({exc})") from exc
    tables = data.get("model", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ForensicsError(f"{path}: 'model' must be an array of [[model]] tables")
    return tables


def shipped_models(models_dir: Path | None = None) -> list[ModelEntry]:
    """The models listed in ``<models_dir>/manifest.toml`` (default :func:`shipped_models_dir`).

    Raises
    ------
    ForensicsError
        A table lacks a field, names a path outside the folder, its details JSON is missing or
        malformed, or two tables share an id.
    """
    base = Path(models_dir) if models_dir is not None else shipped_models_dir()
    path = base / MANIFEST_TOML
    entries = [_entry_from_table(t, models_dir=base, where=f"{path} [[model]] #{i + 1} "
                                 f"({t.get('id', '?')})")
               for i, t in enumerate(_read_manifest_tables(path))]
    _refuse_duplicates(entries, where=str(path))
    return entries


def _refuse_duplicates(entries: list[ModelEntry], *, where: str) -> None:
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise ForensicsError(f"{where}: model id {e.id!r} is listed twice")
        seen.add(e.id)


_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
                 "\r": "\\r"}


def _toml_string(s: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    return '"' + "".join(_TOML_ESCAPES.get(ch) or (f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F
                                                    else ch) for ch in s) + '"'


def _toml_value(key: str, v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    raise ValueError(f"manifest field {key!r}: only strings, numbers and booleans are written, "
                     f"got {type(v).__name__}")


def _toml_table(fields: Mapping[str, Any]) -> str:
    order = [k for k in _TOML_FIELDS if k in fields] + sorted(k for k in fields if k not in _TOML_FIELDS)
    lines = ["[[model]]"]
    for k in order:
        if not _BARE_KEY_RE.match(k):
            raise ValueError(f"manifest field name {k!r} must be letters, digits, '_' or '-'")
        lines.append(f"{k} = {_toml_value(k, fields[k])}")
    return "\n".join(lines) + "\n"


def _header_lines(path: Path) -> str:
    """The comment and blank lines at the top of a manifest, before its first table."""
    if not path.is_file():
        return ("# Models shipped with the workstation, one [[model]] table each (see\n"
                "# forensics_app/detectors/catalog.py); details in <id>.json, card in <id>.md.\n")
    head = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        head.append(line)
    while head and not head[-1].strip():
        head.pop()
    return "\n".join(head) + "\n" if head else ""


def _finite_json(obj: Any) -> Any:
    """``obj`` with numpy scalars made Python numbers and NaN / infinite floats replaced by None
    (strict JSON has no such numbers)."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, Mapping):
        return {str(k): _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    return obj


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; these are ordinary, shareable files
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_shipped_entry(entry_fields: Mapping[str, Any], details: Mapping[str, Any], *,
                        models_dir: Path | None = None) -> ModelEntry:
    """Write (or replace, by id) one ``[[model]]`` table and its details JSON.

    Parameters
    ----------
    entry_fields : mapping
        Flat string / number fields of the table (see the module docstring). ``details``
        defaults to ``"<id>.json"``; ``sha256`` is computed from ``file`` when absent.
    details : mapping
        JSON-serialisable details (config, calibration, bands, validation, limits, ...); numpy
        scalars are written as numbers, NaN and infinities as null.
    models_dir : Path, optional
        Folder of ``manifest.toml`` and the model files (default :func:`shipped_models_dir`).

    Returns
    -------
    ModelEntry
        The entry as read back from the written manifest.

    Notes
    -----
    The comment lines at the top of ``manifest.toml`` are kept; other tables are rewritten in
    canonical form (comments inside them are not kept).
    """
    base = Path(models_dir) if models_dir is not None else shipped_models_dir()
    fields = dict(entry_fields)
    mid = str(fields.get("id", ""))
    if not _ID_RE.match(mid):
        raise ValueError(f"model id {mid!r} must be lower-case letters, digits, '.', '_', '-'")
    fields.setdefault("details", f"{mid}.json")
    where = f"model {mid}"
    if "sha256" not in fields and "file" in fields:
        fields["sha256"] = hashing.sha256_file(_inside(base, str(fields["file"]), what="file", where=where))
    missing = [f for f in _REQUIRED if f not in fields]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    for key in ("file", "details", "card"):
        if fields.get(key):
            _inside(base, str(fields[key]), what=key, where=where)
    if fields["task"] not in TASKS:
        raise ValueError(f"{where}: task {fields['task']!r} is not one of {', '.join(TASKS)}")
    manifest = base / MANIFEST_TOML
    tables = _read_manifest_tables(manifest)
    ids = [t.get("id") for t in tables]
    if mid in ids:  # replaced in place, so the order of the tables is kept
        tables = [fields if t.get("id") == mid else t for t in tables]
    else:
        tables.append(fields)
    text = _header_lines(manifest) + "".join("\n" + _toml_table(t) for t in tables)
    tomllib.loads(text)  # what we write must parse
    details_path = _inside(base, str(fields["details"]), what="details", where=where)
    _atomic_write_text(details_path, json.dumps(_finite_json(dict(details)), indent=2, ensure_ascii=False,
                                                allow_nan=False) + "\n")
    _atomic_write_text(manifest, text)
    return _entry_from_table(tomllib.loads(_toml_table(fields))["model"][0], models_dir=base, where=where)


# --- imported models -----------------------------------------------------------------------------


def _imported_manifest_path() -> Path:
    return settings.user_models_dir() / IMPORTED_MANIFEST


def _read_imported_records() -> list[dict[str, Any]]:
    path = _imported_manifest_path()
    if not path.exists():
        return []
    data = _read_json_object(path, what="imported models")
    records = data.get("models", [])
    if not isinstance(records, list) or not all(isinstance(r, dict) and "id" in r for r in records):
        raise ForensicsError(f"{path}: 'models' must be a list of objects with an 'id'")
    return records


def _write_imported_records(records: list[dict[str, Any]]) -> None:
    _atomic_write_text(_imported_manifest_path(),
                       json.dumps({"format": 1, "models": records}, indent=2, ensure_ascii=False) + "\n")


def _imported_entry(known: KnownWeights, record: Mapping[str, Any], *, models_dir: Path) -> ModelEntry:
    details: dict[str, Any] = dict(known_weights.measured_details(known.id, models_dir=models_dir))
    details["config"] = dict(known.model_config)
    details["provenance"] = {
        "source": known.source, "upstream_name": known.upstream_name, "notes": list(known.notes),
        "imported_at": record.get("imported_at"), "imported_by": record.get("imported_by"),
        "original_name": record.get("original_name"),
    }
    return ModelEntry(
        id=known.id, task=known.task, architecture=known.architecture,
        weights_path=settings.user_models_dir() / known.file_name, sha256=known.sha256,
        sample_rate=known.sample_rate, input_length_s=known.input_length_s, hop_s=known.hop_s,
        score_polarity=known.score_polarity, licence=known.licence, training_data=known.training_data,
        card_path=None, details=details, source="imported")


def imported_models(*, models_dir: Path | None = None) -> list[ModelEntry]:
    """The third-party models imported into :func:`forensics_app.settings.user_models_dir`.

    Each entry is described by the known-weights table (its recorded hash must still be the
    table's) plus the measured details in ``<models_dir>/third_party/<id>.json``.
    """
    base = Path(models_dir) if models_dir is not None else shipped_models_dir()
    out = []
    for record in _read_imported_records():
        known = known_weights.get_known(str(record["id"]))
        if str(record.get("sha256", "")).lower() != known.sha256:
            raise IntegrityError(f"{_imported_manifest_path()}: model {known.id} is recorded with SHA-256 "
                                 f"{record.get('sha256')}, but {known.id} is {known.sha256}")
        out.append(_imported_entry(known, record, models_dir=base))
    return out


def all_models(task: str | None = None, *, models_dir: Path | None = None) -> list[ModelEntry]:
    """Shipped then imported models, optionally only those of one task."""
    if task is not None and task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
    entries = shipped_models(models_dir) + imported_models(models_dir=models_dir)
    _refuse_duplicates(entries, where="model catalog (shipped and imported)")
    return [e for e in entries if task is None or e.task == task]


def get_model(model_id: str, *, models_dir: Path | None = None) -> ModelEntry:
    """The catalogued model with this id.

    Raises
    ------
    NotFound
        Unknown id; the message lists the catalogued ids and the importable ones.
    """
    entries = all_models(models_dir=models_dir)
    for e in entries:
        if e.id == model_id:
            return e
    known = ", ".join(e.id for e in entries) or "none"
    hint = ""
    if any(k.id == model_id for k in known_weights.KNOWN_WEIGHTS):
        hint = (f"; {model_id} is recognised third-party weights: import its file first "
                "(forensics-app models import FILE)")
    raise NotFound(f"no model {model_id!r}; catalogued models: {known}{hint}")


def importable() -> list[KnownWeights]:
    """Known third-party weights that are not imported yet."""
    done = {str(r["id"]) for r in _read_imported_records()}
    return [k for k in known_weights.KNOWN_WEIGHTS if k.id not in done]


@dataclass(frozen=True)
class ImportResult:
    """Outcome of :func:`import_model_file`.

    Attributes
    ----------
    entry : ModelEntry
        The catalogued model.
    status : str
        ``"imported"``, ``"already imported"`` (nothing changed) or ``"repaired"`` (the stored
        copy was missing or damaged and was replaced).
    message : str
        One line for the user.
    """

    entry: ModelEntry
    status: str
    message: str


def _check_source(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such file") from exc
    except OSError as exc:
        raise ForensicsError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if path.is_dir():
        raise ForensicsError(f"{path}: is a folder; give the weights file itself (e.g. AASIST.pth)")
    if not path.is_file():
        raise ForensicsError(f"{path}: not a regular file")
    if st.st_size == 0:
        raise ForensicsError(f"{path}: the file is empty (0 bytes)")


def _unknown_weights_message(path: Path, sha: str) -> str:
    table = "; ".join(f"{k.id} = {k.sha256}" for k in known_weights.KNOWN_WEIGHTS)
    return (f"{path.name}: not recognised weights: its SHA-256 is {sha}, which matches none of the "
            f"known files ({table}). Only the unmodified official files can be imported.")


def _copy_read_only(src: Path, dest: Path, *, expected_sha256: str) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        digests = hashing.copy_and_hash(src, tmp, md5=False)
        if digests.sha256 != expected_sha256:
            raise IntegrityError(f"{src}: changed while being imported (SHA-256 {digests.sha256}, "
                                 f"expected {expected_sha256}); nothing was imported")
        hashing.fsync_path(tmp)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def import_model_file(path: Path, *, examiner: str | None = None,
                      models_dir: Path | None = None) -> ImportResult:
    """Import recognised third-party weights into the user model folder.

    The file is hashed; only a file whose SHA-256 is in the known-weights table is accepted. It
    is copied (hashed again while copying, written to a temporary name, made read-only, renamed
    into place) to ``user_models_dir()/<id>.pth`` and recorded in ``manifest.json``. Importing
    the same weights again changes nothing and says so.

    Parameters
    ----------
    path : Path
        The weights file (e.g. the official ``AASIST.pth``).
    examiner : str, optional
        Recorded as ``imported_by``.
    models_dir : Path, optional
        Shipped models folder (for the measured details).

    Raises
    ------
    NotFound
        The file does not exist.
    ForensicsError
        A folder, an empty or unreadable file.
    IntegrityError
        Unknown SHA-256 (the message gives the file's hash and every known id with its hash).
    """
    path = Path(path)
    _check_source(path)
    sha = hashing.sha256_file(path)
    known = known_weights.by_sha256(sha)
    if known is None:
        raise IntegrityError(_unknown_weights_message(path, sha))
    base = Path(models_dir) if models_dir is not None else shipped_models_dir()
    dest = settings.user_models_dir() / known.file_name
    records = _read_imported_records()
    record = next((r for r in records if r.get("id") == known.id), None)
    copy_ok = dest.is_file() and hashing.sha256_file(dest) == known.sha256
    if record is not None and copy_ok:
        entry = _imported_entry(known, record, models_dir=base)
        return ImportResult(entry, "already imported",
                            f"{known.id} is already imported ({dest}); nothing changed")
    status = "imported" if record is None else "repaired"
    if not copy_ok:
        _copy_read_only(path, dest, expected_sha256=known.sha256)
    if record is None:
        record = {"id": known.id, "file": known.file_name, "sha256": known.sha256,
                  "size": dest.stat().st_size, "original_name": path.name,
                  "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "imported_by": examiner or settings.examiner_name()}
        _write_imported_records([*records, record])
    entry = _imported_entry(known, record, models_dir=base)
    what = "imported" if status == "imported" else "repaired the stored copy of"
    return ImportResult(entry, status, f"{what} {known.id} ({known.upstream_name}, SHA-256 "
                        f"{known.sha256}) into {dest}")


def import_weights(path: Path) -> ModelEntry:
    """Import recognised third-party weights; the catalog entry (see :func:`import_model_file`)."""
    return import_model_file(path).entry
