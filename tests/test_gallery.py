"""The object-removal gallery: its cases file, the masks it draws, and a tiny run end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from eval import gallery as cli
from npsynth import io, metrics
from npsynth.studies import gallery

CASES = cli.CASES


def square(name="sq", dilate=0, **fields):
    return {"name": name, "photo": "p.png", "objects": "a square", "dilate": dilate,
            "polygons": [[[2, 2], [5, 2], [5, 5], [2, 5]]], **fields}  # fmt: skip


def test_the_cases_file_parses_into_six_or_more_cases():
    cases = gallery.load_cases(CASES)
    assert len(cases) >= 6
    assert len({case.name for case in cases}) == len(cases)
    assert all(case.objects and case.polygons and case.dilate >= 0 for case in cases)
    assert {c.photo.split("/")[1] for c in cases} == {"eval512", "train"}  # both photo sets


def test_every_polygon_lies_inside_its_photo_and_masks_cover_under_40_percent(shared):
    for case in gallery.load_cases(CASES):
        size = io.image_size(shared / case.photo)
        assert gallery.outside_points(case, size) == [], case.name
        mask = gallery.case_mask(case, size)
        assert mask.shape == (*size, 1) and mask.dtype == np.float32
        assert 0 < mask.mean() < 0.4, case.name


def test_case_mask_by_hand():
    (case,) = gallery.parse_cases({"cases": [square()]})
    mask = gallery.case_mask(case, (10, 12))[..., 0]
    expected = np.zeros((10, 12))
    expected[2:6, 2:6] = 1  # corners 2 and 5 included: the outline is part of the hole
    np.testing.assert_array_equal(mask, expected)
    # Grown by 1 px (Euclidean): the 4x4 square and one row or column on each side of it.
    (grown,) = gallery.parse_cases({"dilate": 1, "cases": [square(dilate=1)]})
    expected[1, 2:6] = expected[6, 2:6] = expected[2:6, 1] = expected[2:6, 6] = 1
    np.testing.assert_array_equal(gallery.case_mask(grown, (10, 12))[..., 0], expected)
    # The file's "dilate" is every case's default.
    data = {"dilate": 5, "cases": [{k: v for k, v in square().items() if k != "dilate"}]}
    assert gallery.parse_cases(data)[0].dilate == 5
    with pytest.raises(ValueError, match=r"outside its 4x10 photo"):
        gallery.case_mask(case, (10, 4))


@pytest.mark.parametrize(
    "cases, message",
    [
        ([square(polygons=[[[0, 0], [1, 1]]])], "at least 3 points"),
        ([square(), square()], "names must be unique"),
        ([square(name="a b")], "names must be unique and use only"),
        ([{k: v for k, v in square().items() if k != "photo"}], "case 'sq': a missing"),
        ([square(polygons=[[[0, "x"], [1, 1], [2, 2]]])], "malformed"),
        ([square(dilate=-1)], "dilate must be >= 0"),
        ([], "no cases"),
    ],
)
def test_bad_cases_are_named(cases, message):
    with pytest.raises(ValueError, match=message):
        gallery.parse_cases({"cases": cases})


def test_a_tiny_gallery_run_writes_grids_outputs_csv_and_report(shared, tmp_path, monkeypatch):
    out = tmp_path / "gallery"
    argv = ["--out", str(out), "--cases-only", "kayaker", "--baselines", "telea",
            "--methods", "translate", "--scales", "32,64"]  # fmt: skip
    monkeypatch.setenv("NPSYNTH_SHARED", str(shared))
    assert cli.main(argv) == 0
    case = next(c for c in gallery.load_cases(CASES) if c.name == "kayaker")
    photo = io.load_image(shared / case.photo)
    mask = gallery.case_mask(case, photo.shape[:2])
    grid = io.load_image(out / "kayaker.png")
    assert grid.shape[1] > 4 * photo.shape[1]  # input | mask | translate | telea
    with open(out / "gallery.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["translate", "telea"]
    for row in rows:
        filled = io.load_image(out / "outputs" / row["method"] / "kayaker.png")
        hole = mask[..., 0] > 0
        np.testing.assert_allclose(filled[~hole], photo[~hole], atol=1 / 255)  # known kept
        gap = metrics.colour_gap(filled, mask)
        assert float(row["colour_gap"]) == pytest.approx(gap, abs=0.3)  # 8-bit PNG rounding
        assert float(row["photo_gap"]) == pytest.approx(metrics.colour_gap(photo, mask))
        assert float(row["hole_percent"]) == pytest.approx(100 * mask.mean())
    report = (out / "report.md").read_text()
    assert "| case | objects | hole % | photo itself | translate | telea |" in report
    line = next(x for x in report.splitlines() if x.startswith("| kayaker |"))
    cells = [c.strip() for c in line.strip("| ").split("|")]
    assert cells[4:] == [f"{float(r['colour_gap']):.1f}" for r in rows]
    assert "| cases with a gap at most Telea's | | | | " in report
    assert "- command: `python -m eval.gallery --out" in report
    settings = json.loads((out / "settings.json").read_text())
    assert list(settings["cases"]) == ["kayaker"] and settings["config"]["translate"]["scales"]

    # Resume: the case is kept and nothing is filled again; other settings are refused.
    monkeypatch.setattr(gallery, "run_one", lambda *a: pytest.fail("filled a kept case"))
    assert cli.main([*argv, "--resume"]) == 0
    assert (out / "gallery.csv").read_text().count("kayaker") == 2
    assert cli.main([*argv[:-1], "32,48", "--resume"]) == 1  # another pyramid


def test_bad_flags_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--out", str(tmp_path), "--methods", "fast"])
    assert "unknown --methods 'fast'" in capsys.readouterr().err
    assert cli.main(["--out", str(tmp_path), "--cases-only", "nothing"]) == 2
    assert "--cases-only: no case 'nothing'" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"cases": [{"name": "x"}]}')
    assert cli.main(["--out", str(tmp_path / "o"), "--cases", str(tmp_path / "bad.json")]) == 2
    assert "case 'x': a missing or malformed field" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--patchmatch-base-sigma", "inf"],
            "patchmatch_base_sigma must be a number from 0 to 1000",
        ),
        (["--paste-offset-span", "inf"], "paste_offset_span must be a finite number >= 0, got inf"),
        (["--scales", "16"], "scales: the last scale must be at least 32 px"),
    ],
)
def test_bad_numbers_are_one_line_flag_errors(flags, message, tmp_path, capsys):
    out = tmp_path / "o"
    assert cli.main(["--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_fifo_as_the_cases_file_is_refused_at_once(tmp_path):
    """A cases file that is a FIFO with no writer is refused naming it, never waited on."""
    import os

    from test_reading import release, within

    fifo = tmp_path / "cases.json"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"cases file .*cases\.json.*not a regular file"):
        within(lambda: gallery.load_cases(fifo), unblock=release(fifo))
