"""One level of multi-scale neural patch synthesis (Yang et al. 2017, Sec. 3.3): minimise the
joint loss (Eq. 1) over the hole pixels with L-BFGS, the known pixels fixed to the input at
this scale, starting from the level's guide (also E_c's reference)."""

from __future__ import annotations

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from npsynth import losses, solver, window
from npsynth.config.inpaint import OptimizeConfig
from npsynth.models.vgg import VGG19
from npsynth.pyramid import Level, LevelResult, per_level


@dataclasses.dataclass(frozen=True, eq=False)
class OptimizeStep:
    """The `pyramid.LevelStep` of method="optimize".

    `use_window=False` runs VGG-19 on the whole image at every evaluation (same result,
    slower for small holes; for tests and benchmarks).
    """

    config: OptimizeConfig
    vgg: VGG19
    use_window: bool = True

    def __call__(self, level: Level) -> LevelResult:
        iterations = per_level(self.config.iterations, len(self.config.scales), "iterations")
        n_iter = iterations[-level.count :][level.index]
        return solve_level(
            level.known, level.hole, level.guide, self.vgg, self.config, n_iter,
            use_window=self.use_window, size=level.size, report=level.report,
        )  # fmt: skip


def solve_level(
    known, hole, guide, vgg, config: OptimizeConfig, iterations: int, *, use_window=True,
    size=None, report=None,
) -> LevelResult:  # fmt: skip
    """Minimise Eq. 1 at one (padded) scale, in chunks of `config.chunk_iterations`.

    Args:
      known, guide: [h, w, 3]; hole: [h, w, 1], 1 = hole (h, w multiples of 8).
      size: the level's (height, width) before padding, for messages.
      report: called after each chunk as report(iteration, iterations, loss, evaluations,
        image); an exception it raises stops the solve.

    Returns:
      a `LevelResult`: the result, the loss after each iteration (losses[0] at the start),
      the layers used and the loss evaluations.
    """
    height, width = size or known.shape[:2]
    layers = losses.usable_layers(hole, config.layers, config.patch_size)
    if len(layers) < len(config.layers):
        skipped = sorted(set(config.layers) - set(layers))
        rest = f"uses {list(layers)} there" if layers else "is off there"
        warnings.warn(
            f"at {height}x{width} the hole leaves no source patch at {skipped}; the texture term {rest}"
        )
    graphdef, state = nnx.split(vgg)
    known_b, hole_b, guide_b = (jnp.asarray(a[None]) for a in (known, hole, guide))
    nn = None
    if config.nn_update == "per_scale" and layers:
        start = known_b * (1 - hole_b) + hole_b * guide_b
        nn = losses.nearest_neighbours_for(
            start, hole_b, vgg=vgg, layers=layers, patch_size=config.patch_size,
            chunk_size=config.chunk_size,
        )  # fmt: skip
    # VGG-19 sees only the window around the hole that the texture term depends on (exact).
    texture_window = window.texture_window(hole, layers) if layers and use_window else None
    window_args = None
    if texture_window is not None:
        offset = jnp.asarray([texture_window.top, texture_window.left], jnp.int32)
        valid = {layer: jnp.asarray(v) for layer, v in texture_window.valid.items()}
        window_args = (offset, valid)
    window_size = None if texture_window is None else texture_window.size
    options = config.solver_options()
    chunk = min(config.chunk_iterations, iterations)
    begin, advance = _scale_solver(graphdef, layers, config.patch_size, options, chunk, window_size)
    alpha, beta = jnp.float32(config.alpha), jnp.float32(config.beta)
    # The guide (content reference, then the upsampled previous scale) is both E_c's
    # reference and the initial value.
    problem = (state, known_b, hole_b, guide_b, nn, alpha, beta, window_args)
    fixed, solve = begin(problem, guide_b)
    values, limit = [float(solve.lbfgs.value)], jnp.int32(iterations)
    while len(values) <= iterations and not bool(solve.stopped):
        solve, chunk_values = advance(problem, fixed, solve, limit)
        done = int(solve.lbfgs.iter_num)
        values += [float(v) for v in np.asarray(chunk_values)[: done - len(values) + 1]]
        if report is not None:
            image = _compose(known, hole, solve.x[0])
            report(done, iterations, values[-1], int(solver.evaluations(solve)), image)
    result = _compose(known, hole, solve.x[0])
    return LevelResult(result, np.asarray(values, np.float32), layers,
                       int(solver.evaluations(solve)))  # fmt: skip


@functools.cache
def _scale_solver(graphdef, layers, patch_size: int, options, chunk: int, window_size):
    """Jitted (begin, advance) of the L-BFGS solve of Eq. 1 over the hole pixels; compiled
    once per image shape (and texture window size, `window.texture_window`; None: VGG-19
    sees the whole image), solver options and chunk length."""

    def loss_for(problem, fixed):
        vgg_state, known, mask, reference, nn, alpha, beta, window_args = problem
        vgg = nnx.merge(graphdef, vgg_state)
        if window_size is not None:
            offset, valid = window_args
            vgg = window.windowed_vgg(vgg, fixed, offset[0], offset[1], window_size, valid)

        def loss(z):
            x = known * (1 - mask) + mask * z  # known pixels fixed to the input at this scale
            if not layers:  # no layer has a source patch at this scale: E_c + beta * TV
                return losses.content_loss(x, reference, mask) + beta * losses.tv_loss(x)
            return losses.joint_loss(
                x, reference, mask, vgg=vgg, alpha=alpha, beta=beta,
                layers=layers, patch_size=patch_size, nn=nn,
            )  # fmt: skip

        return loss

    def begin(problem, init):
        vgg_state, known, mask = problem[:3]
        fixed = None
        if window_size is not None:  # features of the start, for the cells outside the window
            start = jax.lax.stop_gradient(known * (1 - mask) + mask * init)
            fixed = nnx.merge(graphdef, vgg_state)(start, layers)
        return fixed, solver.start(loss_for(problem, fixed), init, options)

    def advance(problem, fixed, solve, limit):
        return solver.advance(loss_for(problem, fixed), solve, chunk, options, limit)

    return jax.jit(begin), jax.jit(advance)


def _compose(known, hole, z) -> np.ndarray:
    """The level's image: known pixels from `known`, hole pixels from `z`, in [0, 1]."""
    return np.clip(known * (1 - hole) + hole * np.asarray(z), 0.0, 1.0)
