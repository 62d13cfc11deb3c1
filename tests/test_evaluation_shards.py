"""Tests for npsynth.harness.shards and runner's --shard: hosts split a folder, one report."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from eval.inpaint import main
from npsynth import io as npio
from npsynth.errors import InputError
from npsynth.harness import report, runner, shards


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(3)
    images = tmp_path / "photos"
    for index in range(5):
        npio.save_image(images / f"p{index}.png", rng.random((40, 48, 3)).astype(np.float32))
    return images


def _evaluation(images, shard=None):
    # Random boxes: each photo's hole comes from the shared generator, so a shard must keep
    # it in step to give a photo the hole it gets in the whole run.
    photos = runner.Photos(images=images, hole="boxes", seed=7, shard=shard)
    return runner.Evaluation(photos=photos, configs={}, baselines=("biharmonic",))


def test_parse_shard():
    assert shards.parse_shard("2/4") == (2, 4)
    assert shards.parse_shard("auto") == (1, 1)  # one process without jax.distributed
    for bad in ("0/3", "4/3", "2", "a/b"):
        with pytest.raises(ValueError, match="--shard"):
            shards.parse_shard(bad)


def test_shards_fill_disjoint_photos_with_the_whole_runs_holes(folder):
    whole = runner.load_pairs(_evaluation(folder).photos)
    parts = [runner.load_pairs(_evaluation(folder, (k, 2)).photos) for k in (1, 2)]
    assert [n for n, *_ in parts[0]] == ["p0.png", "p2.png", "p4.png"]
    assert [n for n, *_ in parts[1]] == ["p1.png", "p3.png"]
    by_name = {name: mask for name, _, mask in whole}
    assert len({m.tobytes() for m in by_name.values()}) == 5  # boxes differ per photo
    for name, _, mask in parts[0] + parts[1]:
        np.testing.assert_array_equal(mask, by_name[name])


def test_merged_shards_report_what_one_run_reports(folder, tmp_path):
    runner.evaluate(_evaluation(folder), tmp_path / "whole")
    for k in (1, 2):
        runner.evaluate(_evaluation(folder, (k, 2)), tmp_path / f"part{k}")
    merged = shards.merge_runs([tmp_path / "part1", tmp_path / "part2"], tmp_path / "merged")
    rows = report.read_csv(tmp_path / "merged" / "metrics.csv")
    expected = report.read_csv(tmp_path / "whole" / "metrics.csv")
    assert sorted(r["image"] for r in rows) == sorted(r["image"] for r in expected)
    for got, want in zip(sorted(rows, key=lambda r: r["image"]),
                         sorted(expected, key=lambda r: r["image"])):  # fmt: skip
        assert got["psnr_hole"] == pytest.approx(want["psnr_hole"], abs=1e-6)
        assert got["l1_hole"] == pytest.approx(want["l1_hole"], abs=1e-6)
    assert "5 photos" in merged.read_text()
    assert len(list((tmp_path / "merged" / "grids").glob("*.png"))) == 5
    # A photo in two runs, or runs with other settings, cannot be merged.
    with pytest.raises(InputError, match="in both"):
        shards.merge_runs([tmp_path / "whole", tmp_path / "part1"], tmp_path / "bad")
    other = _evaluation(folder, (1, 2))
    other = runner.Evaluation(photos=other.photos, configs={}, baselines=("telea",))
    runner.evaluate(other, tmp_path / "telea") if _has_cv2() else None
    if _has_cv2():
        with pytest.raises(InputError, match="settings differ"):
            shards.merge_runs([tmp_path / "part2", tmp_path / "telea"], tmp_path / "bad")


@pytest.mark.slow  # opt-in (--integration): a whole run, in CI's second pass
def test_cli_shard_and_merge(folder, tmp_path, capsys):
    for k in (1, 2):
        code = main(["--images", str(folder), "--hole", "boxes", "--method", "optimize",
                     "--compare", "--baselines", "biharmonic", "--scales", "32,48",
                     "--iterations", "1", "--content", "harmonic", "--limit", "2",
                     "--shard", f"{k}/2", "--out", str(tmp_path / f"s{k}")])  # fmt: skip
        assert code == 0
    assert main(["--merge", str(tmp_path / "s1"), str(tmp_path / "s2"),
                 "--out", str(tmp_path / "all")]) == 0  # fmt: skip
    rows = report.read_csv(tmp_path / "all" / "metrics.csv")
    assert {(r["image"], r["method"]) for r in rows} == {
        (p, m) for p in ("p0.png", "p1.png") for m in ("optimize", "biharmonic")
    }
    with pytest.raises(SystemExit) as stop:  # folder mode only
        main(["--image", "x.png", "--mask", "m.png", "--out", "o.png", "--shard", "1/2"])
    assert stop.value.code == 2 and "--shard" in capsys.readouterr().err


def _has_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def two_runs(folder, tmp_path, monkeypatch):
    """Shards 1/2 and 2/2 of `folder` in tmp_path/a and tmp_path/b (scores stubbed: 1.0)."""
    monkeypatch.setattr(
        runner,
        "score_outputs",
        lambda outputs, truth, mask: {m: dict.fromkeys(report.METRIC_NAMES, 1.0) for m in outputs},
    )
    runs = [tmp_path / "a", tmp_path / "b"]
    for k, out in enumerate(runs, start=1):
        runner.evaluate(_evaluation(folder, (k, 2)), out)
    return runs


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("out", "where"), [("a/outputs/optimize", "lies inside"), ("a", "is"), (".", "holds")]
)
def test_merge_refuses_an_out_inside_a_merged_run_or_holding_one(two_runs, tmp_path, out, where):
    before = _files(tmp_path)
    with pytest.raises(InputError, match=f"^--out '{tmp_path / out}' {where} the merged run"):
        shards.merge_runs(two_runs, tmp_path / out)
    assert _files(tmp_path) == before  # nothing copied, nothing created


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("list", "settings.json is not the settings.json of an npsynth run"),
        ("cut", "metrics.csv, line 3: 2 fields where the header has 15"),
        ("extra", "metrics.csv, line 2: 16 fields where the header has 15"),
    ],
)
def test_merge_of_a_damaged_run_is_one_clear_error(two_runs, tmp_path, capsys, how, message):
    damaged = two_runs[1]
    if how == "list":
        (damaged / "settings.json").write_text("[]\n")
    else:
        lines = (damaged / "metrics.csv").read_text().splitlines()
        lines[-1] = "p3.png,bihar" if how == "cut" else lines[-1]
        lines[1] += ",9" if how == "extra" else ""
        (damaged / "metrics.csv").write_text("\n".join(lines) + "\n")
    argv = ["--merge", *map(str, two_runs), "--out", str(tmp_path / "all")]
    assert main(argv) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot merge {damaged}: ") and message in line
    assert not (tmp_path / "all").exists()


@pytest.mark.parametrize("name", ["settings.json", "metrics.csv"])
def test_merge_of_a_run_with_a_fifo_in_place_of_its_files_is_refused_at_once(
    two_runs, tmp_path, name
):
    from test_reading import release, within

    fifo = two_runs[1] / name
    fifo.unlink()
    os.mkfifo(fifo)
    message = rf"^cannot merge {re.escape(str(two_runs[1]))}: .*it is not a regular file \(a pipe\)"
    with pytest.raises(InputError, match=message):
        within(lambda: shards.merge_runs(two_runs, tmp_path / "merged"), unblock=release(fifo))
    assert not (tmp_path / "merged").exists()


def test_merging_a_file_says_it_is_not_a_folder(two_runs, tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(b"not a run")
    with pytest.raises(
        InputError, match=rf"^cannot merge {re.escape(str(photo))}: it is not a fol"
    ):
        shards.merge_runs([two_runs[0], photo], tmp_path / "merged")
    with pytest.raises(InputError, match=r": no such folder$"):
        shards.merge_runs([two_runs[0], tmp_path / "missing"], tmp_path / "merged")
