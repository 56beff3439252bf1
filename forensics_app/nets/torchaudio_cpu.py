"""Import torchaudio on machines where its compiled extension cannot load.

torchaudio 2.11.0 is the only release that leaves ``torch==2.13.0+cpu`` in place, but its compiled
extension is linked against CUDA libraries (``libc10_cuda.so``) that a CPU build of torch does not
ship, so ``import torchaudio`` fails there. The pure-Python transforms (Spectrogram,
MelSpectrogram, LFCC, MFCC, Resample) do not need the extension. :func:`import_torchaudio` first
tries a normal import; if the extension fails to load, it pre-registers torchaudio's extension
helper module with a loader that reports "no extension", then imports torchaudio again.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXTENSION_DISABLED = False


def _purge() -> None:
    for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
        del sys.modules[name]


def import_torchaudio() -> ModuleType:
    """Return the ``torchaudio`` module, importable on CPU-only torch builds.

    Returns
    -------
    module
        torchaudio; ``torchaudio.transforms`` works either way. When the compiled extension could
        not load, :data:`EXTENSION_DISABLED` is True and extension-backed functions are absent.
    """
    global EXTENSION_DISABLED
    if "torchaudio" in sys.modules and "torchaudio.transforms" in sys.modules:
        return sys.modules["torchaudio"]
    try:
        return importlib.import_module("torchaudio")
    except OSError:
        _purge()
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        raise ImportError("torchaudio is not installed")
    utils_path = Path(spec.origin).parent / "_extension" / "utils.py"
    uspec = importlib.util.spec_from_file_location("torchaudio._extension.utils", utils_path)
    assert uspec is not None and uspec.loader is not None
    utils = importlib.util.module_from_spec(uspec)
    uspec.loader.exec_module(utils)
    utils._load_lib = lambda lib: False  # type: ignore[attr-defined]
    sys.modules["torchaudio._extension.utils"] = utils
    module = importlib.import_module("torchaudio")
    importlib.import_module("torchaudio.transforms")
    EXTENSION_DISABLED = True
    return module
