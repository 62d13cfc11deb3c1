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

from npsynth import losses, reference, solver, window
from npsynth.config.inpaint import OptimizeConfig
from npsynth.models.vgg import VGG19
from npsynth.pyramid import Level, LevelResult


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
        content = None  # E_c's reference: the guide, or this scale's PatchMatch fill
        if level.index > 0 and self.config.reference_every_scale(level.source):
            content = reference.patchmatch_fill(
                level.known, level.hole, base_sigma=self.config.reference.patchmatch_base_sigma
            )
        return solve_level(
            level.known, level.hole, level.guide, self.vgg, level_config(self.config, level),
            self._iterations(level),
            use_window=self.use_window, size=level.size, report=level.report,
            content=content,
        )  # fmt: skip

    def batch(self, levels: list[Level]) -> list[LevelResult]:
        """The same level of several same-size photos at once (`solve_levels`)."""
        if any(self.config.reference_every_scale(lv.source) for lv in levels):
            return [self(level) for level in levels]
        first = levels[0]
        return solve_levels(
            [lv.known for lv in levels], [lv.hole for lv in levels], [lv.guide for lv in levels],
            self.vgg, level_config(self.config, first), self._iterations(first), size=first.size,
            report=first.report,
        )  # fmt: skip

    def _iterations(self, level: Level) -> int:
        return at_level(self.config.per_scale_iterations(), level)


def level_config(config: OptimizeConfig, level: Level) -> OptimizeConfig:
    """`config` as one level solves it: at the pyramid's last scale beta is `beta_last`
    (where set)."""
    changes = {}
    if level.is_last_scale and config.beta_last is not None:
        changes["beta"] = config.beta_last
    return dataclasses.replace(config, **changes) if changes else config


def at_level(per_scale, level: Level):
    """A per-scale setting's value at `level`: the pyramid's levels are the last
    `pyramid_count` scales (a smaller photo works at sizes in the same ratios), of which
    `PyramidConfig.levels` may work the first ones only."""
    return per_scale[-(level.pyramid_count or level.count) :][level.index]


