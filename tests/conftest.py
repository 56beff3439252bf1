"""Shared test set-up: no display, no network, a private user data folder per test session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Qt aborts the whole process when there is no display and no platform is set.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FORENSICS_APP_HOME", tempfile.mkdtemp(prefix="forensics-app-home-"))
os.environ.setdefault("FORENSICS_APP_EXAMINER", "Test Examiner")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from forensics_app.store.case import CaseStore  # noqa: E402


@pytest.fixture
def case(tmp_path: Path) -> CaseStore:
    """A new, empty case in a temporary folder."""
    store = CaseStore.create(tmp_path / "case", title="Test case", examiner="Test Examiner", number="T-1")
    yield store
    store.close()


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """torch on one CPU thread for the test (2-core machines: less contention, steadier timings)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
