"""Training of the residual detector's head on cached self-resynthesis features.

The head (:class:`forensics_app.nets.residual_mlp.ResidualMlp`) is trained on the window vectors
of the train speakers' recordings (:mod:`forensics_app.training.residual_features_cache`), full
batch (a few thousand vectors of about 40 statistics), by AdamW on the class-balanced logistic
loss: the bona fide windows and the spoofed windows each carry half of the total weight, whatever
their counts. Windows without statistics (too little active speech) are left out. The inputs are
standardised with the training windows' mean and standard deviation, stored in the net.

Recordings are scored as the analyzer scores them: each window vector through
:func:`forensics_app.detectors.residual_front_end.scores_from_features`, file score = mean of the
scored windows (:func:`forensics_app.detectors.windows.file_score`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from forensics_app.detectors.residual_front_end import feature_columns, scores_from_features
from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.residual_mlp import ResidualMlp
from forensics_app.training.residual_features_cache import FeatureTable

#: Defaults of :func:`train_head`.
STEPS, LR, WEIGHT_DECAY = 1000, 1e-2, 1e-3

Row = Mapping[str, str]


@dataclass
class TrainedHead:
    """A trained residual head.

    Attributes
    ----------
    net : ResidualMlp
        In eval mode on the CPU, standardisation set.
    state_dict : dict
        Its parameters and buffers as plain CPU tensors (what is saved).
    history : list of dict
        ``step, loss, accuracy`` every few hundred steps and at the end.
    settings : dict
        What was asked and what happened (sizes, steps, time).
    """

    net: ResidualMlp
    state_dict: dict[str, torch.Tensor]
    history: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)


def labels(rows: Sequence[Row]) -> np.ndarray:
    """1 for spoof rows, 0 for bona fide, shape (len(rows),) int64."""
    bad = sorted({r["label"] for r in rows} - {"bonafide", "spoof"})
    if bad:
        raise ForensicsError(f"unknown label(s) {bad}: expected 'bonafide' or 'spoof'")
    return np.array([r["label"] == "spoof" for r in rows], dtype=np.int64)


def window_matrix(table: FeatureTable, rows: Sequence[Row], features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The finite window vectors of ``rows`` and their labels.

    Returns
    -------
    x : np.ndarray
        Shape (n_windows, len(features)), float64.
    y : np.ndarray
        Shape (n_windows,), 1 = spoof.
    """
    idx = table.index([r["path"] for r in rows])
    y_file = labels(rows)
    where = np.full(len(table.paths), -1, np.int64)
    where[idx] = np.arange(len(rows))
    pick = where[table.win_file] >= 0
    x = table.win_values[pick][:, feature_columns(table.feature_names, features)]
    y = y_file[where[table.win_file[pick]]]
    ok = np.all(np.isfinite(x), axis=1)
    return x[ok], y[ok]


def train_head(x: np.ndarray, y: np.ndarray, *, features: Sequence[str], round_trips: Sequence[str],
               hidden: int, dropout: float = 0.1, steps: int = STEPS, lr: float = LR,
               weight_decay: float = WEIGHT_DECAY, seed: int = 0,
               log: Callable[[str], None] = print) -> TrainedHead:
    """Fit a residual head on window vectors.

    Parameters
    ----------
    x : np.ndarray
        Shape (n, len(features)), finite window vectors.
    y : np.ndarray
        Shape (n,), 1 = spoof, 0 = bona fide (both present).
    features, round_trips : sequence of str
        The net's config: column names of ``x`` and the round trips they come from.
    hidden : int
        Hidden units (0 = logistic regression).
    dropout : float
        Dropout after the hidden layer.
    steps, lr, weight_decay : float
        Full-batch AdamW steps, learning rate (constant) and weight decay.
    seed : int
        Torch seed (initial weights, dropout).
    log : callable
        Receives one line at the end.

    Returns
    -------
    TrainedHead
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.int64)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[1] != len(features):
        raise ForensicsError(f"window vectors {x.shape} do not match {len(y)} labels and {len(features)} features")
    n_spoof, n_bona = int(y.sum()), int((1 - y).sum())
    if n_spoof == 0 or n_bona == 0:
        raise ForensicsError(f"training needs bona fide and spoof windows, got {n_bona} and {n_spoof}")
    if not np.all(np.isfinite(x)):
        raise ForensicsError("training window vectors must be finite")
    torch.manual_seed(seed)
    config = {"features": list(features), "round_trips": list(round_trips), "hidden": int(hidden),
              "dropout": float(dropout)}
    net = ResidualMlp(config)
    net.set_standardisation(x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6))
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32))
    w = torch.where(yt > 0, 0.5 / n_spoof, 0.5 / n_bona)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    history: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    net.train()
    for step in range(1, steps + 1):
        s = net.score(xt)
        loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(s, yt, reduction="none")).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps:
            acc = float((w * ((s.detach() > 0).float() == yt).float()).sum())
            history.append({"step": step, "loss": round(float(loss.detach()), 5), "balanced_accuracy": round(acc, 5)})
    net.eval()
    seconds = time.perf_counter() - t0
    last = history[-1]
    log(f"residual head (hidden {hidden}): {steps} steps in {seconds:.1f} s, loss {last['loss']:.4f}, "
        f"balanced training accuracy {last['balanced_accuracy']:.3f}")
    state = {k: v.detach().clone().cpu() for k, v in net.state_dict().items()}
    settings = {"hidden": int(hidden), "dropout": float(dropout), "steps": int(steps), "lr": lr,
                "weight_decay": weight_decay, "seed": seed, "optimizer": "AdamW, full batch",
                "loss": "class-balanced logistic loss (each class half of the weight)",
                "windows": int(len(y)), "windows_bonafide": n_bona, "windows_spoof": n_spoof,
                "train_seconds": round(seconds, 2), "device": "cpu"}
    return TrainedHead(net=net, state_dict=state, history=history, settings=settings)


def file_raw_scores(net: ResidualMlp, table: FeatureTable, rows: Sequence[Row]) -> np.ndarray:
    """File raw scores of ``rows`` from their cached windows: the mean of the scored windows.

    Returns
    -------
    np.ndarray
        Shape (len(rows),), float64; NaN for a recording none of whose windows has statistics.
    """
    idx = table.index([r["path"] for r in rows])
    raw_w = scores_from_features(net, table.win_values, table.feature_names)
    out = np.full(len(rows), np.nan)
    for k, i in enumerate(idx):
        r = raw_w[table.win_file == i]
        r = r[np.isfinite(r)]
        if r.size:
            out[k] = float(r.mean())
    return out


def window_raw_scores(net: ResidualMlp, table: FeatureTable) -> np.ndarray:
    """Raw score of every cached window, shape (n_windows,), NaN where a window has no statistics."""
    return scores_from_features(net, table.win_values, table.feature_names)
