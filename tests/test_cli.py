"""npsynth.training.cli: the training jobs' flags (spelt as in the README), presets, exit codes."""

from __future__ import annotations

import json
import os

import pytest

from npsynth.config import ContentTrainingConfig
from npsynth.training import cli, trainers
from npsynth.training.workdir import write_config

PROG, DESCRIPTION = "python -m train.x", "Train x."


def _parse(trainer, argv):
    return cli.parse_args(trainer, argv, prog=PROG, description=DESCRIPTION)


def test_flags_read_like_the_readme(tmp_path):
    run, cfg = _parse(trainers.CONTENT, [
        "--workdir", str(tmp_path), "--tfds", "imagenet", "--mode", "paper", "--mask-kind",
        "center", "--batch-size", "8", "--lam", "0.99", "--channels", "8,8,16,16,32",
        "--bottleneck", "64", "--no-distributed", "--fill", "harmonic", "--no-progress",
    ])  # fmt: skip
    assert run.workdir == tmp_path and not run.resume and not run.progress and not run.export
    assert cfg.data.tfds == "imagenet" and cfg.data.images is None
    assert cfg.model.mode == "paper" and cfg.model.channels == (8, 8, 16, 16, 32)
    assert cfg.model.bottleneck == 64 and cfg.model.fill == "harmonic"
    assert cfg.train.batch_size == 8 and cfg.train.lam == 0.99 and cfg.train.lr == 2e-4
    assert cfg.mask_kind == "center"
    # Everything else is the class default.
    default = ContentTrainingConfig()
    assert cfg.train.steps == default.train.steps and cfg.data.split == "train"

    run, tiny = _parse(trainers.CONTENT, ["--workdir", "w", "--tiny", "--steps", "5", "--skips"])
    assert tiny.model.image_size == 32 and tiny.train.steps == 5 and tiny.model.skips
    assert tiny.train.batch_size == ContentTrainingConfig.tiny().train.batch_size
    run, _ = _parse(trainers.CONTENT, [
        "--workdir", "w", "--export", "--export-to", "x.npz", "--export-dtype", "int8",
    ])  # fmt: skip
    assert run.export and str(run.export_to) == "x.npz" and run.export_dtype == "int8"


def test_translation_trainers_have_their_own_sections():
    _, cfg = _parse(trainers.FEATURE2IMAGE, [
        "--workdir", "w", "--images", "photos", "--image-size", "64", "--widths", "16,8,8",
        "--blocks", "2", "--pixel", "2", "--known", "0.5", "--min-scale", "2", "--max-scale", "4",
    ])  # fmt: skip
    assert cfg.model.image_size == 64 and cfg.model.widths == (16, 8, 8) and cfg.model.blocks == 2
    assert (cfg.loss.pixel, cfg.loss.known, cfg.loss.perceptual) == (2.0, 0.5, 0.1)
    assert (cfg.data.images, cfg.data.min_scale, cfg.data.max_scale) == ("photos", 2.0, 4.0)
    _, cfg = _parse(trainers.IMAGE2FEATURE, ["--workdir", "w", "--dilations", "1,2,4"])
    assert cfg.model.dilations == (1, 2, 4)


def test_resume_starts_from_the_saved_config_and_images_replace_its_tfds(tmp_path):
    saved = ContentTrainingConfig.tiny(data={"tfds": "imagenet"}, train={"steps": 7, "lr": 1e-3})
    write_config(tmp_path, saved)
    _, cfg = _parse(trainers.CONTENT, ["--workdir", str(tmp_path), "--resume", "--steps", "9"])
    assert cfg.train.steps == 9 and cfg.train.lr == 1e-3 and cfg.model == saved.model
    assert cfg.data.tfds == "imagenet"
    _, cfg = _parse(trainers.CONTENT, ["--workdir", str(tmp_path), "--resume", "--images", "d"])
    assert cfg.data.images == "d" and cfg.data.tfds is None
    # Without --resume the saved config is not read.
    _, cfg = _parse(trainers.CONTENT, ["--workdir", str(tmp_path)])
    assert cfg == ContentTrainingConfig()
    config = json.loads((tmp_path / "config.json").read_text())
    config["model"]["depth"] = 3  # written by another version
    (tmp_path / "config.json").write_text(json.dumps(config))
    code = cli.main(trainers.CONTENT, ["--workdir", str(tmp_path), "--resume"], prog=PROG,
                    description=DESCRIPTION)  # fmt: skip
    assert code == 2


