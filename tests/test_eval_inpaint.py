"""The `python -m eval.inpaint` command line on a tiny folder of real photos."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import load_photo
from eval import inpaint as cli
from npsynth import io, masks, metrics
from npsynth.evaluation import runner

FAST = ["--scales", "32,64", "--iterations", "4", "--content", "harmonic"]


@pytest.fixture(scope="module")
def folder(shared, tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for name in ("img_003", "img_007"):
        io.save_image(
            root / f"{name}.png", load_photo(shared / "data" / "eval512" / f"{name}.png", size=64)
        )
    return root


@pytest.fixture(scope="module")
def feature2image(tmp_path_factory):
    """A tiny untrained Feature2Image network, exported as training would."""
    from flax import nnx

    from npsynth.config import Feature2ImageConfig
    from npsynth.export import save_feature2image
    from npsynth.models.translation import FeatureToImage

    cfg = Feature2ImageConfig(image_size=32, widths=(8, 8, 8), blocks=0)
    model = FeatureToImage(cfg, rngs=nnx.Rngs(0))
    return save_feature2image(model, tmp_path_factory.mktemp("f2i") / "f2i.npz", config=cfg)


def test_folder_with_compare_writes_outputs_grids_metrics_and_report(folder, tmp_path):
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--out", str(out), "--hole", "center:0.25", *FAST]
    assert cli.main([*argv, "--compare", "--baselines", "telea,biharmonic"]) == 0
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["image"], r["method"]) for r in rows} == {
        (i, m) for i in ("img_003", "img_007") for m in ("optimize", "telea", "biharmonic")
    }
    # The CSV holds what the metrics of the written output give (recomputed independently here).
    truth = io.load_image(folder / "img_003.png")
    mask = masks.center_mask(64, 64, fraction=0.25)
    written = io.load_image(out / "outputs" / "optimize" / "img_003.png")
    row = next(r for r in rows if r["image"] == "img_003" and r["method"] == "optimize")
    expected = np.abs(written - truth)[mask[..., 0] > 0].mean()
    assert float(row["l1_hole"]) == pytest.approx(expected, abs=2.5 / 255)  # 8-bit PNG rounding
    assert float(row["psnr_all"]) > float(row["psnr_hole"])  # known pixels are exact
    assert (out / "grids" / "img_007.png").exists()
    grid = io.load_image(out / "grids" / "img_007.png")
    assert grid.shape[1] > 5 * 64  # input | mask | 3 methods | truth
    report = (out / "report.md").read_text()
    for method in ("optimize", "telea", "biharmonic"):
        assert f"| {method} |" in report
    assert "machine:" in report and "PSNR hole" in report
    assert "- methods: optimize; baselines: telea, biharmonic" in report
    config_line = next(line for line in report.splitlines() if line.startswith("- config:"))
    assert "'scales': (32, 64)" in config_line and "'iterations': 4" in config_line
    # Only the optimize method ran: none of translate's settings is reported.
    assert "image2feature" not in config_line and "feature2image" not in config_line
    assert "optimize time per photo at each scale" in report
    assert report.count("| scale | 32x32 | 64x64 |") == 1  # only npsynth has scales
    assert row["scale_seconds"].startswith("32x32:")
    # The per-photo table repeats each photo's hole PSNR from metrics.csv and npsynth's times.
    assert "| photo | optimize | telea | biharmonic | optimize s per scale |" in report
    line = next(line for line in report.splitlines() if line.startswith("| img_003 |"))
    cells = [cell.strip() for cell in line.strip("| ").split("|")]
    psnr = {r["method"]: f"{float(r['psnr_hole']):.2f}" for r in rows if r["image"] == "img_003"}
    assert cells[1:4] == [psnr["optimize"], psnr["telea"], psnr["biharmonic"]]
    seconds = [item.split(":")[1] for item in row["scale_seconds"].split()]
    assert cells[4] == " / ".join(seconds) and len(seconds) == 2


def test_folder_with_both_methods_side_by_side(folder, feature2image, tmp_path):
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--out", str(out), "--hole", "center:0.25", *FAST]
    assert (
        cli.main([*argv, "--method", "optimize,translate", "--feature2image", str(feature2image)])
        == 0
    )
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["image"], r["method"]) for r in rows} == {
        (i, m) for i in ("img_003", "img_007") for m in ("optimize", "translate")
    }
    hole = masks.center_mask(64, 64, fraction=0.25)[..., 0] > 0
    for name in ("img_003", "img_007"):
        truth = io.load_image(folder / f"{name}.png")
        optimize = io.load_image(out / "outputs" / "optimize" / f"{name}.png")
        translate = io.load_image(out / "outputs" / "translate" / f"{name}.png")
        np.testing.assert_allclose(
            translate[~hole], truth[~hole], atol=1 / 255
        )  # known pixels kept
        np.testing.assert_allclose(optimize[~hole], truth[~hole], atol=1 / 255)
        assert np.abs(translate[hole] - optimize[hole]).mean() > 0.01  # two different fills
        row = next(r for r in rows if r["image"] == name and r["method"] == "translate")
        expected = np.abs(translate - truth)[hole].mean()
        assert float(row["l1_hole"]) == pytest.approx(expected, abs=2.5 / 255)
        assert [item.split(":")[0] for item in row["scale_seconds"].split()] == ["32x32", "64x64"]
    grid = io.load_image(out / "grids" / "img_003.png")
    assert grid.shape[1] > 4 * 64  # input | mask | optimize | translate | truth
    report = (out / "report.md").read_text()
    assert "- methods: optimize, translate" in report
    for method in ("optimize", "translate"):
        assert f"| {method} |" in report
        assert f"npsynth {method} time per photo at each scale" in report
    assert report.count("| scale | 32x32 | 64x64 |") == 2  # --scales applies to both methods
    # Each method has its own config: in the report and in settings.json.
    config_line = next(line for line in report.splitlines() if line.startswith("- config:"))
    optimize_part, translate_part = config_line.split("; translate ")
    assert optimize_part.startswith("- config: optimize {'scales': (32, 64),")
    assert "'iterations': 4" in optimize_part and "feature2image" not in optimize_part
    assert translate_part.startswith("{'scales': (32, 64),") and "iterations" not in translate_part
    assert f"'feature2image_checkpoint': '{feature2image}'" in translate_part
    settings = json.loads((out / "settings.json").read_text())
    assert list(settings["config"]) == ["optimize", "translate"]
    assert settings["config"]["optimize"]["iterations"] == 4
    assert "alpha" not in settings["config"]["translate"]
    assert settings["config"]["translate"]["scales"] == [32, 64]


def test_translate_on_one_photo_and_on_the_demo(folder, feature2image, tmp_path, capsys):
    from npsynth import TranslateConfig, inpaint

    flags = ["--method", "translate", "--feature2image", str(feature2image), *FAST]
    mask = tmp_path / "mask.png"
    hole = masks.center_mask(
        64, 64, fraction=0.25
    )  # leaves known 3x3 patches in 32 px's 8x8 relu3_1
    io.save_image(mask, hole)
    out = tmp_path / "filled.png"
    assert (
        cli.main(
            ["--image", str(folder / "img_003.png"), "--mask", str(mask), "--out", str(out), *flags]
        )
        == 0
    )
    filled, original = io.load_image(out), io.load_image(folder / "img_003.png")
    known = hole[..., 0] == 0
    np.testing.assert_array_equal(filled[known], original[known])
    # The hole is the translate method's fill with that network (the library called directly).
    config = TranslateConfig(
        scales=(32, 64), content="harmonic", feature2image_checkpoint=str(feature2image)
    )
    direct = inpaint(original, hole, config=config).image
    np.testing.assert_allclose(filled[~known], direct[~known], atol=1 / 255)

    assert (
        cli.main(["--demo", "--out", str(tmp_path / "demo"), "--hole", "center:0.25", *flags]) == 0
    )
    assert io.load_image(tmp_path / "demo" / "output.png").shape == (
        64,
        64,
        3,
    )  # translate's last scale
    printed = capsys.readouterr().out
    assert "by translate" in printed and "  32x32: " in printed and "  64x64: " in printed


def test_translate_without_a_feature2image_network_is_a_clear_error(
    folder, tmp_path, monkeypatch, capsys
):
    from npsynth import hub

    monkeypatch.delenv("NPSYNTH_FEATURE2IMAGE", raising=False)
    monkeypatch.setitem(hub.SHIPPED, "feature2image", (tmp_path / "shipped.npz",))  # none shipped
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--out", str(out), "--method", "optimize,translate", *FAST]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "--feature2image" in err and "NPSYNTH_FEATURE2IMAGE" in err
    assert not (out / "outputs").exists()  # stopped before filling any photo
    missing = tmp_path / "nowhere" / "f2i.npz"
    assert (
        cli.main(
            [
                "--demo",
                "--out",
                str(tmp_path),
                "--method",
                "translate",
                "--feature2image",
                str(missing),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Feature2Image" in err and str(missing) in err


def test_folder_with_mask_folder_and_limit(folder, tmp_path):
    mask_dir = tmp_path / "masks"
    mask_dir.mkdir()
    hole = np.zeros((128, 128, 1), np.float32)
    hole[40:70, 50:90] = 1.0  # a different size: resized to each photo
    io.save_image(mask_dir / "m.png", hole)
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "--images",
                str(folder),
                "--masks",
                str(mask_dir),
                "--out",
                str(out),
                "--limit",
                "1",
                *FAST,
            ]
        )
        == 0
    )
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["img_003"]


def test_resume_keeps_scored_photos_and_refuses_other_settings(
    folder, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--out", str(out), *FAST, "--compare", "--baselines", "telea"]
    run_one, calls = runner.run_one, []

    def stopped_on_the_second_photo(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_one(*args)

    monkeypatch.setattr(runner, "run_one", stopped_on_the_second_photo)
    with pytest.raises(KeyboardInterrupt):
        cli.main([*argv, "--limit", "2"])
    monkeypatch.undo()
    # What was finished before the stop is on disk: the first photo's rows and its report.
    first = (out / "metrics.csv").read_text()
    assert [line.split(",")[:2] for line in first.splitlines()[1:]] == [
        ["img_003", "optimize"], ["img_003", "telea"]
    ]  # fmt: skip
    assert "- data: 1 photo from" in (out / "report.md").read_text()
    first_output = (out / "outputs" / "optimize" / "img_003.png").stat().st_mtime_ns

    assert cli.main([*argv, "--limit", "2", "--resume"]) == 0
    assert "resuming: 1 of 2 photos already scored" in capsys.readouterr().out
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["image"], r["method"]) for r in rows] == [
        ("img_003", "optimize"), ("img_003", "telea"), ("img_007", "optimize"), ("img_007", "telea")
    ]  # fmt: skip
    # Photo 1 was not run again: its rows are the first run's text, its output file untouched.
    assert (out / "metrics.csv").read_text().splitlines()[1:3] == first.splitlines()[1:3]
    assert (out / "outputs" / "optimize" / "img_003.png").stat().st_mtime_ns == first_output
    assert "- data: 2 photos from" in (out / "report.md").read_text()

    # Other settings: a clear refusal, and nothing already scored is touched.
    assert cli.main([*argv, "--limit", "2", "--resume", "--alpha", "0.5"]) == 1
    assert "other settings (config differ)" in capsys.readouterr().err
    assert len((out / "metrics.csv").read_text().splitlines()) == 5

    # Results whose settings were not saved cannot be checked, so they are not resumed.
    settings = (out / "settings.json").read_text()
    (out / "settings.json").unlink()
    assert cli.main([*argv, "--limit", "2", "--resume"]) == 1
    assert "no settings.json" in capsys.readouterr().err
    assert len((out / "metrics.csv").read_text().splitlines()) == 5
    (out / "settings.json").write_text(settings)

    # Without --resume the folder starts afresh.
    assert cli.main([*argv, "--limit", "1"]) == 0
    assert "replacing the results" in capsys.readouterr().err
    assert len((out / "metrics.csv").read_text().splitlines()) == 3

    # A fresh start with other settings, stopped before its first photo is done, leaves no
    # rows of the old settings behind for a later --resume to take as its own.
    def stopped_at_once(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_one", stopped_at_once)
    with pytest.raises(KeyboardInterrupt):
        cli.main([*argv, "--limit", "1", "--alpha", "0.5"])
    monkeypatch.undo()
    assert (out / "metrics.csv").read_text().splitlines()[1:] == []


def test_resume_needs_folder_mode(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--demo", "--resume"])
    assert "--resume is for folder mode" in capsys.readouterr().err


def test_single_photo(folder, tmp_path):
    mask = tmp_path / "mask.png"
    hole = masks.center_mask(64, 64, fraction=0.3)
    io.save_image(mask, hole)
    out = tmp_path / "filled.png"
    assert (
        cli.main(
            ["--image", str(folder / "img_003.png"), "--mask", str(mask), "--out", str(out), *FAST]
        )
        == 0
    )
    filled, original = io.load_image(out), io.load_image(folder / "img_003.png")
    known = hole[..., 0] == 0
    np.testing.assert_array_equal(filled[known], original[known])
    scores = metrics.hole_metrics(filled, original, hole)
    assert np.isfinite(scores["psnr_hole"])


def test_demo_runs_on_the_builtin_photo(tmp_path, capsys):
    assert cli.main(["--demo", "--out", str(tmp_path), *FAST]) == 0
    assert (tmp_path / "grid.png").exists() and (tmp_path / "output.png").exists()
    assert "your own photo" in capsys.readouterr().out


def test_unreadable_file_and_bad_mask_give_clear_errors(folder, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    mask = tmp_path / "mask.png"
    io.save_image(mask, masks.center_mask(64, 64))
    assert (
        cli.main(
            ["--image", str(bad), "--mask", str(mask), "--out", str(tmp_path / "o.png"), *FAST]
        )
        == 1
    )
    assert "cannot read image" in capsys.readouterr().err
    empty = tmp_path / "empty.png"
    io.save_image(empty, np.zeros((64, 64, 1), np.float32))
    assert (
        cli.main(
            [
                "--image",
                str(folder / "img_003.png"),
                "--mask",
                str(empty),
                "--out",
                str(tmp_path / "o.png"),
            ]
        )
        == 1
    )
    assert "no hole" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_bad_flags(folder, tmp_path, capsys):
    assert cli.main(["--images", str(folder), "--out", str(tmp_path), "--scales", "64,32"]) == 2
    assert "increasing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--image", str(folder / "img_003.png")])  # no --mask / --out
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main(["--demo", "--method", "optimize,fast"])
    assert exited.value.code == 2
    assert "'fast'" in capsys.readouterr().err


def test_sweep_tabulates_each_setting(folder, tmp_path):
    from eval import sweep

    argv = ["--images", str(folder), "--limit", "1", "--resize", "64", "--scales", "32,64"]
    argv += ["--iterations", "3", "--alphas", "0,1e-7", "--betas", "0.1", "--out", str(tmp_path)]
    assert sweep.main(argv) == 0
    table = (tmp_path / "sweep.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith(("| 0 ", "| 1e-07 "))]
    assert len(rows) == 2 and table.count("**best**") == 1
    # The alpha = 0 row is plain E_c + beta * TV: recompute it independently of the sweep.
    from npsynth import InpaintConfig, inpaint

    image = io.load_image(folder / "img_003.png")
    mask = masks.center_mask(64, 64, fraction=0.5)
    config = InpaintConfig(scales=(32, 64), iterations=3, alpha=0.0, beta=0.1, content="harmonic")
    filled = inpaint(np.where(mask > 0, 0.0, image), mask, config=config).image
    psnr = metrics.hole_metrics(filled, image, mask)["psnr_hole"]
    assert f"| 0 | 0.1 | {psnr:.2f}" in table


def test_sweep_reads_masks_from_a_glob_pattern(folder, tmp_path):
    from eval import sweep
    from npsynth import InpaintConfig, inpaint

    mask_dir = tmp_path / "masks"
    mask_dir.mkdir()
    box = np.zeros((128, 128, 1), np.float32)  # twice the photo's size: resized to it
    box[20:60, 70:110] = 1.0
    io.save_image(mask_dir / "hole_a.png", np.repeat(box, 3, axis=-1))
    io.save_image(mask_dir / "other.png", np.repeat(masks.center_mask(128, 128), 3, axis=-1))
    argv = ["--images", str(folder), "--limit", "1", "--resize", "64", "--scales", "32,64"]
    argv += ["--iterations", "3", "--alphas", "0", "--betas", "0.1", "--out", str(tmp_path)]
    assert sweep.main([*argv, "--masks", str(mask_dir / "hole_*.png")]) == 0
    table = (tmp_path / "sweep.md").read_text()
    assert "hole_*.png" in table
    image = io.load_image(folder / "img_003.png")
    mask = np.zeros((64, 64, 1), np.float32)
    mask[10:30, 35:55] = 1.0
    config = InpaintConfig(scales=(32, 64), iterations=3, alpha=0.0, beta=0.1, content="harmonic")
    filled = inpaint(np.where(mask > 0, 0.0, image), mask, config=config).image
    psnr = metrics.hole_metrics(filled, image, mask)["psnr_hole"]
    assert f"| 0 | 0.1 | {psnr:.2f}" in table


@pytest.mark.parametrize("command", ["sweep", "inpaint", "content"])
def test_masks_and_hole_together_are_refused(command, folder, tmp_path, capsys):
    import importlib

    cli = importlib.import_module(f"eval.{command}")
    argv = ["--images", str(folder), "--masks", str(folder), "--hole", "center:0.25"]
    with pytest.raises(SystemExit) as excinfo:
        cli.parse_args([*argv, "--out", str(tmp_path)])
    assert excinfo.value.code == 2
    assert "argument --hole: not allowed with argument --masks" in capsys.readouterr().err
