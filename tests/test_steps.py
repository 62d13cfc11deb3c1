"""npsynth.training.steps: the discriminator and generator updates and their state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from npsynth.config import ContentTrainingConfig
from npsynth.losses import hole_l2
from npsynth.training import steps
from npsynth.training.tasks import ContentTask

TINY = ContentTrainingConfig.tiny().model  # 32x32, widths 8-16
TRAIN = ContentTrainingConfig.tiny().train
ADAM = {"lr": TRAIN.lr, "b1": TRAIN.b1, "b2": TRAIN.b2}
# The shardings of a training run on this machine's devices.
REPLICATED = NamedSharding(Mesh(np.asarray(jax.devices()), ("data",)), PartitionSpec())
SPLIT = NamedSharding(REPLICATED.mesh, PartitionSpec("data"))


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, size, size, 3), dtype=np.float32)


def _box_mask(n: int, size: int) -> np.ndarray:
    mask = np.zeros((n, size, size, 1), np.float32)
    mask[:, 3:11, 5:20] = 1.0
    return mask


def _tiny_state():
    """A fresh training state of the tiny config, compiled like the training loop does."""
    return steps.make_init(ContentTask(TINY), **ADAM, seed=TRAIN.seed, sharding=REPLICATED)()


def test_state_layout_and_abstract_state():
    state = _tiny_state()
    assert set(state) == {"generator", "discriminator", "opt_g", "opt_d", "step"}
    assert int(state["step"]) == 0
    abstract = steps.abstract_state(TINY, **ADAM)  # a ContentNetConfig means ContentTask
    assert jax.tree.structure(abstract) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(abstract), jax.tree.leaves(state)):
        assert a.shape == b.shape and a.dtype == b.dtype
    # The two networks come from streams 0 and 1 of the seed, the same for the same seed.
    again = steps.init_state(TINY, **ADAM, seed=TRAIN.seed)
    for a, b in zip(jax.tree.leaves(state["generator"]), jax.tree.leaves(again["generator"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_one_training_step_updates_both_networks():
    # The settings and shardings of `ContentTrainingConfig.tiny()` runs, so the compiled
    # steps are shared with the training runs of tests/test_loop.py.
    state = _tiny_state()
    before = jax.tree.map(np.asarray, state)
    d_step, g_step = steps.make_steps(
        ContentTask(TINY), **ADAM, lam=TRAIN.lam, seed=TRAIN.seed, state_sharding=REPLICATED,
        batch_sharding=SPLIT,
    )  # fmt: skip
    batch = jax.device_put({"image": _images(4, 32), "mask": _box_mask(4, 32)}, SPLIT)
    state, d_metrics = d_step(state, batch)
    state, g_metrics = g_step(state, batch)
    assert int(state["step"]) == 1
    metrics = jax.device_get(d_metrics | g_metrics)
    assert set(metrics) == {"d_loss", "d_real", "d_fake", "g_loss", "l2", "adv"}
    assert all(np.isfinite(v) for v in metrics.values())
    lam = TRAIN.lam
    assert metrics["g_loss"] == pytest.approx(
        lam * metrics["l2"] + (1 - lam) * metrics["adv"], rel=1e-5
    )

    def changed(a, b):
        return any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    for net in ("generator", "discriminator"):
        assert changed(before[net]["params"], state[net]["params"])
        assert changed(before[net]["batch_stats"], state[net]["batch_stats"])


def test_l2_only_steps_skip_the_discriminator_and_take_one_adam_step_on_the_hole_l2():
    # lam = 1 (the paper's L2-only ablation): D neither trains nor runs, and the generator's
    # update is one Adam step on the hole L2, worked out here with optax directly.
    state = _tiny_state()
    before = jax.tree.map(np.asarray, state)
    d_step, g_step = steps.make_steps(
        ContentTask(TINY),
        **ADAM,
        lam=1.0,
        seed=TRAIN.seed,
        state_sharding=REPLICATED,
        batch_sharding=SPLIT,
    )
    images, mask = _images(4, 32, seed=9), _box_mask(4, 32)
    batch = jax.device_put({"image": images, "mask": mask}, SPLIT)
    state, d_metrics = d_step(state, batch)
    assert d_metrics == {}
    state, g_metrics = g_step(state, batch)
    metrics = jax.device_get(g_metrics)
    assert set(metrics) == {"g_loss", "l2"} and metrics["g_loss"] == metrics["l2"]
    for part in ("discriminator", "opt_d"):
        for a, b in zip(jax.tree.leaves(before[part]), jax.tree.leaves(state[part])):
            np.testing.assert_array_equal(a, b)

    graphs = steps.graphs_for(ContentTask(TINY))
    params, stats = jax.tree.map(
        jnp.asarray, (before["generator"]["params"], before["generator"]["batch_stats"])
    )

    def hole_l2_of(params):
        net = nnx.merge(graphs.generator, params, stats, copy=True)
        return hole_l2(net(jnp.asarray(images), jnp.asarray(mask)), images, mask)

    adam = optax.adam(ADAM["lr"], b1=ADAM["b1"], b2=ADAM["b2"])
    _, expected = adam.update(jax.grad(hole_l2_of)(params), adam.init(params), params)
    assert float(hole_l2_of(params)) == pytest.approx(metrics["l2"], rel=1e-5)
    # Adam's moments after one step are (1 - b1)·g and (1 - b2)·g², so they carry the gradient
    # itself (the parameter update is about ±lr per entry whatever its size). Biases just
    # before a batch norm have a zero gradient in exact arithmetic and ±1e-9 of rounding noise
    # that depends on the reduction order, hence the absolute tolerance.
    for want, got in zip(jax.tree.leaves(expected), jax.tree.leaves(state["opt_g"])):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-3, atol=1e-8)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(state["generator"]["params"]))
    )
