"""Cell edges of sampled grids (map columns and rows drawn as cells in physical units)."""

from __future__ import annotations

import numpy as np


def centre_edges(centres: np.ndarray, *, floor: float | None = None) -> np.ndarray:
    """Cell edges, shape (n + 1,), halfway between increasing cell centres, shape (n,).

    A single centre gets a cell of width 1 % of its value (at least 1e-3). ``floor`` clips the
    lowest edge (0 Hz for frequencies).
    """
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        half = max(abs(float(c[0])) * 0.005, 5e-4)
        edges = np.array([c[0] - half, c[0] + half])
    else:
        mid = 0.5 * (c[1:] + c[:-1])
        edges = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return edges if floor is None else np.maximum(edges, floor)
