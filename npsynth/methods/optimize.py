"""One level of multi-scale neural patch synthesis (Yang et al. 2017, Sec. 3.3): minimise the
joint loss (Eq. 1) over the hole pixels with L-BFGS, the known pixels fixed to the input at
this scale, starting from the level's guide (also E_c's reference)."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from npsynth import losses, reference, solver, texture, window
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
        return self.batch([level])[0]

    def batch(self, levels: list[Level]) -> list[LevelResult]:
        """The same level of one or several same-size photos at once (`solve`)."""
        first = levels[0]
        return solve(
            [lv.known for lv in levels], [lv.hole for lv in levels], [lv.guide for lv in levels],
            self.vgg, level_config(self.config, first), self._iterations(first),
            use_window=self.use_window, size=first.size, report=first.report,
            contents=[self._content(level) for level in levels],
        )  # fmt: skip

    def _iterations(self, level: Level) -> int:
        return at_level(self.config.per_scale_iterations(), level)

    def _content(self, level: Level) -> np.ndarray | None:
        """E_c's reference at `level` where it is not the guide: after the first level, a
        PatchMatch fill of this scale's known pixels where the photo's first reference is
        PatchMatch's (`OptimizeConfig.reference_every_scale`), as `reference.content_source`
        says of its first hole."""
        if level.index == 0:
            return None
        source = reference.content_source(level.first_hole, self.config)
        if not self.config.reference_every_scale(source):
            return None
        return reference.patchmatch_fill(
            level.known, level.hole, base_sigma=self.config.reference.patchmatch_base_sigma
        )


def level_config(config: OptimizeConfig, level: Level) -> OptimizeConfig:
    """`config` as one level solves it: at the schedule's last scale beta is `beta_last`
    (where set)."""
    if level.is_last_scale and config.beta_last is not None:
        return dataclasses.replace(config, beta=config.beta_last)
    return config


def at_level(per_scale, level: Level):
    """A per-scale setting's value at `level`: that of its scale in the schedule
    (`Level.scale`; a smaller photo works at the last scales only, in the same ratios)."""
    return per_scale[level.scale]


class Problem(NamedTuple):
    """What the loss of one level's solve closes over, besides the compiled-in settings (a
    pytree: it crosses `jax.jit` and `jax.vmap`). Each array holds one photo as a batch of
    one (`[1, h, w, C]`), or, in a batched solve, one such batch per photo along a leading
    axis (`PHOTO_AXES`)."""

    vgg_state: Any  # VGG-19's weights (`nnx.split`)
    known: jax.Array  # [1, h, w, 3] the known pixels at this scale
    hole: jax.Array  # [1, h, w, 1], 1 = hole
    content: jax.Array  # [1, h, w, 3] E_c's reference (Eq. 2)
    nn: dict | None  # layer -> int [1, h', w'] matches of Eq. 3 fixed for the solve; None:
    # searched at every evaluation (nn_update="every_eval")
    alpha: jax.Array  # weight of E_t (Eq. 3) at this scale
    beta: jax.Array  # weight of TV
    window: tuple | None  # (offset, valid cells) of the texture window, or None: whole image


# The photo axis of a batched solve, by field: each photo has its own known pixels, hole,
# reference and matches; the network, the weights and the window are shared.
PHOTO_AXES = Problem(
    vgg_state=None, known=0, hole=0, content=0, nn=0, alpha=None, beta=None, window=None
)


def solve_level(known, hole, guide, vgg, config: OptimizeConfig, iterations: int,
                **options) -> LevelResult:  # fmt: skip
    """`solve` for one photo: known, guide [h, w, 3]; hole [h, w, 1]; `content` (E_c's
    reference, if not the guide) among the keyword `options`."""
    content = options.pop("content", None)
    return solve([known], [hole], [guide], vgg, config, iterations, contents=[content],
                 **options)[0]  # fmt: skip


def solve(
    knowns, holes, guides, vgg, config: OptimizeConfig, iterations: int, *, use_window=True,
    size=None, report=None, contents=None,
) -> list[LevelResult]:  # fmt: skip
    """Minimise Eq. 1 at one (padded) scale for one or several photos of one size, each
    with its own L-BFGS, in chunks of `config.solver.chunk_iterations` iterations.

    One photo is solved as the loss's batch of one; several side by side (`jax.vmap`), the
    batch sharded over the local devices when it divides evenly among them, VGG-19 seeing
    the window of the holes' union (which gives every photo its exact features). Photos
    whose holes leave different texture layers usable, nn_update="every_eval" and photos
    with their own E_c reference are solved one by one.

    Args:
      knowns, guides: [h, w, 3] per photo; holes: [h, w, 1] per photo, 1 = hole (h, w
        multiples of 8).
      use_window: False runs VGG-19 on the whole image (same result, slower).
      size: the level's (height, width) before padding, for messages.
      report: called after each chunk (by default every iteration) as report(iteration,
        iterations, loss, evaluations, image): the least advanced photo's iteration, the
        first photo's loss, evaluations and image; an exception it raises stops the solve
        there (a cancel takes effect at the next iteration).
      contents: per photo, E_c's reference [h, w, 3] if not the guide (the guide stays the
        start), or None.

    Returns:
      a `LevelResult` per photo: the result, the loss after each iteration (losses[0] at the
      start), the layers used and the loss evaluations.
    """
    count = len(knowns)
    contents = list(contents) if contents is not None else [None] * count
    texture_options = config.texture
    layers = [
        losses.usable_layers(h, texture_options.layers, texture_options.patch_size) for h in holes
    ]
    if count > 1 and (
        len(set(layers)) > 1 or not layers[0] or texture_options.nn_update == "every_eval"
        or any(c is not None for c in contents)
    ):  # fmt: skip
        return [
            solve([k], [h], [g], vgg, config, iterations, use_window=use_window, size=size,
                  report=report, contents=[c])[0]
            for k, h, g, c in zip(knowns, holes, guides, contents)
        ]  # fmt: skip
    layers = layers[0]
    if len(layers) < len(texture_options.layers):
        height, width = size or knowns[0].shape[:2]
        skipped = sorted(set(texture_options.layers) - set(layers))
        rest = f"uses {list(layers)} there" if layers else "is off there"
        warnings.warn(
            f"at {height}x{width} the hole leaves no source patch at {skipped}; the texture term {rest}"
        )
    photos = _Photos(count)
    graphdef, weights = nnx.split(vgg)
    known, hole, guide = (
        photos.put([a[None] for a in arrays]) for arrays in (knowns, holes, guides)
    )
    # The guide (content reference, then the upsampled previous scale) is the initial value
    # and, unless `contents` gives another, E_c's reference.
    content = guide
    if contents[0] is not None:
        content = photos.put([np.asarray(c[None], np.float32) for c in contents])
    fixed_nn = texture_options.nn_update != "every_eval" and bool(layers)

    def matches(images):  # each photo's nearest neighbours (Eq. 3) on its image [1, h, w, 3]
        found = [
            _matches(k[None], h[None], z, vgg, layers, config)
            for k, h, z in zip(knowns, holes, images)
        ]
        return {layer: photos.put([np.asarray(n[layer]) for n in found]) for layer in layers}

    # VGG-19 sees only the window around the hole(s) that the texture term depends on (exact).
    union = np.max(np.stack(holes), axis=0)
    vgg_layers = texture.feature_layers(layers, config.content_layer)
    window_args, window_size = _window_arguments(union, vgg_layers) if use_window else (None, None)
    options = config.solver
    chunk = min(options.chunk_iterations, iterations)
    begin, advance = _programs(
        graphdef, layers, texture_options.patch_size, options, chunk, window_size,
        config.content_layer,
        photos.batched,
        source_stride=texture_options.source_stride,
        synthesis_stride=texture_options.synthesis_stride,
        patch_average=texture_options.patch_average,
    )  # fmt: skip
    problem = Problem(
        vgg_state=weights, known=known, hole=hole, content=content,
        nn=matches(photos.split(guide)) if fixed_nn else None,
        alpha=jnp.float32(config.alpha), beta=jnp.float32(config.beta),
        window=window_args,
    )  # fmt: skip
    fixed, state = begin(problem, guide)
    values = [[float(v)] for v in photos.numbers(state.lbfgs.value)]
    while min(map(len, values)) <= iterations and not np.all(photos.numbers(state.stopped)):
        state, chunk_values = advance(problem, fixed, state, photos.each(iterations))
        done = photos.numbers(state.lbfgs.iter_num)
        chunk_values = np.asarray(chunk_values).reshape(count, -1)
        for i, history in enumerate(values):
            history += [float(v) for v in chunk_values[i, : done[i] - len(history) + 1]]
        counts = photos.numbers(solver.evaluations(state))
        if report is not None:
            image = _compose(knowns[0], holes[0], photos.split(state.x)[0][0])
            report(int(done.min()), iterations, values[0][-1], int(counts[0]), image)
    counts = photos.numbers(solver.evaluations(state))
    results = photos.split(state.x)
    return [
        LevelResult(_compose(k, h, z[0]), np.asarray(values[i], np.float32), layers, int(counts[i]))
        for i, (k, h, z) in enumerate(zip(knowns, holes, results))
    ]


@dataclasses.dataclass(frozen=True)
class _Photos:
    """How a solve of `count` photos lays them out: one photo as the loss's batch of one
    (`[1, ...]`), several along a leading photo axis (`[count, 1, ...]`, `PHOTO_AXES`),
    split over the local devices where the count divides evenly among them."""

    count: int

    @property
    def batched(self) -> bool:
        return self.count > 1

    def put(self, arrays) -> jax.Array:
        """Per-photo arrays (`[1, ...]` each) as the solve takes them."""
        return _on_devices(np.stack(arrays)) if self.batched else jnp.asarray(arrays[0])

    def split(self, array) -> list[np.ndarray]:
        """The solve's array as per-photo arrays (`[1, ...]` each)."""
        array = np.asarray(array)
        return list(array) if self.batched else [array]

    def numbers(self, value) -> np.ndarray:
        """One number per photo (`[count]`) from the solve's scalar or `[count]` array."""
        return np.asarray(value).reshape(self.count)

    def each(self, numbers) -> jax.Array:
        """Per-photo int limits (one number, or one per photo) as the solve takes them: a
        scalar, or `[count]`."""
        numbers = np.broadcast_to(np.asarray(numbers, np.int32), (self.count,))
        return jnp.asarray(numbers if self.batched else numbers[0])


