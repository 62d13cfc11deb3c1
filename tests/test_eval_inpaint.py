"""The `python -m eval.inpaint` command line on a tiny folder of real photos."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import sample_photo
from eval import inpaint as cli
from npsynth import files as npfiles
from npsynth import io, masks, metrics
from npsynth.harness import filling, runner

FAST = ["--scales", "32,64", "--iterations", "4", "--content", "harmonic"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two real 64x64 photos, named as two eval512 photos were (the tests name them)."""
    root = tmp_path_factory.mktemp("photos")
    for name, sample in (("img_003", "coffee"), ("img_007", "astronaut")):
        io.save_image(root / f"{name}.png", sample_photo(sample, size=64))
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
        (i, m) for i in ("img_003.png", "img_007.png") for m in ("optimize", "telea", "biharmonic")
    }
    # The CSV holds what the metrics of the written output give (recomputed independently here).
    truth = io.load_image(folder / "img_003.png")
    mask = masks.center_mask(64, 64, fraction=0.25)
    written = io.load_image(out / "outputs" / "optimize" / "img_003.png")
    row = next(r for r in rows if r["image"] == "img_003.png" and r["method"] == "optimize")
    expected = np.abs(written - truth)[mask[..., 0] > 0].mean()
    assert float(row["l1_hole"]) == pytest.approx(expected, abs=2.5 / 255)  # 8-bit PNG rounding
    assert float(row["psnr_all"]) > float(row["psnr_hole"])  # known pixels are exact
    # The texture and colour measures of the written output (8-bit PNG rounding aside).
    assert float(row["colour_gap"]) == pytest.approx(metrics.colour_gap(written, mask), abs=0.5)
    sharpness = metrics.sharpness_ratio(written, truth, mask)
    assert float(row["sharpness_ratio"]) == pytest.approx(sharpness, rel=0.05)
    assert 0 < float(row["feature_distance"]) < 1
    assert (out / "grids" / "img_007.png").exists()
    grid = io.load_image(out / "grids" / "img_007.png")
    assert grid.shape[1] > 5 * 64  # input | mask | 3 methods | truth
    report = (out / "report.md").read_text()
    for method in ("optimize", "telea", "biharmonic"):
        assert f"| {method} |" in report
    assert "machine:" in report and "PSNR hole" in report
    assert "| SSIM all | sharpness hole | VGG dist hole | colour gap | s/photo |" in report
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
    line = next(line for line in report.splitlines() if line.startswith("| img_003.png |"))
    cells = [cell.strip() for cell in line.strip("| ").split("|")]
    psnr = {
        r["method"]: f"{float(r['psnr_hole']):.2f}" for r in rows if r["image"] == "img_003.png"
    }
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
        (i, m) for i in ("img_003.png", "img_007.png") for m in ("optimize", "translate")
    }
    hole = masks.center_mask(64, 64, fraction=0.25)[..., 0] > 0
    for name in ("img_003.png", "img_007.png"):  # names keep the suffix; PNG outputs the name
        truth = io.load_image(folder / name)
        optimize = io.load_image(out / "outputs" / "optimize" / name)
        translate = io.load_image(out / "outputs" / "translate" / name)
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
    assert [r["image"] for r in rows] == ["img_003.png"]


def test_resume_keeps_scored_photos_and_refuses_other_settings(
    folder, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--out", str(out), *FAST, "--compare", "--baselines", "telea"]
    run_group, calls = runner.run_group, []

    def stopped_on_the_second_photo(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_group(*args)

    monkeypatch.setattr(runner, "run_group", stopped_on_the_second_photo)
    assert cli.main([*argv, "--limit", "2"]) == 130  # Ctrl-C
    monkeypatch.undo()
    # What was finished before the stop is on disk: the first photo's rows and its report.
    first = (out / "metrics.csv").read_text()
    assert [line.split(",")[:2] for line in first.splitlines()[1:]] == [
        ["img_003.png", "optimize"], ["img_003.png", "telea"]
    ]  # fmt: skip
    assert "- data: 1 photo from" in (out / "report.md").read_text()
    first_output = (out / "outputs" / "optimize" / "img_003.png").stat().st_mtime_ns

    assert cli.main([*argv, "--limit", "2", "--resume"]) == 0
    assert "resuming: 1 of 2 photos already scored" in capsys.readouterr().out
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["image"], r["method"]) for r in rows] == [
        ("img_003.png", "optimize"), ("img_003.png", "telea"),
        ("img_007.png", "optimize"), ("img_007.png", "telea"),
    ]  # fmt: skip
    # Photo 1 was not run again: its rows are the first run's text, its output file untouched.
    assert (out / "metrics.csv").read_text().splitlines()[1:3] == first.splitlines()[1:3]
    assert (out / "outputs" / "optimize" / "img_003.png").stat().st_mtime_ns == first_output
    assert "- data: 2 photos from" in (out / "report.md").read_text()

    # Other settings: a clear refusal, and nothing already scored is touched.
    assert cli.main([*argv, "--limit", "2", "--resume", "--alpha", "0.5"]) == 1
    assert "other settings (config of optimize differ)" in capsys.readouterr().err
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

    monkeypatch.setattr(runner, "run_group", stopped_at_once)
    assert cli.main([*argv, "--limit", "1", "--alpha", "0.5"]) == 130
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


