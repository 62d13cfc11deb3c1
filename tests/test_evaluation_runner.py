"""npsynth.harness.runner: pairing, per-method configs, settings, resume and a folder run,
on tiny photos with hand-computed expectations (no L-BFGS: fake methods and a baseline)."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest

from eval import inpaint as inpaint_cli
from npsynth import folders, io, masks, presets
from npsynth.config import OptimizeConfig, ReferenceOptions, TranslateConfig
from npsynth.errors import InputError
from npsynth.harness import baselines, checks, filling, report, runner
from npsynth.pyramid import InpaintResult, ScaleResult


@pytest.fixture
def photos(tmp_path):
    """Three 24x48 photos of one flat colour each (names sorted b, c, d) and two masks."""
    folder, mask_dir = tmp_path / "photos", tmp_path / "masks"
    for index, name in enumerate("cbd"):
        io.save_image(folder / f"{name}.png", np.full((24, 48, 3), (index + 1) / 4, np.float32))
    for name, (top, left) in {"m0": (0, 0), "m1": (12, 24)}.items():
        hole = np.zeros((48, 96, 1), np.float32)  # twice the photos' size: resized to them
        hole[2 * top : 2 * top + 8, 2 * left : 2 * left + 16] = 1
        io.save_image(mask_dir / f"{name}.png", hole)
    return folder, mask_dir


def test_pairs_photos_with_masks_in_sorted_order(photos):
    folder, mask_dir = photos
    pairs = runner.load_pairs(runner.Photos(images=folder, masks=mask_dir))
    assert [name for name, *_ in pairs] == ["b.png", "c.png", "d.png"]  # suffix kept
    np.testing.assert_allclose(pairs[0][1], 0.5, atol=1 / 255)  # b.png was written second
    expected = []
    for top, left in ((0, 0), (12, 24), (0, 0)):  # photo i gets mask i modulo 2
        hole = np.zeros((24, 48, 1), np.float32)
        hole[top : top + 4, left : left + 8] = 1
        expected.append(hole)
    for (_, image, mask), hole in zip(pairs, expected):
        assert image.shape == (24, 48, 3)
        np.testing.assert_array_equal(mask, hole)


def test_limit_resize_and_seeded_holes(photos):
    folder, _ = photos
    chosen = runner.Photos(images=folder, hole="boxes", limit=2, resize=24, seed=3)
    pairs = runner.load_pairs(chosen)
    assert [name for name, *_ in pairs] == ["b.png", "c.png"]
    rng = np.random.default_rng(3)  # one generator, drawn from photo by photo
    for _, image, mask in pairs:
        assert image.shape == (12, 24, 3)  # longest side 48 -> 24
        np.testing.assert_array_equal(mask, masks.make_mask("boxes", 12, 24, rng=rng))
    (_, _, centred), *_ = runner.load_pairs(runner.Photos(images=folder, limit=1))
    np.testing.assert_array_equal(centred, masks.center_mask(24, 48, fraction=0.5))
    assert runner.Photos(images=folder).holes == "center:0.5"
    assert runner.Photos(images=folder, hole="strokes").holes == "strokes"
    assert runner.Photos(images=folder, masks="m/*.png").holes == "m/*.png"


def test_each_method_gets_only_its_own_fields():
    configs = runner.configs_for(
        ["translate", "optimize"], content="harmonic", iterations=7, alpha=0.5,
        feature2image_checkpoint="f2i.npz", image2feature="content",
    )  # fmt: skip
    assert list(configs) == ["translate", "optimize"]
    harmonic = ReferenceOptions(content="harmonic")
    assert configs["optimize"] == OptimizeConfig(reference=harmonic, iterations=7, alpha=0.5)
    assert configs["translate"] == TranslateConfig(
        reference=harmonic, feature2image_checkpoint="f2i.npz", image2feature="content"
    )
    nested = runner.configs_for(["translate", "optimize"], maxls=5, chunk_size=64)
    assert nested["optimize"].solver.maxls == 5 and nested["optimize"].texture.chunk_size == 64
    assert nested["translate"].chunk_size == 64  # the patch-swap's own setting
    assert configs["optimize"].scales == (128, 256, 512)  # each method's default pyramid
    assert configs["translate"].scales == (256, 512)
    both = runner.configs_for(["optimize", "translate"], scales=(32, 64))
    assert both["optimize"].scales == both["translate"].scales == (32, 64)
    with pytest.raises(ValueError, match="unknown settings 'translate_scales'"):
        runner.configs_for(["optimize"], translate_scales=(32, 64))
    with pytest.raises(ValueError, match="unknown method 'fast'"):
        runner.configs_for(["fast"])


def test_run_one_blanks_the_hole_and_times_each_scale():
    image = np.full((16, 16, 3), 0.8, np.float32)
    mask = np.zeros((16, 16, 1), np.float32)
    mask[4:8, 4:8] = 1
    seen = {}

    def plain(blanked, hole):
        seen["plain"] = blanked.copy()
        return np.where(hole > 0, 0.25, blanked)

    def pyramid(blanked, hole):
        scales = [
            ScaleResult((8, 8), blanked[::2, ::2], None, (), 1.234),
            ScaleResult((16, 12), blanked, None, (), 0.5),
        ]
        return InpaintResult(blanked + 0.1, scales, blanked, (0, 16, 0, 16), 2.0)

    results = filling.run_one(image, mask, {"plain": plain, "pyramid": pyramid})
    assert list(results) == ["plain", "pyramid"]
    assert (seen["plain"][4:8, 4:8] == 0).all() and (seen["plain"][:4] == 0.8).all()
    filled, seconds, scales = results["plain"]
    assert filled.dtype == np.float32 and seconds >= 0 and scales == ""
    np.testing.assert_allclose(filled[5, 5], 0.25)
    filled, _, scales = results["pyramid"]
    assert scales == "8x8:1.23 16x12:0.50"
    np.testing.assert_allclose(filled[0, 0], 0.9)


def evaluation(folder, **options):
    return runner.Evaluation(
        photos=runner.Photos(images=folder, hole="center:0.25"),
        configs={"optimize": presets.config("tiny")}, baselines=("biharmonic",), **options,
    )  # fmt: skip


def test_settings_hold_what_decides_the_scores(photos):
    folder, _ = photos
    settings = runner.run_settings(evaluation(folder))
    assert settings == {
        "images": str(folder), "masks": None, "hole": "center:0.25", "resize": None,
        "seed": 0, "methods": ["optimize"], "baselines": ["biharmonic"],
        "config": {"optimize": {
            "scales": [32, 64], "levels": None, "context": 1.0,
            "reference": {"content": "harmonic", "content_checkpoint": None,
                          "patchmatch_base_sigma": 16.0},
            "paste": {"paste_offset_span": 2.0, "paste_exact_reach": 4.0},
            "iterations": 5, "alpha": 1e-7, "beta": 1.0, "beta_last": 0.25,
            "content_layer": None,
            "texture": {"layers": ["relu3_1", "relu4_1"], "patch_size": 3,
                        "nn_update": "per_scale", "source_stride": 1, "synthesis_stride": 1,
                        "patch_average": "windows", "chunk_size": 512},
            "solver": {"tol": 1e-6, "rel_tol": 0.0, "history_size": 10, "linesearch": "zoom",
                       "linesearch_init": "increase", "maxls": 30, "chunk_iterations": 1},
        }},
    }  # fmt: skip
    assert json.loads(json.dumps(settings)) == settings  # what settings.json gives back
    # A run saved before `levels` existed resumes: the missing field is its default.
    older = settings | {"config": {"optimize": {
        k: v for k, v in settings["config"]["optimize"].items() if k != "levels"}}}  # fmt: skip
    assert runner.report.with_new_config_fields(older) == settings
    changed = older | {"config": {"optimize": older["config"]["optimize"] | {"alpha": 1.0}}}
    assert runner.report.with_new_config_fields(changed) != settings
    # A run saved before the settings were nested (issue 36), written out by hand: flat
    # fields, and the removed settings at the values that meant today's behaviour.
    flat = {
        "scales": [32, 64], "context": 1.0, "content": "harmonic", "content_checkpoint": None,
        "patchmatch_base_sigma": 16.0, "chunk_size": 512, "paste_offset_span": 2.0,
        "paste_exact_reach": 4.0, "iterations": 5, "alpha": 1e-7, "beta": 1.0,
        "beta_last": 0.25, "alpha_scaling": "none", "content_scales": "auto",
        "content_layer": None, "layers": ["relu3_1", "relu4_1"], "patch_size": 3,
        "nn_update": "per_scale", "tol": 1e-6, "rel_tol": 0.0, "history_size": 10,
        "linesearch": "zoom", "linesearch_init": "increase", "maxls": 30,
        "chunk_iterations": 1,
    }  # fmt: skip
    before_nesting = settings | {"config": {"optimize": flat}}
    assert runner.report.with_new_config_fields(before_nesting) == settings
    for removed in ({"alpha_scaling": "per_pixel"}, {"nn_update": "per_chunk"}, {"maxls": 5}):
        other = settings | {"config": {"optimize": flat | removed}}
        assert runner.report.with_new_config_fields(other) != settings  # refused, not mixed
    # Chunks of iterations only set how often progress is reported (10 before issue 41's
    # per-iteration progress): a run saved with other chunks resumes.
    other_chunks = runner.report.with_new_config_fields(
        settings | {"config": {"optimize": flat | {"chunk_iterations": 10}}}
    )
    assert other_chunks != settings
    assert runner.report.comparable(other_chunks) == runner.report.comparable(settings)
    translate = runner.report.with_new_config_fields({"config": {"translate": {
        "paste": "direct", "paste_offset_span": 0.0}}})["config"]["translate"]  # fmt: skip
    assert translate["level_paste"] == "direct" and translate["paste"]["paste_offset_span"] == 0


def test_earlier_rows(tmp_path, photos, capsys):
    folder, _ = photos
    settings = runner.run_settings(evaluation(folder))
    assert runner.earlier_rows(tmp_path, settings, resume=True) == []  # nothing there yet
    row = {"image": "b", "method": "optimize", **dict.fromkeys(runner.report.METRIC_NAMES, 0.5),
           "seconds": 2, "scale_seconds": "32x32:2.00"}  # fmt: skip
    runner.report.write_csv(tmp_path / "metrics.csv", [row])
    assert runner.earlier_rows(tmp_path, settings, resume=False) == []
    with pytest.raises(ValueError, match="no settings.json"):
        runner.earlier_rows(tmp_path, settings, resume=True)
    (tmp_path / "settings.json").write_text(json.dumps(settings | {"seed": 1, "hole": "boxes"}))
    with pytest.raises(ValueError, match=r"other settings \(hole, seed differ\)"):
        runner.earlier_rows(tmp_path, settings, resume=True)
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    (kept,) = runner.earlier_rows(tmp_path, settings, resume=True)
    assert kept == row | {"seconds": 2.0}


def test_folder_run_and_resume(tmp_path, photos, monkeypatch, capsys):
    folder, _ = photos

    def fake(blanked, hole):  # stands in for npsynth.inpaint: a flat grey fill, two scales
        scales = [ScaleResult((12, 24), blanked, None, (), 1.0)]
        scales.append(ScaleResult((24, 48), blanked, None, (), 3.0))
        return InpaintResult(np.where(hole > 0, 0.5, blanked), scales, blanked, (0, 0, 0, 0), 4.0)

    monkeypatch.setattr(
        runner, "fillers", lambda e: {"fake": fake, "biharmonic": baselines.biharmonic}
    )
    out = tmp_path / "run"
    report_path = runner.evaluate(evaluation(folder, command="the command"), out)
    assert report_path == out / "report.md"
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["image"], r["method"]) for r in rows] == [
        (f"{name}.png", method) for name in "bcd" for method in ("fake", "biharmonic")
    ]
    # The fake fill of c (flat 0.25, stored as 64 / 255) with 0.5 in the hole.
    fake_c = next(r for r in rows if r["image"] == "c.png" and r["method"] == "fake")
    gap = 0.5 - 64 / 255
    assert float(fake_c["l1_hole"]) == pytest.approx(gap, abs=1e-6)
    assert float(fake_c["l2_hole"]) == pytest.approx(gap**2, abs=1e-6)
    assert fake_c["scale_seconds"] == "12x24:1.00 24x48:3.00"
    # The texture measures: a flat photo has no sharpness to compare (NaN); the colour gap
    # of grey 0.5 beside grey 64 / 255 is their CIE lightness difference (a* = b* = 0), with
    # L* = 116 Y^(1/3) - 16 of the linear sRGB value Y.
    lightness = [116 * ((v + 0.055) / 1.055) ** (2.4 / 3) - 16 for v in (0.5, 64 / 255)]
    assert float(fake_c["colour_gap"]) == pytest.approx(lightness[0] - lightness[1], abs=1e-3)
    assert fake_c["sharpness_ratio"] == "nan"
    assert 0 < float(fake_c["feature_distance"]) <= 1
    written = io.load_image(out / "outputs" / "fake" / "c.png")
    hole = masks.center_mask(24, 48, fraction=0.25)[..., 0] > 0
    np.testing.assert_allclose(written[hole], 0.5, atol=1 / 255)
    assert (out / "outputs" / "biharmonic" / "d.png").exists()
    assert io.load_image(out / "grids" / "b.png").shape[1] > 4 * 48  # input|mask|2 fills|truth
    text = report_path.read_text()
    assert "- command: `the command`" in text
    assert f"- data: 3 photos from `{folder}`, holes: center:0.25" in text
    assert "- methods: optimize; baselines: biharmonic" in text
    assert "| scale | 12x24 | 24x48 |" in text and "| s/photo | 1.00 | 3.00 |" in text
    assert text in capsys.readouterr().out
    assert json.loads((out / "settings.json").read_text()) == runner.run_settings(
        evaluation(folder)
    )

    # Resume: the scored photos are kept and nothing is run again.
    monkeypatch.setattr(runner, "run_group", lambda *args: pytest.fail("ran a scored photo"))
    runner.evaluate(evaluation(folder, command="again"), out, resume=True)
    assert "resuming: 3 of 3 photos already scored" in capsys.readouterr().out
    assert "- command: `again`" in report_path.read_text()
    with open(out / "metrics.csv") as f:
        assert [r["l1_hole"] for r in csv.DictReader(f)] == [r["l1_hole"] for r in rows]

    # A metrics.csv from before the texture measures: resumed, they are n/a, nothing crashes.
    old = [c for c in runner.report.CSV_COLUMNS if c not in runner.report.TEXTURE_NAMES]
    runner.report.write_csv(out / "metrics.csv", [{k: r[k] for k in old} for r in rows], old)
    runner.evaluate(evaluation(folder, command="old"), out, resume=True)
    assert "resuming: 3 of 3 photos already scored" in capsys.readouterr().out
    line = next(x for x in report_path.read_text().splitlines() if x.startswith("| fake |"))
    assert "| 0.2400 | n/a | n/a | n/a |" not in line and "| n/a | n/a | n/a |" in line


def test_a_resumed_run_runs_only_the_methods_it_lacks(tmp_path, photos, monkeypatch, capsys):
    folder, _ = photos
    calls = []

    def flat(value):  # a stand-in fill: the hole set to `value`
        def fill(blanked, hole):
            calls.append(value)
            return np.where(hole > 0, value, blanked)

        return fill

    fns = {"optimize": flat(0.5), "biharmonic": flat(0.25), "telea": flat(1.0)}
    monkeypatch.setattr(
        runner, "fillers", lambda e: {m: fns[m] for m in [*e.configs, *e.baselines]}
    )

    def run(baselines, **config):
        configs = {"optimize": presets.config("tiny", **config)}
        photos = runner.Photos(images=folder, hole="center:0.25")
        return runner.Evaluation(photos=photos, configs=configs, baselines=baselines)

    def scores():
        with open(out / "metrics.csv") as f:
            return {(r["image"], r["method"]): r["l1_hole"] for r in csv.DictReader(f)}

    out = tmp_path / "run"
    runner.evaluate(run(("biharmonic",)), out)
    assert sorted(calls) == [0.25] * 3 + [0.5] * 3
    before = scores()
    calls.clear()
    runner.evaluate(run(("biharmonic", "telea")), out, resume=True)  # a baseline added
    assert calls == [1.0] * 3  # only it ran
    said = capsys.readouterr().out
    assert "0 of 3 photos already scored" in said and "; running telea where they are" in said
    after = scores()
    assert sorted(after) == sorted((f"{n}.png", m) for n in "bcd" for m in fns)
    assert {k: after[k] for k in before} == before  # the earlier scores are kept as they were
    # Photo c is flat 0.25 (64 / 255 stored): telea's 1.0 in the hole is 1 - 64 / 255 off.
    assert float(after[("c.png", "telea")]) == pytest.approx(1 - 64 / 255, abs=1e-6)
    assert io.load_image(out / "grids" / "b.png").shape[1] > 5 * 48  # input|mask|3 fills|truth
    assert json.loads((out / "settings.json").read_text())["baselines"] == ["biharmonic", "telea"]
    with pytest.raises(ValueError, match=r"other settings \(config of optimize differ\)"):
        runner.evaluate(run(("biharmonic",), alpha=1.0), out, resume=True)
    calls.clear()
    runner.evaluate(run(()), out, resume=True)  # baselines dropped: their rows go
    assert calls == [] and sorted(scores()) == [(f"{n}.png", "optimize") for n in "bcd"]


def test_inpaint_file_keeps_the_known_pixels(tmp_path, photos):
    folder, mask_dir = photos
    out = tmp_path / "filled.png"
    config = presets.config("tiny", iterations=2)
    result = runner.inpaint_file(folder / "b.png", mask_dir / "m1.png", out, config)
    filled, original = io.load_image(out), io.load_image(folder / "b.png")
    np.testing.assert_allclose(filled, np.clip(result.image, 0, 1), atol=1 / 255)
    hole = io.load_mask(mask_dir / "m1.png", size=(24, 48))[..., 0] > 0
    np.testing.assert_array_equal(filled[~hole], original[~hole])
    io.save_image(tmp_path / "empty.png", np.zeros((24, 48, 1), np.float32))
    with pytest.raises(ValueError, match="no hole"):
        runner.inpaint_file(folder / "b.png", tmp_path / "empty.png", tmp_path / "x.png", config)


def test_a_resumed_run_fills_again_a_scored_photo_whose_output_is_gone(
    tmp_path, photos, monkeypatch, capsys
):
    """Guards --resume against keeping a scored row whose output image was deleted."""
    folder, _ = photos
    calls = []

    def flat(blanked, hole):  # a stand-in fill: the hole set to 0.5
        calls.append(blanked)
        return np.where(hole > 0, 0.5, blanked)

    monkeypatch.setattr(runner, "fillers", lambda e: {"optimize": flat})
    run = runner.Evaluation(
        photos=runner.Photos(images=folder, hole="center:0.25"),
        configs={"optimize": presets.config("tiny")},
    )
    out = tmp_path / "run"
    runner.evaluate(run, out)
    assert len(calls) == 3
    lost = out / "outputs" / "optimize" / "c.png"
    lost.unlink()
    calls.clear()
    capsys.readouterr()
    runner.evaluate(run, out, resume=True)
    assert len(calls) == 1  # only photo c ran again
    assert "resuming: 2 of 3 photos already scored" in capsys.readouterr().out
    assert lost.is_file()
    with open(out / "metrics.csv") as f:
        rows = [(r["image"], r["method"]) for r in csv.DictReader(f)]
    assert sorted(rows) == [(f"{name}.png", "optimize") for name in "bcd"]


# --- The run folder: npsynth's own (marker), one run at a time (lock), nothing stale ---


@pytest.fixture
def quick(monkeypatch):
    """Folder runs without L-BFGS or VGG: every method fills the hole with 0.5 and scores
    1.0 on every measure (the files a run writes are what these tests look at)."""

    def flat(blanked, hole):
        return np.where(hole > 0, 0.5, blanked)

    monkeypatch.setattr(runner, "fillers", lambda e: dict.fromkeys([*e.configs], flat))
    monkeypatch.setattr(
        runner,
        "score_outputs",
        lambda outputs, truth, mask: {m: dict.fromkeys(report.METRIC_NAMES, 1.0) for m in outputs},
    )


def _plain(folder, limit=None):
    photos = runner.Photos(images=folder, hole="center:0.25", limit=limit)
    return runner.Evaluation(photos=photos, configs={"optimize": presets.config("tiny")})


def _tree(folder) -> dict:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_folder_with_the_users_own_results_is_refused_untouched(tmp_path, photos, quick):
    folder, _ = photos
    out = tmp_path / "uo"
    out.mkdir()
    (out / "report.md").write_text("# my notes\n")
    (out / "metrics.csv").write_text("when,weight\nmonday,71\n")
    (out / "settings.json").write_text('{"theme": "dark"}\n')
    before = _tree(out)
    with pytest.raises(
        InputError, match=r"already holds settings.json, metrics.csv, report.md, not written by"
    ):
        runner.evaluate(_plain(folder), out)
    assert _tree(out) == before and sorted(p.name for p in out.iterdir()) == [
        "metrics.csv", "report.md", "settings.json"
    ]  # fmt: skip
    # The photos' own folder holds none of a run's files: the run writes beside them, marks it.
    photos_before = _tree(folder)
    runner.evaluate(_plain(folder), folder)
    assert folders.marker_kind(folder) == checks.RUN_FOLDER
    assert {k: v for k, v in _tree(folder).items() if k in photos_before} == photos_before
    # A run folder written before the marker existed is recognised by its settings.json.
    (folder / folders.MARKER).unlink()
    runner.evaluate(_plain(folder), folder, resume=True)


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, photos, quick, capsys):
    folder, _ = photos
    out = tmp_path / "run"
    runner.evaluate(_plain(folder), out)
    before = _tree(out)
    # Another process holds the run's lock, as a run still filling photos does.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out / folders.MARKER)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(folders.FolderInUseError, match="is in use by another npsynth run"):
            runner.evaluate(_plain(folder, limit=2), out)
        assert _tree(out) == before  # its rows, report and images all kept
        argv = ["--images", str(folder), "--hole", "boxes", "--out", str(out)]
        capsys.readouterr()
        assert inpaint_cli.main(argv) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"error: --out '{out}' is in use by another npsynth run")
    finally:
        holder.kill()  # a run that dies leaves its lock behind as an ordinary file ...
        holder.wait()
    runner.evaluate(_plain(folder, limit=2), out)  # ... that no longer blocks anyone
    assert sorted(r["image"] for r in report.read_csv(out / "metrics.csv")) == ["b.png", "c.png"]


# Holds an exclusive flock on the file argv[1] until killed (another run's lock).
HOLD_LOCK = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_fresh_run_leaves_no_images_of_the_photos_it_no_longer_has(
    tmp_path, photos, quick, capsys
):
    folder, _ = photos
    out = tmp_path / "run"
    runner.evaluate(_plain(folder), out)
    assert (out / "outputs" / "optimize" / "d.png").is_file() and (
        out / "grids" / "d.png"
    ).is_file()
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    runner.evaluate(_plain(folder, limit=2), out)  # no --resume: d.png is no longer a photo
    assert f"note: replacing the results in {out}" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "outputs" / "optimize").iterdir()) == ["b.png", "c.png"]
    assert sorted(p.name for p in (out / "grids").iterdir()) == ["b.png", "c.png"]
    assert (out / "notes.txt").read_text() == "mine"  # not npsynth's: left alone


def _damage(out, how):
    path = out / ("settings.json" if how == "list" else "metrics.csv")
    text = path.read_text()
    if how == "list":
        path.write_text("[1, 2]\n")
    elif how == "cut":  # the last row half-written
        path.write_text(text[: text.rstrip("\n").rindex(",") - 3])
    else:  # a row with two fields more
        lines = text.splitlines()
        lines[2] += ",7,8"
        path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("list", r"settings.json is not the settings.json of an npsynth run"),
        ("cut", r"metrics.csv, line 4: 14 fields where the header has 15"),
        ("extra", r"metrics.csv, line 3: 17 fields where the header has 15"),
    ],
)
def test_resuming_a_damaged_run_folder_is_one_clear_error(tmp_path, photos, quick, how, message):
    folder, _ = photos
    out = tmp_path / "run"
    runner.evaluate(_plain(folder), out)
    _damage(out, how)
    before = _tree(out)
    with pytest.raises(InputError, match=rf"^cannot --resume in {out}: .*{message}"):
        runner.evaluate(_plain(folder), out, resume=True)
    assert _tree(out) == before


@pytest.mark.parametrize(
    ("name", "resume"),
    [("metrics.csv", True), ("settings.json", True), (".npsynth", False), (".npsynth", True)],
)
def test_a_fifo_in_place_of_a_run_folders_own_file_is_refused_at_once(
    tmp_path, photos, quick, name, resume
):
    from test_reading import release, within

    folder, _ = photos
    out = tmp_path / "run"
    runner.evaluate(_plain(folder), out)
    fifo = out / name
    fifo.unlink()
    os.mkfifo(fifo)
    before = _tree(out)
    message = rf"'{re.escape(str(fifo))}': it is not a regular file \(a pipe\)"
    with pytest.raises(ValueError, match=message):
        within(lambda: runner.evaluate(_plain(folder), out, resume=resume), unblock=release(fifo))
    assert _tree(out) == before and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_marker_in_the_out_folder_is_one_line_from_the_command_line(
    tmp_path, photos, quick, capsys
):
    from test_reading import release, within

    folder, _ = photos
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / ".npsynth")
    argv = ["--images", str(folder), "--out", str(out), "--hole", "center:0.25"]
    assert within(lambda: inpaint_cli.main(argv), unblock=release(out / ".npsynth")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        (
            f"error: cannot use the npsynth marker '{out / '.npsynth'}': it is not a regular "
            "file (a pipe); remove it or choose another folder"
        )
    ]
    assert [p.name for p in out.iterdir()] == [".npsynth"]