def _matches(known, hole, z, vgg, layers, config: OptimizeConfig):
    """The nearest neighbours of Eq. 3 on `known` with hole pixels `z` (batches of one)."""
    return texture.matches(
        jnp.asarray(known * (1 - hole) + hole * z), jnp.asarray(hole), vgg=vgg, layers=layers,
        patch_size=config.texture.patch_size, chunk_size=config.texture.chunk_size,
        stride=config.texture.source_stride,
    )  # fmt: skip


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


def _programs(
    graphdef, layers, patch_size: int, options, chunk: int, window_size, content_layer,
    batched: bool, *, source_stride: int = 1, synthesis_stride: int = 1,
    patch_average: str = "windows",
):  # fmt: skip
    """Jitted (begin, advance) of the L-BFGS solve of Eq. 1 over the hole pixels, mapped over
    a leading photo axis when `batched` (`jax.vmap`, `PHOTO_AXES`: one L-BFGS per photo);
    compiled once per image shape (and texture window size, `window.texture_window`; None:
    VGG-19 sees the whole image), solver options, chunk length, E_c's layer (None: pixels)
    and the texture term's grids and average (`losses.texture_loss`)."""
    return _cached_programs(
        graphdef, layers, patch_size, options, chunk, window_size, content_layer, batched,
        source_stride, synthesis_stride, patch_average,
    )  # fmt: skip