@pytest.mark.slow  # opt-in (--integration): a whole run, in CI's second pass
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
    config = InpaintConfig(
        scales=(32, 64), iterations=3, alpha=0.0, beta=0.1, beta_last=None, content="harmonic"
    )  # the sweep: beta at every scale
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
    config = InpaintConfig(
        scales=(32, 64), iterations=3, alpha=0.0, beta=0.1, beta_last=None, content="harmonic"
    )  # the sweep: beta at every scale
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


# Bad inputs (issue 19): each is refused with one line naming the file or flag, before the
# first photo is filled; nothing the user gave is overwritten or misread. Most of these tests
# replace npsynth.inpaint by a flat grey fill (`fake_inpaint`): they are about what the
# command line reads and writes, not about the fill.


@pytest.fixture
def read_only(monkeypatch):
    """make(folder): the folder made read-only (mode 0o555). Root ignores folder permissions,
    so for root the writes a non-root user would be refused there are refused here the same
    way (opening a new file in it for writing, creating a folder in it: PermissionError)."""
    import builtins
    import os
    from pathlib import Path

    folders = []

    def make(folder):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o555)
        folders.append(Path(os.path.abspath(folder)))
        return folder

    def denied(path) -> bool:
        return Path(os.path.abspath(path)).parent in folders

    if os.geteuid() == 0:
        real_open, real_mkdir = builtins.open, os.mkdir

        def guarded_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and set(mode) & set("wxa+") and denied(file):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, mode, *args, **kwargs)

        def guarded_mkdir(path, *args, **kwargs):
            if denied(path) and not os.path.isdir(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    yield make
    for folder in folders:
        folder.chmod(0o755)


def one_line_error(capsys) -> str:
    """The one line main printed on stderr for an expected problem."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and ".tmp" not in err
    return err


@pytest.fixture
def hole_file(tmp_path):
    path = tmp_path / "hole.png"
    io.save_image(path, masks.center_mask(64, 64, fraction=0.25))
    return path


@pytest.mark.parametrize("how", ["same", "relative", "symlink", "hardlink", "mask"])
def test_out_that_is_an_input_file_is_refused(how, folder, hole_file, tmp_path, capsys):
    import os
    import shutil

    photo = tmp_path / "photo.png"
    shutil.copy(folder / "img_003.png", photo)
    before = {p: p.read_bytes() for p in (photo, hole_file)}
    out = {
        "same": photo,
        "relative": tmp_path / "x" / ".." / "photo.png",
        "symlink": tmp_path / "link.png",
        "hardlink": tmp_path / "hard.png",
        "mask": hole_file,
    }[how]
    if how == "symlink":
        out.symlink_to(photo)
    if how == "hardlink":
        os.link(photo, out)
    (tmp_path / "x").mkdir()
    argv = ["--image", str(photo), "--mask", str(hole_file), "--out", str(out), *FAST]
    assert cli.main(argv) == 1
    err = one_line_error(capsys)
    assert "--out" in err and str(out) in err
    assert {p: p.read_bytes() for p in before} == before


def test_photos_with_the_same_stem_keep_their_own_names(fake_inpaint, tmp_path, capsys):
    photos, out = tmp_path / "photos", tmp_path / "run"
    values = {"a.png": 0.2, "a.jpg": 0.4, "sub/a.png": 0.8}
    for name, value in values.items():
        io.save_image(photos / name, np.full((32, 48, 3), value, np.float32))
    argv = ["--images", str(photos), "--out", str(out), *FAST]
    assert cli.main(argv) == 0
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["a.jpg", "a.png", "sub/a.png"]  # sorted by path
    # Each photo's own output and grid: the known pixels are that photo's.
    for name, value in values.items():
        output = name if name.endswith(".png") else f"{name}.png"
        written = io.load_image(out / "outputs" / "optimize" / output)
        assert written[0, 0, 0] == pytest.approx(value, abs=1 / 255)
        grid = io.load_image(out / "grids" / output)
        truth_tile = grid[-32:, -48:]  # the last column: the true photo
        assert truth_tile.mean() == pytest.approx(value, abs=2 / 255)
    assert "| sub/a.png |" in (out / "report.md").read_text()
    capsys.readouterr()
    assert cli.main([*argv, "--resume"]) == 0
    assert "resuming: 3 of 3 photos already scored" in capsys.readouterr().out
    assert len(fake_inpaint) == 3  # none run again


def test_out_inside_images_never_reads_its_own_outputs(fake_inpaint, folder, tmp_path):
    import shutil

    photos = tmp_path / "photos"
    shutil.copytree(folder, photos)
    argv = ["--images", str(photos), "--out", str(photos), *FAST]
    for _ in range(2):  # the second run finds outputs/ and grids/ of the first in --images
        assert cli.main(argv) == 0
        with open(photos / "metrics.csv") as f:
            assert [r["image"] for r in csv.DictReader(f)] == ["img_003.png", "img_007.png"]
    assert len(fake_inpaint) == 4


def test_out_through_a_symlink_writes_its_target(fake_inpaint, folder, hole_file, tmp_path):
    target, link = tmp_path / "results" / "filled.png", tmp_path / "filled.png"
    target.parent.mkdir()
    link.symlink_to(target)  # dangling: the target is made
    argv = ["--image", str(folder / "img_003.png"), "--mask", str(hole_file), "--out", str(link)]
    assert cli.main([*argv, *FAST]) == 0
    assert link.is_symlink() and target.is_file()
    hole = masks.center_mask(64, 64, fraction=0.25)[..., 0] > 0
    np.testing.assert_allclose(io.load_image(target)[hole], 0.5, atol=1 / 255)


@pytest.mark.parametrize("flag", ["--limit", "--resize"])
@pytest.mark.parametrize("value", ["-1", "0", "-5"])
def test_counts_below_one_are_flag_errors(flag, value, folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(["--images", str(folder), "--out", str(tmp_path), flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}:" in err and value in err


def test_one_mask_file_for_every_photo_of_a_folder(fake_inpaint, folder, tmp_path, capsys):
    mask = tmp_path / "bar.png"
    bar = np.zeros((128, 128, 1), np.float32)
    bar[10:30, 20:120] = 1.0  # twice the photos' size: resized to each
    io.save_image(mask, bar)
    out = tmp_path / "run"
    assert cli.main(["--images", str(folder), "--mask", str(mask), "--out", str(out), *FAST]) == 0
    assert len(fake_inpaint) == 2
    for _, hole in fake_inpaint:
        np.testing.assert_array_equal(hole, bar[::2, ::2])
    assert f"holes: {mask}" in (out / "report.md").read_text()
    for other in (["--masks", str(folder)], ["--hole", "boxes"]):
        with pytest.raises(SystemExit) as exited:
            cli.parse_args(
                ["--images", str(folder), "--mask", str(mask), "--out", str(out), *other]
            )
        assert exited.value.code == 2
        assert "--mask" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse_args(["--demo", "--mask", str(mask)])
    assert "--mask" in capsys.readouterr().err


def test_a_folder_mask_without_a_hole_names_mask_and_photo_before_any_photo(
    fake_inpaint, folder, tmp_path, capsys
):
    mask_dir = tmp_path / "masks"
    io.save_image(mask_dir / "m0.png", masks.center_mask(64, 64, fraction=0.25))
    io.save_image(mask_dir / "m1.png", np.zeros((64, 64, 1), np.float32))  # no hole
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--masks", str(mask_dir), "--out", str(out), *FAST]
    assert cli.main(argv) == 1
    err = one_line_error(capsys)
    assert "m1.png" in err and "img_007.png" in err and "no hole" in err
    assert fake_inpaint == [] and not out.exists()


def test_an_unreadable_photo_in_a_folder_stops_before_anything_is_written(
    fake_inpaint, folder, tmp_path, capsys
):
    import shutil

    photos = tmp_path / "photos"
    shutil.copytree(folder, photos)
    (photos / "img_005.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "run"
    assert cli.main(["--images", str(photos), "--out", str(out), *FAST]) == 1
    err = one_line_error(capsys)
    assert "img_005.png" in err and "cannot read image" in err
    assert fake_inpaint == [] and not out.exists()


@pytest.mark.parametrize(
    "case",
    ["image-under-a-file", "image-read-only", "image-out-is-a-folder", "image-unknown-format",
     "folder-out-is-a-file", "folder-under-a-file", "folder-read-only", "folder-outputs-is-a-file",
     "demo-out-is-a-file"],
)  # fmt: skip
def test_an_output_that_cannot_be_written_is_refused_before_any_photo(
    case, fake_inpaint, folder, hole_file, tmp_path, read_only, capsys
):
    blocker = tmp_path / "photo.png"
    io.save_image(blocker, np.zeros((8, 8, 3), np.float32))  # a file where a folder is needed
    mode, _, what = case.partition("-")
    out = {
        "under-a-file": blocker / "x.png" if mode == "image" else blocker / "run",
        "read-only": read_only(tmp_path / "locked") / ("x.png" if mode == "image" else "run"),
        "out-is-a-folder": tmp_path,
        "unknown-format": tmp_path / "filled.xyz",
        "out-is-a-file": blocker,
        "outputs-is-a-file": tmp_path / "run",
    }[what]
    if what == "outputs-is-a-file":
        out.mkdir()
        (out / "outputs").write_text("not a folder")
    argv = {
        "image": ["--image", str(folder / "img_003.png"), "--mask", str(hole_file)],
        "folder": ["--images", str(folder)],
        "demo": ["--demo"],
    }[mode]
    assert cli.main([*argv, "--out", str(out), *FAST]) != 0
    err = one_line_error(capsys)
    assert str(out) in err or str(out / "outputs") in err
    assert fake_inpaint == []


def test_ctrl_c_in_a_folder_run_prints_one_line_and_exits_130(
    fake_inpaint, folder, tmp_path, monkeypatch, capsys
):
    run_group, calls = runner.run_group, []

    def stopped_on_the_second_photo(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_group(*args)

    monkeypatch.setattr(runner, "run_group", stopped_on_the_second_photo)
    out = tmp_path / "run"
    assert cli.main(["--images", str(folder), "--out", str(out), *FAST]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"interrupted; 1 photo done is kept in {out}; rerun with --resume to continue"
    )
    assert "Traceback" not in "\n".join(err)


def test_unexpected_errors_keep_their_traceback(folder, tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(runner, "run_group", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["--images", str(folder), "--out", str(tmp_path / "run"), *FAST])


def test_sweep_checks_photos_and_its_output_before_filling(fake_inpaint, folder, tmp_path, capsys):
    from eval import sweep

    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["--images", str(folder), "--scales", "32,64", "--iterations", "3", "--alphas", "0"]
    assert sweep.main([*argv, "--out", str(blocker)]) == 1
    assert str(blocker) in one_line_error(capsys) and fake_inpaint == []
    assert sweep.main([*argv, "--out", str(tmp_path / "s"), "--content", "bogus"]) == 2
    assert "content" in one_line_error(capsys)
    with pytest.raises(SystemExit) as exited:
        sweep.parse_args([*argv, "--limit", "-1"])
    assert exited.value.code == 2 and "argument --limit" in capsys.readouterr().err
    broken = tmp_path / "photos"
    io.save_image(broken / "a.png", np.zeros((32, 32, 3), np.float32))
    (broken / "b.png").write_bytes(b"not a png")
    assert sweep.main(["--images", str(broken), "--out", str(tmp_path / "s"), *argv[2:]]) == 1
    assert "b.png" in one_line_error(capsys) and fake_inpaint == []


def test_flags_that_the_mode_would_ignore_are_refused(folder, hole_file, tmp_path, capsys):
    photo = ["--image", str(folder / "img_003.png"), "--mask", str(hole_file), "--out", "x.png"]
    cases = [
        (photo + ["--masks", str(folder)], "--masks and --hole are for --images"),
        (photo + ["--hole", "boxes"], "--masks and --hole are for --images"),
        (photo + ["--limit", "1", "--compare"], "--limit, --compare: for folder mode"),
        (["--demo", "--resize", "32"], "--resize: for folder mode"),
        (["--images", str(folder), "--out", "o", "--baselines", "telea"], "with --compare"),
        (["--images", str(folder), "--out", "o", "--compare", "--baselines", "telea,x"], "'x'"),
        (["--images", str(folder), "--out", "o", "--scales", "32,x"], "argument --scales: takes"),
        (["--demo", "--hole", "center:1.5"], "argument --hole: center hole fraction must be"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exited:
            cli.parse_args(argv)
        assert exited.value.code == 2 and message in capsys.readouterr().err, argv


def test_an_unreadable_mask_in_a_folder_is_named_before_any_photo(
    fake_inpaint, folder, tmp_path, capsys
):
    mask_dir = tmp_path / "masks"
    io.save_image(mask_dir / "m0.png", masks.center_mask(64, 64, fraction=0.25))
    (mask_dir / "m1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "run"
    argv = ["--images", str(folder), "--masks", str(mask_dir), "--out", str(out), *FAST]
    assert cli.main(argv) == 1
    assert "m1.png" in one_line_error(capsys)
    assert fake_inpaint == [] and not out.exists()


def test_image_mode_lines_a_mask_up_with_an_exif_rotated_photo(fake_inpaint, tmp_path):
    """A mask drawn on the stored pixels of a photo with EXIF orientation 6 (a tool that
    ignores the tag) is turned with the photo (`npsynth.io.load_mask_for`), not refused or
    stretched: the hole lands on the pixels it was drawn over."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: stored 32x64 (HxW) -> shown 64x32
    stored = np.full((32, 64, 3), 128, np.uint8)
    Image.fromarray(stored).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    drawn = np.zeros((32, 64), np.uint8)
    drawn[:8, :8] = 255  # stored top-left corner
    Image.fromarray(drawn).save(tmp_path / "mask.png")
    argv = ["--image", str(tmp_path / "photo.jpg"), "--mask", str(tmp_path / "mask.png")]
    assert cli.main([*argv, "--out", str(tmp_path / "filled.png"), *FAST]) == 0
    ((image, hole),) = fake_inpaint
    expected = np.zeros((64, 32, 1), np.float32)
    expected[:8, 24:] = 1  # a clockwise turn takes stored (r, c) to shown (c, 31 - r)
    assert image.shape == (64, 32, 3)
    np.testing.assert_array_equal(hole, expected)


def test_groups_take_consecutive_photos_of_one_size_and_region():
    from npsynth.config import OptimizeConfig

    def item(name, size, box):
        mask = np.zeros((size, size, 1), np.float32)
        top, left, side = box
        mask[top : top + side, left : left + side] = 1.0
        return name, np.zeros((size, size, 3), np.float32), mask

    configs = {"optimize": OptimizeConfig(scales=(32, 64))}
    items = [
        item("a", 64, (10, 10, 8)),
        item("b", 64, (30, 20, 12)),  # same size, whole photo worked on: joins a
        item("c", 64, (0, 0, 5)),  # a full batch of 2 before it: starts a new one
        item("d", 48, (5, 5, 5)),  # another size
        item("e", 200, (10, 10, 8)),  # larger than the last scale: a window around its hole
        item("f", 200, (150, 150, 8)),  # ... elsewhere: another window
        item("g", 200, (12, 10, 8)),  # e's window, but not next to e
        item("h", 200, (14, 12, 8)),  # g's window, next to g: joins it
    ]
    runs = filling.groups(items, 2, configs)
    assert [[name for name, *_ in run] for run in runs] == [
        ["a", "b"],
        ["c"],
        ["d"],
        ["e"],
        ["f"],
        ["g", "h"],
    ]
    assert [[n for n, *_ in r] for r in filling.groups(items[:3], 3, configs)] == [["a", "b", "c"]]
    assert all(len(r) == 1 for r in filling.groups(items, 1, configs))


@pytest.mark.slow  # opt-in (--integration): a whole run, in CI's second pass
def test_batch_fills_photos_together_with_the_scores_of_one_at_a_time(
    folder, tmp_path, monkeypatch
):
    import npsynth.api

    sizes = []
    real = npsynth.api.inpaint_batch

    def spy(images, masks, **kwargs):
        sizes.append(len(images))
        return real(images, masks, **kwargs)

    monkeypatch.setattr(npsynth.api, "inpaint_batch", spy)
    argv = ["--images", str(folder), *FAST, "--hole", "center:0.4"]
    assert cli.main([*argv, "--out", str(tmp_path / "one")]) == 0
    assert sizes == []  # without --batch: photo by photo
    assert cli.main([*argv, "--out", str(tmp_path / "two"), "--batch", "2"]) == 0
    assert sizes == [2]  # both 64x64 photos in one call
    assert "- batch: up to 2 photos at once" in (tmp_path / "two" / "report.md").read_text()
    rows = {}
    for run in ("one", "two"):
        with open(tmp_path / run / "metrics.csv") as f:
            rows[run] = {r["image"]: float(r["psnr_hole"]) for r in csv.DictReader(f)}
    assert rows["one"].keys() == rows["two"].keys() == {"img_003.png", "img_007.png"}
    for name, psnr in rows["one"].items():
        assert abs(rows["two"][name] - psnr) < 0.2, (name, psnr, rows["two"][name])


def test_beta_last_flag_takes_a_number_or_none(folder, tmp_path, capsys):
    argv = ["--images", str(folder), "--out", str(tmp_path)]
    assert cli.configs_from(cli.parse_args(argv))["optimize"].beta_last == 0.25
    config = cli.configs_from(cli.parse_args([*argv, "--beta", "2", "--beta-last", "0.25"]))
    assert (config["optimize"].beta, config["optimize"].beta_last) == (2.0, 0.25)
    config = cli.configs_from(cli.parse_args([*argv, "--beta-last", "none"]))
    assert config["optimize"].beta_last is None
    with pytest.raises(SystemExit) as exited:
        cli.parse_args([*argv, "--beta-last", "1,1"])
    assert exited.value.code == 2
    assert "'none'" in capsys.readouterr().err


def test_content_layer_flag_takes_a_vgg_layer_or_none(fake_inpaint, folder, tmp_path, capsys):
    argv = ["--images", str(folder), "--out", str(tmp_path / "run")]
    assert cli.configs_from(cli.parse_args(argv))["optimize"].content_layer is None
    config = cli.configs_from(cli.parse_args([*argv, "--content-layer", "relu4_2"]))
    assert config["optimize"].content_layer == "relu4_2"
    config = cli.configs_from(cli.parse_args([*argv, "--content-layer", "none"]))
    assert config["optimize"].content_layer is None
    # The config's own check (`check_content_layer`), as a one-line flag error before any photo.
    assert cli.main([*argv, "--content-layer", "relu4_9"]) == 2
    err = one_line_error(capsys)
    assert "content_layer must be None" in err and "a VGG-19 layer such as 'relu4_2'" in err
    assert fake_inpaint == [] and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--alpha", "inf"], "alpha must be a number from 0 to 1, got inf"),
        (["--alpha", "1e30"], "alpha must be a number from 0 to 1, got 1e+30"),
        (["--beta", "inf"], "beta must be a number from 0 to 1e+06, got inf"),
        (["--beta-last", "inf"], "beta_last must be a number from 0 to 1e+06, got inf"),
        (["--patchmatch-base-sigma", "inf"], "patchmatch_base_sigma must be a number from 0"),
        (["--paste-offset-span", "inf"], "paste_offset_span must be a finite number >= 0"),
        (["--scales", "16"], "scales: the last scale must be at least 32 px"),
        (["--iterations", "2147483648"], "iterations must be a whole number from 1 to 100000"),
        (["--iterations", "2,99999999999"], "got 99999999999"),
        (["--chunk-iterations", str(10**20)], "chunk_iterations must be a whole number from 1"),
        (["--levels", "65"], "levels must be a whole number from 1 to 64, got 65"),
    ],
)
def test_bad_numbers_are_flag_errors_before_any_photo(
    flags, message, fake_inpaint, folder, tmp_path, capsys
):
    out = tmp_path / "run"
    assert cli.main(["--images", str(folder), "--out", str(out), *flags]) == 2
    assert message in one_line_error(capsys)
    assert fake_inpaint == [] and not out.exists()


