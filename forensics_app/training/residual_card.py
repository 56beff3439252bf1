"""The model card of the residual detector, written from its details (every figure measured).

The sections shared with the other detectors' cards (training data, validation, calibration and
bands, throughput) come from :mod:`forensics_app.training.model_card`; this module adds what is
particular to the residual detector: what it measures, what it adds to the fused verdict (each
model alone and the fusion, overall and per generator), leave-one-family-out of a head trained in
seconds, and how the features and the head were made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forensics_app.training.model_card import (
    calibration_section,
    data_section,
    json_text,
    num,
    pct,
    table,
    throughput_section,
    validation_section,
)


def fusion_summary(fusion: Mapping[str, Any]) -> str:
    """One plain sentence on what fusing added, from a ``fusion_validation`` record's measured figures.

    Compares the fusion with the first model alone (the detector the residual one is fused with):
    overall EER and Cllr, and the generators whose EER the fusion lowered or raised.
    """
    base, fused = fusion["models"][0], fusion["systems"]["fused"]
    alone = fusion["systems"][base]
    b, f = alone["overall"], fused["overall"]

    def change(x: float, y: float, unit: str, fmt: Any) -> str:
        if abs(x - y) < 1e-9:
            return f"leaves the {unit} at {fmt(x)}"
        return f"{'lowers' if y < x else 'raises'} the {unit} from {fmt(x)} to {fmt(y)}"

    better = [g for g, v in fused["per_generator"].items() if v["eer"] < alone["per_generator"][g]["eer"] - 1e-9]
    worse = [g for g, v in fused["per_generator"].items() if v["eer"] > alone["per_generator"][g]["eer"] + 1e-9]
    per_gen = ""
    if better or worse:
        per_gen = (f" Per generator, the fused EER is lower on {', '.join(better) or 'none'} and higher on "
                   f"{', '.join(worse) or 'none'}.")
    text = (f"Fused with {base} by the mean of calibrated LLRs, it "
            f"{change(b['eer'], f['eer'], 'validation EER', pct)} and "
            f"{change(b['cllr'], f['cllr'], 'Cllr', lambda v: num(v) + ' bits')} "
            f"(min Cllr {num(b['min_cllr'])} alone, {num(f['min_cllr'])} fused).{per_gen}")
    fitted = fusion.get("fitted")
    if fitted:
        g = fitted["figures"]["overall"]
        weights = ", ".join(f"{m} {num(w)}" for m, w in fitted["weights"].items())
        text += (f" With weights fitted on the calibration speakers ({weights}, offset {num(fitted['bias'])}; "
                 f"used by the analyzer) it {change(b['eer'], g['eer'], 'validation EER', pct)} and "
                 f"{change(b['cllr'], g['cllr'], 'Cllr', lambda v: num(v) + ' bits')} (min Cllr "
                 f"{num(g['min_cllr'])}).")
    return text


def _fusion_section(d: Mapping[str, Any]) -> list[str]:
    lines = ["## What it adds to the fused verdict", ""]
    for f in d.get("fusion_validation") or []:
        fitted = f.get("fitted")
        systems = {**f["systems"], **({"fitted": fitted["figures"]} if fitted else {})}
        unbounded = {**f["unbounded"], **({"fitted": fitted["unbounded"]} if fitted else {})}
        names = [*f["models"], "fused", *(["fitted"] if fitted else [])]
        label = {n: {"fused": "fused (mean LLR)", "fitted": "fused (fitted)"}.get(n, n) for n in names}
        gens = list(systems["fused"]["per_generator"])
        rows = [["all", *(pct(systems[n]["overall"]["eer"]) for n in names),
                 *(num(systems[n]["overall"]["cllr"]) for n in names)]]
        rows += [[g, *(pct(systems[n]["per_generator"][g]["eer"]) for n in names),
                  *(num(systems[n]["per_generator"][g]["cllr"]) for n in names)] for g in gens]
        ov = systems["fused"]["overall"]
        c = f["consistency"]
        lines += [
            f"**{fusion_summary(f)}**", "",
            f"Measured on the {f['n_speakers']} validation speakers ({ov['n_bonafide']} bona fide and "
            f"{ov['n_spoof']} spoofed recordings): {f['audio']}. Each model's file LLR is computed as the "
            "synthetic-speech analyzer computes it, and the fused LLR is the mean of the models' LLRs, as the "
            "analyzer fuses when no fitted fusion exists. Per generator: all validation bona fide recordings against that generator's spoofs. "
            "EER in %, Cllr in bits (lower is better).", "",
            *table(["generator", *(f"EER {label[n]}" for n in names), *(f"Cllr {label[n]}" for n in names)], rows),
            "min Cllr (discrimination after the best monotone calibration): "
            + ", ".join(f"{label[n]} {num(systems[n]['overall']['min_cllr'])}" for n in names) + " bits. "
            "Unbounded LLRs (before the validation-supported bounds): EER "
            + ", ".join(f"{label[n]} {pct(unbounded[n]['eer'])}" for n in names) + ".", "",
            *(_fitted_lines(fitted) if fitted else []),
            f"The residual scores behind these figures come from cached window statistics; {c['recordings']} "
            f"recordings were also scored from their audio by the detector itself, with a largest raw-score "
            f"difference of {c['max_raw_difference']:.2g}.", "",
        ]
    return lines


def _fitted_lines(fitted: Mapping[str, Any]) -> list[str]:
    terms = " + ".join(f"{num(w, '.4f')} x {m}" for m, w in fitted["weights"].items())
    bands = fitted["bands"]
    return [f"Fitted fusion (forensics-app train fusion; models/fusions.json): LLR = {terms} "
            f"{fitted['bias']:+.4f}, fitted on {fitted['fitted_on']}; the analyzer uses it whenever exactly these "
            f"models scored. Its verdict bands, chosen on the fused calibration LLRs: LLR >= {num(bands['t_high'])} "
            f"supports synthetic, LLR <= {num(bands['t_low'])} supports bona fide.", ""]


def _lofo_section(d: Mapping[str, Any]) -> list[str]:
    rows = [[f["family"], ", ".join(f["generators"]), pct(f["paired"]["eer"]), pct(f["paired"]["pairwise_error"]),
             pct(f["eer"]), pct(f.get("eer_seen_mean"))] for f in d["lofo"]["families"]]
    return [
        "## Leave one family out", "",
        "For each generator family, the head was trained again without that family's training spoofs and tested "
        "on its validation spoofs against all validation bona fide recordings. 'Seen' is the shipped model's "
        "pooled EER on the family's generators. The round trips themselves are not retrained: a held-out vocoder "
        "family is still one of the vocoders the features resynthesise with.", "",
        *table(["held-out family", "generators", "paired EER", "pairwise error", "pooled EER", "seen (main model)"],
                rows),
    ]


def _training_section(d: Mapping[str, Any]) -> list[str]:
    tr = d["training"]
    fe = tr["features"]
    cand = ", ".join(f"hidden {c['hidden']}: min Cllr {num(c['min_cllr'])}, EER {pct(c['eer'])}"
                     for c in tr["candidates"])
    per_s = fe["worker_seconds"] / fe["audio_s"] if fe["audio_s"] else None
    head = "a linear layer" if tr["hidden"] == 0 else f"{tr['hidden']} tanh units"
    return [
        "## Features and training", "",
        f"Front end: every recording is pushed through the {', '.join(fe['round_trips'])} round trips "
        "(forensics_app.resynthesis), each output aligned with the input to the sample, and per-frame residuals "
        "computed on a 10 ms grid; a window's vector holds, per round trip, the median and inter-quartile range of "
        "the log-spectral distance, the median mel-cepstral distortion, phase coherence, HNR change and its "
        f"magnitude, and the median band residuals in 0-1, 1-2, 2-4 and 4-8 kHz ({len(fe['names'])} statistics; "
        "the share of active frames is not used). Windows with fewer than "
        f"{d['resynthesis']['min_active_frames']} active frames have no statistics and no score.", "",
        f"Features were extracted for the centred {fe['crop_s']:g} s of {fe['files']} recordings "
        f"({fe['audio_s']:g} s of audio) in {fe['worker_seconds']:g} s of worker time "
        f"({num(per_s, '.2f')} s per second of audio, worker processes sharing a busy 2-core CPU), windows of "
        f"{fe['window_s']:g} s every {fe['hop_s']:g} s. Train split: {tr['train_files']} recordings of "
        f"{tr['train_utterances']} utterances (every generator and channel of each).", "",
        f"Head: standardisation, then {head}; "
        f"{tr['optimizer']}, {tr['steps']} steps, lr {tr['lr']:g}, weight decay {tr['weight_decay']:g}, "
        f"{tr['loss']}, on {tr['windows']} windows ({tr['windows_bonafide']} bona fide, {tr['windows_spoof']} "
        f"spoofed), seed {tr['seed']}: {tr['train_seconds']:g} s on the CPU. Hidden size chosen by "
        f"{tr['selected_on']} ({cand}).", "",
        f"Score polarity: {d['score_polarity']}.", "",
        "```json", json_text(d["config"]), "```", "",
    ]


def residual_card(details: Mapping[str, Any]) -> str:
    """The markdown model card of the residual detector.

    Parameters
    ----------
    details : Mapping
        The details of :func:`forensics_app.training.residual_develop.develop_residual_model`.

    Returns
    -------
    str
        Markdown text ending in a newline.
    """
    d = details
    lines = [
        f"# {d['id']}: self-resynthesis residual detector ({d['architecture']})", "",
        "Pushes the recording through local analysis-synthesis vocoders and measures how much each changes it. "
        "Speech that already came out of a vocoder sits near a fixed point of similar vocoders and changes little; "
        "natural speech changes more. A small head trained on the generated data turns each window's residual "
        "statistics into a score, calibrated to likelihood ratios and three verdict bands on held-out speakers, and "
        "fused with the other detectors' LLRs by the synthetic-speech analyzer.", "",
        "## Intended use and limits", "",
        "An investigative aid for examiners, reported beside the waveform detectors and feeding the fused verdict. "
        "It is not proof of synthesis or of authenticity on its own; corroborate with the other analyses and human "
        "listening.", "",
        "### Known failure modes (from the measured figures)", "",
        *[f"- {x}" for x in d["limits"]], "",
        *_fusion_section(d),
        *data_section(d),
        *validation_section(d),
        *_lofo_section(d),
        *calibration_section(d),
        *throughput_section(d),
        *_training_section(d),
        "## Licence", "",
        f"{d['licence'][0].upper()}{d['licence'][1:]}. Attribution: LibriSpeech (c) 2014 Vassil Panayotov, Guoguo "
        "Chen, Daniel Povey and Sanjeev Khudanpur (CC BY 4.0).", "",
    ]
    return "\n".join(lines)
