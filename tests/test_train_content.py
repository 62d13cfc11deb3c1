"""`python -m train.content`: the command line end to end, and data parallelism over two
(fake CPU) devices against one device."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from npsynth import folders
from npsynth.config import ContentTrainingConfig
from npsynth.training import loop, trainers
from npsynth.training.report import read_metrics
from npsynth.training.workdir import (
    LOG_FILE,
    METRICS_FILE,
    WORKDIR_KIND,
    config_to_dict,
    read_config,
)
from references import feeds_batch_norm
from train import content

REPO = Path(__file__).resolve().parents[1]
SKIP_WARNING = "ignore:skipping unreadable training photo"
LOSSES = ("d_loss", "d_real", "d_fake", "g_loss", "l2", "adv")


def _train_in_subprocess(workdir: Path, photos: Path, devices: int, *extra: str):
    env = dict(os.environ)
    # Fake CPU devices; the lower XLA optimisation level only makes compiling faster.
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
        " --xla_backend_optimization_level=0"
    )
    env["JAX_NUMPY_RANK_PROMOTION"] = "raise"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    command = [
        sys.executable, "-W", SKIP_WARNING, "-m", "train.content",
        "--tiny", "--images", str(photos), "--workdir", str(workdir), "--steps", "2",
        "--batch-size", "4", "--save-every", "2", "--sample-every", "100", "--no-progress",
        *extra,
    ]  # fmt: skip
    return subprocess.run(
        command, check=False, env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow  # opt-in (--integration): a whole run, in CI's second pass
@pytest.mark.filterwarnings(SKIP_WARNING)
def test_two_devices_train_like_one(tmp_path, photos):
    """The command line on two fake CPU devices (batch split over them, parameters
    replicated) against the same run on this process's one device."""
    assert jax.device_count() == 1
    workdir = tmp_path / "sharded"
    done = _train_in_subprocess(workdir, photos, 2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 device(s)" in (workdir / LOG_FILE).read_text()
    assert (workdir / "checkpoints" / "2").is_dir()

    cfg = ContentTrainingConfig.tiny(
        data={"images": str(photos)}, train={"steps": 2, "save_every": 2, "sample_every": 100}
    )
    assert read_config(workdir) == config_to_dict(cfg)  # the flags made the same config
    loop.run(trainers.CONTENT, cfg, tmp_path / "one", progress=False)

    sharded, single = (read_metrics(w / METRICS_FILE) for w in (workdir, tmp_path / "one"))
    assert [r["step"] for r in sharded] == [r["step"] for r in single] == [1, 2]
    for a, b in zip(sharded, single, strict=True):
        np.testing.assert_allclose([a[k] for k in LOSSES], [b[k] for k in LOSSES], rtol=1e-5)

    _, _, state_2 = loop.restore_state(trainers.CONTENT, workdir)
    _, _, state_1 = loop.restore_state(trainers.CONTENT, tmp_path / "one")
    assert int(state_2["step"]) == int(state_1["step"]) == 2
    lr = cfg.train.lr
    decoder_layers = len(cfg.model.channels)
    compared = 0
    for (path, a), b in zip(
        jax.tree_util.tree_flatten_with_path(state_2)[0], jax.tree.leaves(state_1), strict=True
    ):
        name = jax.tree_util.keystr(path)
        if feeds_batch_norm(name, decoder_layers=decoder_layers):
            continue  # moved by Adam's rounding noise, without effect (see feeds_batch_norm)
        # Two Adam steps move each parameter by up to 2 lr; the runs agree to 5 % of one.
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=0.05 * lr, err_msg=name)
        compared += 1
    assert compared > 40


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_command_line_trains_resumes_and_exports(tmp_path, photos, capsys):
    workdir = tmp_path / "run"
    args = ["--tiny", "--images", str(photos), "--workdir", str(workdir), "--no-progress"]
    assert content.main([*args, "--steps", "1"]) == 0
    assert content.main([*args, "--steps", "1"]) == 2  # checkpoints there: --resume needed
    assert "--resume" in capsys.readouterr().err
    # --resume takes the saved config (tiny, the photos); flags change what they name.
    assert (
        content.main(["--workdir", str(workdir), "--resume", "--steps", "2", "--no-progress"]) == 0
    )
    assert [r["step"] for r in read_metrics(workdir / METRICS_FILE)] == [1, 2]
    assert read_config(workdir)["train"]["steps"] == 2
    out = tmp_path / "net.npz"
    assert content.main(["--workdir", str(workdir), "--export", "--export-to", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out and out.with_suffix(".json").exists()


def test_missing_dataset_exits_with_a_message(tmp_path, capsys):
    code = content.main(["--workdir", str(tmp_path / "w"), "--tiny", "--images", str(tmp_path)])
    assert code == 2
    assert "no images" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()  # a refused run writes nothing


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_folder_of_the_users_own_files_is_refused_untouched(tmp_path, photos, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("config.json", "content_net.npz", "content_net.json", "metrics.jsonl"):
        (mine / name).write_text(f"my {name}")
    (mine / "loss.png").write_bytes(b"my plot")
    before = _files(mine)
    argv = ["--tiny", "--batch-size", "1", "--images", str(photos), "--workdir", str(mine)]
    assert content.main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: --workdir '{mine}' holds files npsynth did not write (config.json, "
        "content_net.json, content_net.npz, loss.png, metrics.jsonl; no .npsynth marker); "
        "train into a new or empty folder, or move them"
    )
    assert _files(mine) == before
    assert content.main([*argv[:-1], str(mine), "--export"]) == 2  # nor exported into
    assert _files(mine) == before


def test_export_paths_are_checked_before_the_checkpoint_is_read(tmp_path, capsys):
    side = tmp_path / "side"
    side.mkdir()
    (side / "model.json").write_text("my settings")
    workdir = ["--workdir", str(tmp_path / "run"), "--export"]
    assert content.main([*workdir, "--export-to", str(side / "model.npz")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: exporting to '{side / 'model.npz'}' would replace '")
    assert (side / "model.json").read_text() == "my settings"
    assert content.main([*workdir, "--export-to", str(tmp_path / "x.png")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"error: export path must end in .npz, got '{tmp_path / 'x.png'}'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["side"]


def test_a_second_run_into_a_workdir_in_training_is_refused(tmp_path, photos, capsys):
    workdir = tmp_path / "run"
    argv = ["--tiny", "--images", str(photos), "--workdir", str(workdir), "--no-progress"]
    with folders.claimed(workdir, WORKDIR_KIND, flag="--workdir"):  # as a run in progress
        assert content.main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: --workdir '{workdir}' is in use by another npsynth run")
    assert sorted(p.name for p in workdir.iterdir()) == [".npsynth"]  # nothing written