def test_a_negative_seed_is_a_flag_error(folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--images", str(folder), "--out", str(tmp_path), "--hole", "boxes",
                  "--seed", "-1"])  # fmt: skip
    assert exited.value.code == 2
    assert "argument --seed: must be 0 or more, got '-1'" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".ico", ".blp", ".h5", ".xbm", ".gif", ""])
def test_an_output_format_npsynth_cannot_write_is_refused_before_the_fill(
    suffix, fake_inpaint, folder, hole_file, tmp_path, capsys
):
    out = tmp_path / f"o{suffix}"
    argv = ["--image", str(folder / "img_003.png"), "--mask", str(hole_file), "--out", str(out)]
    assert cli.main(argv) == 1
    err = one_line_error(capsys)
    named = f"{suffix!r} files" if suffix else "files without an extension"
    assert f"npsynth does not write {named}; use one of .png, .jpg, .jpeg, .bmp, .tif" in err
    assert fake_inpaint == [] and not out.exists()


def test_a_full_disk_names_the_file_being_written(fake_inpaint, folder, hole_file, tmp_path,
                                                  monkeypatch, capsys):  # fmt: skip
    import builtins

    def full_disk(file, mode="r", *args, **kwargs):  # every write: "No space left on device"
        return builtins.open("/dev/full", "wb") if "x" in mode else builtins.open(file, mode)

    out = tmp_path / "filled.png"
    monkeypatch.setattr(npfiles, "open", full_disk, raising=False)  # npsynth.files.atomic_write
    argv = ["--image", str(folder / "img_003.png"), "--mask", str(hole_file), "--out", str(out)]
    assert cli.main(argv) == 1
    assert f"error: No space left on device: '{out}'" in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == [hole_file]


