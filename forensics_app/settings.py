"""Paths and the compute device. No Qt here.

The user data folder holds the demo case and imported third-party models; it can be moved with
the ``FORENSICS_APP_HOME`` environment variable (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import platformdirs

APP_NAME = "forensics-app"


def data_dir() -> Path:
    """The user's data folder (created on first use)."""
    override = os.environ.get("FORENSICS_APP_HOME")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_case_dir() -> Path:
    """Where ``forensics-app demo`` builds its case."""
    return data_dir() / "demo-case"


def user_models_dir() -> Path:
    """Where imported third-party weights are kept (never inside the repository)."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def examiner_name() -> str:
    """Default examiner name: ``FORENSICS_APP_EXAMINER`` or the login name."""
    name = os.environ.get("FORENSICS_APP_EXAMINER")
    if name:
        return name
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("USER", "examiner")


def _nvidia_device_present() -> bool:
    """Whether the NVIDIA driver exposes a device (cheap check before importing torch)."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


@lru_cache(maxsize=1)
def compute_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``.

    torch is imported lazily: it takes a second or two and most commands never need it.
    """
    if os.environ.get("FORENSICS_APP_DEVICE"):
        return os.environ["FORENSICS_APP_DEVICE"]
    if "torch" not in sys.modules and not _nvidia_device_present():
        return "cpu"  # no NVIDIA device node: skip the slow torch import
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_device_label() -> str:
    """Human-readable device, e.g. ``"CUDA: NVIDIA H100"`` or ``"CPU (2 threads)"``."""
    device = compute_device()
    if device.startswith("cuda"):
        import torch

        return f"CUDA: {torch.cuda.get_device_name(0)}"
    return f"CPU ({os.cpu_count() or 1} cores)"
