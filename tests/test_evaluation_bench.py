"""npsynth.benchmarks.bench: the tables come out with one row per case (no wall-time checks)."""

from __future__ import annotations

import io

from npsynth.benchmarks import bench


def test_bench_loss_rows(random_vgg):
    out = io.StringIO()
    (row,) = bench.bench_loss([64], repeats=1, chunk_size=64, hole=0.25, vgg=random_vgg, out=out)
    assert row["size"] == 64 and row["hole"] == "16x16"
    assert row["window"] == "image" or row["window"].count("x") == 1  # "HxW" of the window
    for key in ("search_s", "paper_s", "fixed_s", "window_s"):
        assert row[key] > 0
    text = out.getvalue().splitlines()
    assert text[0].split("|")[0].strip() == "image" and "64x64" in text[2]
    assert text[-1].startswith("chunk_size=64, repeats=1 (median)")


def test_the_command_line_checks_flags_and_exits_130_on_ctrl_c(monkeypatch, capsys):
    import pytest

    from eval import bench as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "bench_loss", interrupted)
    assert cli.main(["loss", "--sizes", "64"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted" and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:
        cli.main(["loss", "--repeats", "0"])
    assert exited.value.code == 2 and "--repeats" in capsys.readouterr().err