def _photo_file(path, pixels, **save):
    from PIL import Image

    Image.fromarray(pixels).save(path, **save)
    return path


def test_the_output_keeps_the_photos_exif_without_its_orientation(
    fake_inpaint, hole_file, tmp_path
):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "npsynth camera"  # Make
    exif[0x0112] = 6  # orientation: turn a quarter clockwise to show
    stored = np.zeros((64, 48, 3), np.uint8)
    stored[:8, :8] = (255, 0, 0)  # the stored top-left corner, shown at the top right
    for suffix in ("jpg", "png"):
        photo = _photo_file(tmp_path / f"turned.{suffix}", stored, exif=exif.tobytes(),
                            quality=100)  # fmt: skip
        mask = tmp_path / "wide.png"
        io.save_image(mask, masks.center_mask(48, 64, fraction=0.25))
        out = tmp_path / f"out.{suffix}"
        assert cli.main(["--image", str(photo), "--mask", str(mask), "--out", str(out)]) == 0
        with Image.open(out) as written:
            assert written.size == (64, 48)  # shown (turned) size, turned once on reading
            tags = written.getexif()
            assert tags.get(0x010F) == "npsynth camera" and 0x0112 not in tags
            assert written.convert("RGB").getpixel((60, 3))[0] > 200  # red at the top right


