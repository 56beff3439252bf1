"""The model card of a trained speech detector, written from its details (every figure measured).

:func:`model_card` turns the details dict that :func:`forensics_app.training.develop.develop_model`
writes to ``<model_id>.json`` into markdown: training data and generators, validation per
generator (paired figures first), leave-one-family-out, calibration and verdict bands,
throughput, known failure modes, intended use and licence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.1f} %"


def num(x: Any, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(float(x), fmt)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def data_section(d: Mapping[str, Any]) -> list[str]:
    ds = d["dataset"]
    splits = sorted(ds["counts"])
    gens = ["bonafide"] + [g["id"] for g in ds["generators"]]
    family = {g["id"]: g["family"] for g in ds["generators"]} | {"bonafide": "(real speech)"}
    rows = [[g, family[g], *(ds["counts"][s].get(g, 0) for s in splits)] for g in gens]
    rows.append(["speakers", "", *(ds["speakers"].get(s, 0) for s in splits)])
    return [
        "## Training data", "",
        d["training_data"], "",
        f"Data set manifest `{ds['manifest']}`, SHA-256 `{ds['manifest_sha256']}`. Speakers are "
        "disjoint between the splits. Recordings per generator and split:", "",
        *table(["generator", "family", *splits], rows),
        f"Each item passed through one of {ds['distinct_channels']} channel chains; items per "
        "channel condition (an item counts in every condition of its chain): "
        + ", ".join(f"{k} {v}" for k, v in ds["channels"].items()) + ".", "",
    ]


def validation_section(d: Mapping[str, Any]) -> list[str]:
    val = d["validation"]
    ov = val["overall"]
    rows = []
    for g in val["per_generator"]:
        p = g["paired"]
        v = g["verdicts"]
        rows.append([g["generator"], g["family"], p["n_pairs"], pct(p["eer"]),
                     pct(p["pairwise_error"]), pct(g["eer"]), g["n_spoof"],
                     pct(v["supports_synthetic"]), pct(v["supports_bonafide"])])
    chans = [[c["channel"], pct(c["paired"]["eer"]), pct(c["paired"]["pairwise_error"]),
              pct(c["eer"]), c["n_bonafide"], c["n_spoof"]] for c in val["per_channel"]]
    names = [c["channel"] for c in val["per_channel"]]
    matrix = [[g["generator"], *(pct(g["eer_per_channel"].get(ch)) for ch in names)]
              for g in val["per_generator"]]
    return [
        "## Validation (held-out speakers)", "",
        f"{val['n_speakers']} validation speakers, {ov['n_bonafide']} bona fide and "
        f"{ov['n_spoof']} spoofed recordings, scored as the analyzer scores them (windows of "
        f"{d['input']['window_s']:g} s every {d['input']['hop_s']:g} s, file score = "
        f"{d['input']['file_score']}).", "",
        "### Per generator", "",
        "*Paired*: each spoof against its own bona fide source (same utterance, same channel): "
        "EER over these pairs only, and the pairwise error = share of pairs where the spoof does "
        "not score above its source. *Pooled*: all validation bona fide recordings against the "
        "generator's spoofs. Verdict columns: share of the generator's spoofs in each band.", "",
        *table(["generator", "family", "pairs", "paired EER", "pairwise error", "pooled EER",
                 "spoofs", "supports synthetic", "supports bona fide"], rows),
        f"Overall: EER {pct(ov['eer'])}, paired EER {pct(ov['paired']['eer'])}, pairwise error "
        f"{pct(ov['paired']['pairwise_error'])}, Cllr {num(ov['cllr'])} bits, min Cllr "
        f"{num(ov['min_cllr'])} bits.", "",
        "### Per channel condition", "",
        "'clean' = no channel; 'degraded' = any channel; the other rows hold the items whose "
        "channel chain includes that step (codec, resampling, band limit, noise, reverb, gain).", "",
        *table(["condition", "paired EER", "pairwise error", "pooled EER", "bona fide", "spoofs"],
                chans),
        "Pooled EER per generator and channel condition:", "",
        *table(["generator", *names], matrix),
    ]


def _lofo_section(d: Mapping[str, Any]) -> list[str]:
    lofo = d["lofo"]
    head = ["## Leave one family out", ""]
    if lofo.get("skipped"):
        return head + [f"Not run: {lofo.get('reason', 'skipped')}.", ""]
    rows = []
    for f in lofo["families"]:
        if f.get("skipped"):
            rows.append([f["family"], "", "skipped", "", "", "", f.get("reason", "")])
            continue
        rows.append([f["family"], ", ".join(f["generators"]), pct(f["paired"]["eer"]),
                     pct(f["paired"]["pairwise_error"]), pct(f["eer"]),
                     pct(f.get("eer_seen_mean")), f"{f['steps']} steps"])
    return head + [
        f"For each generator family, a model was trained for {lofo['minutes']:g} min without that "
        "family and tested on its validation spoofs against all validation bona fide recordings. "
        "'Seen' is the main model's mean pooled EER on the family's generators (it had the family "
        "in training and a longer budget, so the contrast is an upper bound on the loss).", "",
        *table(["held-out family", "generators", "paired EER", "pairwise error", "pooled EER",
                 "seen (main model)", "training"], rows),
    ]


def calibration_section(d: Mapping[str, Any]) -> list[str]:
    c = d["calibration"]
    b = d["bands"]
    r = b.get("rates") or {}
    return [
        "## Calibration and verdict bands", "",
        f"`llr = a * raw + b` with a = {num(c['a'], '.4f')}, b = {num(c['b'], '.4f')} "
        f"(natural-log likelihood ratio, synthetic vs bona fide; FakeLikelihood = sigmoid(llr)), "
        f"fitted on the {c['fitted_on']} ({c['n_bonafide']} bona fide, {c['n_spoof']} spoofs): "
        f"Cllr there {num(c['cllr'])} bits (min {num(c['min_cllr'])}); on the validation "
        f"speakers Cllr {num(d['validation']['overall']['cllr'])} bits.", "",
        f"Bands chosen on the {b.get('chosen_on', 'validation speakers')} for at most "
        f"{pct(r.get('max_error'))} wrong verdicts per class: llr >= {num(b['t_high'])} "
        f"supports synthetic, llr <= {num(b['t_low'])} supports bona fide, inconclusive between."
        + (" The two thresholds crossed and were set to the EER threshold."
           if r.get("collapsed_to_eer") else ""), "",
        *table(["measured on validation", "bona fide", "spoof"], [
            ["wrong verdict", pct(r.get("bona_fide_called_synthetic")),
             pct(r.get("spoof_called_bona_fide"))],
            ["inconclusive", pct(r.get("inconclusive_bona_fide")),
             pct(r.get("inconclusive_spoof"))],
            ["items", r.get("n_bona", "n/a"), r.get("n_spoof", "n/a")],
        ]),
    ]


def throughput_section(d: Mapping[str, Any]) -> list[str]:
    t = d["throughput"]

    def row(name: str, m: Any) -> list[Any]:
        if not isinstance(m, Mapping):
            return [name, str(m), "", ""]
        return [name, m["device"], f"{m['x_real_time']:g} x real time", f"{m['seconds']:g} s"]

    return [
        "## Throughput", "",
        f"Scoring a {t['cpu']['recording_s']:g} s recording ({t['cpu']['windows']} windows of "
        f"{t['window_s']:g} s every {t['hop_s']:g} s, features included, batch "
        f"{t['cpu']['batch_size']}; best of {t['cpu'].get('runs', 1)} run(s) on the CPU):", "",
        *table(["", "device", "speed", "time"], [row("CPU", t["cpu"]), row("GPU", t["gpu"])]),
    ]


def _training_section(d: Mapping[str, Any]) -> list[str]:
    tr = d["training"]
    last = tr["history"][-1] if tr.get("history") else {}
    return [
        "## Architecture and training", "",
        f"Architecture `{d['architecture']}` (config below), input 16 kHz mono, "
        f"{d['input']['window_s']:g} s windows. Score polarity: {d['score_polarity']}.", "",
        f"Trained on {tr['device']} for {tr['train_seconds']:g} s: {tr['steps']} steps "
        f"({tr['epochs']} epochs of {tr['steps_per_epoch']} steps, stopped by {tr['stopped_by']}), "
        f"batch {tr['batch_size']} (half bona fide, half spoof, random {tr['window_s']:g} s crops, "
        f"gain +-{tr['gain_db']:g} dB), {tr['optimizer']} lr {tr['lr']:g} ({tr['schedule']}), "
        f"weight decay {tr['weight_decay']:g}, seed {tr['seed']}. Final epoch: loss "
        f"{num(last.get('loss'))}, training accuracy {pct(last.get('accuracy'))}.", "",
        "```json", json_text(d["config"]), "```", "",
    ]


def json_text(x: Any) -> str:
    import json

    return json.dumps(x, indent=2, sort_keys=True)


def model_card(details: Mapping[str, Any]) -> str:
    """The markdown model card of a developed detector.

    Parameters
    ----------
    details : Mapping
        The details dict of :func:`forensics_app.training.develop.develop_model`.

    Returns
    -------
    str
        Markdown text ending in a newline.
    """
    d = details
    lines = [
        f"# {d['id']}: synthetic-speech detector ({d['architecture']})", "",
        "Scores 16 kHz speech window by window; higher raw scores mean more likely synthetic. "
        "Calibrated to likelihood ratios and three verdict bands on held-out speakers.", "",
        "## Intended use and limits", "",
        "An investigative aid for examiners: it flags recordings whose acoustics resemble the "
        "synthetic speech it was trained on and reports calibrated likelihood ratios with "
        "measured error rates. It is not proof of synthesis or of authenticity on its own: an "
        "'inconclusive' or 'supports bona fide' result does not clear a recording, and results "
        "on material unlike the training data (other languages, channels, synthesis systems) are "
        "unmeasured. Corroborate with the other analyses and human listening.", "",
        "### Known failure modes (from the measured figures)", "",
        *[f"- {x}" for x in d["limits"]], "",
        *data_section(d),
        *validation_section(d),
        *_lofo_section(d),
        *calibration_section(d),
        *throughput_section(d),
        *_training_section(d),
        "## Licence", "",
        f"{d['licence'][0].upper()}{d['licence'][1:]}. Attribution: LibriSpeech (c) 2014 Vassil "
        "Panayotov, Guoguo Chen, Daniel Povey and Sanjeev Khudanpur (CC BY 4.0).", "",
    ]
    return "\n".join(lines)
