"""image.metadata on generated JPEG/PNG files with known EXIF, XMP, thumbnails and edits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensics_app.analysis import registry
from forensics_app.analysis.image.metadata import (
    compare_thumbnail,
    estimate_jpeg_quality,
    image_metadata,
    xmp_fields,
)
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.demo import media as demo
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.jsonable import json_safe
from forensics_app.domain.results import AnalysisResult, Finding
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_image
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"
MISMATCH = "EXIF thumbnail does not match the image"
MATCH = "EXIF thumbnail matches the image"


def analyse(path: Path, **params: object) -> AnalysisResult:
    info = registry.get("image.metadata")
    return image_metadata(decode_image(path), params=info.resolve_params(params), progress=ProgressToken())


def labels(result: AnalysisResult) -> list[str]:
    return [f.label for f in result.findings]


def one(result: AnalysisResult, label: str) -> Finding:
    found = [f for f in result.findings if f.label == label]
    assert len(found) == 1, labels(result)
    return found[0]


def test_exif_fields_read_back(tmp_path: Path) -> None:
    path = demo.exif_jpeg(tmp_path / "cam.jpg", make="Canon", model="EOS 5D", datetime_original="2023:08:01 09:15:00")
    result = analyse(path)
    exif = one(result, "Image metadata").details["exif"]
    assert exif["ifd0"]["Make"] == "Canon"
    assert exif["ifd0"]["Model"] == "EOS 5D"
    assert exif["exif"]["DateTimeOriginal"] == "2023:08:01 09:15:00"
    assert exif["exif"]["ExposureTime"] == pytest.approx(1 / 125)
    assert exif["exif"]["ExifVersion"] == "0232"
    assert exif["ifd1"]["Compression"] == 6
    assert result.summary["make"] == "Canon"
    # Every detail is plain JSON already (no bytes, tuples, rationals or NaN).
    details = dict(one(result, "Image metadata").details)
    assert json_safe(details) == details
    assert json.loads(json.dumps(details, allow_nan=False)) == details


def test_untouched_thumbnail_matches(tmp_path: Path) -> None:
    result = analyse(demo.exif_jpeg(tmp_path / "a.jpg"))
    match = one(result, MATCH)
    assert match.fake_likelihood is None
    assert match.details["thumbnail_width"] == 160 and match.details["thumbnail_height"] == 120
    assert match.details["psnr_db"] > 35.0
    assert match.details["max_cell_diff"] < 8.0
    assert MISMATCH not in labels(result)
    assert result.summary["thumbnail_matches"] is True


def test_thumbnail_of_the_unedited_picture_does_not_match(tmp_path: Path) -> None:
    result = analyse(demo.exif_jpeg(tmp_path / "b.jpg", thumbnail_matches=False))
    mismatch = one(result, MISMATCH)
    assert mismatch.fake_likelihood is not None and 0.7 <= mismatch.fake_likelihood <= 0.8
    assert mismatch.details["max_cell_diff"] > 25.0
    assert result.findings[0] is mismatch  # scored findings come first
    # The region covers the painted-out disc centred at (0.62 W, 0.55 H) = (397, 264).
    r = mismatch.region
    assert r is not None
    assert r.x <= 397 <= r.x + r.width and r.y <= 264 <= r.y + r.height
    assert result.summary["thumbnail_matches"] is False


@pytest.mark.parametrize(("region", "seed"), [((40, 300, 96, 96), 0), ((40, 40, 64, 48), 5), ((200, 300, 32, 32), 1)])
def test_copy_move_after_the_thumbnail_is_caught(tmp_path: Path, region: tuple[int, int, int, int],
                                                 seed: int) -> None:
    result = analyse(demo.exif_jpeg(tmp_path / "c.jpg", thumbnail_matches=False, pasted_region=region, seed=seed))
    mismatch = one(result, MISMATCH)
    assert mismatch.details["max_cell_diff"] > 2 * mismatch.details["thresholds"]["cell_diff"]
    r = mismatch.region
    x, y, w, h = region
    assert r is not None and r.x < x + w and r.x + r.width > x and r.y < y + h and r.y + r.height > y


def test_copy_move_with_a_rewritten_thumbnail_matches(tmp_path: Path) -> None:
    result = analyse(demo.exif_jpeg(tmp_path / "d.jpg", thumbnail_matches=True, pasted_region=(40, 300, 96, 96)))
    assert MATCH in labels(result)


def test_letterboxed_thumbnail_of_a_wide_image(tmp_path: Path) -> None:
    result = analyse(demo.exif_jpeg(tmp_path / "wide.jpg", width=800, height=450))
    assert one(result, MATCH).details["thumbnail_height"] == 90


def test_software_gps_xmp_icc(tmp_path: Path) -> None:
    path = demo.exif_jpeg(tmp_path / "e.jpg", software="Adobe Photoshop 25.0 (Windows)", gps=(48.8584, -2.2945),
                          creator_tool="GIMP 2.10", icc_profile=True)
    result = analyse(path)
    software = one(result, "Editing software named in metadata")
    assert software.fake_likelihood is None
    assert software.details["fields"] == {"EXIF Software": "Adobe Photoshop 25.0 (Windows)",
                                          "XMP CreatorTool": "GIMP 2.10"}
    assert {"photoshop", "gimp"} <= set(software.details["known_editors"])
    gps = one(result, "GPS position in metadata")
    assert gps.details["latitude"] == pytest.approx(48.8584, abs=1e-4)
    assert gps.details["longitude"] == pytest.approx(-2.2945, abs=1e-4)
    meta = one(result, "Image metadata").details
    assert meta["xmp"]["fields"]["xmp:CreatorTool"] == "GIMP 2.10"
    assert meta["xmp"]["fields"]["xmp:CreateDate"] == "2024-05-17T10:42:07"
    assert "<x:xmpmeta" in meta["xmp"]["raw"]
    assert meta["icc_profile"]["bytes"] > 100
    assert "sRGB" in (meta["icc_profile"]["description"] or "")


def test_jpeg_quality_estimated(tmp_path: Path) -> None:
    for q in (60, 90):
        meta = one(analyse(demo.exif_jpeg(tmp_path / f"q{q}.jpg", quality=q, with_thumbnail=False)),
                   "Image metadata").details
        quant = meta["jpeg"]["quantization"]
        assert quant["estimated_quality"] == q
        assert quant["standard_tables"] is True
    assert estimate_jpeg_quality({})["estimated_quality"] is None


def test_ai_markers(tmp_path: Path) -> None:
    declared = demo.exif_jpeg(tmp_path / "ai.jpg", with_thumbnail=False, digital_source_type=(
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"))
    marker = one(analyse(declared), "Generative-AI marker in metadata")
    assert marker.fake_likelihood == pytest.approx(0.9)
    png = demo.png_image(tmp_path / "sd.png", text={"parameters": "a cat, Steps: 20, Sampler: Euler a"})
    result = analyse(png)
    assert one(result, "Generative-AI marker in metadata").details["markers"][0]["field"] == "PNG text 'parameters'"
    assert "No metadata" not in labels(result)


def test_png_without_metadata(tmp_path: Path) -> None:
    result = analyse(demo.png_image(tmp_path / "bare.png"))
    assert one(result, "No metadata").fake_likelihood is None
    assert all(f.fake_likelihood is None for f in result.findings)
    assert result.summary["thumbnail"] is False


def test_thumbnail_pointer_out_of_range(tmp_path: Path) -> None:
    data = bytearray(demo.exif_jpeg(tmp_path / "a.jpg").read_bytes())
    entry = data.find(bytes([0x01, 0x02, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00]))  # JPEGInterchangeFormat, LONG, 1
    data[entry + 8:entry + 12] = (60000).to_bytes(4, "little")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(bytes(data))
    result = analyse(broken)
    assert "out of range" in one(result, "EXIF thumbnail unreadable").details["reason"]
    assert MATCH not in labels(result) and MISMATCH not in labels(result)


def test_xmp_fields_in_element_and_attribute_form() -> None:
    packet = ('<rdf:Description xmp:CreatorTool="Tool &amp; Co"><xmp:ModifyDate>2024-01-02T03:04:05'
              '</xmp:ModifyDate><xmpMM:History><rdf:Seq><rdf:li stEvt:softwareAgent="A 1"/>'
              '<rdf:li stEvt:softwareAgent="B 2"/></rdf:Seq></xmpMM:History></rdf:Description>')
    fields = xmp_fields(packet)
    assert fields["xmp:CreatorTool"] == "Tool & Co"
    assert fields["xmp:ModifyDate"] == "2024-01-02T03:04:05"
    assert fields["stEvt:softwareAgent"] == ["A 1", "B 2"]


def test_compare_thumbnail_direct() -> None:
    scene = demo.synthetic_scene(width=320, height=240, seed=3)
    thumb = np.asarray(Image.fromarray(scene).resize((160, 120), Image.Resampling.BOX))
    same = compare_thumbnail(scene, thumb)
    assert same["psnr_db"] > 40 and same["max_cell_diff"] < 3
    other = compare_thumbnail(demo.synthetic_scene(width=320, height=240, seed=4)[:, ::-1], thumb)
    assert other["max_cell_diff"] > 12


def test_cancelled_token_stops_the_analysis(tmp_path: Path) -> None:
    image = decode_image(demo.exif_jpeg(tmp_path / "a.jpg"))
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        image_metadata(image, params=registry.get("image.metadata").resolve_params(), progress=token)


def test_end_to_end_through_the_store(case: CaseStore, tmp_path: Path) -> None:
    src = demo.exif_jpeg(tmp_path / "edited.jpg", thumbnail_matches=False, software="GIMP 2.10.36")
    added = add_evidence(case, src, examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("image.metadata"), examiner=EXAMINER)
    outcome = run_job(case, run_id)
    assert outcome.status is RunStatus.DONE, outcome.error
    with case.session() as s:
        rows = repo.list_findings(s, evidence_id=added.evidence_id)
        found = {r.label: r for r in rows}
        assert rows[0].label == MISMATCH
        assert rows[0].fake_likelihood == pytest.approx(0.75)
        assert set(rows[0].region) == {"x", "y", "width", "height"}
        assert found["Image metadata"].details["exif"]["ifd0"]["Make"] == "DemoCam"
        assert "Editing software named in metadata" in found
        assert all(not r.artifacts for r in rows)  # no time series for a still image