def test_the_output_keeps_the_photos_icc_profile(fake_inpaint, folder, hole_file, tmp_path):
    from PIL import Image, ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = np.round(io.load_image(folder / "img_003.png") * 255).astype(np.uint8)
    for suffix in ("png", "jpg", "webp", "tif"):
        photo = _photo_file(tmp_path / f"p.{suffix}", pixels, icc_profile=profile)
        out = tmp_path / f"out.{suffix}"
        assert cli.main(["--image", str(photo), "--mask", str(hole_file), "--out", str(out)]) == 0
        with Image.open(out) as written:
            assert written.info.get("icc_profile") == profile, suffix


def test_a_16_bit_png_photo_gives_a_16_bit_png(fake_inpaint, hole_file, tmp_path):
    from PIL import Image

    ramp = (np.arange(64 * 64, dtype=np.uint16) * 16 + 3).reshape(64, 64)  # 16-bit levels
    photo = _photo_file(tmp_path / "deep.png", ramp)
    assert Image.open(photo).mode == "I;16"
    out = tmp_path / "out.png"
    assert cli.main(["--image", str(photo), "--mask", str(hole_file), "--out", str(out)]) == 0
    with Image.open(out) as written:
        assert written.mode == "I;16"
        values = np.asarray(written)
    known = masks.center_mask(64, 64, fraction=0.25)[..., 0] == 0
    np.testing.assert_array_equal(values[known], ramp[known])  # every 16-bit level kept
    assert np.all(values[~known] == 32768)  # the fake fill, 0.5, at 16 bits: round(0.5 * 65535)


