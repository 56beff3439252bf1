"""Training the project's neural vocoder on the bona fide train speakers.

:func:`train_vocoder` fits a :class:`~forensics_app.nets.vocoder.MelGANGenerator` to reproduce
random 0.5-1 s crops of the train-split speakers from their log mel spectrograms. The loss is a
multi-resolution STFT loss (spectral convergence + log magnitude, three resolutions) plus an L1
loss between the log mel spectrograms of output and target. There is no discriminator: with the
wall-clock budgets this project trains under (minutes on a few CPU cores, about a thousand steps)
adversarial losses do not get the steps they need to help. After such a budget the output follows
the spectral envelope of the input closely but its harmonic fine structure is still mostly noise
(whisper-like, buzzy speech); more steps (a GPU) sharpen the harmonics.

Only ``out_weights`` is written. Validation resynthesises a few validation-split utterances and
reports the log-spectral distance and the multi-resolution STFT loss against the originals.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.vocoder import MelFrontEnd, MelGANGenerator, vocoder_config
from forensics_app.settings import compute_device
from forensics_app.training.audio_io import read_mono
from forensics_app.training.corpus import Utterance, list_corpus, split_speakers
from forensics_app.training.vocoder_io import folded_state_dict, resynthesise

#: (n_fft, hop, win_length) of the multi-resolution STFT loss.
STFT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((512, 50, 240), (1024, 120, 600), (2048, 240, 1200))
#: Crop length range of training examples, seconds.
CROP_S = (0.5, 1.0)
#: Validation utterances resynthesised (each cut to at most VALIDATION_MAX_S seconds).
VALIDATION_COUNT = 4
VALIDATION_MAX_S = 6.0


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + mean |log magnitude difference|, averaged over resolutions.

    ``forward(y_hat (B, T), y (B, T)) -> (sc, log_mag)`` scalar tensors.
    """

    def __init__(self, resolutions: Sequence[tuple[int, int, int]] = STFT_RESOLUTIONS) -> None:
        super().__init__()
        self.resolutions = tuple(resolutions)
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def forward(self, y_hat: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        sc = y.new_zeros(())
        mag = y.new_zeros(())
        for i, (n_fft, hop, win) in enumerate(self.resolutions):
            window = getattr(self, f"window{i}")
            s_hat = torch.stft(y_hat, n_fft, hop, win, window, return_complex=True).abs().clamp_min(1e-7)
            s = torch.stft(y, n_fft, hop, win, window, return_complex=True).abs().clamp_min(1e-7)
            sc = sc + torch.linalg.norm(s - s_hat) / torch.linalg.norm(s).clamp_min(1e-7)
            mag = mag + (torch.log(s) - torch.log(s_hat)).abs().mean()
        n = len(self.resolutions)
        return sc / n, mag / n


def log_spectral_distance(reference: np.ndarray, test: np.ndarray, *, n_fft: int = 1024,
                          hop: int = 256, floor_db: float = -80.0) -> float:
    """Log-spectral distance in dB: RMS over frequency of the dB power difference, mean over frames.

    Powers are floored ``floor_db`` below the reference's peak so silence does not dominate.
    Frames whose reference energy is more than 60 dB below the loudest frame are left out.
    """
    n = min(len(reference), len(test))
    if n < n_fft:
        raise ForensicsError(f"log-spectral distance needs at least {n_fft} samples, got {n}")
    w = np.hanning(n_fft).astype(np.float32)

    def power(x: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(x[:n], n_fft)[::hop] * w
        return np.abs(np.fft.rfft(frames, axis=1)) ** 2

    p_ref, p_test = power(reference), power(test)
    floor = p_ref.max() * 10 ** (floor_db / 10) + 1e-20
    d = 10 * np.log10(np.maximum(p_ref, floor)) - 10 * np.log10(np.maximum(p_test, floor))
    energy = p_ref.sum(axis=1)
    keep = energy >= energy.max() * 1e-6
    return float(np.mean(np.sqrt(np.mean(d[keep] ** 2, axis=1))))


def load_corpus_audio(utterances: Sequence[Utterance], *, rate: int = 16000, progress: Any = None,
                      peak: float = 0.9) -> list[np.ndarray]:
    """Decode ``utterances`` to mono float32 at ``rate`` Hz, each scaled to ``peak`` full scale."""
    out = []
    for i, u in enumerate(utterances):
        if progress is not None:
            progress.check()
            progress.report(i / max(1, len(utterances)), f"reading {u.utterance}")
        x = read_mono(u.path, rate=rate)
        top = float(np.max(np.abs(x))) if len(x) else 0.0
        if top > 0:
            x = x * (peak / top)
        out.append(np.ascontiguousarray(x, np.float32))
    return out


def _sample_batch(audio: Sequence[np.ndarray], rng: np.random.Generator, *, batch: int, hop: int,
                  rate: int) -> np.ndarray:
    """(batch, L) crops, L a multiple of ``hop`` in :data:`CROP_S`, random gain 0..-10 dB."""
    lo, hi = (max(1, int(round(s * rate / hop))) for s in CROP_S)
    length = hop * int(rng.integers(lo, hi + 1))
    sizes = np.array([len(a) for a in audio], np.float64)
    p = sizes / sizes.sum()
    out = np.zeros((batch, length), np.float32)
    for b in range(batch):
        for _ in range(5):  # prefer crops that are not silence
            x = audio[int(rng.choice(len(audio), p=p))]
            start = int(rng.integers(0, max(1, len(x) - length + 1)))
            crop = x[start:start + length]
            if float(np.sqrt(np.mean(crop ** 2))) > 0.01:
                break
        out[b, :len(crop)] = crop * 10 ** (-rng.uniform(0.0, 10.0) / 20)
    return out


def evaluate_resynthesis(net: MelGANGenerator, frontend: MelFrontEnd, waves: Sequence[np.ndarray], *,
                         rate: int, device: torch.device) -> dict[str, float]:
    """Resynthesise ``waves`` and compare with the originals.

    Returns
    -------
    dict
        ``lsd_db`` (mean log-spectral distance), ``mr_stft_sc`` / ``mr_stft_log_mag`` (mean
        multi-resolution STFT loss terms), ``n_utterances`` and ``seconds_audio``.
    """
    was_training = net.training
    net.eval()
    loss = MultiResolutionSTFTLoss()
    lsd, sc, mag = [], [], []
    for x in waves:
        y = resynthesise(x, rate=rate, net=net, frontend=frontend, device=device)
        lsd.append(log_spectral_distance(x, y))
        with torch.no_grad():
            s, m = loss(torch.from_numpy(y)[None], torch.from_numpy(x)[None])
        sc.append(float(s))
        mag.append(float(m))
    net.train(was_training)
    return {"n_utterances": len(waves), "seconds_audio": round(sum(len(x) for x in waves) / rate, 3),
            "lsd_db": float(np.mean(lsd)), "mr_stft_sc": float(np.mean(sc)),
            "mr_stft_log_mag": float(np.mean(mag))}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def train_vocoder(*, data_dir: Path, out_weights: Path, seed: int = 0, minutes: float = 12.0,
                  device: str | None = None, progress: Any = None, log: Callable[[str], None] = print,
                  config: Mapping[str, Any] | None = None, max_steps: int | None = None,
                  batch_size: int = 4, learning_rate: float = 2e-3, mel_weight: float = 1.0,
                  split_seed: int = 0) -> dict[str, Any]:
    """Train the MelGAN-style vocoder on the train-split speakers of a corpus folder.

    Parameters
    ----------
    data_dir : Path
        Corpus folder (see :func:`forensics_app.training.corpus.list_corpus`).
    out_weights : Path
        Where the generator's state_dict (weight norm folded, plain tensors) is saved; the only
        file written.
    seed : int
        Seeds torch and the numpy generator drawing crops and gains.
    minutes : float
        Wall-clock budget of the training loop (validation and loading come on top, seconds).
    device : str, optional
        ``"cuda"`` or ``"cpu"``; default :func:`forensics_app.settings.compute_device`.
    progress : ProgressToken-like, optional
        ``report`` / ``check`` (cancellation raises Cancelled; nothing is written then).
    log : callable
        Receives a line of text about every 30 s.
    config : mapping, optional
        Vocoder config overrides (:data:`~forensics_app.nets.vocoder.DEFAULT_CONFIG`).
    max_steps : int, optional
        Stop after this many optimiser steps even if time is left.
    batch_size, learning_rate, mel_weight : training hyper-parameters (Adam, cosine decay to 10 %).
    split_seed : int
        Seed of :func:`~forensics_app.training.corpus.split_speakers` (the detectors' split).

    Returns
    -------
    dict
        ``config`` (of the saved, weight-norm-folded net), ``steps``, ``seconds`` (whole call),
        ``train_seconds``, ``final_losses`` (means over the last 50 steps), ``validation`` and
        ``validation_initial`` (see :func:`evaluate_resynthesis`), data sizes, ``device``,
        ``seed`` and ``weights_sha256``.
    """
    t_start = time.perf_counter()
    if minutes <= 0 and not max_steps:
        raise ForensicsError("train_vocoder needs minutes > 0 or max_steps")
    cfg = vocoder_config(config)
    rate, hop = int(cfg["sample_rate"]), int(cfg["hop"])
    dev = torch.device(device or compute_device())
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    splits = split_speakers(list_corpus(Path(data_dir)), seed=split_seed)
    if not splits.train:
        raise ForensicsError(f"corpus {data_dir} has no train-split speakers")
    load_progress = progress.sub(0.0, 0.05) if progress is not None else None
    train_audio = load_corpus_audio(splits.train, rate=rate, progress=load_progress)
    val_pick = splits.validation[:VALIDATION_COUNT]
    val_audio = [x[:int(VALIDATION_MAX_S * rate)]
                 for x in load_corpus_audio(val_pick, rate=rate)]
    log(f"vocoder: {len(train_audio)} train utterances "
        f"({sum(len(x) for x in train_audio) / rate:.0f} s, {len({u.speaker for u in splits.train})} "
        f"speakers), {len(val_audio)} validation utterances; device {dev}")

    net = MelGANGenerator(cfg).to(dev).train()
    frontend = MelFrontEnd(cfg).to(dev)
    stft_loss = MultiResolutionSTFTLoss().to(dev)
    n_params = sum(p.numel() for p in net.parameters())
    val_initial = evaluate_resynthesis(net, frontend, val_audio, rate=rate, device=dev) if val_audio else {}
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate, betas=(0.8, 0.99))
    budget = max(0.0, minutes) * 60.0
    t_train = time.perf_counter()
    history: list[tuple[float, float, float, float]] = []
    step, last_log = 0, t_train
    train_progress = progress.sub(0.05, 0.9) if progress is not None else None
    while True:
        elapsed = time.perf_counter() - t_train
        frac_t = elapsed / budget if budget > 0 else 0.0
        frac_s = step / max_steps if max_steps else 0.0
        frac = max(frac_t, frac_s)
        if frac >= 1.0:
            break
        if train_progress is not None:
            train_progress.check()
            train_progress.report(frac, f"vocoder step {step}")
        for group in opt.param_groups:
            group["lr"] = learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))
        y = torch.from_numpy(_sample_batch(train_audio, rng, batch=batch_size, hop=hop, rate=rate)).to(dev)
        with torch.no_grad():
            mel = frontend(y)
        y_hat = net(mel)
        sc, mag = stft_loss(y_hat, y)
        mel_l1 = (frontend(y_hat) - mel).abs().mean()
        loss = sc + mag + mel_weight * mel_l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        step += 1
        history.append((float(loss.detach()), float(sc.detach()), float(mag.detach()), float(mel_l1.detach())))
        if time.perf_counter() - last_log >= 30.0:
            last_log = time.perf_counter()
            recent = np.mean(history[-50:], axis=0)
            log(f"vocoder step {step} ({last_log - t_train:.0f} s): loss {recent[0]:.3f} "
                f"sc {recent[1]:.3f} log-mag {recent[2]:.3f} mel-L1 {recent[3]:.3f}")
    train_seconds = time.perf_counter() - t_train
    if progress is not None:
        progress.check()
        progress.report(0.95, "vocoder validation")
    val = evaluate_resynthesis(net, frontend, val_audio, rate=rate, device=dev) if val_audio else {}
    state = folded_state_dict(net)
    out_weights = Path(out_weights)
    out_weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out_weights)
    recent = np.mean(history[-50:], axis=0) if history else np.full(4, np.nan)
    result = {
        "config": {**cfg, "weight_norm": False},
        "architecture": "melgan",
        "parameters": int(n_params),
        "steps": step,
        "seconds": round(time.perf_counter() - t_start, 2),
        "train_seconds": round(train_seconds, 2),
        "batch_size": batch_size,
        "crop_s": list(CROP_S),
        "learning_rate": learning_rate,
        "loss": "multi-resolution STFT (sc + log-mag) + mel L1",
        "final_losses": {"total": float(recent[0]), "mr_stft_sc": float(recent[1]),
                         "mr_stft_log_mag": float(recent[2]), "mel_l1": float(recent[3])},
        "validation": {**val, "utterances": [u.utterance for u in val_pick]},
        "validation_initial": val_initial,
        "train_utterances": len(train_audio),
        "train_speakers": len({u.speaker for u in splits.train}),
        "train_seconds_audio": round(sum(len(x) for x in train_audio) / rate, 1),
        "split_seed": split_seed,
        "seed": seed,
        "device": str(dev),
        "weights_sha256": _sha256(out_weights),
    }
    log(f"vocoder: {step} steps in {train_seconds:.0f} s; validation LSD {val.get('lsd_db', float('nan')):.2f} dB "
        f"(initial {val_initial.get('lsd_db', float('nan')):.2f} dB); saved {out_weights}")
    if progress is not None:
        progress.report(1.0, "vocoder trained")
    return result
