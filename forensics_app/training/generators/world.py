"""WORLD vocoder analysis-synthesis: the classic statistical-parametric TTS vocoder."""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict

import numpy as np

from forensics_app.domain.errors import ForensicsError
from forensics_app.training.generators.registry import GeneratorContext, generator

with warnings.catch_warnings():
    # pyworld 0.3.5 imports pkg_resources, which warns on every import.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import pyworld

#: WORLD frame period (ms).
FRAME_PERIOD_MS = 5.0

#: f0 search range (Hz), wide enough for adult and child voices.
F0_FLOOR_HZ, F0_CEIL_HZ = 60.0, 600.0

#: How many f0 contours :func:`extract_f0` remembers (several generators analyse one utterance).
_F0_CACHE_SIZE = 4
_f0_cache: OrderedDict[tuple[str, int, str, float], tuple[np.ndarray, np.ndarray]] = OrderedDict()


def extract_f0(
    x: np.ndarray, *, rate: int, method: str = "harvest", frame_period_ms: float = FRAME_PERIOD_MS,
) -> tuple[np.ndarray, np.ndarray]:
    """f0 contour with WORLD's Harvest or DIO (refined by StoneMask).

    The last few contours are cached by the signal's content, so the generators that analyse the
    same utterance pay for Harvest (about 0.15 x real time) once.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Mono signal at ``rate`` Hz.
    rate : int
        Sample rate (Hz).
    method : {"harvest", "dio"}
        Harvest is reliable on read speech; DIO + StoneMask is about 15 times faster but misses
        many voiced frames (a degraded-vocoder variant).
    frame_period_ms : float
        Hop between f0 frames (ms).

    Returns
    -------
    f0 : ndarray, shape (frames,), float64
        Fundamental frequency (Hz), 0 where unvoiced.
    times : ndarray, shape (frames,), float64
        Frame times (s).
    """
    if method not in {"harvest", "dio"}:
        raise ForensicsError(f"unknown f0 method {method!r}; expected 'harvest' or 'dio'")
    x64 = np.ascontiguousarray(x, dtype=np.float64)
    key = (hashlib.blake2b(x64.tobytes(), digest_size=16).hexdigest(), int(rate), method, float(frame_period_ms))
    if key in _f0_cache:
        _f0_cache.move_to_end(key)
        f0, times = _f0_cache[key]
        return f0.copy(), times.copy()
    if method == "harvest":
        f0, times = pyworld.harvest(
            x64, rate, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=frame_period_ms,
        )
    else:
        # DIO's own defaults: a lower floor makes it lock onto subharmonics.
        f0, times = pyworld.dio(x64, rate, f0_floor=71.0, f0_ceil=800.0, frame_period=frame_period_ms)
        f0 = pyworld.stonemask(x64, f0, times, rate)
    _f0_cache[key] = (f0.copy(), times.copy())
    while len(_f0_cache) > _F0_CACHE_SIZE:
        _f0_cache.popitem(last=False)
    return f0, times


def warp_envelope(sp: np.ndarray, factor: float) -> np.ndarray:
    """Stretch a spectral envelope along frequency: ``out(f) = sp(f / factor)``.

    A factor above 1 moves formants up (a shorter vocal tract), below 1 down.

    Parameters
    ----------
    sp : ndarray, shape (frames, bins)
        Power spectral envelope on a linear frequency axis.
    factor : float
        Warping factor (about 0.9 to 1.1).
    """
    bins = sp.shape[1]
    src = np.clip(np.arange(bins) / factor, 0.0, bins - 1.0)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    frac = src - lo
    return np.ascontiguousarray(sp[:, lo] * (1.0 - frac) + sp[:, hi] * frac)


@generator(
    id="world",
    family="vocoder",
    description="WORLD vocoder resynthesis (DIO/Harvest f0, CheapTrick, D4C), slight pitch and formant shifts",
)
def world(
    wave: np.ndarray, *, rate: int, rng: np.random.Generator, context: GeneratorContext,
) -> np.ndarray:
    """Resynthesise ``wave`` through WORLD with randomised settings.

    Settings drawn from ``rng``: f0 method (Harvest 85 %, else DIO), f0 scale (0.97-1.03),
    formant warp (0.96-1.04), and whether the envelope / aperiodicity are passed through the
    low-dimensional codings real TTS systems predict (mel-cepstrum-like 40-60 dims, band
    aperiodicity).

    Returns
    -------
    ndarray, shape (about n,), float64 at ``rate`` Hz
    """
    method = "dio" if rng.random() < 0.15 else "harvest"
    f0_scale = float(rng.uniform(0.97, 1.03))
    warp = float(rng.uniform(0.96, 1.04))
    code_dims = int(rng.choice([0, 40, 50, 60]))
    code_ap = bool(rng.random() < 0.5)

    x = np.ascontiguousarray(wave, dtype=np.float64)
    f0, times = extract_f0(x, rate=rate, method=method)
    sp = pyworld.cheaptrick(x, f0, times, rate)
    ap = pyworld.d4c(x, f0, times, rate)
    fft_size = (sp.shape[1] - 1) * 2
    if code_dims:
        coded = pyworld.code_spectral_envelope(sp, rate, code_dims)
        sp = pyworld.decode_spectral_envelope(np.ascontiguousarray(coded), rate, fft_size)
    if code_ap:
        coded_ap = pyworld.code_aperiodicity(ap, rate)
        ap = pyworld.decode_aperiodicity(np.ascontiguousarray(coded_ap), rate, fft_size)
    sp = warp_envelope(sp, warp)
    y = pyworld.synthesize(np.ascontiguousarray(f0 * f0_scale), sp, np.ascontiguousarray(ap), rate, FRAME_PERIOD_MS)
    return y[: len(x)]