def test_a_photo_name_that_is_not_utf8_is_refused_before_any_photo(
    fake_inpaint, folder, tmp_path, capsys
):
    import os
    import shutil

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(folder / "img_003.png", photos / "a.png")
    shutil.copy(folder / "img_007.png", os.fsencode(photos) + b"/caf\xe9.png")  # Latin-1 name
    out = tmp_path / "run"
    assert cli.main(["--images", str(photos), "--out", str(out)]) == 1
    err = one_line_error(capsys)
    assert "the photo name b'caf\\xe9.png' is not UTF-8 text" in err and "rename" in err
    assert fake_inpaint == [] and not out.exists()


def test_a_photo_folder_named_in_other_bytes_than_utf8_is_reported(fake_inpaint, tmp_path):
    import os

    photos = os.fsdecode(os.fsencode(tmp_path) + b"/ph\xe9")  # a Latin-1 folder name
    io.save_image(os.path.join(photos, "a.png"), np.full((32, 48, 3), 0.2, np.float32))
    out = tmp_path / "run"
    assert cli.main(["--images", photos, "--out", str(out), *FAST]) == 0
    assert b"from `" + os.fsencode(photos) + b"`" in (out / "report.md").read_bytes()
    assert json.loads((out / "settings.json").read_text())["images"] == photos
    assert cli.main(["--images", photos, "--out", str(out), *FAST, "--resume"]) == 0
    assert len(fake_inpaint) == 1  # resumed: the settings read back are the same


