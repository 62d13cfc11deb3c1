"""npsynth.training.workdir: config.json round trips, config comparison, resume checks."""

from __future__ import annotations

import json

import pytest

from npsynth.config import ContentTrainingConfig, Feature2ImageTrainingConfig
from npsynth.training.workdir import (
    ConfigMismatchError,
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
