"""Third-party weights the workstation recognises by their SHA-256.

Only files whose hash is in :data:`KNOWN_WEIGHTS` can be imported; the table records what each
one is (architecture, configuration, input, score polarity, licence, training data). The hashes
were computed from the official files of https://github.com/clovaai/aasist
(``models/weights/AASIST.pth`` and ``models/weights/AASIST-L.pth``); the model configurations are
the ``model_config`` sections of the matching ``config/AASIST.conf`` and ``config/AASIST-L.conf``.

What these networks do on *our* data (calibration, verdict bands, validation figures, limits) is
measured by the project and kept as numbers, never weights, in
``models/third_party/<id>.json`` in the repository; :func:`measured_details` reads it when present.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from forensics_app.domain.errors import ForensicsError, NotFound

__all__ = [
    "KnownWeights", "KNOWN_WEIGHTS", "by_sha256", "get_known", "measured_details",
    "write_measured_details", "THIRD_PARTY_DIR",
]

#: Folder, inside the shipped models folder, of the measured details of third-party weights.
THIRD_PARTY_DIR = "third_party"

_AASIST_LICENCE = "MIT (Copyright (c) 2021-present NAVER Corp.; see the AASIST LICENSE and NOTICE)"
_AASIST_SOURCE = "https://github.com/clovaai/aasist"
_AASIST_TRAINING = "ASVspoof 2019 LA train (English, VCTK speakers; 6 TTS/VC attack systems A01-A06)"
_AASIST_POLARITY = "output index 1 = bona fide"
_AASIST_NB_SAMP = 64600
_AASIST_RATE = 16000


def _frozen(config: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(config)


@dataclass(frozen=True)
class KnownWeights:
    """One recognised third-party weights file.

    Attributes
    ----------
    id : str
        Model id in the catalog.
    sha256 : str
        SHA-256 of the official file (lower-case hex).
    size : int
        File size in bytes.
    upstream_name : str
        Where the file is published (repository path).
    architecture : str
        Name in :mod:`forensics_app.nets.registry`.
    task : str
        ``"speech-detection"``.
    model_config : Mapping
        Network configuration (the upstream ``model_config``).
    sample_rate : int
        Input sample rate (Hz).
    input_length_s : float
        Window the network was trained on (s).
    hop_s : float
        Default hop between scored windows (s).
    score_polarity : str
        Which output means what.
    licence, training_data, source : str
        Provenance for the model card.
    """

    id: str
    sha256: str
    size: int
    upstream_name: str
    architecture: str
    task: str
    model_config: Mapping[str, Any]
    sample_rate: int
    input_length_s: float
    hop_s: float
    score_polarity: str
    licence: str
    training_data: str
    source: str
    notes: tuple[str, ...] = field(default=())

    @property
    def file_name(self) -> str:
        """File name used in the user model folder."""
        return f"{self.id}.pth"


def _official(*, id: str, sha256: str, size: int, file: str, filts: list[Any], gat_dims: list[int],
              pool_ratios: list[float], notes: tuple[str, ...]) -> KnownWeights:  # noqa: A002
    """An official clovaai/aasist weights file (the two differ only in these fields)."""
    return KnownWeights(
        id=id, sha256=sha256, size=size, upstream_name=f"clovaai/aasist models/weights/{file}",
        architecture="aasist", task="speech-detection",
        model_config=_frozen({
            "architecture": "AASIST", "nb_samp": _AASIST_NB_SAMP, "first_conv": 128, "filts": filts,
            "gat_dims": gat_dims, "pool_ratios": pool_ratios, "temperatures": [2.0, 2.0, 100.0, 100.0],
        }),
        sample_rate=_AASIST_RATE, input_length_s=_AASIST_NB_SAMP / _AASIST_RATE,
        hop_s=_AASIST_NB_SAMP / _AASIST_RATE / 2, score_polarity=_AASIST_POLARITY,
        licence=_AASIST_LICENCE, training_data=_AASIST_TRAINING, source=_AASIST_SOURCE, notes=notes,
    )


KNOWN_WEIGHTS: tuple[KnownWeights, ...] = (
    _official(id="aasist-official", file="AASIST.pth", size=1281532,
              sha256="51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0",
              filts=[70, [1, 32], [32, 32], [32, 64], [64, 64]], gat_dims=[64, 32],
              pool_ratios=[0.5, 0.7, 0.5, 0.5],
              notes=("upstream README: EER 0.83 %, min t-DCF 0.0275 on ASVspoof 2019 LA eval",)),
    _official(id="aasist-l-official", file="AASIST-L.pth", size=426428,
              sha256="814331d088032bb4c3fa61cc014789eadeed464209dd094ab3a2dd6ffbdce27a",
              filts=[70, [1, 32], [32, 32], [32, 24], [24, 24]], gat_dims=[24, 32],
              pool_ratios=[0.4, 0.5, 0.7, 0.5],
              notes=("light variant; upstream README: EER 0.99 %, min t-DCF 0.0309 on ASVspoof 2019 LA "
                     "eval",)),
)

_BY_SHA = {k.sha256: k for k in KNOWN_WEIGHTS}
_BY_ID = {k.id: k for k in KNOWN_WEIGHTS}


def by_sha256(sha256: str) -> KnownWeights | None:
    """The known weights with this SHA-256, or None."""
    return _BY_SHA.get(sha256.strip().lower())


def get_known(known_id: str) -> KnownWeights:
    """The known weights with this id; :class:`NotFound` lists the known ids."""
    try:
        return _BY_ID[known_id]
    except KeyError:
        raise NotFound(f"no known third-party weights {known_id!r}; known: "
                       f"{', '.join(sorted(_BY_ID))}") from None


def _details_path(known_id: str, models_dir: Path) -> Path:
    return Path(models_dir) / THIRD_PARTY_DIR / f"{known_id}.json"


def measured_details(known_id: str, *, models_dir: Path) -> dict[str, Any]:
    """Calibration, bands, validation and limits measured on our data, or ``{}`` if none yet.

    Parameters
    ----------
    known_id : str
        Id in :data:`KNOWN_WEIGHTS`.
    models_dir : Path
        The shipped models folder (see :func:`forensics_app.detectors.catalog.shipped_models_dir`).

    Raises
    ------
    ForensicsError
        The file exists but is not a JSON object.
    """
    get_known(known_id)
    path = _details_path(known_id, models_dir)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ForensicsError(f"{path}: measured details of {known_id} cannot be read ({exc})") from exc
    if not isinstance(data, dict):
        raise ForensicsError(f"{path}: measured details of {known_id} must be a JSON object")
    return data


def write_measured_details(known_id: str, details: Mapping[str, Any], *, models_dir: Path) -> Path:
    """Write the measured figures of known weights (numbers only, e.g. calibration {a, b},
    bands, validation, limits) to ``models/third_party/<id>.json``; returns the path."""
    get_known(known_id)
    if "config" in details:
        raise ValueError("the configuration of known weights comes from the table, not the details file")
    path = _details_path(known_id, models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(dict(details), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
