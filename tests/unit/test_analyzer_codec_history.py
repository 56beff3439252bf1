"""audio.codec_history on real MP3 and AAC round trips written back to WAV, and on the clean
originals (PyAV's libmp3lame and FFmpeg AAC encoders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from forensics_app.analysis import registry
from forensics_app.analysis.audio.codec_grid import kbd_window, mdct, sine_window
from forensics_app.analysis.audio.codec_history import codec_history
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.demo import codec_media as demo
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.results import AnalysisResult, Finding
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_audio
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"
RATE = 44100
DURATION_S = 4.0


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The clean programme and its lossy round trips (the same seed: the same material)."""
    d = tmp_path_factory.mktemp("codec")
    return {
        "clean": demo.program_wav(d / "clean.wav", duration_s=DURATION_S),
        "mp3_128": demo.lossy_roundtrip_wav(d / "mp3_128.wav", codec="mp3", bitrate=128000, duration_s=DURATION_S),
        "mp3_64": demo.lossy_roundtrip_wav(d / "mp3_64.wav", codec="mp3", bitrate=64000, duration_s=DURATION_S),
        "aac_128": demo.lossy_roundtrip_wav(d / "aac_128.wav", codec="aac", bitrate=128000, duration_s=DURATION_S),
        "up8k": demo.upsampled_wav(d / "up8k.wav", duration_s=3.0),
    }


@pytest.fixture(scope="module")
def results(media: dict[str, Path]) -> dict[str, AnalysisResult]:
    params = registry.get("audio.codec_history").resolve_params()
    return {name: codec_history(decode_audio(path), params=params, progress=ProgressToken())
            for name, path in media.items()}


def encoder_lowpass_hz(codec: str, bitrate: int) -> float:
    """The encoder's lowpass measured independently: stereo white noise through the codec, Welch
    PSD, highest frequency within 20 dB of the 2-10 kHz median level."""
    noise = np.random.default_rng(1).standard_normal((RATE * 4, 2)) * 0.1
    y = demo.lossy_roundtrip(noise, rate=RATE, codec=codec, bitrate=bitrate)
    f, psd = signal.welch(y[:, 0], fs=RATE, nperseg=4096)
    level = 10 * np.log10(psd + 1e-30)
    passband = np.median(level[(f >= 2000) & (f <= 10000)])
    return float(f[np.flatnonzero(level >= passband - 20.0)[-1]])


def main(result: AnalysisResult) -> Finding:
    [finding] = result.findings
    return finding


def test_registered() -> None:
    info = registry.get("audio.codec_history")
    assert info.label == "Lossy-codec history"
    assert {"hole_db", "min_drop_db", "aac_min_z", "mp3_min_z"} <= {p.name for p in info.params}


def test_mp3_128_round_trip_is_detected(results: dict[str, AnalysisResult]) -> None:
    finding = main(results["mp3_128"])
    assert finding.label == "Lossy-codec history"
    assert finding.details["family"] in {"MP3", "lossy (MP3/AAC)"}
    lowpass = encoder_lowpass_hz("mp3", 128000)
    assert 15000.0 < lowpass < 18500.0  # LAME's 128 kb/s stereo lowpass
    assert finding.details["cut"]["cutoff_hz"] == pytest.approx(lowpass, abs=1000.0)
    assert finding.details["cut"]["steep"] is True
    assert finding.details["bitrate_class"] == "medium (128-160 kb/s)"
    assert finding.details["presented_as"] == "lossless"
    assert 0.5 < finding.fake_likelihood <= 0.8
    # The granule grid shows, the AAC grid does not.
    assert finding.details["mp3_detected"] and not finding.details["aac_detected"]
    assert finding.details["family"] == "MP3"


def test_aac_128_round_trip_is_detected(results: dict[str, AnalysisResult]) -> None:
    finding = main(results["aac_128"])
    assert finding.label == "Lossy-codec history"
    assert finding.details["family"] == "AAC"
    assert finding.details["aac_grid"]["z"] >= 10 * max(finding.details["mp3_grid"]["z"], 1.0)
    assert finding.details["cut"]["cutoff_hz"] == pytest.approx(encoder_lowpass_hz("aac", 128000), abs=1000.0)
    assert finding.details["confidence"] == "high"
    assert finding.fake_likelihood == pytest.approx(0.8)


def test_low_bitrate_mp3_leaves_spectral_holes(results: dict[str, AnalysisResult]) -> None:
    finding = main(results["mp3_64"])
    assert finding.label == "Lossy-codec history"
    assert finding.details["hole_fraction"] >= 0.01
    assert finding.details["bitrate_class"] == "low (<= 96 kb/s)"
    holes = next(s for s in finding.series if s.name == "hole_fraction")
    assert np.median(holes.values) >= 0.01
    assert main(results["clean"]).details["hole_fraction"] < 0.001


