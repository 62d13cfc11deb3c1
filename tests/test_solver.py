"""Tests for npsynth.solver: L-BFGS in one compiled scan, with its early stop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth import solver
from npsynth.solver import SolverOptions, minimize


def _quadratic(seed=0, n=6):
    """f(x) = 1/2 x^T A x - b^T x with A symmetric positive definite; minimiser A^-1 b."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, n))
    a = q @ q.T + n * np.eye(n)
    b = rng.normal(size=n)
    return a, b, jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)


def test_reaches_the_closed_form_minimiser_and_stops_early_at_tol():
    a, b, a32, b32 = _quadratic()

    def loss(x):
        return 0.5 * x @ a32 @ x - b32 @ x

    x, info = jax.jit(lambda x0: minimize(loss, x0, max_iter=50, tol=1e-3))(jnp.zeros(6))
    expected = np.linalg.solve(a, b)  # independent: NumPy's linear solve
    np.testing.assert_allclose(np.asarray(x), expected, atol=1e-3)
    iterations = int(info.iterations)
    # The early stop is reached: far fewer than 50 iterations, the gradient below tol there.
    assert 1 <= iterations < 50
    assert float(info.grad_norm) <= 1e-3
    values = np.asarray(info.values)
    assert values.shape == (51,)
    np.testing.assert_allclose(values[0], 0.0)  # f(0) = 0
    # After the stop the history repeats the last value: no update runs any more.
    np.testing.assert_array_equal(values[iterations:], values[iterations])
    optimum = -0.5 * b @ expected
    np.testing.assert_allclose(values[-1], optimum, rtol=1e-4)
    assert np.all(np.diff(values) <= 1e-6)  # L-BFGS with a Wolfe line search descends


def test_a_tighter_tol_takes_more_iterations():
    _, _, a32, b32 = _quadratic(seed=1)

    def loss(x):
        return 0.5 * x @ a32 @ x - b32 @ x

    loose = minimize(loss, jnp.zeros(6), max_iter=50, tol=1e-1)[1]
    tight = minimize(loss, jnp.zeros(6), max_iter=50, tol=1e-5)[1]
    assert int(loose.iterations) < int(tight.iterations) < 50
    assert float(loose.grad_norm) <= 1e-1 and float(tight.grad_norm) <= 1e-5


def test_max_iter_bounds_the_iterations():
    # Rosenbrock from (-1.2, 1): not solved to 1e-12 in 3 iterations.
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    _, info = minimize(rosenbrock, jnp.asarray([-1.2, 1.0]), max_iter=3, tol=1e-12)
    assert int(info.iterations) == 3
    assert np.asarray(info.values).shape == (4,)
    assert float(info.values[-1]) < float(info.values[0])


def test_rel_tol_stops_once_the_loss_stalls():
    # On Rosenbrock the relative decrease falls below 1e-3 long before the gradient is small.
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    x0 = jnp.asarray([-1.2, 1.0])
    full = minimize(rosenbrock, x0, max_iter=200, tol=1e-9)[1]
    options = SolverOptions(tol=1e-9, rel_tol=0.5)
    early = minimize(rosenbrock, x0, max_iter=200, options=options)[1]
    taken = int(early.iterations)
    assert 1 <= taken < int(full.iterations)
    values = np.asarray(early.values)
    # It stopped at the first iteration whose decrease was at most half the new value.
    decrease = values[:taken] - values[1 : taken + 1]
    assert decrease[-1] <= 0.5 * abs(values[taken])
    assert np.all(decrease[:-1] > 0.5 * np.abs(values[1:taken]))


def test_the_full_first_step_needs_fewer_evaluations_than_the_growing_one():
    a, b, a32, b32 = _quadratic(seed=2, n=20)

    def loss(x):
        return 0.5 * x @ a32 @ x - b32 @ x

    counts = {}
    for init in ("increase", "max"):
        options = SolverOptions(tol=1e-4, linesearch_init=init)
        x, info = minimize(loss, jnp.zeros(20), max_iter=60, options=options)
        np.testing.assert_allclose(np.asarray(x), np.linalg.solve(a, b), atol=1e-3)
        counts[init] = int(info.evaluations) / max(1, int(info.iterations))
    assert counts["max"] < counts["increase"]


def test_options_are_checked():
    with pytest.raises(ValueError, match="linesearch_init"):
        SolverOptions(linesearch_init="biggest")
    with pytest.raises(ValueError, match="linesearch must"):
        SolverOptions(linesearch="wolfe")


def test_advance_skips_the_iterations_past_limit_in_a_longer_chunk():
    """Guards `advance` against ignoring `limit` (a short last chunk running past it)."""

    def rosenbrock(x):  # not solved in 3 iterations: every one of them moves x
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    x0 = jnp.asarray([-1.2, 1.0])
    options = SolverOptions(tol=1e-12)
    begun = solver.start(rosenbrock, x0, options)
    solve, values = solver.advance(rosenbrock, begun, 5, options, limit=jnp.asarray(3))
    assert int(solve.lbfgs.iter_num) == 3
    values = np.asarray(values)
    assert values.shape == (5,) and values[2] < float(rosenbrock(x0))
    np.testing.assert_array_equal(values[3:], values[2])  # the last two steps did nothing
    assert np.all(np.diff(values[:3]) < 0)  # the first three did
