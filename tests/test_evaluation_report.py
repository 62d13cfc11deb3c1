"""npsynth.harness.report: metrics.csv and the Markdown report, on hand-made rows."""

from __future__ import annotations

import math

import pytest

from npsynth.config import OptimizeConfig, TranslateConfig
from npsynth.harness import report


def row(image, method, base, seconds, scales=""):
    """A metrics row whose metrics are base, base + 0.01, ... in METRIC_NAMES order."""
    values = {name: base + 0.01 * i for i, name in enumerate(report.METRIC_NAMES)}
    return {"image": image, "method": method, **values, "seconds": seconds, "scale_seconds": scales}


OPTIMIZE_MEANS = (
    "| optimize | 0.2000 | 0.21000 | 0.22 | 0.2300 | 0.2400 | 0.25000 | 0.26 | 0.2700 | 0.280 "
    "| 0.2900 | 0.30 | 5.00 |"
)
TELEA_MEANS = (
    "| telea | 0.6000 | 0.61000 | 0.62 | 0.6300 | 0.6400 | 0.65000 | 0.66 | 0.6700 | 0.680 "
    "| 0.6900 | 0.70 | 1.00 |"
)
ROWS = [
    row("p2", "optimize", 0.1, 4.0, "32x32:1.00 64x64:3.00"),
    row("p2", "telea", 0.5, 0.5),
    row("p1", "optimize", 0.3, 6.0, "32x32:2.00 64x64:4.00"),
    row("p1", "telea", 0.7, 1.5),
]


def test_csv_round_trip(tmp_path):
    path = tmp_path / "metrics.csv"
    report.write_csv(path, ROWS)
    lines = path.read_text().splitlines()
    assert lines[0] == (
        "image,method,l1_hole,l2_hole,psnr_hole,ssim_hole,l1_all,l2_all,psnr_all,ssim_all,"
        "sharpness_ratio,feature_distance,colour_gap,seconds,scale_seconds"
    )
    assert lines[1].startswith("p2,optimize,0.1,0.11,") and lines[1].endswith(
        ",4.0,32x32:1.00 64x64:3.00"
    )
    back = report.read_csv(path)
    assert back == [
        {k: (str(v) if k == "scale_seconds" else v) for k, v in r.items()} for r in ROWS
    ]
    assert not list(tmp_path.glob(".*.tmp"))  # written through npsynth.files.atomic_write
    report.write_csv(tmp_path / "other.csv", [{"a": 1, "b": "x"}], columns=["a", "b"])
    assert (tmp_path / "other.csv").read_text().splitlines() == ["a,b", "1,x"]


def test_report_means_scales_and_photos():
    text = report.render_report(ROWS, header=["- command: `x`"])
    lines = text.splitlines()
    assert lines[:3] == ["# Inpainting report", "", "- command: `x`"]
    # Means of optimize: base 0.1 and 0.3 -> 0.2 + 0.01 i; seconds (4 + 6) / 2.
    assert lines[lines.index(OPTIMIZE_MEANS) - 2] == (
        "| method | L1 hole | L2 hole | PSNR hole | SSIM hole | L1 all | L2 all | PSNR all "
        "| SSIM all | sharpness hole | VGG dist hole | colour gap | s/photo |"
    )
    assert lines.index(OPTIMIZE_MEANS) + 1 == lines.index(TELEA_MEANS)  # in the rows' order
    assert "VGG-19 feature distance" in text and "not LPIPS" in text and "8 px" in text
    # Only optimize has scales: one per-scale table, means (1 + 2) / 2 and (3 + 4) / 2.
    assert text.count("time per photo at each scale") == 1
    assert "npsynth optimize time per photo at each scale" in text
    assert "| scale | 32x32 | 64x64 |\n|---|---:|---:|\n| s/photo | 1.50 | 3.50 |" in text
    # Per photo, sorted by name: hole PSNR (base + 0.02) and the seconds at each scale.
    assert "| photo | optimize | telea | optimize s per scale |" in text
    assert "| p1 | 0.32 | 0.72 | 2.00 / 4.00 |" in lines
    assert "| p2 | 0.12 | 0.52 | 1.00 / 3.00 |" in lines
    assert lines.index("| p1 | 0.32 | 0.72 | 2.00 / 4.00 |") < lines.index(
        "| p2 | 0.12 | 0.52 | 1.00 / 3.00 |"
    )
    assert text.endswith("|\n")


def test_per_photo_table_leaves_missing_cells_empty():
    lines = report.per_photo_table(ROWS[:3], ["optimize", "telea"])
    assert lines[-2:] == ["| p1 | 0.32 |  | 2.00 / 4.00 |", "| p2 | 0.12 | 0.52 | 1.00 / 3.00 |"]