def solve_level(
    known, hole, guide, vgg, config: OptimizeConfig, iterations: int, *, use_window=True,
    size=None, report=None, alpha_factor=1.0, content=None,
) -> LevelResult:  # fmt: skip
    """Minimise Eq. 1 at one (padded) scale, in chunks of `config.solver.chunk_iterations`.

    With nn_update="per_chunk" the matches are searched again on the iterate after every
    chunk (but the last), and L-BFGS starts afresh from it with the new matches
    ("per_chunk_last" is resolved per level by `level_config`; here it is "per_scale").

    Args:
      known, guide: [h, w, 3]; hole: [h, w, 1], 1 = hole (h, w multiples of 8).
      size: the level's (height, width) before padding, for messages.
      report: called after each chunk as report(iteration, iterations, loss, evaluations,
        image); an exception it raises stops the solve.
      alpha_factor: alpha is `config.alpha * alpha_factor` at this scale (`alpha_factor`).
      content: [h, w, 3] E_c's reference, if not the guide (the guide stays the start).

    Returns:
      a `LevelResult`: the result, the loss after each iteration (losses[0] at the start;
      with "per_chunk", each under the matches in force during that iteration), the layers
      used and the loss evaluations.
    """
    height, width = size or known.shape[:2]
    layers = losses.usable_layers(hole, config.texture.layers, config.texture.patch_size)
    if len(layers) < len(config.texture.layers):
        skipped = sorted(set(config.texture.layers) - set(layers))
        rest = f"uses {list(layers)} there" if layers else "is off there"
        warnings.warn(
            f"at {height}x{width} the hole leaves no source patch at {skipped}; the texture term {rest}"
        )
    graphdef, state = nnx.split(vgg)
    known_b, hole_b, guide_b = (jnp.asarray(a[None]) for a in (known, hole, guide))
    fixed_nn = config.texture.nn_update != "every_eval" and bool(layers)

    def matches(z):  # the nearest neighbours of Eq. 3 on the image with hole pixels z
        return _matches(known_b, hole_b, z, vgg, layers, config)

    nn = matches(guide_b) if fixed_nn else None
    # VGG-19 sees only the window around the hole that the texture term depends on (exact).
    vgg_layers = _vgg_layers(layers, config.content_layer)
    window_args, window_size = _window_arguments(hole, vgg_layers) if use_window else (None, None)
    options, patch_size = config.solver, config.texture.patch_size
    chunk = min(options.chunk_iterations, iterations)
    begin, advance = _scale_solver(
        graphdef, layers, patch_size, options, chunk, window_size, config.content_layer
    )
    alpha = jnp.float32(config.alpha * alpha_factor)
    beta = jnp.float32(config.beta)
    # The guide (content reference, then the upsampled previous scale) is the initial value
    # and, unless `content` is given, E_c's reference.
    content_b = guide_b if content is None else jnp.asarray(content[None], guide_b.dtype)
    problem = (state, known_b, hole_b, content_b, nn, alpha, beta, window_args)
    fixed, solve = begin(problem, guide_b)
    values = [float(solve.lbfgs.value)]
    # `before`: iterations and evaluations of the solves that "per_chunk" restarted.
    before, evaluations_before = 0, 0
    while len(values) <= iterations and not bool(solve.stopped):
        solve, chunk_values = advance(problem, fixed, solve, jnp.int32(iterations - before))
        done = before + int(solve.lbfgs.iter_num)
        values += [float(v) for v in np.asarray(chunk_values)[: done - len(values) + 1]]
        evaluations = evaluations_before + int(solver.evaluations(solve))
        if report is not None:
            image = _compose(known, hole, solve.x[0])
            report(done, iterations, values[-1], evaluations, image)
        if config.texture.nn_update == "per_chunk" and fixed_nn and done < iterations:
            # New matches on the current iterate: a new loss, so a fresh L-BFGS from here.
            x = solve.x
            problem = (state, known_b, hole_b, content_b, matches(x), alpha, beta, window_args)
            fixed, solve = begin(problem, x)
            before, evaluations_before = done, evaluations
    result = _compose(known, hole, solve.x[0])
    evaluations = evaluations_before + int(solver.evaluations(solve))
    return LevelResult(result, np.asarray(values, np.float32), layers, evaluations)


