"""Case report: attention maps, residual heatmaps and the comparison sections (HTML, JSON, PDF).

No Qt. The media are generated here: a reference "recording" of six voiced bursts, and a questioned
copy with a burst of other material inserted and one burst cut out. Three test analyzers registered
here follow the output contract of the comparative analyzers (reference comparison, transcript
alignment, self-resynthesis) and compute their matrices, paths and residuals from the decoded audio;
the runner stores them, and the report is built from the store.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from scipy.signal import butter, sosfilt

from forensics_app.analysis import registry, runner
from forensics_app.analysis.registry import Param
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import (
    AlignmentMatrix,
    AnalysisResult,
    Finding,
    TimeFreqMap,
    TimeSeries,
)
from forensics_app.ingest.acquire import add_evidence
from forensics_app.report import build_report, export_report, render_html
from forensics_app.report.alignment_figures import block_reduce, word_ticks
from forensics_app.report.comparison_text import (
    REFERENCE_ANALYZER,
    TRANSCRIPT_ANALYZER,
    TRANSCRIPT_MAP_CANNOT,
    alignment_texts,
)
from forensics_app.store import repo
from forensics_app.store.case import CaseStore

EXAMINER = "Test Examiner"
RATE = 16_000
HOP = 160  # 10 ms frames
REFERENCE_ID = "test.reference_like"
TRANSCRIPT_ID = "test.transcript_like"
RESYNTH_ID = "test.resynthesis_like"
WORDS = ("alpha", "bravo", "charlie", "delta", "echo")
# Construction of the questioned copy (s): material inserted at INSERT_AT, reference CUT cut out.
INSERT_AT, INSERT_S = 1.35, 0.4
CUT = (2.2, 2.6)
Q_CUT_AT = CUT[0] + INSERT_S  # where the cut falls in the questioned recording
FLAGGED = 3  # "delta" is reported as poorly aligned
INSERT_EXPLANATION = "0.40 s of the questioned recording match nothing in the reference."
WORDS_EXPLANATION = "Each word's rendering was slid along the recording; bright where it fits."
RESYNTH_EXPLANATION = "Each stand-in vocoder processed the recording; the map shows what changed."


# --------------------------------------------------------------------------------------------
# Media


def _burst(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A voiced burst: harmonics of a gliding f0 (k sets the pitch and the formant), Hann envelope."""
    t = np.arange(n) / RATE
    f0 = 110.0 + 28.0 * k + 20.0 * t / t[-1]
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    formant = 500.0 + 350.0 * k
    x = sum(np.exp(-(((h * 120.0) - formant) / 600.0) ** 2) * np.sin(h * phase) for h in range(1, 30))
    return (0.25 * np.hanning(n) * x + 0.002 * rng.standard_normal(n)).astype(np.float32)


def _reference_audio() -> np.ndarray:
    rng = np.random.default_rng(7)
    x = np.zeros(int(2.8 * RATE), dtype=np.float32)
    x += 0.002 * rng.standard_normal(x.size).astype(np.float32)
    for k in range(6):
        a = int((0.2 + 0.4 * k) * RATE)
        x[a:a + int(0.3 * RATE)] += _burst(k, int(0.3 * RATE), rng)
    return x


