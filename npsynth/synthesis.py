"""Multi-scale neural patch synthesis (Yang et al. 2017, Sec. 3.3 and Algorithm 1).

Downsize to the first scale, take a content reference there, then at each scale minimise
the joint loss (Eq. 1) over the hole pixels with L-BFGS, the known pixels fixed to the input
at that scale, and upsample the result as the next scale's initial value and reference.
Photos larger than the last scale are worked on in a context window around the hole.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from npsynth import content_net, data, fill, losses, patches, solver
from npsynth.config import InpaintConfig
from npsynth.vgg import STRIDES, VGG19, load_vgg19

# The content networks shipped with npsynth (README, "Content network"), tried in this order
# by content="auto": the paper-mode one fills the centred square, the free-form one any hole.
SHIPPED_CONTENT_NET = Path(__file__).parent / "assets" / "content_net.npz"
SHIPPED_FREEFORM_NET = Path(__file__).parent / "assets" / "content_net_freeform.npz"
# Levels whose longest side falls below this are skipped: VGG-19 relu4_1 would have too
# few cells for any 3x3 patch.
MIN_LEVEL_SIZE = 32
# Working sizes are padded (by reflection, as known pixels) to a multiple of this, the
# downsampling factor of relu4_1, so every pixel is seen by every texture layer.
PAD_MULTIPLE = 8


@dataclasses.dataclass(frozen=True)
class ScaleResult:
    """One level of the pyramid."""

    size: tuple[int, int]  # (height, width) worked at, before padding
    image: np.ndarray  # [h, w, 3] result at this scale (of the worked region)
    losses: np.ndarray  # joint loss after each L-BFGS iteration; losses[0] at the start
    layers: tuple[str, ...]  # texture layers used (layers with no source patch are skipped)
    seconds: float  # wall time of this scale, compilation included


@dataclasses.dataclass(frozen=True)
class InpaintResult:
    """Output of `inpaint`."""

    image: np.ndarray  # [H, W, 3] the input with its hole filled; known pixels unchanged
    scales: list[ScaleResult]
    reference: np.ndarray  # [h0, w0, 3] the content reference at the first scale
    region: tuple[int, int, int, int]  # (top, bottom, left, right) of the worked window
    seconds: float


@functools.cache
def default_vgg() -> VGG19:
    """The pretrained VGG-19, loaded once per process."""
    return load_vgg19()


def inpaint(
    image,
    mask,
    *,
    config: InpaintConfig | None = None,
    vgg: VGG19 | None = None,
    progress: bool = False,
    **overrides,
) -> InpaintResult:
    """Fill the hole of `image` by multi-scale neural patch synthesis (or its fast variant).

    `method="optimize"` (default) minimises the joint loss (Eq. 1) with L-BFGS at every
    scale; `method="translate"` runs Image2Feature -> patch-swap -> Feature2Image at
    `translate_scales` (`npsynth.translate`, Song et al. 2018), orders of magnitude faster.

    Args:
      image: `[H, W, 3]` RGB, float in [0, 1] or uint8; any size.
      mask: `[H, W, 1]` or `[H, W]`, 1 (or non-zero) = hole.
      config: an `InpaintConfig`; keyword `overrides` replace its fields (for example
        `scales=(128, 256)`, `iterations=50`, `alpha=...`, `content="harmonic"`,
        `method="translate"`).
      vgg: the texture network; defaults to the pretrained VGG-19 (`npsynth.load_vgg19`).
      progress: show a progress bar over the scales.

    Returns:
      An `InpaintResult`; `.image` is the filled photo with the known pixels exactly as given.
    """
    start = time.perf_counter()
    config = dataclasses.replace(config or InpaintConfig(), **overrides)
    image, mask = _check_inputs(image, mask)
    vgg = vgg if vgg is not None else default_vgg()
    if config.method == "translate":
        from npsynth.translate import inpaint_translate

        return inpaint_translate(image, mask, config=config, vgg=vgg, progress=progress)

    region, region_image, region_mask = work_region(image, mask, config.scales[-1], config.context)
    sizes = _level_sizes(region_image.shape[:2], config.scales)
    iterations = _per_scale(config.iterations, len(config.scales))[-len(sizes) :]

    results, reference, previous = [], None, None
    bar = _progress(sizes, progress)
    for size, n_iter in zip(sizes, iterations):
        level_start = time.perf_counter()
        known, hole = (
            _known_at(region_image, region_mask, size),
            data.resize_mask(region_mask, size),
        )
        if previous is None:
            reference = content_reference(known, hole, config)
            guide = reference
        else:
            guide = data.resize_image(previous, size)
        result, history, layers = _solve_level(known, hole, guide, vgg, config, n_iter)
        previous = result
        results.append(
            ScaleResult(size, result, history, layers, time.perf_counter() - level_start)
        )
        bar.update(1)
        bar.set_postfix(size=f"{size[0]}x{size[1]}", loss=f"{history[-1]:.4g}")
    bar.close()

    output = paste_hole(image, mask, region, previous)
    return InpaintResult(output, results, reference, region, time.perf_counter() - start)


# ------------------------------------------------------------------------- input checks


def _check_inputs(image, mask) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(
            f"image must be [H, W, 3] RGB, got shape {image.shape}; for a batch call inpaint per image"
        )
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    image = np.asarray(image[..., :3], np.float32)
    if not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")
    if image.min() < 0.0 or image.max() > 1.0:
        raise ValueError(
            f"image values must lie in [0, 1] (got {image.min():.3g}..{image.max():.3g}); "
            "divide 8-bit images by 255"
        )
    mask = np.asarray(mask, np.float32)
    if mask.ndim == 2:
        mask = mask[..., None]
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = (mask != 0).astype(np.float32)
    data.check_mask(mask, image.shape)
    return image, mask


def _per_scale(value, count: int) -> list[int]:
    values = [int(value)] * count if np.ndim(value) == 0 else [int(v) for v in value]
    if len(values) != count:
        raise ValueError(f"iterations must be one number or one per scale ({count}), got {value}")
    return values


# -------------------------------------------------------------------------- the pyramid


def _context_window(hole: np.ndarray, last_scale: int, context: float) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the part of the photo to work on.

    The whole photo when it fits in the last scale; otherwise the hole's bounding box grown by
    `context` times its size on each side, and at least to the last scale where the photo
    allows, so the finest level works at full resolution whenever the hole is small enough.
    """
    height, width = hole.shape
    if max(height, width) <= last_scale:
        return 0, height, 0, width
    ys, xs = np.nonzero(hole)
    box = [(ys.min(), ys.max() + 1, height), (xs.min(), xs.max() + 1, width)]
    spans = []
    for low, high, limit in box:
        extent = high - low
        want = max(round(extent * (1 + 2 * context)), min(last_scale, limit))
        low = max(0, min((low + high - want) // 2, limit - want))
        spans += [low, min(limit, low + want)]
    return tuple(int(v) for v in spans)


def work_region(image: np.ndarray, mask: np.ndarray, last_scale: int, context: float):
    """(region, image crop, mask crop) of the context window (`_context_window`) to work on."""
    region = _context_window(mask[..., 0], last_scale, context)
    top, bottom, left, right = region
    return region, image[top:bottom, left:right], mask[top:bottom, left:right]


def paste_hole(image: np.ndarray, mask: np.ndarray, region, filled: np.ndarray) -> np.ndarray:
    """A copy of `image` whose hole pixels inside `region` come from `filled`, the worked
    region's result (resized to the region first if it was worked at a smaller size)."""
    top, bottom, left, right = region
    if filled.shape[:2] != (bottom - top, right - left):
        filled = data.resize_image(filled, (bottom - top, right - left))
    output = image.copy()
    hole_px = mask[top:bottom, left:right, 0] > 0
    output[top:bottom, left:right][hole_px] = filled[hole_px]
    return output


def _level_sizes(shape: tuple[int, int], scales: tuple[int, ...]) -> list[tuple[int, int]]:
    """(height, width) per scale: the region fit into the last scale, then scaled by s / s_last."""
    height, width = shape
    fit = min(1.0, scales[-1] / max(height, width))
    sizes = []
    for scale in scales:
        factor = fit * scale / scales[-1]
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        if max(size) >= MIN_LEVEL_SIZE or scale == scales[-1]:
            sizes.append(size)
    if max(sizes[-1]) < MIN_LEVEL_SIZE:
        raise ValueError(
            f"the image is {height}x{width}: too small for neural patch synthesis "
            f"(needs at least {MIN_LEVEL_SIZE} px on its longest side)"
        )
    return sizes


def _known_at(image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The known pixels downsized to `size` without any hole pixel leaking into them.

    A normalised (masked) resize: resize(image * known) / resize(known).
    """
    known = 1.0 - mask
    weight = data.resize_image(np.repeat(known, 3, axis=-1), size, clip=False)
    values = data.resize_image(image * known, size, clip=False)
    return np.clip(values / np.maximum(weight, 1e-6), 0.0, 1.0).astype(np.float32)


def content_checkpoints(config: InpaintConfig) -> list[Path]:
    """Content networks to try, in order: the config's or $NPSYNTH_CONTENT_NET alone, else
    the shipped ones (paper mode first, then free-form)."""
    for candidate in (config.content_checkpoint, os.environ.get("NPSYNTH_CONTENT_NET")):
        if candidate:
            return [Path(candidate)]
    return [path for path in (SHIPPED_CONTENT_NET, SHIPPED_FREEFORM_NET) if path.exists()]


def content_reference(known: np.ndarray, hole: np.ndarray, config: InpaintConfig) -> np.ndarray:
    """The first scale's reference: the content network's prediction or a fill from the border.

    The network works at its own size (128x128): the known pixels and the hole are resized to
    it, and its prediction is resized back and used inside the hole. With content="auto" the
    first network of `content_checkpoints` that fills the hole is used (a paper-mode network
    fills only the centred square); when none does, the harmonic fill.
    """
    if config.content in ("auto", "network"):
        checkpoints = content_checkpoints(config)
        if config.content == "network" and not checkpoints:
            raise ValueError(
                "content='network' needs a trained content network: pass content_checkpoint=PATH "
                "(from `python -m train.content --export`) or set $NPSYNTH_CONTENT_NET"
            )
        # Networks are loaded in order and only until one fits the hole.
        models = (_content_net(str(path)) for path in checkpoints)
        model = next((m for m in models if content_net.fills(m, _hole_at(hole, m))), None)
        if model is None and config.content == "network":
            model = _content_net(str(checkpoints[0]))  # `predict` says why it cannot fill it.
        if model is not None:
            side = model.image_size
            predicted = content_net.predict(
                model, data.resize_image(known, (side, side)), _hole_at(hole, model)
            )
            filled = data.resize_image(predicted, known.shape[:2])
            return np.where(hole > 0, filled, known).astype(np.float32)
    fill_fn = fill.mean_fill if config.content == "mean" else fill.harmonic_fill
    return np.asarray(fill_fn(known, hole), np.float32)


def _hole_at(hole: np.ndarray, model) -> np.ndarray:
    """The hole at a content network's input size, never shrunk (`data.resize_mask`)."""
    return data.resize_mask(hole, (model.image_size, model.image_size))


@functools.cache
def _content_net(path: str):
    return content_net.load_content_net(path)


def _progress(sizes, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=len(sizes), desc="scales", unit="scale", disable=not enabled, leave=False)


# ---------------------------------------------------------------------------- one scale


def _pad(array: np.ndarray, mode: str) -> np.ndarray:
    height, width = array.shape[:2]
    pad = [(0, -height % PAD_MULTIPLE), (0, -width % PAD_MULTIPLE), (0, 0)]
    return np.pad(array, pad, mode=mode)


def usable_layers(hole: np.ndarray, layers, patch_size: int) -> tuple[str, ...]:
    """The texture layers at which `hole` ([h, w, 1]) leaves at least one source patch."""
    keep = []
    for layer in layers:
        cells = patches.downsample_mask(jnp.asarray(hole[None]), STRIDES[layer])
        if min(cells.shape[1:3]) < patch_size:
            continue
        query = np.asarray(patches.query_windows(cells, patch_size=patch_size))
        if not query.all():
            keep.append(layer)
    return tuple(keep)


def _solve_level(
    known, hole, guide, vgg, config: InpaintConfig, iterations: int, *, use_window: bool = True
):
    """Minimise Eq. 1 at one scale; returns (result [h, w, 3], loss history, layers used).

    `use_window=False` runs VGG-19 on the whole image at every evaluation (same result, slower
    for small holes; for tests and benchmarks).
    """
    height, width = known.shape[:2]
    known_p, hole_p = _pad(known, "symmetric"), _pad(hole, "constant")
    guide_p = _pad(guide, "symmetric")
    layers = usable_layers(hole_p, config.layers, config.patch_size)
    if len(layers) < len(config.layers):
        skipped = sorted(set(config.layers) - set(layers))
        rest = f"uses {list(layers)} there" if layers else "is off there"
        warnings.warn(
            f"at {height}x{width} the hole leaves no source patch at {skipped}; the texture term {rest}"
        )
    graphdef, state = nnx.split(vgg)
    known_b, hole_b, guide_b = (jnp.asarray(a[None]) for a in (known_p, hole_p, guide_p))
    nn = None
    if config.nn_update == "per_scale" and layers:
        start = known_b * (1 - hole_b) + hole_b * guide_b
        nn = losses.nearest_neighbours_for(
            start,
            hole_b,
            vgg=vgg,
            layers=layers,
            patch_size=config.patch_size,
            chunk_size=config.chunk_size,
        )
    # VGG-19 sees only the window around the hole that the texture term depends on (exact).
    window = losses.texture_window(hole_p, layers) if layers and use_window else None
    window_args = None
    if window is not None:
        offset = jnp.asarray([window.top, window.left], jnp.int32)
        window_args = (offset, {layer: jnp.asarray(v) for layer, v in window.valid.items()})
    window_size = None if window is None else window.size
    solve = _scale_solver(graphdef, layers, config.patch_size, iterations, config.tol, window_size)
    alpha, beta = jnp.float32(config.alpha), jnp.float32(config.beta)
    # The guide (content reference, then the upsampled previous scale) is both E_c's
    # reference and the initial value.
    result, info = solve(state, known_b, hole_b, guide_b, guide_b, nn, alpha, beta, window_args)
    history = np.asarray(info.values)[: int(info.iterations) + 1]
    return np.asarray(result[0, :height, :width]), history, layers


@functools.cache
def _scale_solver(graphdef, layers, patch_size: int, iterations: int, tol: float, window_size):
    """A jitted L-BFGS solve of Eq. 1 over the hole pixels; compiled once per image shape
    (and texture window size, `losses.texture_window`; None: VGG-19 sees the whole image)."""

    def solve(vgg_state, known, mask, reference, init, nn, alpha, beta, window):
        vgg = nnx.merge(graphdef, vgg_state)

        def compose(z):  # known pixels fixed to the input at this scale
            return known * (1 - mask) + mask * z

        if window_size is not None:
            offset, valid = window
            fixed = vgg(jax.lax.stop_gradient(compose(init)), layers)
            vgg = losses.windowed_vgg(vgg, fixed, offset[0], offset[1], window_size, valid)

        def loss(z):
            x = compose(z)
            if not layers:  # no layer has a source patch at this scale: E_c + beta * TV
                return losses.content_loss(x, reference, mask) + beta * losses.tv_loss(x)
            return losses.joint_loss(
                x, reference, mask, vgg=vgg, alpha=alpha, beta=beta,
                layers=layers, patch_size=patch_size, nn=nn,
            )  # fmt: skip

        z, info = solver.minimize(loss, init, max_iter=iterations, tol=tol)
        return jnp.clip(compose(z), 0.0, 1.0), info

    return jax.jit(solve)