def test_scale_seconds():
    assert report.scale_seconds(ROWS, "optimize") == {"32x32": [1.0, 2.0], "64x64": [3.0, 4.0]}
    assert report.scale_seconds(ROWS, "telea") == {}


def test_config_line_shows_each_methods_own_fields():
    optimize = OptimizeConfig(scales=(32, 64), iterations=4)
    line = report.config_line({"optimize": optimize})
    assert line.startswith("- config: {'scales': (32, 64), 'context': 1.0,")
    assert "'iterations': 4" in line and "image2feature" not in line
    both = report.config_line({"optimize": optimize, "translate": TranslateConfig()})
    first, second = both.split("; translate ")
    assert first.startswith("- config: optimize {'scales': (32, 64),")
    assert second.startswith("{'scales': (256, 512),") and "iterations" not in second
    assert report.config_line({}) == "- config: none (no npsynth method)"


def test_machine_names_the_device():
    line = report.machine()
    assert line.startswith("CPU (") and "cores" in line


@pytest.mark.parametrize("missing", ["seconds", "psnr_hole"])
def test_read_csv_needs_the_numeric_columns(tmp_path, missing):
    columns = [c for c in report.CSV_COLUMNS if c != missing]
    report.write_csv(tmp_path / "m.csv", [{c: "1" for c in columns}], columns=columns)
    with pytest.raises(ValueError, match=f"m.csv lacks the column {missing}$"):
        report.read_csv(tmp_path / "m.csv")


def test_rows_from_before_the_texture_measures_read_as_nan_and_means_skip_them(tmp_path):
    old = [c for c in report.CSV_COLUMNS if c not in report.TEXTURE_NAMES]
    report.write_csv(tmp_path / "old.csv", [{k: ROWS[0][k] for k in old}], columns=old)
    (back,) = report.read_csv(tmp_path / "old.csv")
    assert all(math.isnan(back[name]) for name in report.TEXTURE_NAMES)
    assert back["psnr_hole"] == ROWS[0]["psnr_hole"]
    text = report.render_report([back], header=[])
    assert "| optimize | 0.1000 | 0.11000 | 0.12 | 0.1300 | 0.1400 | 0.15000 | 0.16 | 0.1700 " \
        "| n/a | n/a | n/a | 4.00 |" in text  # fmt: skip
    # An old row beside a new one: the means of the texture measures are the new row's.
    text = report.render_report([back, ROWS[2]], header=[])
    assert "| optimize | 0.2000 | 0.21000 | 0.22 | 0.2300 | 0.2400 | 0.25000 | 0.26 | 0.2700 " \
        "| 0.380 | 0.3900 | 0.40 | 5.00 |" in text  # fmt: skip
    # Written back (a resumed run rewrites metrics.csv), NaN stays NaN.
    report.write_csv(tmp_path / "again.csv", [back])
    (again,) = report.read_csv(tmp_path / "again.csv")
    assert all(math.isnan(again[name]) for name in report.TEXTURE_NAMES)


def test_mean_cell():
    assert report.mean_cell([1.0, math.nan, 2.0], "{:.2f}") == "1.50"
    assert report.mean_cell([math.inf, 3.0], "{:.2f}") == "inf"
    assert report.mean_cell([math.nan], "{:.2f}") == "n/a"


def test_photo_names_with_a_pipe_or_a_line_break_keep_their_table_row():
    rows = [row("a|b.png", "telea", 0.5, 0.5), row("two\nlines.png", "telea", 0.1, 0.5)]
    table = report.per_photo_table(rows, ["telea"])
    assert table[-2:] == ["| a\\|b.png | 0.52 |", "| two\\nlines.png | 0.12 |"]
    assert report.table_cell("x\r|y") == "x\\r\\|y"


def test_table_cells_escape_backslashes_first_then_backticks_and_markdown_marks():
    assert report.table_cell("x\\.png") == "x\\\\.png"  # shown as x\.png, not x.png
    assert report.table_cell("a\\|b.png") == "a\\\\\\|b.png"  # \\ then \|: a\|b.png
    assert report.table_cell("b`q`.png") == "b\\`q\\`.png"  # no code span
    assert report.table_cell("*a* [l](u) <i> &amp; ~~s~~.png") == (
        "\\*a\\* \\[l\\](u) \\<i> \\&amp; \\~\\~s\\~\\~.png"
    )
    assert report.table_cell("img_003.png") == "img_003.png"
    rows = [row("x\\.png", "telea", 0.5, 0.5), row("b`q`.png", "telea", 0.1, 0.5)]
    assert report.per_photo_table(rows, ["telea"])[-2:] == [
        "| b\\`q\\`.png | 0.12 |",
        "| x\\\\.png | 0.52 |",
    ]