def test_clean_original_gives_no_lossy_finding(results: dict[str, AnalysisResult]) -> None:
    finding = main(results["clean"])
    assert finding.label == "No lossy-codec traces found"
    assert finding.fake_likelihood is None
    assert finding.details["family"] is None
    assert not finding.details["aac_detected"] and not finding.details["mp3_detected"]
    assert finding.details["cut"]["steep"] is False
    cutoff, holes = finding.series
    assert (cutoff.name, cutoff.unit, holes.name) == ("cutoff", "Hz", "hole_fraction")
    assert np.median(cutoff.values) >= 0.95 * RATE / 2
    assert results["clean"].summary["family"] is None


def test_resampling_is_not_taken_for_a_codec(results: dict[str, AnalysisResult]) -> None:
    finding = main(results["up8k"])
    assert finding.label == "Steep lowpass without codec traces"
    assert finding.details["family"] == "other-lowpass"
    assert finding.details["cut"]["standard_rate_hz"] == 8000
    assert finding.fake_likelihood is None


def test_lossy_container_traces_are_descriptive(tmp_path: Path) -> None:
    clip = decode_audio(demo.lossy_file(tmp_path / "program.mp3", codec="mp3", bitrate=128000, duration_s=4.0))
    result = codec_history(clip, params=registry.get("audio.codec_history").resolve_params(), progress=ProgressToken())
    finding = main(result)
    assert finding.label == "Lossy-codec history"
    assert finding.details["presented_as"] == "lossy"
    assert finding.fake_likelihood is None


@pytest.mark.parametrize("window", ["kbd", "sine"])
def test_mdct_matches_its_definition(window: str) -> None:
    n = 32
    w = kbd_window(2 * n) if window == "kbd" else sine_window(2 * n)
    x = np.random.default_rng(0).standard_normal((3, 2 * n))
    k, t = np.arange(n), np.arange(2 * n)
    reference = (x * w) @ np.cos(np.pi / n * (t[:, None] + 0.5 + n / 2) * (k[None, :] + 0.5))
    np.testing.assert_allclose(mdct(x, w), reference, atol=1e-4)
    assert np.allclose(w[:n] ** 2 + w[n:] ** 2, 1.0)  # Princen-Bradley: perfect reconstruction


def test_cancelled_token_stops_the_analysis(media: dict[str, Path]) -> None:
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        codec_history(decode_audio(media["up8k"]), params=registry.get("audio.codec_history").resolve_params(),
                      progress=token)


def test_end_to_end_through_the_store(case: CaseStore, media: dict[str, Path]) -> None:
    added = add_evidence(case, media["mp3_128"], examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("audio.codec_history"), examiner=EXAMINER)
    seen: list[float] = []
    outcome = run_job(case, run_id, progress=ProgressToken(lambda f, _m: seen.append(f)))
    assert outcome.status is RunStatus.DONE, outcome.error
    assert seen == sorted(seen) and len(seen) >= 5
    with case.session() as s:
        [row] = repo.list_findings(s, evidence_id=added.evidence_id)
        assert row.label == "Lossy-codec history"
        assert row.details["family"] == "MP3"
        assert row.fake_likelihood is not None and row.fake_likelihood > 0.5
        refs = row.artifacts["series"]
        assert repo.get_run(s, run_id).summary["family"] == "MP3"
    assert [r["name"] for r in refs] == ["cutoff", "hole_fraction"]
    cutoff = case.artifacts.get_series(refs[0])
    assert cutoff.unit == "Hz" and np.median(cutoff.values) == pytest.approx(16700.0, abs=1000.0)


def test_formant_synthesised_speech_is_not_called_lossy(tmp_path) -> None:
    """espeak-ng speech shows a granule-grid z and holes but reaches Nyquist: low confidence, no score."""
    import shutil

    import pytest

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from forensics_app.analysis.audio.codec_history import codec_history
    from forensics_app.demo import media
    from forensics_app.domain.jobs import ProgressToken
    from forensics_app.ingest.decode import decode_audio

    path = media.speech_wav(tmp_path / "tts.wav", text="Hello, this is your bank. Please confirm the "
                            "transfer of four thousand euros before noon today.", rate=16000)
    (finding,) = codec_history(decode_audio(path), params=registry.get("audio.codec_history").resolve_params(),
                                progress=ProgressToken()).findings
    assert finding.fake_likelihood is None
    assert finding.details["confidence"] in (None, "low")
