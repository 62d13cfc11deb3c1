"""npsynth.training.workdir: config.json round trips, config comparison, resume checks."""

from __future__ import annotations

import json
import os
import re

import pytest

from npsynth import folders
from npsynth.config import ContentTrainingConfig, Feature2ImageTrainingConfig
from npsynth.training.workdir import (
    WORKDIR_KIND,
    ConfigMismatchError,
    ForeignWorkdirError,
    check_workdir_owned,
    compare_configs,
    config_from_dict,
    config_to_dict,
    read_config,
    start_step,
    write_config,
)


def test_config_json_round_trip(tmp_path):
    for cfg in (ContentTrainingConfig(), Feature2ImageTrainingConfig.tiny(data={"images": "d"})):
        write_config(tmp_path, cfg)
        saved = read_config(tmp_path)
        assert saved == json.loads((tmp_path / "config.json").read_text())
        assert config_from_dict(type(cfg), saved) == cfg
    assert config_to_dict(ContentTrainingConfig())["model"]["channels"] == [64, 64, 128, 256, 512]
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary files left
    assert read_config(tmp_path / "elsewhere") is None
    with pytest.raises(ConfigMismatchError, match="another version"):
        config_from_dict(ContentTrainingConfig, {"model": {}, "optimizer": {}})


def test_compare_configs():
    saved = {"model": {"channels": [8, 16]}, "train": {"steps": 2, "lr": 0.1}, "data": {"a": 1}}
    current = {"model": {"channels": [8, 16]}, "train": {"steps": 5, "lr": 0.2}, "data": {}}
    changes = compare_configs(saved, current, must_match=("model",), ignore=("train.steps",))
    assert changes == ["data.a: 1 -> <missing>", "train.lr: 0.1 -> 0.2"]
    wider = {**current, "model": {"channels": [8, 32]}}
    with pytest.raises(ConfigMismatchError, match=r"model.channels: \[8, 16\] -> \[8, 32\]"):
        compare_configs(saved, wider, must_match=("model",))


def test_start_step(tmp_path, capsys):
    cfg = ContentTrainingConfig.tiny()
    assert start_step(cfg, tmp_path, None, resume=False) == 0
    assert start_step(cfg, tmp_path, None, resume=True) == 0
    with pytest.raises(FileExistsError, match="up to step 6; pass --resume"):
        start_step(cfg, tmp_path, 6, resume=False)
    with pytest.raises(ConfigMismatchError, match="no config.json"):
        start_step(cfg, tmp_path, 6, resume=True)
    write_config(tmp_path, cfg)
    assert start_step(ContentTrainingConfig.tiny(train={"steps": 9}), tmp_path, 6, resume=True) == 6
    assert capsys.readouterr().err == ""  # more steps: an expected change
    assert start_step(ContentTrainingConfig.tiny(train={"lr": 1.0}), tmp_path, 6, resume=True) == 6
    assert "train.lr: 0.0002 -> 1.0" in capsys.readouterr().err


def test_a_workdir_is_npsynths_only_with_its_marker_or_an_older_runs_layout(tmp_path):
    check_workdir_owned(tmp_path / "new")  # missing: created by the run
    check_workdir_owned(tmp_path)  # empty
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("config.json", "content_net.npz", "content_net.json", "metrics.jsonl"):
        (mine / name).write_text("{}")
    with pytest.raises(
        ForeignWorkdirError,
        match=r"holds files npsynth did not write \(config.json, content_net.json, "
        r"content_net.npz, metrics.jsonl; no .npsynth marker\)",
    ):
        check_workdir_owned(mine)
    (mine / "checkpoints").mkdir()  # checkpoints/ beside a config.json that is not npsynth's
    with pytest.raises(ForeignWorkdirError):
        check_workdir_owned(mine)
    write_config(mine, ContentTrainingConfig.tiny())  # ... and beside npsynth's: an older run
    check_workdir_owned(mine)
    marked = tmp_path / "marked"
    with folders.claimed(marked, WORKDIR_KIND, flag="--workdir"):
        (marked / "anything").write_text("x")
    check_workdir_owned(marked)
    run = tmp_path / "run"
    with folders.claimed(run, "evaluation run folder", flag="--out"):
        pass
    with pytest.raises(ForeignWorkdirError, match="is an npsynth evaluation run folder"):
        check_workdir_owned(run)


@pytest.mark.parametrize("name", [".npsynth", "config.json", "metrics.jsonl", "log.txt"])
def test_a_fifo_in_place_of_a_workdirs_own_file_is_refused_at_once(tmp_path, name):
    from test_reading import release, within

    workdir = tmp_path / "w"
    with folders.claimed(workdir, WORKDIR_KIND, flag="--workdir"):
        write_config(workdir, ContentTrainingConfig.tiny())
        (workdir / "metrics.jsonl").write_text('{"step": 1}\n')
    fifo = workdir / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    message = rf"'{re.escape(str(fifo))}': it is not a regular file \(a pipe\); remove it"
    with pytest.raises(ValueError, match=message):
        within(lambda: check_workdir_owned(workdir), unblock=release(fifo))


def test_reading_a_workdirs_fifo_config_or_metrics_is_refused_at_once(tmp_path):
    from test_reading import release, within

    from npsynth.training.report import read_metrics

    config, metrics = tmp_path / "config.json", tmp_path / "metrics.jsonl"
    for fifo, read in (
        (config, lambda: read_config(tmp_path)),
        (metrics, lambda: read_metrics(metrics)),
    ):
        os.mkfifo(fifo)
        with pytest.raises(ValueError, match=rf"'{re.escape(str(fifo))}': it is not a regul"):
            within(read, unblock=release(fifo))
