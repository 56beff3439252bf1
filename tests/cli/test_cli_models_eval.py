"""Evaluation manifests, evaluate() on generated recordings, and the ``models`` / ``eval`` commands.

The CLI is exercised through a parser built here with :func:`forensics_app.cli_models.register`
and the same error handling as :func:`forensics_app.cli.main`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app import cli, cli_models
from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.domain.jobs import ProgressToken
from forensics_app.training import metrics
from forensics_app.training.calibration import Bands, fit_calibration
from forensics_app.training.evaluate import (
    ManifestProblems,
    evaluate,
    read_eval_manifest,
    write_scores,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FORENSICS_APP_SHARED") or REPO.parent / "shared")
AASIST_DIR = SHARED / "weights" / "aasist"
RATE = 16000


# --- generated recordings and a real (if simple) scorer -----------------------------------------


def voiced(rng: np.random.Generator, *, noise: float, duration_s: float = 0.4) -> np.ndarray:
    """A harmonic tone complex (a crude voiced sound) plus white noise."""
    t = np.arange(int(duration_s * RATE)) / RATE
    f0 = rng.uniform(100, 220)
    x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 12))
    x = 0.3 * x / np.max(np.abs(x))
    return (x + noise * rng.standard_normal(t.size)).astype(np.float32)


def spectral_flatness(path: Path) -> float:
    """Log spectral flatness of a file (0 for white noise, very negative for tones)."""
    x, _ = sf.read(str(path), dtype="float64")
    p = np.abs(np.fft.rfft(x)) ** 2 + 1e-12
    return float(np.mean(np.log(p)) - np.log(np.mean(p)))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """24 WAVs: bona fide = tones with a little noise, spoof = tones with more (overlapping)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "eval"
    (root / "audio").mkdir(parents=True)
    rows = []
    for i in range(24):
        spoof = i % 2 == 1
        channel = "clean" if i % 4 < 2 else "noisy"
        noise = rng.uniform(0.02, 0.12) if spoof else rng.uniform(0.0, 0.08)
        noise += 0.05 if channel == "noisy" else 0.0
        name = f"audio/{i:02d}.wav"
        sf.write(str(root / name), voiced(rng, noise=noise), RATE, subtype="PCM_16")
        gen = "bonafide" if not spoof else ("gen_a" if i % 3 else "gen_b")
        rows.append([name, "spoof" if spoof else "BonaFide", gen, channel])
    write_manifest(root / "manifest.csv", rows)
    return root / "manifest.csv"


