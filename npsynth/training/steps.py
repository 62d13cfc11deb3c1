"""Adversarial training steps shared by the trained networks: a discriminator and a generator step.

A `GanTask` says what is trained: how to build the generator and the discriminator, what the
generator produces from a batch, what the discriminator sees as real and as fake, and the
reconstruction loss. The generator minimises

    L_G = lam * L_rec + (1 - lam) * L_adv,    L_adv = -log D(fake)   (non-saturating)

and the discriminator minimises  -log D(real) - log(1 - D(fake)). For the content network
(`ContentTask`, Yang et al. 2017, Sec. 3.1 and the Context Encoder of Pathak et al. 2016)
L_rec is the hole's L2 and "fake" is the predicted central half (paper mode) or the
prediction composited with the known pixels (freeform). The tasks (`ContentTask`,
`Image2FeatureTask`, `Feature2ImageTask`) live in `npsynth.training.tasks`.

The training state is a plain dict, which is also the checkpoint layout:

    {"generator": {"params", "batch_stats"}, "discriminator": {"params", "batch_stats"},
     "opt_g", "opt_d", "step"}

`make_steps` returns `d_step` and `g_step`, each jitted with the state donated; one training
step is `d_step` then `g_step`. With lam = 1 (reconstruction only) `d_step` leaves the state as
it is and `g_step` does not evaluate D. Per-step keys are `fold_in(fold_in(key(seed), 2), step)`
(streams 0 and 1 of the seed initialise the two networks), so a resumed run draws the same
keys as an uninterrupted one. Nothing here logs or touches files. Functions that take a
task also take a `ContentNetConfig`, meaning `ContentTask(config)`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Protocol

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from npsynth.config.models import ContentNetConfig
from npsynth.models.layers import eval_mode
from npsynth.training.tasks import ContentTask

State = dict  # the training state described in the module docstring


Batch = dict  # {"image": float32 [N, S, S, 3] in [0, 1], "mask": float32 [N, S, S, 1], 1 = hole}


class GanTask(Protocol):
    """What `make_steps` trains. Implementations must be hashable (steps are cached per task)."""

    def make_generator(self, rngs: nnx.Rngs) -> nnx.Module: ...

    def make_discriminator(self, rngs: nnx.Rngs) -> nnx.Module: ...

    def generate(self, generator, batch: Batch, key) -> tuple[jax.Array, jax.Array]:
        """(the generator's prediction, what the discriminator judges as fake)."""

    def real(self, batch: Batch) -> jax.Array:
        """What the discriminator judges as real."""

    def reconstruction(self, prediction, batch: Batch) -> tuple[jax.Array, dict]:
        """(L_rec, named terms to log; one of them may be L_rec itself)."""

    def sample(self, generator, batch: Batch) -> jax.Array:
        """An RGB picture of the prediction [N, S, S, 3] for the sample grids (eval mode)."""


def as_task(task) -> GanTask:
    """`task`, or `ContentTask(task)` for a `ContentNetConfig`."""
    return ContentTask(task) if isinstance(task, ContentNetConfig) else task


@dataclasses.dataclass(frozen=True)
class Graphs:
    """The static halves of the two networks (`nnx.split`), in training mode, and the task."""

    generator: nnx.GraphDef
    discriminator: nnx.GraphDef
    task: GanTask


def make_optimizer(*, lr: float, b1: float, b2: float) -> optax.GradientTransformation:
    """Adam, as in the Context Encoder (lr 2e-4, b1 0.5)."""
    return optax.adam(lr, b1=b1, b2=b2)


def _split(model: nnx.Module) -> tuple[nnx.GraphDef, dict]:
    graphdef, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    return graphdef, {"params": params, "batch_stats": stats}


def init_state(task, *, lr: float, b1: float, b2: float, seed: int) -> State:
    """Fresh networks and optimiser states. Works under `jax.eval_shape` (abstract state).

    The generator is initialised from fold_in(key(seed), 0), the discriminator from 1;
    both get `make_optimizer(lr=lr, b1=b1, b2=b2)`.
    """
    task = as_task(task)
    tx = make_optimizer(lr=lr, b1=b1, b2=b2)
    base = jax.random.key(seed)
    generator = task.make_generator(nnx.Rngs(jax.random.fold_in(base, 0)))
    discriminator = task.make_discriminator(nnx.Rngs(jax.random.fold_in(base, 1)))
    _, g_state = _split(generator)
    _, d_state = _split(discriminator)
    return {
        "generator": g_state,
        "discriminator": d_state,
        "opt_g": tx.init(g_state["params"]),
        "opt_d": tx.init(d_state["params"]),
        "step": jnp.zeros((), jnp.int32),
    }


@functools.cache
def make_init(
    task, *, lr: float, b1: float, b2: float, seed: int, sharding=None
) -> Callable[[], State]:
    """`init_state` jitted (placed on `sharding`, e.g. replicated over a mesh); cached, so
    runs with the same settings in one process compile it once."""
    return jax.jit(
        functools.partial(init_state, task, lr=lr, b1=b1, b2=b2, seed=seed),
        out_shardings=sharding,
    )


def abstract_state(task, *, lr: float, b1: float, b2: float) -> State:
    """The shapes and dtypes of the training state (nothing allocated)."""
    return jax.eval_shape(functools.partial(init_state, task, lr=lr, b1=b1, b2=b2, seed=0))


@functools.cache
def graphs_for(task) -> Graphs:
    """The `Graphs` of `task` (training mode), without allocating any weights."""
    task = as_task(task)
    generator = nnx.eval_shape(lambda: task.make_generator(nnx.Rngs(0)))
    discriminator = nnx.eval_shape(lambda: task.make_discriminator(nnx.Rngs(0)))
    return Graphs(_split(generator)[0], _split(discriminator)[0], task)


def _generate(graphs: Graphs, g_state: dict, batch: Batch, key):
    """(prediction, what the discriminator sees as fake, updated generator batch stats)."""
    generator = nnx.merge(graphs.generator, g_state["params"], g_state["batch_stats"], copy=True)
    prediction, fake = graphs.task.generate(generator, batch, key)
    return prediction, fake, nnx.state(generator, nnx.BatchStat)


def _step_keys(seed: int, step: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(discriminator key, generator key) of `step`; stream 2 of the seed (0, 1: init)."""
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 2), step)
    return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


def discriminator_update(
    graphs: Graphs, tx_d, state: State, batch: Batch, *, seed: int
) -> tuple[State, dict]:
    """One discriminator update (pure; `make_steps` jits it). Returns (state, metrics)."""
    d_key, _ = _step_keys(seed, state["step"])
    _, fake, _ = _generate(graphs, state["generator"], batch, d_key)  # G's stats unchanged here
    fake = jax.lax.stop_gradient(fake)
    real = graphs.task.real(batch)

    # Variables are merged inside the differentiated function (BatchNorm updates its
    # statistics in place, which NNX only allows at the trace level they were created at).
    def loss_fn(params, stats):
        disc = nnx.merge(graphs.discriminator, params, stats, copy=True)
        real_logits, fake_logits = disc(real), disc(fake)
        loss = jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
        aux = (nnx.state(disc, nnx.BatchStat), real_logits, fake_logits)
        return loss, aux

    params = state["discriminator"]["params"]
    (loss, (stats, real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, state["discriminator"]["batch_stats"]
    )
    updates, opt_d = tx_d.update(grads, state["opt_d"], params)
    new = dict(state)
    new["discriminator"] = {"params": optax.apply_updates(params, updates), "batch_stats": stats}
    new["opt_d"] = opt_d
    metrics = {
        "d_loss": loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),  # D's mean belief that real is real
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
    }
    return new, metrics


def generator_update(
    graphs: Graphs, tx_g, state: State, batch: Batch, *, lam: float, seed: int
) -> tuple[State, dict]:
    """One generator update and step += 1 (pure; `make_steps` jits it). Returns (state, metrics)."""
    _, g_key = _step_keys(seed, state["step"])

    def loss_fn(params, g_stats, d_state):
        g_state = {"params": params, "batch_stats": g_stats}
        prediction, fake, stats = _generate(graphs, g_state, batch, g_key)
        rec, terms = graphs.task.reconstruction(prediction, batch)
        if lam == 1.0:  # reconstruction only: D is not even evaluated
            return rec, (stats, terms, None)
        # D in training mode (batch statistics), as in its own step; its stats are not kept.
        disc = nnx.merge(graphs.discriminator, d_state["params"], d_state["batch_stats"], copy=True)
        adversarial = jnp.mean(jax.nn.softplus(-disc(fake)))
        loss = lam * rec + (1.0 - lam) * adversarial
        return loss, (stats, terms, adversarial)

    params = state["generator"]["params"]
    (loss, (stats, terms, adversarial)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, state["generator"]["batch_stats"], state["discriminator"]
    )
    updates, opt_g = tx_g.update(grads, state["opt_g"], params)
    new = dict(state)
    new["generator"] = {"params": optax.apply_updates(params, updates), "batch_stats": stats}
    new["opt_g"] = opt_g
    new["step"] = state["step"] + 1
    adv = {} if adversarial is None else {"adv": adversarial}
    return new, {"g_loss": loss, **terms, **adv}


@functools.cache
def make_steps(
    task,
    *,
    lr: float,
    b1: float,
    b2: float,
    lam: float,
    seed: int,
    state_sharding=None,
    batch_sharding=None,
) -> tuple[Callable, Callable]:
    """Jitted `d_step(state, batch)` and `g_step(state, batch)`, each -> (state, metrics).

    The state argument is donated: do not use it after the call. With shardings (e.g. the
    state replicated and the batch split over a mesh's "data" axis), the steps run data
    parallel, and batch-norm statistics and gradients are over the global batch. Cached:
    the same arguments give the same (already compiled) functions.

    Args:
      task: what is trained (a `GanTask`, or a `ContentNetConfig`).
      lr, b1, b2: Adam settings (`make_optimizer`), as the state was initialised with.
      lam: weight of the reconstruction term (1 - lam weighs the adversarial term).
      seed: base of the per-step keys.
      state_sharding, batch_sharding: optional `jax.sharding.Sharding`s.
    """
    graphs = graphs_for(task)
    tx = make_optimizer(lr=lr, b1=b1, b2=b2)
    shardings = {}
    if state_sharding is not None:
        shardings = {
            "in_shardings": (state_sharding, batch_sharding),
            "out_shardings": (state_sharding, state_sharding),
        }

    def d_step(state, batch):
        return discriminator_update(graphs, tx, state, batch, seed=seed)

    def g_step(state, batch):
        return generator_update(graphs, tx, state, batch, lam=lam, seed=seed)

    def no_d_step(state, batch):
        return state, {}

    return (
        # lam = 1 (the L2-only ablation): D has no say in the loss, so it neither trains nor
        # runs, and a step costs about the generator's update alone.
        no_d_step if lam == 1.0 else jax.jit(d_step, donate_argnums=0, **shardings),
        jax.jit(g_step, donate_argnums=0, **shardings),
    )


@functools.cache
def make_prepare(task, *, batch_sharding=None) -> Callable[[Batch], Batch]:
    """Jitted `prepare(batch) -> batch` adding the task's `prepare` outputs (identity if none)."""
    task = as_task(task)
    if not hasattr(task, "prepare"):
        return lambda batch: batch

    def prepare(batch):
        return batch | task.prepare(batch)

    if batch_sharding is None:
        return jax.jit(prepare)
    return jax.jit(prepare, in_shardings=(batch_sharding,), out_shardings=batch_sharding)


@functools.cache
def make_sample_fn(task, *, state_sharding=None, batch_sharding=None) -> Callable:
    """Jitted `sample(state, batch) -> [N, S, S, 3]`: the task's picture, in eval mode."""
    graphs = graphs_for(task)

    def sample(state, batch):
        return graphs.task.sample(generator_from_state(graphs, state), batch)

    if state_sharding is None:
        return jax.jit(sample)
    return jax.jit(
        sample, in_shardings=(state_sharding, batch_sharding), out_shardings=state_sharding
    )


def generator_from_state(graphs: Graphs, state: State) -> nnx.Module:
    """The generator of a training state, in evaluation mode (for export and predict)."""
    generator = nnx.merge(
        graphs.generator, state["generator"]["params"], state["generator"]["batch_stats"],
        copy=True,
    )  # fmt: skip
    return eval_mode(generator)
