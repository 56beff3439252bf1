"""The project's own neural vocoder as a spoof generator (family ``neural``).

Real deepfake speech comes out of neural vocoders; this generator analyses the bona fide input to a
log mel spectrogram and resynthesises it with the MelGAN-style vocoder trained on the train-split
speakers (:mod:`forensics_app.training.vocoder_train`). It needs the trained weights in
``context.vocoder_weights``. The net is loaded once per process and weights file, on the CPU (the
dataset builder may run generators in worker processes, where CUDA cannot be forked).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.vocoder import MelFrontEnd, MelGANGenerator
from forensics_app.training.generators.registry import GeneratorContext, generator
from forensics_app.training.vocoder_io import load_vocoder, resynthesise


@lru_cache(maxsize=4)
def _cached_vocoder(path: str, mtime_ns: int, size: int) -> tuple[MelGANGenerator, MelFrontEnd]:
    """The vocoder of weights file ``path``; the file's mtime and size are part of the cache key,
    so replaced weights are loaded again."""
    del mtime_ns, size
    return load_vocoder(Path(path), device="cpu")


def cached_vocoder(weights: Path | None) -> tuple[MelGANGenerator, MelFrontEnd]:
    """Load (once per process) the vocoder from ``weights``.

    Raises
    ------
    ForensicsError
        ``weights`` is None or not an existing file.
    """
    if weights is None:
        raise ForensicsError(
            "generator 'neural' needs the trained neural vocoder weights "
            "(GeneratorContext.vocoder_weights is not set; train them with train_vocoder or use "
            "models/vocoder-melgan-v1.pt)")
    path = Path(weights).resolve()
    if not path.is_file():
        raise ForensicsError(f"generator 'neural': vocoder weights {path} do not exist")
    st = path.stat()
    return _cached_vocoder(str(path), st.st_mtime_ns, st.st_size)


@generator(id="neural", family="neural",
           description="the project's MelGAN-style neural vocoder: log-mel analysis and resynthesis")
def neural(wave: np.ndarray, *, rate: int, rng: np.random.Generator,
           context: GeneratorContext) -> np.ndarray:
    """Resynthesise ``wave`` (mono, ``rate`` Hz) through the neural vocoder; same length out.

    ``rng`` is not used: the vocoder is deterministic.
    """
    del rng
    net, frontend = cached_vocoder(context.vocoder_weights)
    return resynthesise(wave, rate=rate, net=net, frontend=frontend, device="cpu")