def write_manifest(path: Path, rows: list[list[str]], header: tuple[str, ...] = ("path", "label", "generator", "channel")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


# --- manifest validation ------------------------------------------------------------------------


def test_every_offending_row_is_reported_at_once(corpus: Path, tmp_path: Path) -> None:
    root = corpus.parent
    (root / "bad.wav").write_bytes(b"RIFF" + os.urandom(2000))
    (root / "empty.wav").write_bytes(b"")
    good_spoof = str((root / "audio" / "01.wav").resolve())
    bad = write_manifest(root / "bad.csv", [
        ["audio/00.wav", "bonafide", "x", "clean"],   # line 2: fine
        ["audio/nope.wav", "bonafide", "x", "clean"],  # 3: missing
        ["audio/02.wav", "fake", "x", "clean"],        # 4: bad label
        ["bad.wav", "spoof", "x", "clean"],            # 5: undecodable
        ["empty.wav", "spoof", "x", "clean"],          # 6: empty
        ["audio/03.wav", "spoof", "x"],                # 7: field count
        ["", "spoof", "x", "clean"],                   # 8: empty path
        ["audio", "spoof", "x", "clean"],              # 9: a folder
        [good_spoof, "spoof", "", "clean"],            # 10: empty group value
        [good_spoof, "spoof", "x", "clean"],           # 11: fine (absolute path)
    ])
    with pytest.raises(ManifestProblems) as err:
        read_eval_manifest(bad, by=["generator"])
    by_line = {line: (p, why) for line, p, why in err.value.problems}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert by_line[3] == ("audio/nope.wav", "file not found")
    assert "label 'fake' is not 'bonafide' or 'spoof'" in by_line[4][1]
    assert by_line[5][1].startswith("cannot be decoded")
    assert "empty" in by_line[6][1]
    assert by_line[7][1] == "has 3 field(s), the header has 4"
    assert by_line[8][1] == "empty path"
    assert "folder" in by_line[9][1]
    assert by_line[10][1] == "empty value in column 'generator'"
    msg = str(err.value)
    assert "8 problem(s)" in msg and "line 3: audio/nope.wav: file not found" in msg
    # Without --by the group value does not matter.
    with pytest.raises(ManifestProblems) as err:
        read_eval_manifest(bad)
    assert 10 not in {line for line, _, _ in err.value.problems}


def test_header_single_class_and_truncation(corpus: Path) -> None:
    root = corpus.parent
    with pytest.raises(ManifestProblems, match="no column 'speaker'"):
        read_eval_manifest(corpus, by=["speaker"])
    nolabel = write_manifest(root / "nolabel.csv", [["audio/00.wav"]], header=("path",))
    with pytest.raises(ManifestProblems, match="no column 'label'"):
        read_eval_manifest(nolabel)
    one = write_manifest(root / "one.csv", [["audio/00.wav", "bonafide", "g", "c"],
                                           ["audio/02.wav", "bonafide", "g", "c"]])
    with pytest.raises(ManifestProblems, match=r"no spoof rows: the figures need both classes \(2 bonafide"):
        read_eval_manifest(one)
    many = write_manifest(root / "many.csv", [[f"missing{i}.wav", "spoof", "g", "c"] for i in range(60)]
                          + [["audio/00.wav", "bonafide", "g", "c"]])
    with pytest.raises(ManifestProblems) as err:
        read_eval_manifest(many)
    assert len(err.value.problems) == 60
    assert "... and 10 more problem(s)" in str(err.value)
    assert str(err.value).count("file not found") == 50
    with pytest.raises(NotFound):
        read_eval_manifest(root / "absent.csv")


def test_rows_are_resolved_and_labels_normalised(corpus: Path) -> None:
    rows = read_eval_manifest(corpus, by=["generator", "channel"])
    assert len(rows) == 24 and rows[0].line == 2 and rows[0].label == "bonafide"
    assert rows[0].path == (corpus.parent / "audio" / "00.wav").resolve()
    assert rows[1].groups == {"generator": "gen_a", "channel": "clean"}


# --- evaluate -----------------------------------------------------------------------------------


def test_evaluate_matches_the_metrics_overall_and_per_group(corpus: Path, tmp_path: Path) -> None:
    by = ["generator", "channel"]
    rows = read_eval_manifest(corpus, by=by)
    direct = np.array([spectral_flatness(r.path) for r in rows])
    spoof = np.array([r.is_spoof for r in rows])
    cal = fit_calibration(direct[~spoof], direct[spoof])
    bands = Bands(-1.0, 1.0)
    token = ProgressToken()
    rep = evaluate(rows, score_fn=spectral_flatness, calibration=cal, by=by, bands=bands, progress=token)
    assert token.last_fraction == 1.0
    np.testing.assert_array_equal(rep.raw_scores, direct)
    e, thr = metrics.eer(direct[~spoof], direct[spoof])
    assert 0.0 < e < 0.5  # the scorer separates, imperfectly
    o = rep.overall
    assert (o.eer, o.eer_threshold_raw, o.n_bona, o.n_spoof) == (e, thr, 12, 12)
    assert o.min_cllr == pytest.approx(metrics.min_cllr(direct[~spoof], direct[spoof]))
    llr = cal.llr(direct)
    assert o.cllr == pytest.approx(metrics.cllr(llr[~spoof], llr[spoof]))
    assert o.at_llr0["bona_fide_as_synthetic"] == pytest.approx(np.mean(llr[~spoof] >= 0))
    assert sum(o.verdicts["spoof"].values()) == pytest.approx(1.0)

    channels = {g.value: g for g in rep.groups["channel"]}
    for ch, g in channels.items():
        sel = np.array([r.groups["channel"] == ch for r in rows])
        assert g.eer == metrics.eer(direct[sel & ~spoof], direct[sel & spoof])[0]
        assert g.n_bona == g.n_spoof == 6
    gens = {g.value: g for g in rep.groups["generator"]}
    assert set(gens) == {"bonafide", "gen_a", "gen_b"}
    assert gens["bonafide"].eer is None and gens["bonafide"].note.startswith("only bona fide items")
    assert gens["gen_a"].n_bona == 0 and "only spoof" in gens["gen_a"].note
    # One-class groups are also compared with every item of the other class (per-attack EER).
    gen_a = np.array([r.groups["generator"] == "gen_a" for r in rows])
    assert gens["gen_a"].against_all["eer"] == metrics.eer(direct[~spoof], direct[gen_a])[0]
    assert gens["gen_a"].against_all["n_other"] == 12
    assert gens["gen_a"].against_all["cllr"] == pytest.approx(metrics.cllr(llr[~spoof], llr[gen_a]))
    assert gens["bonafide"].against_all["eer"] == o.eer
    assert gens["gen_a"].at_llr0["synthetic_as_bona_fide"] is not None
    json.dumps(rep.as_dict())

    out = write_scores(tmp_path / "scores.csv", rows, rep.raw_scores, calibration=cal)
    with open(out, newline="") as fh:
        written = list(csv.DictReader(fh))
    assert list(written[0]) == ["path", "label", "raw_score", "llr", "fake_likelihood", "generator", "channel"]
    assert written[1]["label"] == "spoof" and written[1]["generator"] == "gen_a"
    assert float(written[1]["raw_score"]) == pytest.approx(direct[1], abs=1e-6)
    assert float(written[1]["fake_likelihood"]) == pytest.approx(cal.fake_likelihood(direct[1]), abs=1e-6)

    rep2 = evaluate(rows, score_fn=spectral_flatness)  # uncalibrated: EER and min Cllr only
    assert rep2.overall.cllr is None and rep2.overall.eer == e and rep2.llr is None


def test_evaluate_names_the_file_that_fails(corpus: Path) -> None:
    rows = read_eval_manifest(corpus)

    def broken(path: Path) -> float:
        if path.name == "05.wav":
            raise ForensicsError("decoder gave up")
        return spectral_flatness(path)

    with pytest.raises(ForensicsError, match=r"05.wav \(manifest line 7\) failed: decoder gave up"):
        evaluate(rows, score_fn=broken)
    with pytest.raises(ForensicsError, match="gave nan"):
        evaluate(rows, score_fn=lambda p: float("nan"))


# --- the commands -------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | str, str]:
    """Parse and run like cli.main, with only the commands of cli_models registered."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--examiner")
    p = argparse.ArgumentParser(prog="forensics-app")
    sub = p.add_subparsers(dest="command", required=True)
    cli_models.register(sub, common=common, who=who)
    args = p.parse_args(list(argv))
    try:
        code = int(args.func(args))
    except (cli.CliError, NotFound) as exc:
        code = cli._fail(args, str(exc), cli.EXIT_USAGE)
    except ForensicsError as exc:
        code = cli._fail(args, str(exc), cli.EXIT_FAILED)
    captured = capsys.readouterr()
    try:
        return code, json.loads(captured.out), captured.err
    except json.JSONDecodeError:
        return code, captured.out, captured.err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("FORENSICS_APP_HOME", str(h))
    return h


def test_models_list_and_import_refusals(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "list", "--json")
    assert code == 0
    assert {m["id"] for m in out["importable"]} == {"aasist-official", "aasist-l-official"}
    assert all(m["source"] == "shipped" for m in out["models"])
    code, text, _ = run(capsys, "models", "list")
    assert code == 0 and "importable third-party weights" in text and "aasist-l-official" in text

    rnd = tmp_path / "x.pth"
    rnd.write_bytes(b"\x80" + os.urandom(999))
    code, out, err = run(capsys, "models", "import", str(rnd), "--json")
    assert code == 1 and "not recognised weights" in out["error"] and "aasist-official = " in err
    code, _, err = run(capsys, "models", "import", str(tmp_path / "absent.pth"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "models", "import", str(tmp_path))
    assert code == 1 and "is a folder" in err


@pytest.mark.skipif(not (AASIST_DIR / "AASIST-L.pth").is_file(), reason=f"no official weights in {AASIST_DIR}")
def test_models_import_official_then_list(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "import", str(AASIST_DIR / "AASIST-L.pth"), "--examiner", "Bo", "--json")
    assert code == 0 and out["status"] == "imported" and out["model"]["id"] == "aasist-l-official"
    assert out["model"]["weights_path"].startswith(str(home))
    code, text, _ = run(capsys, "models", "import", str(AASIST_DIR / "AASIST-L.pth"))
    assert code == 0 and "already imported" in text
    code, out, _ = run(capsys, "models", "list", "--json")
    assert "aasist-l-official" in {m["id"] for m in out["models"]}
    assert [m["id"] for m in out["importable"]] == ["aasist-official"]


def test_eval_command_reports_figures_groups_and_scores(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = read_eval_manifest(corpus)
    direct = np.array([spectral_flatness(r.path) for r in rows])
    spoof = np.array([r.is_spoof for r in rows])
    cal = fit_calibration(direct[~spoof], direct[spoof])

    def load(model_id: str) -> cli_models.Scorer:
        if model_id != "flatness":
            raise NotFound(f"no model {model_id!r}")
        return cli_models.Scorer("flatness", "ab" * 32, "test", spectral_flatness, cal, Bands(-1.0, 1.0))

    monkeypatch.setattr(cli_models, "load_scorer", load)
    scores = tmp_path / "out" / "scores.csv"
    code, out, _ = run(capsys, "eval", "--model", "flatness", "--manifest", str(corpus), "--by", "channel",
                       "generator", "--scores-out", str(scores), "--json")
    assert code == 0
    assert out["overall"]["eer"] == metrics.eer(direct[~spoof], direct[spoof])[0]
    assert out["model"] == {"id": "flatness", "sha256": "ab" * 32, "source": "test"}
    assert [g["value"] for g in out["groups"]["channel"]] == ["clean", "noisy"]
    assert out["scores_out"] == str(scores) and len(scores.read_text().splitlines()) == 25
    code, text, _ = run(capsys, "eval", "--model", "flatness", "--manifest", str(corpus), "--by", "generator")
    assert code == 0 and "overall" in text and "by generator:" in text
    assert "only one class; against all 12 spoof: EER" in text

    bad = write_manifest(corpus.parent / "bad.csv", [["audio/00.wav", "bonafide", "g", "c"],
                                                     ["nope.wav", "spoof", "g", "c"]])
    code, out, err = run(capsys, "eval", "--model", "flatness", "--manifest", str(bad), "--json")
    assert code == 1 and out["problems"] == [{"line": 3, "path": "nope.wav", "reason": "file not found"}]
    assert "line 3: nope.wav: file not found" in err
    code, _, err = run(capsys, "eval", "--model", "other", "--manifest", str(corpus))
    assert code == 2 and "no model 'other'" in err


def test_eval_unknown_model_through_the_real_loader(corpus: Path, home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "eval", "--model", "no-such-model", "--manifest", str(corpus), "--json")
    assert code == 2 and "no model 'no-such-model'" in out["error"] and "catalogued models" in err


def _aasist_registered() -> bool:
    try:
        from forensics_app.nets.registry import names

        return "aasist" in names()
    except Exception:  # noqa: BLE001 - any import problem means: not available yet
        return False


@pytest.mark.slow
@pytest.mark.skipif(not (AASIST_DIR / "AASIST-L.pth").is_file() or not _aasist_registered(),
                    reason="official AASIST-L weights or the aasist architecture not available")
def test_eval_with_imported_official_weights(corpus: Path, home: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    torch.set_num_threads(1)
    code, _, _ = run(capsys, "models", "import", str(AASIST_DIR / "AASIST-L.pth"))
    assert code == 0
    rows = list(csv.reader(open(corpus, newline="")))[1:]
    small = write_manifest(tmp_path / "small.csv", [[str((corpus.parent / r[0]).resolve()), *r[1:]]
                                                     for r in rows[:2]])
    scores = tmp_path / "s.csv"
    code, out, err = run(capsys, "eval", "--model", "aasist-l-official", "--manifest", str(small),
                         "--scores-out", str(scores), "--json")
    assert code == 0, err
    assert out["model"]["id"] == "aasist-l-official" and out["overall"]["n_bona"] == 1
    assert 0.0 <= out["overall"]["eer"] <= 1.0
    with open(scores, newline="") as fh:
        raw = [float(r["raw_score"]) for r in csv.DictReader(fh)]
    assert len(raw) == 2 and all(np.isfinite(raw))