def test_bad_flags_exit_with_a_message(tmp_path, capsys):
    def exits(argv):
        with pytest.raises(SystemExit) as caught:
            cli.main(trainers.CONTENT, argv, prog=PROG, description=DESCRIPTION)
        assert caught.value.code == 2
        return capsys.readouterr().err

    # Paper mode with free-form holes: the config's own check, as a command-line error.
    assert "paper mode" in exits(["--workdir", str(tmp_path), "--mode", "paper",
                                  "--mask-kind", "strokes"])  # fmt: skip
    assert "comma-separated ints" in exits(["--workdir", "w", "--channels", "8,x,16"])
    assert "--workdir" in exits(["--steps", "3"])
    assert "both" in exits(["--workdir", "w", "--tfds", "mnist", "--images", "d"])


def test_help_shows_every_flag_with_its_field_comment(capsys):
    with pytest.raises(SystemExit):
        _parse(trainers.CONTENT, ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--workdir", "--resume", "--export-dtype", "--channels", "--batch-size",
                 "--mask-kind", "--lam"):  # fmt: skip
        assert flag in text
    assert "Adam learning rate" in text  # the comment above TrainConfig.lr
    # The default of --channels, as a comma list (the help may wrap it).
    assert "(default:64,64,128,256,512)" in text.replace(" ", "")


def test_export_without_a_training_run_exits_2(tmp_path, capsys):
    code = cli.main(trainers.FEATURE2IMAGE, ["--workdir", str(tmp_path), "--export"], prog=PROG,
                    description=DESCRIPTION)  # fmt: skip
    assert code == 2 and "training workdir" in capsys.readouterr().err


def test_workdir_naming_a_file_is_one_clear_line(tmp_path, capsys):
    file = tmp_path / "x"
    file.write_text("not a folder")
    fix = "give a folder (it is created if missing)"
    for workdir, message in (
        (file, f"--workdir {file} is a file, not a folder: {fix}"),
        (file / "sub", f"--workdir {file / 'sub'}: {file} is a file, not a folder: {fix}"),
    ):
        for extra in ([], ["--export"]):
            code = cli.main(trainers.CONTENT, ["--workdir", str(workdir), "--tiny", *extra],
                            prog=PROG, description=DESCRIPTION)  # fmt: skip
            assert code == 2
            assert capsys.readouterr().err == f"error: {message}\n"


@pytest.mark.parametrize(("name", "resume"), [("config.json", True), ("metrics.jsonl", False)])
def test_a_workdir_with_a_fifo_in_place_of_its_files_is_one_line(tmp_path, capsys, name, resume):
    from test_reading import release, within

    from npsynth import folders
    from npsynth.training.workdir import WORKDIR_KIND

    workdir = tmp_path / "w"
    with folders.claimed(workdir, WORKDIR_KIND, flag="--workdir"):
        write_config(workdir, ContentTrainingConfig.tiny())
    fifo = workdir / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    argv = ["--workdir", str(workdir), "--tiny", "--images", str(tmp_path), "--steps", "1",
            *(["--resume"] if resume else [])]  # fmt: skip
    code = within(
        lambda: cli.main(trainers.CONTENT, argv, prog=PROG, description=DESCRIPTION),
        unblock=release(fifo),
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: cannot use the workdir's {'config' if resume else 'file'} '{fifo}': it is not "
        "a regular file (a pipe); remove it or choose another folder\n"
    )
    assert sorted(p.name for p in workdir.iterdir()) == sorted({".npsynth", "config.json", name})