@pytest.mark.parametrize(
    "name, width, height, message",
    [
        ("wide.webp", 17000, 8, "WEBP holds at most 16383 px a side, and the image is 17000x8"),
        ("tall.webp", 4, 16384, "WEBP holds at most 16383 px a side, and the image is 4x16384"),
        ("wide2.jpg", 66000, 4, "JPEG holds at most 65500 px a side, and the image is 66000x4"),
    ],
)
def test_an_output_format_too_small_for_the_photo_is_refused_before_the_fill(
    name, width, height, message, fake_inpaint, tmp_path, capsys
):
    photo, hole = tmp_path / "photo.png", tmp_path / "hole.png"
    _photo_file(photo, np.full((height, width, 3), 90, np.uint8))
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4 : height // 2 + 1, width // 4 : width // 2] = 255
    _photo_file(hole, mask)
    out = tmp_path / name
    assert cli.main(["--image", str(photo), "--mask", str(hole), "--out", str(out)]) == 1
    assert f"error: --out {str(out)!r}: {message}; use .png or .tif" in one_line_error(capsys)
    assert fake_inpaint == [] and not out.exists()


@pytest.mark.parametrize(
    "kind, words",
    [
        ("empty", "is neither a Keras HDF5 file nor an npsynth .npz cache"),
        ("text", "is neither a Keras HDF5 file nor an npsynth .npz cache"),
        ("truncated", "is not a readable npsynth cache file"),
        ("folder", "$NPSYNTH_VGG19 points to a folder"),
    ],
)
@pytest.mark.parametrize("mode", ["image", "images"])
def test_bad_vgg_weights_are_named_before_any_photo_or_run_folder(
    kind, words, mode, fake_inpaint, folder, hole_file, tmp_path, monkeypatch, capsys
):
    import functools

    from npsynth import hub

    weights_file = tmp_path / "vgg19.npz"
    if kind == "folder":
        weights_file.mkdir()
    else:
        content = {"empty": b"", "text": b"not weights\n", "truncated": b"PK\x03\x04\x14\x00"}
        weights_file.write_bytes(content[kind])
    monkeypatch.setenv("NPSYNTH_VGG19", str(weights_file))
    monkeypatch.setattr(hub, "default_vgg", functools.cache(hub.load_vgg19))  # none kept yet
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    if mode == "image":
        photo = folder / "img_003.png"
        argv = ["--image", str(photo), "--mask", str(hole_file), "--out", str(out / "o.png")]
    else:
        photo = folder
        argv = ["--images", str(folder), "--out", str(out)]
    assert cli.main(argv) == 1
    err = one_line_error(capsys)
    assert err.startswith(f"error: the VGG-19 weights ($NPSYNTH_VGG19={weights_file}): "), err
    assert words in err and str(photo) not in err and "photo" not in err
    assert fake_inpaint == [] and [p.name for p in out.iterdir()] == ["keep.txt"]