def solve_levels(knowns, holes, guides, vgg, config: OptimizeConfig, iterations: int, *,
                 size=None, report=None, alpha_factor=1.0) -> list[LevelResult]:  # fmt: skip
    """`solve_level` for several photos of one size, each with its own L-BFGS (`jax.vmap`),
    the batch sharded over the local devices when it divides evenly among them.

    The texture window is that of the holes' union, which gives every photo its exact
    features. With "per_chunk" every photo's matches are searched again on its iterate after
    every chunk, as `solve_level` does. Photos whose holes leave different texture layers
    usable, and nn_update="every_eval", are solved one by one.
    `report` gets the batch's least advanced iteration and the first photo's loss and image.
    """
    layers = [
        losses.usable_layers(h, config.texture.layers, config.texture.patch_size) for h in holes
    ]
    if len(set(layers)) > 1 or not layers[0] or config.texture.nn_update == "every_eval":
        return [solve_level(k, h, g, vgg, config, iterations, size=size, report=report,
                            alpha_factor=alpha_factor)
                for k, h, g in zip(knowns, holes, guides)]  # fmt: skip
    layers = layers[0]
    graphdef, state = nnx.split(vgg)
    known, hole, guide = (_on_devices(np.stack(a)[:, None]) for a in (knowns, holes, guides))

    def matches(images):  # each photo's nearest neighbours (Eq. 3) on its image
        found = [
            _matches(jnp.asarray(k[None]), jnp.asarray(h[None]), jnp.asarray(np.asarray(x)[None]),
                     vgg, layers, config)
            for k, h, x in zip(knowns, holes, images)
        ]  # fmt: skip
        return {
            layer: _on_devices(np.stack([np.asarray(n[layer]) for n in found])) for layer in layers
        }

    union = np.max(np.stack(holes), axis=0)
    window_args, window_size = _window_arguments(union, _vgg_layers(layers, config.content_layer))
    options, patch_size = config.solver, config.texture.patch_size
    chunk = min(options.chunk_iterations, iterations)
    begin, advance = _batch_solver(
        graphdef, layers, patch_size, options, chunk, window_size, config.content_layer
    )
    alpha, beta = jnp.float32(config.alpha * alpha_factor), jnp.float32(config.beta)
    problem = (state, known, hole, guide, matches(guides), alpha, beta, window_args)
    fixed, solve = begin(problem, guide)
    values = [[float(v)] for v in np.asarray(solve.lbfgs.value)]
    # Per photo: iterations and evaluations of the solves that "per_chunk" restarted, and the
    # evaluations of a photo that finished before the batch's last restart.
    before = np.zeros(len(knowns), np.int64)
    evaluations_before = np.zeros(len(knowns), np.int64)
    finished = np.full(len(knowns), -1, np.int64)
    per_chunk = config.texture.nn_update == "per_chunk"
    while min(map(len, values)) <= iterations and (per_chunk or not bool(np.all(solve.stopped))):
        limit = jnp.asarray(iterations - before, jnp.int32)
        solve, chunk_values = advance(problem, fixed, solve, limit)
        done = before + np.asarray(solve.lbfgs.iter_num)
        chunk_values = np.asarray(chunk_values)
        for i, history in enumerate(values):
            history += [float(v) for v in chunk_values[i, : done[i] - len(history) + 1]]
        counts = evaluations_before + np.asarray(solver.evaluations(solve))
        if report is not None:
            image = _compose(knowns[0], holes[0], solve.x[0, 0])
            report(int(done.min()), iterations, values[0][-1], int(counts[0]), image)
        if per_chunk and bool(np.any(done < iterations)):
            # New matches on each iterate: a new loss, so a fresh L-BFGS from there (a photo
            # already done gets no iterations: its limit is 0).
            finished = np.where((finished < 0) & (done >= iterations), counts, finished)
            x = solve.x
            problem = (state, known, hole, guide, matches(np.asarray(x)[:, 0]), alpha, beta,
                       window_args)  # fmt: skip
            fixed, solve = begin(problem, x)
            before, evaluations_before = done, counts
    counts = evaluations_before + np.asarray(solver.evaluations(solve))
    counts = np.where(finished >= 0, finished, counts)
    return [
        LevelResult(
            _compose(k, h, solve.x[i, 0]), np.asarray(values[i], np.float32), layers, int(counts[i])
        )
        for i, (k, h) in enumerate(zip(knowns, holes))
    ]


def _matches(known, hole, z, vgg, layers, config: OptimizeConfig):
    """The nearest neighbours of Eq. 3 on `known` with hole pixels `z` (batches of one)."""
    return losses.nearest_neighbours_for(
        known * (1 - hole) + hole * z, hole, vgg=vgg, layers=layers,
        patch_size=config.texture.patch_size, chunk_size=config.texture.chunk_size,
    )  # fmt: skip


def _vgg_layers(layers, content_layer) -> tuple[str, ...]:
    """The layers VGG-19 computes at each evaluation: the texture layers, and E_c's layer
    (`OptimizeConfig.content_layer`) when E_c is in feature space."""
    if content_layer is None:
        return tuple(layers)
    return tuple(dict.fromkeys((*layers, content_layer)))


def _window_arguments(hole, layers):
    """((offset, valid cells), size) of the texture window (`window.texture_window`) as the
    solver takes them, or (None, None) where VGG-19 must see the whole image."""
    texture_window = window.texture_window(hole, layers) if layers else None
    if texture_window is None:
        return None, None
    offset = jnp.asarray([texture_window.top, texture_window.left], jnp.int32)
    valid = {layer: jnp.asarray(v) for layer, v in texture_window.valid.items()}
    return (offset, valid), texture_window.size


def _on_devices(array: np.ndarray) -> jax.Array:
    """`array` with its leading (photo) axis split over the local devices when it divides
    evenly (`jax.sharding`), else on the default device."""
    devices = jax.local_devices()
    if len(devices) < 2 or array.shape[0] % len(devices):
        return jnp.asarray(array)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("photos",))
    spec = jax.sharding.PartitionSpec("photos", *([None] * (array.ndim - 1)))
    return jax.device_put(array, jax.sharding.NamedSharding(mesh, spec))


