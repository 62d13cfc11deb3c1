"""`python -m eval.compare`: two runs' metrics.csv photo by photo, on hand-computed cases."""

from __future__ import annotations

import os

import pytest

from eval import compare as cli
from npsynth.harness import compare

HEADER = "image,method,l1_hole,psnr_hole,ssim_hole,scale_seconds\n"


def write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{','.join(map(str, row))}\n" for row in rows))
    return path


def test_per_photo_differences_counts_and_extremes(tmp_path, capsys):
    # PSNR A - B per photo: +3, -1, -0.5, +0.25 -> mean +0.4375, median -0.125, A better on 2.
    write(
        tmp_path / "a1" / "metrics.csv",
        [
            ("p1", "optimize", 0.10, 18, 0.5, "64x64:1.0"),
            ("p2", "optimize", 0.20, 14, 0.4, "64x64:1.0"),
        ],
    )
    write(
        tmp_path / "a2" / "metrics.csv",
        [
            ("p3", "optimize", 0.30, 15.5, 0.3, "x"),
            ("p4", "optimize", 0.10, 16.25, 0.2, "x"),
            ("p9", "optimize", 0.10, 99, 0.9, "x"),
        ],
    )
    write(tmp_path / "b.csv", [("p1", "optimize", 0.20, 15, 0.5, ""), ("p2", "optimize", 0.10, 15, 0.5, ""),
                               ("p3", "optimize", 0.30, 16, 0.1, ""), ("p4", "optimize", 0.15, 16, 0.1, ""),
                               ("p1", "telea", 0.5, 10, 0.1, "")])  # fmt: skip
    a = compare.read_scores([tmp_path / "a1", tmp_path / "a2"], None)
    b = compare.read_scores([tmp_path / "b.csv"], "optimize")
    psnr = compare.compare(a, b, "psnr_hole")
    assert psnr["photos"] == 4  # p9 is in A only
    assert psnr["mean_a"] == pytest.approx((18 + 14 + 15.5 + 16.25) / 4)
    assert psnr["mean_b"] == pytest.approx(15.5)
    assert psnr["mean_diff"] == pytest.approx(0.4375)
    assert psnr["median_diff"] == pytest.approx(-0.125)
    assert psnr["a_better"] == 2
    assert psnr["best"] == ("p1", pytest.approx(3.0))
    assert psnr["worst"] == ("p2", pytest.approx(-1.0))
    # L1: lower is better. A - B: -0.1, +0.1, 0, -0.05 -> A better on 2 (a tie is not better).
    l1 = compare.compare(a, b, "l1_hole")
    assert l1["a_better"] == 2 and l1["mean_diff"] == pytest.approx(-0.0125)
    assert l1["best"] == ("p1", pytest.approx(-0.1)) and l1["worst"] == ("p2", pytest.approx(0.1))
    argv = ["--a", str(tmp_path / "a1"), "--a", str(tmp_path / "a2"), "--b", str(tmp_path / "b.csv"),
            "--method-b", "optimize", "--out", str(tmp_path / "report.md")]  # fmt: skip
    assert cli.main(argv) == 0
    text = (tmp_path / "report.md").read_text()
    assert (
        "| psnr_hole | 4 | 15.9375 | 15.5000 | +0.4375 | -0.1250 | 2 of 4 | p1 (+3.0000) | p2 (-1.0000) |"
        in text
    )
    assert "in one run only (left out): p9" in text
    assert text in capsys.readouterr().out


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    both = write(tmp_path / "both.csv", [("p1", "optimize", 0.1, 15, 0.5, ""),
                                         ("p1", "telea", 0.2, 14, 0.4, "")])  # fmt: skip
    other = write(tmp_path / "other.csv", [("q1", "optimize", 0.1, 15, 0.5, "")])
    cases = [
        (["--a", str(both), "--b", str(both), "--method-b", "telea"], "pick one with --method-a"),
        (["--a", str(both), "--method-a", "nope", "--b", str(other)], "no method 'nope'"),
        (["--a", str(tmp_path / "missing"), "--b", str(other)], "no such metrics file"),
        (["--a", str(other), "--b", str(both), "--method-b", "optimize"], "share no photo"),
        (["--a", str(other), "--a", str(other), "--b", str(other)], "appears twice"),
        (["--a", str(both), "--method-a", "optimize", "--b", str(both), "--method-b", "telea",
          "--metrics", "psnr_all"], "no 'psnr_all' column"),
    ]  # fmt: skip
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        assert message in capsys.readouterr().err


def test_out_never_replaces_an_input_and_a_bad_out_is_one_line(tmp_path, capsys):
    import os

    run = write(tmp_path / "run" / "metrics.csv", [("p1", "optimize", 0.1, 15, 0.5, "")])
    other = write(tmp_path / "other.csv", [("p1", "optimize", 0.2, 14, 0.5, "")])
    os.link(other, tmp_path / "hard.csv")
    before = run.read_text(), other.read_text()
    for out in (run, tmp_path / "run" / ".." / "run" / "metrics.csv", other, tmp_path / "hard.csv"):
        assert cli.main(["--a", str(tmp_path / "run"), "--b", str(other), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "--out" in err and str(out) in err
        assert len(err.strip().splitlines()) == 1
    assert (run.read_text(), other.read_text()) == before
    for out in (tmp_path / "run", other / "table.md"):  # a folder; a file where one is needed
        assert cli.main(["--a", str(run), "--b", str(other), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(out) in err and "Traceback" not in err
    assert (run.read_text(), other.read_text()) == before


def test_a_fifo_as_a_metrics_file_is_refused_at_once(tmp_path, capsys):
    from test_reading import release, within

    other = write(tmp_path / "other.csv", [("q1", "optimize", 0.1, 15, 0.5, "")])
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    argv = ["--a", str(fifo), "--b", str(other)]
    assert within(lambda: cli.main(argv), unblock=release(fifo)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read metrics file '{fifo}': it is not a regular file (a")
    assert len(err.splitlines()) == 1
