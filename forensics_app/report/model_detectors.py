"""Report content: the trained detectors used by reported runs, with their calibration and validation.

Part of :mod:`forensics_app.report.model` (plain frozen values, JSON-safe); filled by
:func:`forensics_app.report.detector_validation.detector_validation` from run summaries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubsetRates:
    """A detector's validation error rates on part of its validation data.

    Attributes
    ----------
    name : str
        A generator (``"griffinlim"``...) or the family held out of training (``"vocoder"``...).
    eer : float or None
        Equal error rate (fraction, 0 to 1).
    paired_eer : float or None
        EER over pairs of a synthetic item and the bona fide item it was made from (same speaker,
        words and channel): how well the detector separates what differs only by the synthesis.
    """

    name: str
    eer: float | None
    paired_eer: float | None


@dataclass(frozen=True)
class VerdictBands:
    """Thresholds on the calibrated LLR and the error rates measured for them on validation data.

    Attributes
    ----------
    t_low, t_high : float or None
        LLR <= ``t_low``: "supports bona fide"; LLR >= ``t_high``: "supports synthetic"; between:
        "inconclusive" (natural-log likelihood ratios, synthetic vs bona fide).
    bonafide_called_synthetic : float or None
        Fraction of bona fide validation items in the "supports synthetic" band.
    spoof_called_bonafide : float or None
        Fraction of synthetic validation items in the "supports bona fide" band.
    inconclusive_bonafide, inconclusive_spoof : float or None
        Fractions of bona fide and of synthetic validation items in the "inconclusive" band.
    """

    t_low: float | None
    t_high: float | None
    bonafide_called_synthetic: float | None = None
    spoof_called_bonafide: float | None = None
    inconclusive_bonafide: float | None = None
    inconclusive_spoof: float | None = None


@dataclass(frozen=True)
class DetectorModel:
    """A trained detector used by reported runs, with its calibration and validation figures.

    One entry per distinct model description: runs that used the same model with the same
    figures share it (``run_ids``).

    Attributes
    ----------
    analyzer_id : str
        The analyzer that ran the model.
    model_id, sha256 : str
        Catalogue id and SHA-256 of the weights file.
    architecture : str
        Network architecture (e.g. ``"lcnn"``, ``"aasist"``).
    source : str
        ``"shipped"`` (trained for this software) or ``"imported"`` (third-party weights).
    window_s, hop_s : float or None
        Scoring window and hop (s).
    calibration_a, calibration_b : float or None
        ``LLR = a * raw + b``, fitted on speakers the model was not trained on.
    bands : VerdictBands or None
        Verdict thresholds and their validation error rates.
    eer, cllr, min_cllr, paired_eer : float or None
        Validation equal error rate (fraction), log-likelihood-ratio cost and its minimum after
        ideal recalibration (bits), and the paired EER.
    per_generator : tuple of SubsetRates
        EER per synthesis method of the validation data.
    lofo : tuple of SubsetRates
        Leave-one-family-out: EER on each generator family when that family was held out of
        training (how the detector may fare on unseen synthesis methods).
    limits : tuple of str
        The model's stated limits.
    card, licence, training_data : str or None
        Where the model card is; licence and training data from the catalogue, when stated.
    run_ids, evidence_ids : tuple of int
        The reported runs that used the model and their evidence items.
    """

    analyzer_id: str
    model_id: str
    sha256: str
    architecture: str
    source: str
    window_s: float | None
    hop_s: float | None
    calibration_a: float | None
    calibration_b: float | None
    bands: VerdictBands | None
    eer: float | None
    cllr: float | None
    min_cllr: float | None
    paired_eer: float | None
    per_generator: tuple[SubsetRates, ...] = ()
    lofo: tuple[SubsetRates, ...] = ()
    limits: tuple[str, ...] = ()
    card: str | None = None
    licence: str | None = None
    training_data: str | None = None
    run_ids: tuple[int, ...] = ()
    evidence_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class DetectorFusion:
    """How reported runs of ``analyzer_id`` fused detectors: ``method`` as the analyzer states it,
    the fused verdict's ``bands`` (error rates where measured) and the ``run_ids``."""

    analyzer_id: str
    method: str
    bands: VerdictBands | None
    run_ids: tuple[int, ...] = ()