@functools.cache
def _scale_solver(
    graphdef, layers, patch_size: int, options, chunk: int, window_size, content_layer=None
):
    """Jitted (begin, advance) of the L-BFGS solve of Eq. 1 over the hole pixels; compiled
    once per image shape (and texture window size, `window.texture_window`; None: VGG-19
    sees the whole image), solver options, chunk length and E_c's layer (None: pixels)."""
    begin, advance = _solver_functions(
        graphdef, layers, patch_size, options, chunk, window_size, content_layer
    )
    return jax.jit(begin), jax.jit(advance)


# The photo axis of a batch: each photo has its own known pixels, hole, reference, matches,
# start features and L-BFGS state; the network, weights and window are shared.
_PROBLEM_AXES = (None, 0, 0, 0, 0, None, None, None)


@functools.cache
def _batch_solver(
    graphdef, layers, patch_size: int, options, chunk: int, window_size, content_layer=None
):
    """`_scale_solver` mapped over a leading photo axis (`jax.vmap`): one L-BFGS per photo."""
    begin, advance = _solver_functions(
        graphdef, layers, patch_size, options, chunk, window_size, content_layer
    )
    return (
        jax.jit(jax.vmap(begin, in_axes=(_PROBLEM_AXES, 0))),
        jax.jit(jax.vmap(advance, in_axes=(_PROBLEM_AXES, 0, 0, 0))),
    )


def _solver_functions(
    graphdef, layers, patch_size: int, options, chunk: int, window_size, content_layer=None
):
    """(begin, advance) of one photo's solve, before `jax.jit`. With `content_layer` (E_c in
    feature space) `begin` also computes the reference's features there, once, and `fixed`
    is the pair (window features, reference features)."""
    vgg_layers = _vgg_layers(layers, content_layer)

    def loss_for(problem, fixed):
        vgg_state, known, mask, reference, nn, alpha, beta, window_args = problem
        content_features = None
        if content_layer is not None:
            fixed, content_features = fixed
        vgg = nnx.merge(graphdef, vgg_state)
        if window_size is not None:
            offset, valid = window_args
            vgg = window.windowed_vgg(vgg, fixed, offset[0], offset[1], window_size, valid)

        def loss(z):
            x = known * (1 - mask) + mask * z  # known pixels fixed to the input at this scale
            if not layers:  # no layer has a source patch at this scale: E_c + beta * TV
                if content_layer is None:
                    return losses.content_loss(x, reference, mask) + beta * losses.tv_loss(x)
                features = vgg(x, (content_layer,))[content_layer]
                content = losses.feature_content_loss(features, content_features)
                return content + beta * losses.tv_loss(x)
            return losses.joint_loss(
                x, reference, mask, vgg=vgg, alpha=alpha, beta=beta,
                layers=layers, patch_size=patch_size, nn=nn,
                content_layer=content_layer, content_features=content_features,
            )  # fmt: skip

        return loss

    def begin(problem, init):
        vgg_state, known, mask, reference = problem[:4]
        fixed = None
        if window_size is not None:  # features of the start, for the cells outside the window
            start = jax.lax.stop_gradient(known * (1 - mask) + mask * init)
            fixed = nnx.merge(graphdef, vgg_state)(start, vgg_layers)
        if content_layer is not None:  # E_c's target, once per solve (whole image, no window)
            target = losses.reference_features(
                reference, vgg=nnx.merge(graphdef, vgg_state), content_layer=content_layer
            )
            fixed = (fixed, target)
        return fixed, solver.start(loss_for(problem, fixed), init, options)

    def advance(problem, fixed, solve, limit):
        return solver.advance(loss_for(problem, fixed), solve, chunk, options, limit)

    return begin, advance


def _compose(known, hole, z) -> np.ndarray:
    """The level's image: known pixels from `known`, hole pixels from `z`, in [0, 1]."""
    return np.clip(known * (1 - hole) + hole * np.asarray(z), 0.0, 1.0)