def _questioned_audio(ref: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(8)
    inserted = (0.15 * rng.standard_normal(int(INSERT_S * RATE)) * np.hanning(int(INSERT_S * RATE))).astype(np.float32)
    i, c0, c1 = int(INSERT_AT * RATE), int(CUT[0] * RATE), int(CUT[1] * RATE)
    return np.concatenate([ref[:i], inserted, ref[i:c0], ref[c1:]])


def _word_spans() -> np.ndarray:
    """Where each of WORDS lies in the questioned recording (s), shape (5, 2)."""
    starts = np.array([0.2 + 0.4 * k + (INSERT_S if 0.2 + 0.4 * k > INSERT_AT else 0.0) for k in range(5)])
    return np.column_stack([starts, starts + 0.3])


# --------------------------------------------------------------------------------------------
# Test analyzers (the output contract of the comparative analyzers, computed from the audio)


def _frames(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-magnitude spectra, shape (n_frames, 257), and frame centres (s)."""
    n = 1 + (x.size - 512) // HOP
    idx = np.arange(512)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(512), axis=1))
    return np.log(spec + 1e-4), (np.arange(n) * HOP + 256) / RATE


def _dtw(cost: np.ndarray) -> np.ndarray:
    """Monotonic path (rows, cols) of least total cost through cost (n_r, n_t)."""
    n_r, n_t = cost.shape
    acc = np.full((n_r + 1, n_t + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n_r + 1):
        for j in range(1, n_t + 1):
            acc[i, j] = cost[i - 1, j - 1] + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    i, j, path = n_r, n_t, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin([acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]]))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return np.array(path[::-1], dtype=np.float64)


def _residual(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-band residual |level change| in dB (32 bands, frames), band centres (Hz), frame times (s)."""
    lx, t = _frames(x)
    ly, _ = _frames(y)
    diff = np.abs(lx - ly) * (20.0 / np.log(10.0))
    bands = np.array_split(np.arange(diff.shape[1]), 32)
    values = np.stack([diff[:, b].mean(axis=1) for b in bands])
    freqs = np.array([b.mean() for b in bands]) * RATE / 512
    return values, freqs, t


@pytest.fixture
def comparison_analyzers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "BUILTIN_MODULES", ())
    monkeypatch.setattr(registry, "_loaded", registry._loaded)

    @registry.analyzer(id=REFERENCE_ID, version="0.1.0", media=[MediaKind.AUDIO], label="Reference comparison (test)",
                       params=[Param("reference_id", 0, "Reference evidence id")], reference=True)
    def compare(media: AudioClip, *, params: Mapping[str, Any], progress: Progress,
                reference: AudioClip) -> AnalysisResult:
        """Cosine similarity of log spectra, DTW path, departures of the construction."""
        q, tq = _frames(media.mono())
        r, tr = _frames(reference.mono())
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        rn = r / np.linalg.norm(r, axis=1, keepdims=True)
        sim = (rn @ qn.T).astype(np.float32)
        rows_cols = _dtw(1.0 - sim[::2, ::2]) * 2  # a coarse path is enough here
        path = np.column_stack([tq[rows_cols[:, 1].astype(int)], rows_cols[:, 0]])
        seg = np.arange(0.2, tq[-1], 0.4)
        r_of = np.interp(seg, path[:, 0], tr[path[:, 1].astype(int)])
        speaker = [float(qn[np.searchsorted(tq, a)] @ rn[np.searchsorted(tr, b).clip(0, tr.size - 1)])
                   for a, b in zip(seg, r_of, strict=True)]
        return AnalysisResult(findings=(
            Finding("Alignment with reference", start_s=0.0, end_s=float(tq[-1]),
                    details={"slope": 1.0, "coverage": 0.86, "shared_s": 2.4},
                    alignments=(AlignmentMatrix("reference-alignment", "cosine similarity", tq, tr, sim, path),),
                    series=(TimeSeries("speaker-similarity", "cosine", seg, speaker),)),
            Finding("Inserted span", fake_likelihood=0.8, start_s=INSERT_AT, end_s=INSERT_AT + INSERT_S,
                    details={"kind": "inserted", "reference_start_s": INSERT_AT, "reference_end_s": INSERT_AT,
                             "explanation": INSERT_EXPLANATION}),
            Finding("Deleted span", fake_likelihood=0.7, start_s=Q_CUT_AT, end_s=Q_CUT_AT,
                    details={"kind": "deleted", "reference_start_s": CUT[0], "reference_end_s": CUT[1]}),
            Finding("Speaker differs from reference", fake_likelihood=0.55, start_s=INSERT_AT,
                    end_s=INSERT_AT + INSERT_S, details={"similarity": min(speaker)}),
        ))

    @registry.analyzer(id=TRANSCRIPT_ID, version="0.1.0", media=[MediaKind.AUDIO], label="Transcript alignment (test)",
                       params=[Param("transcript", "", "Transcript"), Param("voice", "en-us", "Voice")])
    def align(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
        """Attention of each word: frame energy under a window around the word's span, per column."""
        words = str(params["transcript"]).split()
        spans = _word_spans()[: len(words)]
        logspec, t = _frames(media.mono())
        energy = np.exp(logspec).sum(axis=1)
        centre, half = spans.mean(axis=1), (spans[:, 1] - spans[:, 0]) / 2
        weight = np.exp(-(((t[None, :] - centre[:, None]) / half[:, None]) ** 4)) * energy[None, :] + 1e-9
        attention = (weight / weight.sum(axis=0, keepdims=True)).astype(np.float32)
        voiced = energy > 0.05 * energy.max()
        path = np.column_stack([t[voiced], np.argmax(attention[:, voiced], axis=0)])
        scores = [float(attention[i, (t >= a) & (t <= b)].mean()) for i, (a, b) in enumerate(spans)]
        table = [{"word": w, "start_s": float(a), "end_s": float(b), "alignment_score": s}
                 for w, (a, b), s in zip(words, spans, scores, strict=True)]
        return AnalysisResult(findings=(
            Finding("Transcript alignment", details={"words": table, "mean_score": float(np.mean(scores)),
                                                     "explanation": WORDS_EXPLANATION},
                    alignments=(AlignmentMatrix("transcript-attention", "attention", t, np.arange(len(words)) * 0.4,
                                                attention, path, row_labels=tuple(words), row_spans_s=spans,
                                                row_axis="transcript word"),)),
            Finding(f"Poorly aligned word: '{words[FLAGGED]}'", fake_likelihood=0.6,
                    start_s=float(spans[FLAGGED, 0]), end_s=float(spans[FLAGGED, 1]),
                    details={"word": words[FLAGGED], "word_index": FLAGGED}),
        ))

    @registry.analyzer(id=RESYNTH_ID, version="0.1.0", media=[MediaKind.AUDIO], label="Self-resynthesis (test)")
    def resynth(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
        """Two stand-in 'vocoders' (4 kHz low-pass, 6-bit requantisation) and their residuals."""
        x = media.mono().astype(np.float64)
        outputs = {"lowpass": sosfilt(butter(6, 4000, fs=RATE, output="sos"), x),
                   "requantised": np.round(x * 32) / 32}
        findings = []
        for name, y in outputs.items():
            values, freqs, t = _residual(x, y)
            lsd = np.sqrt(np.mean(values ** 2, axis=0))
            findings.append(Finding(
                f"Self-resynthesis residual ({name})", start_s=0.0, end_s=media.duration_s,
                details={"vocoder": name, "median_lsd_db": float(np.median(lsd)),
                         "median_peak_band_db": float(np.median(values.max(axis=0))), "frames": int(t.size),
                         "explanation": RESYNTH_EXPLANATION},
                maps=(TimeFreqMap(f"resynthesis-residual-{name}", "dB", t, freqs, values),),
                series=(TimeSeries(f"resynthesis-lsd-{name}", "dB", t, lsd),)))
        medians = [f.details["median_lsd_db"] for f in findings]
        findings.append(Finding("Residual detector: inconclusive",
                                fake_likelihood=float(np.clip(1.0 - min(medians) / 40.0, 0.0, 1.0)),
                                details={"median_lsd_db": min(medians)}))
        return AnalysisResult(findings=tuple(findings), summary={"vocoders": list(outputs)})

    yield
    for analyzer_id in (REFERENCE_ID, TRANSCRIPT_ID, RESYNTH_ID):
        registry.unregister(analyzer_id)


@dataclass
class Compared:
    store: CaseStore
    reference_id: int
    questioned_id: int
    reference_sha: str


@pytest.fixture
def compared(case: CaseStore, comparison_analyzers: None, tmp_path: Path) -> Compared:
    ref = _reference_audio()
    paths = {"broadcast.wav": ref, "leaked copy.wav": _questioned_audio(ref)}
    ids = []
    for name, x in paths.items():
        sf.write(tmp_path / name, x, RATE, subtype="PCM_16")
        result = add_evidence(case, tmp_path / name, examiner=EXAMINER)
        assert result.evidence_id is not None, result.reason
        ids.append(result.evidence_id)
    ref_id, q_id = ids
    specs = (runner.make_spec(REFERENCE_ID, {"reference_id": ref_id}),
             runner.make_spec(TRANSCRIPT_ID, {"transcript": " ".join(WORDS)}), runner.make_spec(RESYNTH_ID))
    for spec in specs:
        run_id = runner.queue_job(case, evidence_id=q_id, spec=spec, examiner=EXAMINER)
        assert runner.run_job(case, run_id).error is None
    with case.session() as s:
        sha = repo.get_evidence(s, ref_id).sha256
    return Compared(case, ref_id, q_id, sha)


def _png(store: CaseStore, sha: str) -> np.ndarray:
    with Image.open(io.BytesIO(store.artifacts.get_bytes(sha, suffix=".png"))) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float64)


# --------------------------------------------------------------------------------------------


def test_comparisons_are_reported_with_attention_maps_residuals_and_tables(compared: Compared) -> None:
    store = compared.store
    report = build_report(store, examiner=EXAMINER)
    ev = next(e for e in report.evidence if e.evidence_id == compared.questioned_id)
    assert [c.kind for c in ev.comparisons] == ["reference", "transcript", "resynthesis"]
    ref_c, words_c, resyn_c = ev.comparisons

    # Reference: the item, the hash the runner verified, re-verified for this report.
    assert ref_c.reference is not None
    assert (ref_c.reference.evidence_id, ref_c.reference.name, ref_c.reference.sha256) == (
        compared.reference_id, "broadcast.wav", compared.reference_sha)
    assert ref_c.reference.verification == "verified" and ref_c.reference.sha256_matches
    assert ref_c.overview == {"slope": 1.0, "coverage": 0.86, "shared_s": 2.4}
    dep = {d.kind: d for d in ref_c.departures}
    assert (dep["inserted"].start_s, dep["inserted"].end_s) == (INSERT_AT, INSERT_AT + INSERT_S)
    assert (dep["deleted"].start_s, dep["deleted"].reference_start_s, dep["deleted"].reference_end_s) == (
        Q_CUT_AT, *CUT)
    assert [r.label for r in ref_c.speaker] == ["Speaker differs from reference"]
    sim = ref_c.speaker_similarity
    assert sim is not None and sim["segments"] == 7 and -1.0 <= sim["minimum"] <= sim["median"] <= 1.0

    # Transcript: every word with its placement; the flagged one marked with its finding.
    assert words_c.transcript == " ".join(WORDS)
    assert [w.word for w in words_c.words] == list(WORDS)
    spans = _word_spans()
    assert np.allclose([(w.start_s, w.end_s) for w in words_c.words], spans)
    flagged = [w for w in words_c.words if w.flagged]
    assert [w.word for w in flagged] == ["delta"] and flagged[0].flags == (words_c.word_findings[0].ref,)
    assert all(0.0 < (w.alignment_score or 0) <= 1.0 for w in words_c.words)

    # Self-resynthesis: medians per vocoder and the residual detector's verdict.
    assert [v.vocoder for v in resyn_c.vocoders] == ["lowpass", "requantised"]
    assert resyn_c.vocoder_columns == ("median_lsd_db", "median_peak_band_db")  # medians only
    assert all((v.medians["median_lsd_db"] or 0) > 0 for v in resyn_c.vocoders)
    assert [v.label for v in resyn_c.verdicts] == ["Residual detector: inconclusive"]

    # Figures: two attention maps and one residual figure (spectrogram + two panels), no "map" figure.
    kinds = [f.kind for f in ev.figures]
    assert kinds.count("alignment") == 2 and kinds.count("residual") == 1 and "map" not in kinds
    for fig in ev.figures:
        pixels = _png(store, fig.sha256)
        assert pixels.shape[:2] == (fig.height_px, fig.width_px) and fig.width_px >= 900
        assert pixels.std() > 20  # drawn, not blank
    align_ref = next(f for f in ev.figures if f.sha256 in ref_c.figures)
    align_words = next(f for f in ev.figures if f.sha256 in words_c.figures)
    residual = next(f for f in ev.figures if f.sha256 in resyn_c.figures)
    assert align_ref.kind == "alignment" and align_ref.finding_ref == ref_c.overview_ref
    assert residual.kind == "residual" and residual.height_px > residual.width_px * 0.6  # three panels
    for words in ("straight diagonal means the same material in the same order", "inserted", "deleted",
                  "cannot say which of the two recordings is the original", "who edited",
                  f"{dep['inserted'].ref}, {dep['deleted'].ref}"):
        assert words in align_ref.caption, words
    assert TRANSCRIPT_MAP_CANNOT in align_words.caption and "where each word was placed" in align_words.caption
    assert WORDS_EXPLANATION in align_words.caption and "staircase" not in align_words.caption
    for words in ("fixed point", "natural speech changes more", "cannot tell which vocoder", "codecs",
                  "lowpass, requantised", "same scale in every panel", RESYNTH_EXPLANATION):
        assert words in residual.caption, words
    assert "explanation map" not in residual.caption and "model not named" not in residual.caption

    html = render_html(report, store=store)
    block = html[html.index('id="comparison-'):html.index('id="annotations"')]
    for text in (compared.reference_sha, "broadcast.wav", "Departures from a straight alignment",
                 "1.350 – 1.750 s", "2.600 s <span class=\"sub\">(cut)</span>", "2.200 – 2.600 s",
                 "Transcript as typed", "alpha bravo charlie delta echo", "Residual medians per vocoder",
                 "median_lsd_db", "Residual detector: inconclusive", "Speaker similarity", "Over 7 segments",
                 INSERT_EXPLANATION):
        assert text in block, text
    row = re.search(r'<tr class="row-flagged">(.*?)</tr>', block, re.S)
    assert row and "delta" in row.group(1) and f"{spans[FLAGGED, 0]:.3f} s" in row.group(1)
    assert block.count('<tr class="row-flagged">') == 1
    # Every figure once, numbered in the order shown.
    numbers = re.findall(rf"Figure {compared.questioned_id}\.(\d+):", html)
    assert numbers == [str(i) for i in range(1, len(ev.figures) + 1)]

    data = report.as_json()
    assert json.loads(json.dumps(data)) == data
    jev = next(e for e in data["evidence"] if e["evidence_id"] == compared.questioned_id)
    assert jev["comparisons"][0]["reference"]["sha256"] == compared.reference_sha
    assert jev["comparisons"][0]["departures"][0]["reference_start_s"] == INSERT_AT
    assert jev["comparisons"][1]["words"][FLAGGED]["flags"] == [words_c.word_findings[0].ref]
    assert {a["name"] for f in jev["findings"] for a in f["alignments"]} == {"reference-alignment",
                                                                            "transcript-attention"}


def test_missing_or_corrupt_alignment_artifacts_are_stated_and_nothing_else_is_lost(
        compared: Compared, tmp_path: Path) -> None:
    store = compared.store
    with store.session() as s:
        refs = {a["name"]: a for run in repo.list_runs(s, evidence_id=compared.questioned_id)
                for f in run.findings for a in (f.artifacts or {}).get("alignments", [])}
    missing = store.artifacts.path_for(refs["reference-alignment"]["sha256"], ".npy")
    os.chmod(missing, stat.S_IRUSR | stat.S_IWUSR)
    missing.unlink()
    corrupt = store.artifacts.path_for(refs["transcript-attention"]["path_sha256"], ".npy")
    os.chmod(corrupt, stat.S_IRUSR | stat.S_IWUSR)
    with open(corrupt, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x7f" * 16)

    report = build_report(store, examiner=EXAMINER)
    ev = next(e for e in report.evidence if e.evidence_id == compared.questioned_id)
    ref_c, words_c, resyn_c = ev.comparisons
    assert [f.kind for f in ev.figures].count("alignment") == 0
    assert ref_c.figures == () and words_c.figures == () and len(resyn_c.figures) == 1
    assert len(ref_c.notes) == 1 and "“reference-alignment”" in ref_c.notes[0] and "is missing" in ref_c.notes[0]
    assert len(words_c.notes) == 1 and "does not match its hash" in words_c.notes[0]
    assert all("tables are not affected" in n for n in ref_c.notes + words_c.notes)
    # Tables, other figures and the rest of the report are intact.
    assert len(ref_c.departures) == 2 and len(words_c.words) == len(WORDS)
    assert {"spectrogram", "series", "residual"} <= {f.kind for f in ev.figures}

    out = export_report(store, out=tmp_path / "report.html", examiner=EXAMINER)
    html = out.read_text(encoding="utf-8")
    for note in ref_c.notes + words_c.notes:
        assert note in html
    assert "2.200 – 2.600 s" in html and "Residual medians per vocoder" in html

    # Both copies changed after the comparison: the reference is flagged, the residual heatmaps are
    # still drawn (from their artifacts) but without the spectrogram of the changed copy.
    for eid in (compared.reference_id, compared.questioned_id):
        with store.session() as s:
            copy = store.resolve(repo.get_evidence(s, eid).stored_path)
        os.chmod(copy, stat.S_IRUSR | stat.S_IWUSR)
        with open(copy, "r+b") as fh:
            fh.seek(2000)
            fh.write(b"\x00" * 64)
    report = build_report(store, examiner=EXAMINER)
    ev = next(e for e in report.evidence if e.evidence_id == compared.questioned_id)
    ref_c, _, resyn_c = ev.comparisons
    assert ref_c.reference is not None and ref_c.reference.verification == "mismatch"
    residual = next(f for f in ev.figures if f.sha256 in resyn_c.figures)
    assert "The spectrogram is not shown: the stored copy failed re-verification (mismatch)" in residual.caption
    assert residual.height_px < residual.width_px * 0.75  # two panels, no spectrogram
    html = render_html(report, store=store)
    assert "its stored copy failed the re-verification made for this report (mismatch)" in html


def test_word_ticks_thin_long_transcripts_and_matrices_are_block_averaged() -> None:
    idx, labels, step = word_ticks([f"w{i}" for i in range(100)], max_ticks=36)
    assert step == 3 and idx[:3] == [0, 3, 6] and len(idx) <= 36 and labels[1] == "w3"
    idx, _, _ = word_ticks([f"w{i}" for i in range(100)], flagged={31, 32, 49}, max_ticks=36)
    assert {31, 49} <= set(idx) and 32 not in idx and 30 not in idx and 48 not in idx  # 32's slot went to 31
    _, labels, step = word_ticks(["a", "extraordinarily-long-word"])
    assert step == 1 and labels == ["a", "extraordinari…"]
    values = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    reduced, centres, block = block_reduce(values, np.arange(10) * 0.1, axis=1, max_cells=4)
    assert block == 3 and reduced.shape == (2, 4)
    assert reduced[0].tolist() == pytest.approx([1.0, 4.0, 7.0, 9.0]) and centres[-1] == pytest.approx(0.9)
    assert alignment_texts(TRANSCRIPT_ANALYZER, word_rows=False)[1] == TRANSCRIPT_MAP_CANNOT
    assert "straight diagonal" in alignment_texts(REFERENCE_ANALYZER, word_rows=True)[0]


@pytest.mark.slow
def test_pdf_shows_the_comparison_sections(compared: Compared, tmp_path: Path) -> None:
    out = export_report(compared.store, out=tmp_path / "report.pdf", examiner=EXAMINER)
    assert out.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("Comparison with reference", "Departures from a straight alignment", "Transcript as typed",
                  "Residual medians per vocoder", "attention map of the questioned recording against the",
                  compared.reference_sha[:32]):
        assert words in text, words