@functools.cache  # one key per setting, however the caller passed it
def _cached_programs(
    graphdef, layers, patch_size, options, chunk, window_size, content_layer, batched,
    source_stride, synthesis_stride, patch_average,
):  # fmt: skip
    begin, advance = _solver_functions(
        graphdef, layers, patch_size, options, chunk, window_size, content_layer,
        source_stride=source_stride, synthesis_stride=synthesis_stride,
        patch_average=patch_average,
    )  # fmt: skip
    if batched:
        begin = jax.vmap(begin, in_axes=(PHOTO_AXES, 0))
        advance = jax.vmap(advance, in_axes=(PHOTO_AXES, 0, 0, 0))
    return jax.jit(begin), jax.jit(advance)


def _solver_functions(
    graphdef, layers, patch_size: int, options, chunk: int, window_size, content_layer=None,
    *, source_stride: int = 1, synthesis_stride: int = 1, patch_average: str = "windows",
):  # fmt: skip
    """(begin, advance) of one photo's solve, before `jax.jit`. With `content_layer` (E_c in
    feature space) `begin` also computes the reference's features there, once, and `fixed`
    is the pair (window features, reference features)."""
    vgg_layers = texture.feature_layers(layers, content_layer)

    def loss_for(problem: Problem, fixed):
        content_features = None
        if content_layer is not None:
            fixed, content_features = fixed
        vgg = nnx.merge(graphdef, problem.vgg_state)
        if window_size is not None:
            offset, valid = problem.window
            vgg = window.windowed_vgg(vgg, fixed, offset[0], offset[1], window_size, valid)
        known, mask, beta = problem.known, problem.hole, problem.beta

        def loss(z):
            x = known * (1 - mask) + mask * z  # known pixels fixed to the input at this scale
            if not layers:  # no layer has a source patch at this scale: E_c + beta * TV
                if content_layer is None:
                    return losses.content_loss(x, problem.content, mask) + beta * losses.tv_loss(x)
                features = vgg(x, (content_layer,))[content_layer]
                content = losses.feature_content_loss(features, content_features)
                return content + beta * losses.tv_loss(x)
            return losses.joint_loss(
                x, problem.content, mask, features=vgg(x, vgg_layers), alpha=problem.alpha,
                beta=beta, layers=layers, patch_size=patch_size, nn=problem.nn,
                content_layer=content_layer, content_features=content_features,
                stride=source_stride, synthesis_stride=synthesis_stride,
                patch_average=patch_average,
            )  # fmt: skip

        return loss

    def begin(problem: Problem, init):
        fixed = None
        if window_size is not None:  # features of the start, for the cells outside the window
            start = jax.lax.stop_gradient(problem.known * (1 - problem.hole) + problem.hole * init)
            fixed = nnx.merge(graphdef, problem.vgg_state)(start, vgg_layers)
        if content_layer is not None:  # E_c's target, once per solve (whole image, no window)
            target = texture.reference_features(
                problem.content, vgg=nnx.merge(graphdef, problem.vgg_state),
                content_layer=content_layer,
            )  # fmt: skip
            fixed = (fixed, target)
        return fixed, solver.start(loss_for(problem, fixed), init, options)

    def advance(problem: Problem, fixed, state, limit):
        return solver.advance(loss_for(problem, fixed), state, chunk, options, limit)

    return begin, advance


def _compose(known, hole, z) -> np.ndarray:
    """The level's image: known pixels from `known`, hole pixels from `z`, in [0, 1]."""
    return np.clip(known * (1 - hole) + hole * np.asarray(z), 0.0, 1.0)
