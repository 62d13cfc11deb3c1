"""The L-BFGS solver behind the per-scale optimisation (Yang et al. 2017, Sec. 3.3).

This is the only module that knows which L-BFGS implementation is used: today jaxopt's;
moving to `optax.lbfgs` changes this file alone.

A solve runs in chunks of iterations: `start` evaluates the loss at x0, `advance` takes up
to `steps` more iterations as one `lax.scan`, and both compile once under `jax.jit`. The
caller sees the loss between chunks (progress, cancel; by default a chunk is one iteration)
and the iterates are the same as in one long scan. `minimize` is the whole solve in one call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jaxopt

# The solver's settings are a config record (`OptimizeConfig.solver`), kept with the configs.
from npsynth.config.optimize import (  # noqa: F401 (re-exported)
    LINESEARCH_INITS,
    LINESEARCHES,
    MAX_HISTORY_SIZE,
    MAX_LINESEARCH_STEPS,
    SolverOptions,
)


@dataclasses.dataclass(frozen=True)
class SolveState:
    """Where a chunked solve stands (a pytree: it crosses `jax.jit` boundaries)."""

    x: jax.Array
    lbfgs: Any  # jaxopt's LbfgsState
    stopped: jax.Array  # bool: tol or rel_tol was met, no further update runs


@dataclasses.dataclass(frozen=True)
class SolveInfo:
    """What the solve did. `values[k]` is the loss after k iterations (values[0]: at x0)."""

    values: jax.Array  # [max_iter + 1]; repeats the last value once stopped
    iterations: jax.Array  # scalar int, iterations actually taken
    grad_norm: jax.Array  # scalar, gradient norm at the solution
    evaluations: jax.Array  # scalar int, loss value+gradient evaluations, x0's included


for _cls, _fields in ((SolveState, ["x", "lbfgs", "stopped"]),
                      (SolveInfo, ["values", "iterations", "grad_norm", "evaluations"])):  # fmt: skip
    jax.tree_util.register_dataclass(_cls, data_fields=_fields, meta_fields=[])


def _lbfgs(loss_fn, options: SolverOptions) -> jaxopt.LBFGS:
    return jaxopt.LBFGS(
        fun=loss_fn, tol=options.tol, history_size=options.history_size,
        linesearch=options.linesearch, linesearch_init=options.linesearch_init,
        maxls=options.maxls,
    )  # fmt: skip


def start(loss_fn: Callable, x0: jax.Array, options: SolverOptions) -> SolveState:
    """The solve before its first iteration (one loss evaluation at x0)."""
    state = _lbfgs(loss_fn, options).init_state(x0)
    return SolveState(x0, state, state.error <= options.tol)


def advance(
    loss_fn: Callable, solve: SolveState, steps: int, options: SolverOptions, limit=None
) -> tuple[SolveState, jax.Array]:
    """Up to `steps` (static) more iterations; iterations past `limit` (total, traced int)
    are skipped, so one compiled chunk also serves a shorter last one.

    Returns:
      (state, values): values[k] is the loss after the k-th iteration of this chunk.
    """
    solver = _lbfgs(loss_fn, options)

    def step(solve, _):
        state = solve.lbfgs
        run = ~solve.stopped if limit is None else ~solve.stopped & (state.iter_num < limit)

        def update(solve):
            x, new = solver.update(solve.x, solve.lbfgs)
            decrease = state.value - new.value
            stalled = decrease <= options.rel_tol * jnp.abs(new.value)
            stopped = (new.error <= options.tol) | ((options.rel_tol > 0) & stalled)
            return SolveState(x, new, stopped)

        solve = jax.lax.cond(run, update, lambda s: s, solve)
        return solve, solve.lbfgs.value

    return jax.lax.scan(step, solve, None, length=steps)


def evaluations(solve: SolveState) -> jax.Array:
    """Loss value+gradient evaluations so far (x0's included)."""
    return solve.lbfgs.num_fun_eval


def minimize(
    loss_fn: Callable[[jax.Array], jax.Array],
    x0: jax.Array,
    *,
    max_iter: int,
    tol: float = 1e-6,
    history_size: int = 10,
    options: SolverOptions | None = None,
) -> tuple[jax.Array, SolveInfo]:
    """Minimise `loss_fn` from `x0` with L-BFGS for at most `max_iter` iterations.

    One `lax.scan` (compiles once under `jax.jit`); it stops updating once the gradient norm
    is below `tol` (or the relative decrease below `options.rel_tol`). `options`, when given,
    replaces `tol` and `history_size`.

    Returns:
      (x, info): the minimiser and a `SolveInfo` with the loss history.
    """
    options = options or SolverOptions(tol=tol, history_size=history_size)
    solve = start(loss_fn, x0, options)
    first = jnp.reshape(solve.lbfgs.value, (1,))
    solve, values = advance(loss_fn, solve, max_iter, options)
    return solve.x, SolveInfo(
        values=jnp.concatenate([first, values]),
        iterations=solve.lbfgs.iter_num,
        grad_norm=solve.lbfgs.error,
        evaluations=evaluations(solve),
    )
