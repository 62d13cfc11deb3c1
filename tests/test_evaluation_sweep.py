"""npsynth.studies.sweep: the table of a weight sweep, on hand-made rows."""

from __future__ import annotations

from npsynth.studies import sweep


def test_render_marks_the_best_hole_psnr():
    rows = [
        {"alpha": 0.0, "beta": 0.1, "psnr_hole": 20.004, "ssim_hole": 0.5, "l1_hole": 0.1},
        {"alpha": 1e-7, "beta": 0.1, "psnr_hole": 21.5, "ssim_hole": 0.61234, "l1_hole": 0.09},
        {"alpha": 1e-7, "beta": 1.0, "psnr_hole": 21.0, "ssim_hole": 0.7, "l1_hole": 0.08},
    ]
    text = sweep.render(rows, header=["- command: `x`"])
    lines = text.splitlines()
    assert lines[:3] == ["# Joint-loss weight sweep", "", "- command: `x`"]
    assert lines[3].startswith("- machine: ")
    assert "| 0 | 0.1 | 20.00 | 0.5000 | 0.1000 |" in lines
    assert "| 1e-07 | 0.1 | 21.50 **best** | 0.6123 | 0.0900 |" in lines
    assert "| 1e-07 | 1 | 21.00 | 0.7000 | 0.0800 |" in lines
    assert text.count("**best**") == 1
