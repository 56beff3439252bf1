"""A pause lengthened in a copy is stated with its times in both recordings, never as a departure."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.demo.comparison_media import INSERTED_PAUSE_S, broadcast_pair
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _clip(path: Path) -> AudioClip:
    import av

    if path.suffix == ".wav":
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return AudioClip(x, rate, path)
    with av.open(str(path)) as f:
        frames = [fr.to_ndarray() for fr in f.decode(audio=0)]
        rate = f.streams.audio[0].rate
    x = np.concatenate(frames, axis=1).T.astype(np.float32)
    return AudioClip(x, rate, path)


def _compare(questioned: AudioClip, reference: AudioClip, **params: object):
    info = registry.get("audio.reference_comparison")
    return info.func(questioned, params=info.resolve_params({"reference_id": 1, "speaker": False, **params}),
                     progress=ProgressToken(), reference=reference)


def test_the_demo_copy_s_added_pause_is_found_in_both_time_lines(tmp_path: Path) -> None:
    pair = broadcast_pair(tmp_path)
    res = _compare(_clip(pair.questioned), _clip(pair.reference))
    pauses = [f for f in res.findings if f.details.get("kind", "").startswith("pause_")]
    assert len(pauses) == 1 and pauses[0].details["kind"] == "pause_lengthened"
    p = pauses[0]
    assert p.details["change_s"] == pytest.approx(INSERTED_PAUSE_S, abs=0.1)
    assert p.label == f"Pause lengthened by {p.details['change_s']:.2f} s"
    # the planted pause lies inside the reported one, which starts where the reference pause starts
    assert p.start_s <= pair.inserted_pause_s[0] + 0.05 and p.end_s >= pair.inserted_pause_s[1] - 0.05
    assert p.details["reference_start_s"] == pytest.approx(p.start_s, abs=0.1)
    assert res.summary["pause_changes"] == 1
    # the replaced phrase is still the only departure
    assert [f.details["kind"] for f in res.findings if f.details.get("kind") in {"inserted", "deleted", "replaced"}] \
        == ["replaced"]


def test_a_shortened_pause_and_the_threshold(tmp_path: Path) -> None:
    pair = broadcast_pair(tmp_path)
    # the copy as reference and the broadcast as questioned: the same pause is now 1.5 s shorter
    res = _compare(_clip(pair.reference), _clip(pair.questioned))
    [p] = [f for f in res.findings if f.details.get("kind", "").startswith("pause_")]
    assert p.details["kind"] == "pause_shortened" and p.details["change_s"] == pytest.approx(-INSERTED_PAUSE_S, abs=0.1)
    quiet = _compare(_clip(pair.reference), _clip(pair.questioned), min_pause_change_s=2.0)
    assert not [f for f in quiet.findings if f.details.get("kind", "").startswith("pause_")]
