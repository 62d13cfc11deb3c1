"""Training the content network: data sources, resumable runs, errors, two-device sharding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from npsynth.config import ContentTrainingConfig
from npsynth.train_data import DatasetError, TrainBatches, open_source, open_tfds
from train import common, content

REPO = Path(__file__).resolve().parents[1]
SKIP_WARNING = "ignore:skipping unreadable training photo"


def _tiny(photos: Path, **train) -> ContentTrainingConfig:
    return ContentTrainingConfig.tiny(data={"images": str(photos)}, train=train)


# ----------------------------------------------------------------------------------------------
# Data


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_folder_batches_are_deterministic_and_skip_corrupt_files(photos):
    source = open_source(images=photos)
    assert len(source) == 9  # recursive; the corrupt file is only found out when read
    batches = TrainBatches(source, batch_size=4, image_size=32, mask_kind="mixed", seed=3)
    assert batches.batches_per_epoch == 2
    with pytest.warns(UserWarning, match="broken.jpg"):
        first = [batches.batch(step) for step in range(4)]  # two epochs: every file is read
    for batch in first:
        assert batch["image"].shape == (4, 32, 32, 3) and batch["image"].dtype == np.float32
        assert batch["mask"].shape == (4, 32, 32, 1)
        assert set(np.unique(batch["mask"])) <= {0.0, 1.0}
        assert 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
        assert np.all(batch["mask"].sum(axis=(1, 2, 3)) > 0)

    # A new iterator (a resumed run) gives the same batches from any step on.
    again = TrainBatches(
        open_source(images=photos), batch_size=4, image_size=32, mask_kind="mixed", seed=3
    )
    with pytest.warns(UserWarning):
        resumed = list(zip(range(2), again.iterate(start_step=2)))
    for (_, (step, batch)), expected in zip(resumed, first[2:]):
        assert step in (2, 3)
        np.testing.assert_array_equal(batch["image"], expected["image"])
        np.testing.assert_array_equal(batch["mask"], expected["mask"])
    other = TrainBatches(source, batch_size=4, image_size=32, mask_kind="mixed", seed=4).batch(0)
    assert not np.array_equal(other["image"], first[0]["image"])

    # Each process of a multi-host run loads its own half of the global batch.
    halves = [
        TrainBatches(source, batch_size=4, image_size=32, mask_kind="mixed", seed=3,
                     process_index=p, process_count=2).batch(1)
        for p in range(2)
    ]  # fmt: skip
    np.testing.assert_array_equal(np.concatenate([h["image"] for h in halves]), first[1]["image"])


def test_folder_errors_are_clear(tmp_path, photos):
    with pytest.raises(DatasetError, match="no images"):
        open_source(images=tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        open_source(images=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="fewer than one batch"):
        TrainBatches(
            open_source(images=photos), batch_size=16, image_size=32, mask_kind="boxes", seed=0
        )
    with pytest.raises(ValueError, match="unknown hole kind"):
        TrainBatches(
            open_source(images=photos), batch_size=4, image_size=32, mask_kind="blobs", seed=0
        )


def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        source = open_source(tfds="imagenet")  # short for imagenet2012
        assert len(source) == 6 and "imagenet2012" in source.name
        batch = TrainBatches(
            source, batch_size=3, image_size=32, mask_kind="strokes", seed=0
        ).batch(1)
        assert batch["image"].shape == (3, 32, 32, 3) and batch["mask"].shape == (3, 32, 32, 1)
        grey = open_source(tfds="mnist")  # 28x28x1: enlarged and made RGB
        assert TrainBatches(grey, batch_size=2, image_size=32, mask_kind="center", seed=0).batch(0)[
            "image"
        ].shape == (2, 32, 32, 3)


def test_tfds_errors_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="unknown TFDS dataset 'imagenet_2012'.*imagenet2012"):
        open_tfds("imagenet_2012", data_dir=tmp_path)
    with pytest.raises(DatasetError) as caught:
        open_tfds("imagenet", data_dir=tmp_path)
    message = str(caught.value)
    assert "ILSVRC2012_img_train.tar" in message and "ILSVRC2012_img_val.tar" in message
    assert str(tmp_path / "downloads" / "manual") in message


# ----------------------------------------------------------------------------------------------
# Training runs


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_stop_and_resume_matches_an_uninterrupted_run(tmp_path, photos):
    import orbax.checkpoint as ocp  # noqa: F401  (imported here: only training needs it)

    from npsynth import steps
    from npsynth.content_net import load_content_net, predict

    cfg = _tiny(photos, steps=2)
    straight = content.run(cfg, tmp_path / "straight", progress=False)
    assert straight["step"] == 2 and not straight["stopped"]

    stop = common.StopFlag()
    stop.request()  # as Ctrl-C would: finish the current step, save, return
    first = content.run(cfg, tmp_path / "resumed", stop=stop, progress=False)
    assert first["step"] == 1 and first["stopped"] and first["export"] is None
    second = content.run(cfg, tmp_path / "resumed", resume=True, progress=False)
    assert second["step"] == 2 and not second["stopped"]

    def metrics(run):
        return common.read_metrics(tmp_path / run / common.METRICS_FILE)

    losses = ("d_loss", "d_real", "d_fake", "g_loss", "l2", "adv")
    assert [r["step"] for r in metrics("resumed")] == [1, 2]
    for a, b in zip(metrics("straight"), metrics("resumed")):
        assert {k: a[k] for k in losses} == {k: b[k] for k in losses}

    adam = {"lr": cfg.train.lr, "b1": cfg.train.b1, "b2": cfg.train.b2}
    abstract = steps.abstract_state(cfg.model, **adam)
    states = []
    for run in ("straight", "resumed"):
        checkpoints = common.Checkpoints(tmp_path / run, keep=2)
        assert checkpoints.latest_step() == 2
        states.append(checkpoints.restore(2, abstract))
        checkpoints.close()
    for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    workdir = tmp_path / "resumed"
    saved = json.loads((workdir / common.CONFIG_FILE).read_text())
    assert saved["model"]["channels"] == [8, 16, 16] and saved["data"]["images"] == str(photos)
    assert sorted(p.name for p in (workdir / "samples").iterdir()) == [
        "step_0000001.png", "step_0000002.png"
    ]  # fmt: skip
    assert (workdir / "loss.png").exists()
    net = load_content_net(workdir)  # the float16 export written at the end
    image = np.full((32, 32, 3), 0.5, np.float32)
    mask = np.zeros((32, 32, 1), np.float32)
    mask[8:16, 8:24] = 1
    assert predict(net, image, mask).shape == (32, 32, 3)

    # The workdir now refuses a fresh start and an incompatible architecture.
    with pytest.raises(FileExistsError, match="--resume"):
        content.run(cfg, workdir, progress=False)
    wider = ContentTrainingConfig.tiny(
        model={"channels": (8, 16, 32)}, data={"images": str(photos)}, train={"steps": 3}
    )
    with pytest.raises(
        common.ConfigMismatchError, match=r"model.channels: \[8, 16, 16\] -> \[8, 16, 32\]"
    ):
        content.run(wider, workdir, resume=True, progress=False)

    # `--export` writes the newest checkpoint's generator.
    out = content.export(workdir, tmp_path / "exported.npz")
    assert out.exists() and out.with_suffix(".json").exists()


def test_training_on_tfds_with_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    cfg = ContentTrainingConfig.tiny(data={"tfds": "imagenet"}, train={"steps": 1})
    with tfds.testing.mock_data(num_examples=8):
        result = content.run(cfg, tmp_path, progress=False)
    assert result["step"] == 1 and np.isfinite(result["metrics"]["l2"])
    assert "TFDS imagenet2012[train] (8 photos)" in (tmp_path / common.LOG_FILE).read_text()


def test_flags_read_like_the_readme(tmp_path):
    args, parser = content.parse_args(
        ["--workdir", str(tmp_path), "--tfds", "imagenet", "--mode", "paper", "--mask-kind",
         "center", "--batch-size", "8", "--lam", "0.99", "--channels", "8,8,16,16,32",
         "--bottleneck", "64", "--no-distributed"]
    )  # fmt: skip
    cfg = content.config_from_args(args)
    assert cfg.data.tfds == "imagenet" and cfg.data.images is None
    assert cfg.model.mode == "paper" and cfg.model.channels == (8, 8, 16, 16, 32)
    assert cfg.train.batch_size == 8 and cfg.train.lam == 0.99 and cfg.train.lr == 2e-4
    assert cfg.mask_kind == "center"
    tiny = content.config_from_args(
        content.parse_args(["--workdir", "w", "--tiny", "--steps", "5"])[0]
    )
    assert tiny.model.image_size == 32 and tiny.train.steps == 5
    assert "Adam learning rate" in parser.format_help()  # help comes from the field comments
    with pytest.raises(SystemExit):  # paper mode with free-form holes
        content.main(["--workdir", str(tmp_path), "--mode", "paper", "--mask-kind", "strokes"])


def test_missing_dataset_exits_with_a_message(tmp_path, capsys):
    code = content.main(["--workdir", str(tmp_path / "w"), "--tiny", "--images", str(tmp_path)])
    assert code == 2
    assert "no images" in capsys.readouterr().err


def test_sharded_training_on_two_devices(tmp_path, photos):
    env = dict(os.environ)
    # Two fake CPU devices; the lower XLA optimisation level only makes compiling faster.
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
        " --xla_backend_optimization_level=0"
    )
    env["JAX_NUMPY_RANK_PROMOTION"] = "raise"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    workdir = tmp_path / "sharded"
    command = [
        sys.executable, "-W", SKIP_WARNING, "-m", "train.content",
        "--tiny", "--images", str(photos), "--workdir", str(workdir), "--steps", "2",
        "--batch-size", "4", "--save-every", "2", "--sample-every", "100", "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(
        command, check=False, env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = (workdir / common.LOG_FILE).read_text()
    assert "2 device(s)" in log
    records = common.read_metrics(workdir / common.METRICS_FILE)
    assert [r["step"] for r in records] == [1, 2]
    assert all(np.isfinite(r["g_loss"]) for r in records)
    assert (workdir / "checkpoints" / "2").is_dir()


def test_running_mean_matches_a_loop():
    values = np.random.default_rng(0).normal(size=23)
    for window in (1, 4, 23):
        expected = [values[i : i + window].mean() for i in range(len(values) - window + 1)]
        np.testing.assert_allclose(common.running_mean(values, window), expected, rtol=1e-12)


def test_loss_plot_has_a_panel_per_logged_metric(tmp_path):
    # An L2-only run logs no adversarial terms: only its l2 panel is drawn (150 px high).
    records = [{"step": s, "l2": 1.0 / s} for s in range(1, 60)]
    common.plot_curves(records, ("l2", "adv", "d_loss"), tmp_path / "loss.png")
    assert Image.open(tmp_path / "loss.png").size == (640, 150)
    # Before anything is logged every panel is there, saying so.
    common.plot_curves([], ("l2", "adv", "d_loss"), tmp_path / "empty.png")
    assert Image.open(tmp_path / "empty.png").size == (640, 450)
