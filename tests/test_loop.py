"""npsynth.training.loop: whole training runs (a few tiny steps), stop, resume and export."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth.config import (
    ContentTrainingConfig,
    Feature2ImageTrainingConfig,
    Image2FeatureTrainingConfig,
)
from npsynth.export import load_content_net, load_feature2image, load_image2feature
from npsynth.models.content_net import predict
from npsynth.training import devices, loop, steps, trainers
from npsynth.training.checkpoints import Checkpoints
from npsynth.training.data import TrainBatches
from npsynth.training.report import read_metrics
from npsynth.training.workdir import (
    CONFIG_FILE,
    LOG_FILE,
    METRICS_FILE,
    ConfigMismatchError,
    write_config,
)

SKIP_WARNING = "ignore:skipping unreadable training photo"
CONTENT_LOSSES = ("d_loss", "d_real", "d_fake", "g_loss", "l2", "adv")


def _tiny(photos, **train) -> ContentTrainingConfig:
    return ContentTrainingConfig.tiny(data={"images": str(photos)}, train=train)


@pytest.fixture
def batch_steps(monkeypatch) -> list[int]:
    """The steps whose batches the runs in a test load, in the order asked for."""
    asked = []
    original = TrainBatches.batch

    def spy(self, step):
        asked.append(int(step))
        return original(self, step)

    monkeypatch.setattr(TrainBatches, "batch", spy)
    return asked


def _leaves_equal(a, b) -> bool:
    return all(
        np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_stop_and_resume_continue_from_the_saved_step(tmp_path, photos, batch_steps):
    """1 step (stopped as by Ctrl-C), resumed to 2, resumed again to 4 == 4 straight steps,
    and each resumed run starts at its checkpoint's step: it never loads the batches of the
    steps before it (a run that restarted at step 0 would, and would still end with the same
    weights, being deterministic)."""
    cfg = _tiny(photos, steps=4)
    straight = loop.run(trainers.CONTENT, cfg, tmp_path / "straight", progress=False)
    assert straight["step"] == 4 and not straight["stopped"]

    workdir = tmp_path / "resumed"
    stop = loop.StopFlag()
    stop.request()  # as Ctrl-C would: finish the current step, save, return
    batch_steps.clear()
    first = loop.run(trainers.CONTENT, cfg, workdir, stop=stop, progress=False)
    assert first["step"] == 1 and first["stopped"] and first["export"] is None
    assert min(batch_steps) == 0

    batch_steps.clear()
    second = loop.run(trainers.CONTENT, _tiny(photos, steps=2), workdir, resume=True,
                      progress=False)  # fmt: skip
    assert second["step"] == 2 and not second["stopped"] and second["export"] is not None
    assert min(batch_steps) == 1
    _, saved_step, at_two = loop.restore_state(trainers.CONTENT, workdir)
    assert saved_step == 2 and int(at_two["step"]) == 2

    batch_steps.clear()
    third = loop.run(trainers.CONTENT, cfg, workdir, resume=True, progress=False)
    assert third["step"] == 4
    assert min(batch_steps) == 2
    assert "resuming at step 2" in (workdir / LOG_FILE).read_text()

    records = {run: read_metrics(tmp_path / run / METRICS_FILE) for run in ("straight", "resumed")}
    assert [r["step"] for r in records["resumed"]] == [1, 2, 3, 4]
    for a, b in zip(records["straight"], records["resumed"], strict=True):
        assert {k: a[k] for k in CONTENT_LOSSES} == {k: b[k] for k in CONTENT_LOSSES}

    states = {run: loop.restore_state(trainers.CONTENT, tmp_path / run) for run in records}
    for run, (_, step, state) in states.items():
        assert step == 4 and int(state["step"]) == 4, run
    assert _leaves_equal(states["straight"][2], states["resumed"][2])
    assert not _leaves_equal(at_two["generator"], states["resumed"][2]["generator"])

    saved = json.loads((workdir / CONFIG_FILE).read_text())
    assert saved["model"]["channels"] == [8, 16, 16] and saved["data"]["images"] == str(photos)
    assert saved["train"]["steps"] == 4
    assert sorted(p.name for p in (workdir / "samples").iterdir()) == [
        f"step_000000{k}.png" for k in (1, 2, 3, 4)
    ]
    assert (workdir / "loss.png").exists()
    net = load_content_net(workdir)  # the float16 export written at the end
    image = np.full((32, 32, 3), 0.5, np.float32)
    mask = np.zeros((32, 32, 1), np.float32)
    mask[8:16, 8:24] = 1
    assert predict(net, image, mask).shape == (32, 32, 3)

    # The workdir now refuses a fresh start and an incompatible architecture.
    with pytest.raises(FileExistsError, match="--resume"):
        loop.run(trainers.CONTENT, cfg, workdir, progress=False)
    wider = ContentTrainingConfig.tiny(
        model={"channels": (8, 16, 32)}, data={"images": str(photos)}, train={"steps": 5}
    )
    with pytest.raises(
        ConfigMismatchError, match=r"model.channels: \[8, 16, 16\] -> \[8, 16, 32\]"
    ):
        loop.run(trainers.CONTENT, wider, workdir, resume=True, progress=False)

    # `export` writes the newest checkpoint's generator.
    out = loop.export(trainers.CONTENT, workdir, tmp_path / "exported.npz", dtype="float32")
    assert out.exists() and out.with_suffix(".json").exists()
    assert json.loads(out.with_suffix(".json").read_text())["step"] == 4


def test_training_on_tfds_with_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    cfg = ContentTrainingConfig.tiny(data={"tfds": "imagenet"}, train={"steps": 1})
    with tfds.testing.mock_data(num_examples=8):
        result = loop.run(trainers.CONTENT, cfg, tmp_path, progress=False)
    assert result["step"] == 1 and np.isfinite(result["metrics"]["l2"])
    assert "TFDS imagenet2012[train] (8 photos)" in (tmp_path / LOG_FILE).read_text()


@pytest.mark.slow  # opt-in (--integration): a whole run, in CI's second pass
@pytest.mark.filterwarnings(SKIP_WARNING)
def test_feature2image_training_resumes_exactly_and_exports(tmp_path, photos, batch_steps):
    cfg = Feature2ImageTrainingConfig.tiny(data={"images": str(photos)}, loss={"known": 0.5})
    straight = loop.run(trainers.FEATURE2IMAGE, cfg, tmp_path / "straight", progress=False)
    assert straight["step"] == 2 and straight["export"] is not None

    stop = loop.StopFlag()
    stop.request()
    first = loop.run(trainers.FEATURE2IMAGE, cfg, tmp_path / "resumed", stop=stop, progress=False)
    assert first["step"] == 1 and first["stopped"]
    with pytest.raises(FileExistsError, match="--resume"):
        loop.run(trainers.FEATURE2IMAGE, cfg, tmp_path / "resumed", progress=False)
    batch_steps.clear()
    second = loop.run(
        trainers.FEATURE2IMAGE, cfg, tmp_path / "resumed", resume=True, progress=False
    )
    assert second["step"] == 2 and min(batch_steps) == 1  # it went on from step 1

    def metrics(run):
        return read_metrics(tmp_path / run / METRICS_FILE)

    keys = ("d_loss", "g_loss", "pixel", "known", "perceptual", "adv")
    assert all(np.isfinite(metrics("straight")[-1][k]) for k in keys)
    for a, b in zip(metrics("straight"), metrics("resumed"), strict=True):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    lam = cfg.train.lam
    last = metrics("straight")[-1]
    rec = 1.0 * last["pixel"] + 0.5 * last["known"] + cfg.loss.perceptual * last["perceptual"]
    assert last["g_loss"] == pytest.approx(lam * rec + (1 - lam) * last["adv"], rel=1e-4)

    a = load_feature2image(tmp_path / "straight")
    b = load_feature2image(tmp_path / "resumed")
    features = jnp.ones((1, 4, 4, 256)) * 100.0
    np.testing.assert_array_equal(a(features), b(features))
    assert (tmp_path / "resumed" / "samples" / "step_0000002.png").exists()


@pytest.mark.slow  # opt-in (--integration): a whole run, in CI's second pass
@pytest.mark.filterwarnings(SKIP_WARNING)
def test_image2feature_training_steps_and_export(tmp_path, photos):
    cfg = Image2FeatureTrainingConfig.tiny(data={"images": str(photos)})
    result = loop.run(trainers.IMAGE2FEATURE, cfg, tmp_path / "run", progress=False)
    assert result["step"] == 2
    last = read_metrics(tmp_path / "run" / METRICS_FILE)[-1]
    assert all(np.isfinite(last[k]) for k in ("feat_l2", "hole_feat_l2", "adv", "d_loss"))
    net = load_image2feature(tmp_path / "run")
    out = net(jnp.full((1, 32, 32, 3), 0.5), jnp.zeros((1, 32, 32, 1)))
    assert out.shape == (1, 8, 8, 256)
    again = loop.export(trainers.IMAGE2FEATURE, tmp_path / "run", tmp_path / "again.npz")
    np.testing.assert_array_equal(
        load_image2feature(again)(jnp.full((1, 32, 32, 3), 0.5), jnp.zeros((1, 32, 32, 1))), out
    )
    with pytest.raises(FileNotFoundError, match="training workdir"):
        loop.export(trainers.IMAGE2FEATURE, tmp_path / "none")


def _saved_steps(workdir, cfg, saved):
    """A workdir (older layout: no marker) with `cfg` and the initial state saved as each
    step of `saved`, without a training step."""
    task = trainers.CONTENT.make_task(cfg)
    replicated, _ = devices.shardings(devices.setup_devices())
    init = steps.make_init(task, **loop.adam_settings(cfg), seed=0, sharding=replicated)
    with Checkpoints(workdir, keep=5) as checkpoints:
        for step in saved:
            checkpoints.save(step, init())
    write_config(workdir, cfg)


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_a_damaged_checkpoint_is_passed_over_for_the_newest_readable_one(tmp_path, photos, capsys):
    workdir = tmp_path / "run"
    cfg = _tiny(photos, steps=1)
    _saved_steps(workdir, cfg, (1, 2))
    (workdir / "checkpoints" / "2" / "default" / "_METADATA").write_text("{garbage")
    _, step, _ = loop.restore_state(trainers.CONTENT, workdir)  # the export's reading
    assert step == 1
    assert "note: checkpoint 2 cannot be restored (Expecting property name" in (
        capsys.readouterr().err
    )
    result = loop.run(trainers.CONTENT, cfg, workdir, resume=True, progress=False)
    assert result["step"] == 1 and result["export"] is not None
    log = (workdir / LOG_FILE).read_text()
    assert f"moved to {workdir / 'unreadable-checkpoints' / '2'}, resuming from step 1" in log
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["1"]
    moved = workdir / "unreadable-checkpoints" / "2" / "default" / "_METADATA"
    assert moved.read_text() == "{garbage"  # kept as it was, for a look


def test_no_readable_checkpoint_is_one_error_and_nothing_is_written(tmp_path, photos):
    workdir = tmp_path / "run"
    cfg = _tiny(photos, steps=3)
    _saved_steps(workdir, cfg, (1, 2))
    for step in (1, 2):
        (workdir / "checkpoints" / str(step) / "default" / "_METADATA").write_text("[")
    before = sorted(p.relative_to(workdir) for p in workdir.rglob("*"))
    config = (workdir / CONFIG_FILE).read_text()
    with pytest.raises(
        ConfigMismatchError, match=r"no checkpoint in .* can be restored \(step 2: "
    ):
        loop.run(trainers.CONTENT, _tiny(photos, steps=3, lr=1.0), workdir, resume=True,
                 progress=False)  # fmt: skip
    assert sorted(p.relative_to(workdir) for p in workdir.rglob("*")) == before
    assert (workdir / CONFIG_FILE).read_text() == config  # not rewritten with lr = 1.0
