"""`python -m eval.content`: content networks against the harmonic fill on real photos."""

from __future__ import annotations

import csv
import math

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from eval import content as cli
from npsynth import io, resize
from npsynth.config import ContentNetConfig, Feature2ImageConfig, Image2FeatureConfig
from npsynth.export import save_content_net, save_feature2image, save_image2feature
from npsynth.models.content_net import make_content_net
from npsynth.models.translation import FeatureToImage, ImageToFeature
from references import reference_harmonic


def test_scores_networks_and_harmonic_fill(tmp_path, eval_photos, capsys):
    config = ContentNetConfig(
        channels=(8, 8, 8, 8, 8), bottleneck=8, disc_width=8, disc_max_width=8
    )
    net = make_content_net(config, rngs=nnx.Rngs(0))
    save_content_net(net, tmp_path / "net.npz", config=config, dtype="float32")
    images = eval_photos
    argv = ["--images", str(images), "--limit", "2", "--net", f"tiny={tmp_path / 'net.npz'}",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 0
    with open(tmp_path / "out" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((r["image"], r["method"]) for r in rows) == [
        ("img_001.png", "harmonic"), ("img_001.png", "tiny"),
        ("img_002.png", "harmonic"), ("img_002.png", "tiny"),
    ]  # fmt: skip
    for row in rows:  # PSNR is 10 log10(1 / L2) over the hole
        assert float(row["psnr_hole"]) == pytest.approx(10 * math.log10(1 / float(row["l2_hole"])))
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| harmonic |" in report and "| tiny |" in report
    psnr = {(r["image"], r["method"]): float(r["psnr_hole"]) for r in rows}
    better = sum(psnr[(i, "tiny")] > psnr[(i, "harmonic")] for i in ("img_001.png", "img_002.png"))
    tiny_line = next(line for line in report.splitlines() if line.startswith("| tiny |"))
    assert tiny_line.endswith(f"| {better} of 2 |")
    assert "(step None, input fill mean)" in report and "img_001.png to img_002.png" in report
    # --skip leaves out the first photos.
    skipped = ["--images", str(images), "--skip", "1", "--limit", "1", "--out", str(tmp_path / "s")]
    assert cli.main(skipped) == 0
    with open(tmp_path / "s" / "metrics.csv") as handle:
        assert [r["image"] for r in csv.DictReader(handle)] == ["img_002.png"]
    assert "- machine: CPU" in report
    # Skipping every photo, or a folder without photos, is an error that says so.
    assert cli.main(["--images", str(images), "--skip", "1000", "--out", str(tmp_path / "e")]) == 2
    assert "no photos to score" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["--images", str(tmp_path / "empty"), "--out", str(tmp_path / "e")]) == 2
    assert not (tmp_path / "e").exists()  # nothing half-written
    assert (tmp_path / "out" / "grid.png").exists()
    with pytest.raises(SystemExit):
        cli.main(["--images", str(images), "--net", "noequals", "--out", str(tmp_path)])
    missing = [
        "--images",
        str(images),
        "--net",
        f"x={tmp_path / 'none.npz'}",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(missing) == 2


def test_fast_path_rows_and_the_decoder_upper_bound(tmp_path, eval_photos, vgg):
    f2i_config = Feature2ImageConfig(image_size=32, widths=(8, 8, 8), blocks=1)
    f2i = FeatureToImage(f2i_config, rngs=nnx.Rngs(0))
    save_feature2image(f2i, tmp_path / "f2i.npz", config=f2i_config, dtype="float32")
    i2f_config = Image2FeatureConfig(image_size=32, widths=(8, 8), dilations=(1,))
    i2f = ImageToFeature(i2f_config, rngs=nnx.Rngs(1))
    save_image2feature(i2f, tmp_path / "i2f.npz", config=i2f_config, dtype="float32")
    images = eval_photos
    argv = ["--images", str(images), "--limit", "1", "--fast-path", "--feature2image",
            str(tmp_path / "f2i.npz"), "--image2feature", str(tmp_path / "i2f.npz"),
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 0
    with open(tmp_path / "out" / "metrics.csv") as handle:
        rows = {r["method"]: r for r in csv.DictReader(handle)}
    assert list(rows) == ["harmonic", "translate", "translate_i2f", "oracle_swap", "oracle_decode"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "upper bounds, not methods" in report and "| oracle_decode |" in report

    # oracle_decode, worked out here: the true photo's relu3_1 decoded and pasted in the hole
    # by the default Poisson paste (decoded + the harmonic h meeting known - decoded).
    truth = resize.resize_image(io.load_image(images / "img_001.png"), (128, 128))
    hole = np.zeros((128, 128, 1), np.float32)
    hole[32:96, 32:96] = 1.0  # the default centred hole, half the side
    features = vgg(jnp.asarray(truth[None]), ("relu3_1",))["relu3_1"]
    decoded = np.asarray(f2i(features))[0].astype(np.float64)
    known = np.where(hole > 0, 0.0, truth)
    decoded = np.clip(decoded + reference_harmonic(known - decoded, hole[..., 0] > 0), 0.0, 1.0)
    l2 = np.mean((decoded.astype(np.float64) - truth)[hole[..., 0] > 0] ** 2)
    assert float(rows["oracle_decode"]["l2_hole"]) == pytest.approx(l2, rel=1e-3)
    assert float(rows["oracle_swap"]["l2_hole"]) != pytest.approx(l2, rel=1e-3)

    with pytest.raises(SystemExit):  # the network flags need --fast-path
        cli.main(["--images", str(images), "--image2feature", "x", "--out", str(tmp_path)])


def test_masks_pair_with_photos_in_sorted_order(tmp_path, eval_photos, capsys):
    """--masks: photo i (after --skip, counted from the first photo) gets mask i, resized to
    128 px; the harmonic row must equal a fill computed here on that exact hole."""
    from npsynth import fill, metrics

    masks = tmp_path / "masks"
    masks.mkdir()
    first = np.zeros((256, 256), np.uint8)
    first[40:90, 100:220] = 255  # a wide bar
    second = np.zeros((256, 256), np.uint8)
    second[150:250, 10:60] = 255  # a tall block elsewhere
    io.save_image(masks / "a.png", first[..., None].repeat(3, -1) / 255.0)
    io.save_image(masks / "b.png", second[..., None].repeat(3, -1) / 255.0)
    images = eval_photos
    argv = ["--images", str(images), "--skip", "1", "--limit", "1", "--masks", str(masks),
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 0
    with open(tmp_path / "out" / "metrics.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["image"] == "img_002.png"
    truth = resize.resize_image(io.load_image(images / "img_002.png"), (128, 128))
    hole = np.zeros((128, 128, 1), np.float32)
    hole[75:125, 5:30] = 1  # mask b.png at half size
    expected = np.asarray(fill.harmonic_fill(np.where(hole > 0, 0, truth), hole))
    expected = np.where(hole > 0, np.clip(expected, 0, 1), truth)
    assert float(row["psnr_hole"]) == pytest.approx(
        metrics.hole_metrics(expected, truth, hole)["psnr_hole"], abs=1e-4
    )
    assert "masks from" in (tmp_path / "out" / "report.md").read_text()
    # --masks with --hole is refused; an empty mask is an error, not a score.
    with pytest.raises(SystemExit):
        cli.main(argv + ["--hole", "boxes"])
    io.save_image(masks / "b.png", np.zeros((256, 256, 3)))
    assert cli.main(argv[:-2] + ["--out", str(tmp_path / "empty")]) == 2
    assert "mask has no hole pixels" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists()


def test_a_paper_mode_network_on_an_irregular_hole_is_a_clear_error(tmp_path, eval_photos, capsys):
    config = ContentNetConfig(
        mode="paper", channels=(8, 8, 8, 8, 8), bottleneck=8, disc_width=8, disc_max_width=8
    )
    net = make_content_net(config, rngs=nnx.Rngs(0))
    save_content_net(net, tmp_path / "net.npz", config=config, dtype="float32")
    argv = ["--images", str(eval_photos), "--limit", "1", "--hole", "boxes",
            "--net", f"paper={tmp_path / 'net.npz'}", "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 2
    assert "paper mode" in capsys.readouterr().err


def test_library_scores_fake_fillers_and_counts_wins(tmp_path):
    """npsynth.studies.content called directly: flat photos, fills worked out by hand."""
    from npsynth.studies import content

    paths = []
    for name, value in (("a", 0.2), ("b", 0.6)):
        paths.append(tmp_path / f"{name}.png")
        io.save_image(paths[-1], np.full((64, 96, 3), value, np.float32))

    def broken(known, hole, truth):
        raise ValueError("cannot fill this hole")

    fns = {"harmonic": lambda known, hole, truth: np.full_like(known, 0.5),
           "truth": lambda known, hole, truth: truth}  # fmt: skip
    rows, grid = content.score(paths, fns, grid_rows=1)
    assert [(r["image"], r["method"]) for r in rows] == [
        ("a.png", "harmonic"), ("a.png", "truth"), ("b.png", "harmonic"), ("b.png", "truth")
    ]  # fmt: skip
    level = {"a.png": 51 / 255, "b.png": 153 / 255}  # the photos as 8-bit PNGs
    for r in rows:
        expected = 0.0 if r["method"] == "truth" else abs(0.5 - level[r["image"]])
        assert r["l1_hole"] == pytest.approx(expected, abs=1e-6)
    assert grid.shape[0] == 128 + 18  # one row of 128 px tiles under its labels
    text = content.render_report(
        rows, list(fns), paths=paths, images=tmp_path, holes="center:0.5", described=[],
        oracles=False, command="python -m eval.content x",
    )  # fmt: skip
    mean_l1 = (abs(0.5 - level["a.png"]) + abs(0.5 - level["b.png"])) / 2
    assert f"| harmonic | {mean_l1:.4f} |" in text and text.count("| truth | 0.0000 | inf |") == 1
    assert "| 2 of 2 |" in text  # the truth beats the grey fill on both photos
    assert "- networks: none" in text and "upper bounds" not in text
    assert "(a.png to b.png, downsized to 128x128); hole: center:0.5" in text
    with pytest.raises(ValueError, match="broken on a.png: cannot fill this hole"):
        content.score(paths, {"broken": broken})
    content.write_results(tmp_path / "out", rows, grid, text)
    with open(tmp_path / "out" / "metrics.csv") as handle:
        assert next(csv.reader(handle))[:3] == ["image", "method", "seconds"]
    assert (tmp_path / "out" / "report.md").read_text() == text


# Bad inputs (issue 19): checked before the first photo is filled, one line on stderr.


@pytest.fixture
def flat_photos(tmp_path):
    """a.png, a.jpg and sub/a.png: three photos with one stem, each one flat grey."""
    folder = tmp_path / "photos"
    for name, value in {"a.png": 0.2, "a.jpg": 0.4, "sub/a.png": 0.8}.items():
        io.save_image(folder / name, np.full((40, 60, 3), value, np.float32))
    return folder


@pytest.fixture
def harmonic_calls(monkeypatch):
    """The harmonic fill, counting its calls."""
    from npsynth.studies import content

    calls, real = [], content.harmonic

    def counted(known, hole, truth=None):
        calls.append(1)
        return real(known, hole, truth)

    monkeypatch.setattr(content, "harmonic", counted)
    return calls


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and ".tmp" not in err
    return err


def test_photos_with_one_stem_keep_their_own_names_and_out_in_images_is_not_read(
    flat_photos, harmonic_calls
):
    argv = ["--images", str(flat_photos), "--out", str(flat_photos)]
    for _ in range(2):  # the second run finds the first one's grid.png among the photos
        assert cli.main(argv) == 0
        with open(flat_photos / "metrics.csv") as handle:
            rows = list(csv.DictReader(handle))
        assert [r["image"] for r in rows] == ["a.jpg", "a.png", "sub/a.png"]
    assert len(harmonic_calls) == 6
    assert "(a.jpg to sub/a.png, downsized" in (flat_photos / "report.md").read_text()


def test_an_unreadable_photo_or_output_stops_before_any_fill(
    flat_photos, harmonic_calls, tmp_path, capsys
):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for out in (blocker, blocker / "run"):
        assert cli.main(["--images", str(flat_photos), "--out", str(out)]) == 2
        assert str(out) in one_line_error(capsys)
    (flat_photos / "sub" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert cli.main(["--images", str(flat_photos), "--out", str(tmp_path / "run")]) == 2
    assert "b.png" in one_line_error(capsys)
    assert harmonic_calls == [] and not (tmp_path / "run").exists()


def test_ctrl_c_is_one_line_and_exit_130(flat_photos, tmp_path, monkeypatch, capsys):
    from npsynth.studies import content

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(content, "harmonic", interrupted)
    assert cli.main(["--images", str(flat_photos), "--out", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err
    assert err.strip().startswith("interrupted") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