# The flags are derived from the configs (npsynth.config.flags, npsynth.cli.settings).


def _help_text(capsys) -> str:
    """`--help`'s text, box borders and line breaks made single spaces."""
    import re

    with pytest.raises(SystemExit) as exited:
        cli.parse_args(["--help"])
    assert exited.value.code == 0
    return " ".join(re.sub("[│╭╮╰╯─]", " ", capsys.readouterr().out).split())


def test_help_lists_the_run_flags_and_every_setting_with_its_comment(capsys):
    from npsynth.config import flags
    from npsynth.config.inpaint import CONFIGS

    text = _help_text(capsys)
    for flag, words in [("--demo", "inpaint a built-in photo"), ("--image", "one photo"),
                        ("--images", "a folder of photos"), ("--masks", "glob pattern"),
                        ("--hole", "center[:FRACTION]"), ("--out", "output file"),
                        ("--method", "optimize,translate"), ("--preset", "named settings"),
                        ("--compare", "baselines"), ("--resume", "already scored"),
                        ("--batch", "at once"), ("--shard", "K/N"), ("--merge", "one report")]:  # fmt: skip
        assert f"{flag} " in text and words in text, flag
    for flag in ("--feature2image", "--image2feature", "--image2feature-mode", "--scales 64"):
        assert flag.split()[0] + " " in text, flag
    assert "(default: optimize 128,256,512; translate 256,512)" in text  # each method's own
    for cls in CONFIGS.values():
        for leaf in flags.leaves(cls):  # each setting is a flag, its help the field's comment
            assert f"--{leaf.name.replace('_', '-')}" in text or leaf.name in {"image2feature"}, (
                leaf.name
            )
            assert " ".join(leaf.help.split()[:4]) in text, leaf.name


def test_only_the_settings_given_reach_each_methods_config(monkeypatch):
    """Flags spelt on the command line, and only those, go to `config_for` (so a preset or
    a method's own default holds for the rest), each to the methods that have it."""
    from npsynth.cli import settings

    calls = []
    monkeypatch.setattr(
        settings, "config_for", lambda method, **fields: calls.append((method, fields))
    )
    argv = ["--images", "photos", "--out", "o", "--method", "optimize,translate",
            "--scales=32,64", "--iterations", "15", "--alpha", "0.5", "--levels", "none",
            "--feature2image", "f.npz", "--image2feature", "i.npz", "--image2feature-mode",
            "content", "--paste", "direct", "--preset", "fast"]  # fmt: skip
    cli.configs_from(cli.parse_args(argv))
    assert calls == [
        ("optimize", {"preset": "fast", "scales": (32, 64), "iterations": 15, "alpha": 0.5,
                      "levels": None}),
        ("translate", {"preset": "fast", "scales": (32, 64), "levels": None,
                       "feature2image_checkpoint": "f.npz", "image2feature_checkpoint": "i.npz",
                       "image2feature": "content", "paste": "direct"}),
    ]  # fmt: skip
    calls.clear()
    cli.configs_from(cli.parse_args(["--demo"]))
    assert calls == [("optimize", {})]  # no flag, no preset: the method's defaults


def test_the_configs_from_the_flags_are_the_library_configs():
    from npsynth.config import OptimizeConfig, TranslateConfig

    argv = ["--demo", "--method", "translate,optimize", "--scales", "64,128", "--levels", "1",
            "--iterations", "100,50", "--beta-last", "None", "--paste-offset-span", "0"]  # fmt: skip
    configs = cli.configs_from(cli.parse_args(argv))
    assert list(configs) == ["translate", "optimize"]
    assert configs["optimize"] == OptimizeConfig(
        scales=(64, 128), levels=1, iterations=(100, 50), beta_last=None, paste_offset_span=0.0
    )
    assert configs["translate"] == TranslateConfig(
        scales=(64, 128), levels=1, paste_offset_span=0.0
    )
    assert cli.configs_from(cli.parse_args([]))["optimize"] == OptimizeConfig()


def test_a_preset_that_the_configs_do_not_know_is_a_one_line_flag_error(fake_inpaint, tmp_path,
                                                                         capsys):  # fmt: skip
    assert cli.main(["--demo", "--out", str(tmp_path / "d"), "--preset", "nonsense"]) == 2
    assert "preset" in one_line_error(capsys)  # until presets exist: "unknown setting"
    assert fake_inpaint == []
