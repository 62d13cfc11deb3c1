"""The joint loss of multi-scale neural patch synthesis (Yang et al. 2017, Eqs. 1-3).

`L(x) = E_c + alpha * E_t + beta * TV` for an image `x` whose hole (mask 1) is being filled:
- `E_c` (Eq. 2): squared distance to the content reference inside the hole; or, with
  `content_layer` set, the mean squared distance of the VGG-19 features of `x` to those of
  the reference at that layer, over the whole image (the authors' released code: relu4_2).
- `E_t` (Eq. 3): for each VGG-19 layer, the mean squared distance of every query patch (a
  window of the feature map touching the hole) to its most similar source patch (a window
  outside the hole), matched by normalised cross-correlation with no gradient through the match.
  The authors' released code (CNNMRF) counts only the windows on a stride-2 grid and averages
  each cell over the grid windows covering it (`synthesis_stride`, `patch_average="cells"`;
  docs/presets.md).
- `TV`: the squared total variation of the whole image.
Each term is summed per image and averaged over the batch; `E_t` is first divided, per image
and layer, by that image's number of query patches (0 when it has none).

Pure maths: the functions take arrays (images, masks and the VGG-19 feature maps the caller
computed), never a network, and do no I/O; `npsynth.texture` runs VGG-19 and calls them.
Arrays are NHWC float32: images `[N, H, W, 3]` RGB in [0, 1], mask `[N, H, W, 1]` (1 = hole),
features `{layer: [N, H // f, W // f, C]}` (`npsynth.conventions`). Nothing here is jitted;
jit at the call site.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from npsynth import patches
from npsynth.config.checks import check_content_layer
from npsynth.config.optimize import PATCH_AVERAGES
from npsynth.conventions import STRIDES, check_images, check_mask, feature_holes

DEFAULT_LAYERS = ("relu3_1", "relu4_1")


def _check_pair(x, reference) -> None:
    if tuple(reference.shape) != tuple(x.shape):
        raise ValueError(
            f"reference must have the shape of x, {tuple(x.shape)}; got {tuple(reference.shape)}"
        )


def content_loss(x: jax.Array, reference: jax.Array, mask: jax.Array) -> jax.Array:
    """Content term E_c (Yang et al. 2017, Eq. 2): squared error to `reference` in the hole.

    Args:
      x: `[N, H, W, 3]` image being optimised.
      reference: `[N, H, W, 3]` content reference (e.g. the content network's output).
      mask: `[N, H, W, 1]`, 1 = hole.

    Returns:
      Scalar: per image `sum over hole pixels and channels of (x - reference)^2`, averaged
      over the batch.
    """
    _check_pair(x, reference)
    check_mask(mask, x.shape, batched=True, need_hole=False)
    mask = jnp.asarray(mask, x.dtype)
    per_image = jnp.sum(mask * (x - reference) ** 2, axis=(1, 2, 3))
    return jnp.mean(per_image)


def feature_content_loss(features: jax.Array, reference_features: jax.Array) -> jax.Array:
    """Content term E_c in feature space: Eq. 2 of Yang et al. 2017 with the pixels replaced
    by the features of one VGG-19 layer, as in the authors' released code.

    The released code (Faster-High-Res-Neural-Inpainting, `mylib/content.lua`, built on
    CNNMRF) puts a `ContentLoss` after relu4_2: Torch's `nn.MSECriterion` (the mean over every
    element of the feature map, whole image, no mask) between the features of x and those of
    the content image at the same scale, times its weight (2e1 there). The mean over the
    whole map is kept here (not a mean over the hole's cells): with the known pixels fixed,
    the cells that do not see the hole match the reference's and add nothing, so only the
    normalisation differs, and it stays that of the released code.

    Args:
      features: `[N, h, w, C]` features of the image being optimised at the content layer.
      reference_features: `[N, h, w, C]` features of the content reference at that layer
        (a constant: no gradient flows into it).

    Returns:
      Scalar: per image the mean over its `h * w * C` elements of
      `(features - reference_features)^2`, averaged over the batch.
    """
    if features.ndim != 4 or tuple(reference_features.shape) != tuple(features.shape):
        raise ValueError(
            "features and reference_features must be [N, h, w, C] of one shape; got "
            f"{tuple(features.shape)} and {tuple(reference_features.shape)}"
        )
    difference = features - lax.stop_gradient(reference_features)
    return jnp.mean(jnp.mean(difference**2, axis=(1, 2, 3)))


def tv_loss(x: jax.Array) -> jax.Array:
    """Squared total variation (the smoothness term of Yang et al. 2017, Eq. 1).

    Args:
      x: `[N, H, W, C]`.

    Returns:
      Scalar: per image `sum of (x[:, i, j+1] - x[:, i, j])^2 + (x[:, i+1, j] - x[:, i, j])^2`
      over every neighbouring pair inside the image, averaged over the batch.
    """
    if x.ndim != 4:
        raise ValueError(f"x must have shape [N, H, W, C]; got {tuple(x.shape)}")
    dx = x[:, :, 1:, :] - x[:, :, :-1, :]
    dy = x[:, 1:, :, :] - x[:, :-1, :, :]
    return jnp.mean(jnp.sum(dx**2, axis=(1, 2, 3)) + jnp.sum(dy**2, axis=(1, 2, 3)))


def check_patch_average(patch_average) -> str:
    """`patch_average` if it is one of PATCH_AVERAGES, else a ValueError."""
    if patch_average not in PATCH_AVERAGES:
        raise ValueError(
            f"patch_average must be one of {', '.join(PATCH_AVERAGES)}, got {patch_average!r}"
        )
    return patch_average


def synthesis_grid(window_positions: tuple[int, int], stride: int) -> np.ndarray:
    """Which window positions (top-left corners, `[h-s+1, w-s+1]`) lie on the grid of
    `stride`: rows and columns 0, stride, 2 * stride, ..., and the last one, as CNNMRF's
    `computegrid` samples the synthesised image (so the last cells are covered too)."""
    if int(stride) != stride or stride < 1:
        raise ValueError(f"synthesis_stride must be a positive integer, got {stride!r}")
    on_grid = []
    for size in window_positions:
        line = np.zeros(size, bool)
        line[::stride] = True
        line[-1] = True
        on_grid.append(line)
    return on_grid[0][:, None] & on_grid[1][None, :]


def grid_coverage(map_shape: tuple[int, int], patch_size: int, stride: int) -> np.ndarray:
    """How many windows of `synthesis_grid` cover each cell of an `[h, w]` map: int `[h, w]`
    (the normaliser of CNNMRF's texture gradient, `patch_average="cells"`)."""
    h, w = map_shape
    grid = synthesis_grid((h - patch_size + 1, w - patch_size + 1), stride).astype(np.int64)
    coverage = np.zeros((h, w), np.int64)
    for dy in range(patch_size):
        for dx in range(patch_size):
            coverage[dy : dy + grid.shape[0], dx : dx + grid.shape[1]] += grid
    return coverage


def texture_loss(
    features: jax.Array,
    hole: jax.Array,
    *,
    patch_size: int = 3,
    nn: jax.Array | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    synthesis_stride: int = 1,
    patch_average: str = "windows",
) -> jax.Array:
    """Texture term of one layer, E_t^phi (Yang et al. 2017, Eq. 3).

    `E_t^phi = (1 / |R|) * sum over query windows i of |P_i - stop_gradient(P_nn(i))|^2`, where
    the query windows R touch the hole and `nn(i)` is the source window (no hole cell) with
    the highest normalised cross-correlation (`npsynth.patches.nearest_neighbours`).

    Args:
      features: `[N, h, w, C]` feature map of the image (e.g. VGG-19 relu3_1).
      hole: `[N, h, w, 1]` hole at feature resolution (`npsynth.conventions.downsample_mask`).
      patch_size: window side s.
      nn: optional int `[N, h-s+1, w-s+1]` matches to use instead of searching the current
        features (e.g. kept fixed for a whole scale).
      chunk_size, stride: passed to `nearest_neighbours` when `nn` is None (`stride`: the
        grid of the source windows).
      synthesis_stride: only the query windows on this grid count (`synthesis_grid`); 1 (the
        paper) takes every one. CNNMRF, the authors' released code, uses 2.
      patch_average: "windows" (the paper): the mean over the query windows of their squared
        distances; "cells" (CNNMRF's `mrf.lua`): each cell's squared distance to each matched
        window covering it is divided by the number of grid windows covering that cell
        (`grid_coverage`), and the results are summed, with no division by |R|.

    Returns:
      Scalar: per image the mean over its query windows (0 when it has none), or with
      "cells" the cell-weighted sum, averaged over the batch. Gradients flow into the query
      windows only.
    """
    check_patch_average(patch_average)
    patches.check_hole(hole, features, patch_size)
    patches.check_finite(features)
    n = features.shape[0]
    hw, ww = patches.window_shape(features.shape, patch_size)
    if nn is None:
        nn = patches.nearest_neighbours(
            features, hole, patch_size=patch_size, chunk_size=chunk_size, stride=stride
        )
    elif tuple(nn.shape) != (n, hw, ww) or not jnp.issubdtype(nn.dtype, jnp.integer):
        raise ValueError(
            f"nn must be integer window indices of shape [N, h-s+1, w-s+1] = {(n, hw, ww)} for "
            f"features {tuple(features.shape)} and patch_size {patch_size}; got {nn.dtype} "
            f"{tuple(nn.shape)}. Compute it with npsynth.patches.nearest_neighbours."
        )
    nn = lax.stop_gradient(jnp.asarray(nn, jnp.int32))
    query = patches.query_windows(jnp.asarray(hole), patch_size=patch_size)
    target = lax.stop_gradient(features)
    ny, nx = nn // ww, nn % ww

    cell_weights = None
    if patch_average == "cells":  # 1 / (grid windows covering the cell); static
        coverage = grid_coverage(features.shape[1:3], patch_size, synthesis_stride)
        cell_weights = jnp.asarray(1.0 / np.maximum(coverage, 1), features.dtype)[None]

    # |P_i - P_nn(i)|^2 as a sum over the s*s cells of the window, without building patches.
    sq_dist = jnp.zeros((n, hw, ww), features.dtype)
    for dy in range(patch_size):
        for dx in range(patch_size):
            current = features[:, dy : dy + hw, dx : dx + ww, :]
            matched = patches.gather_cells(target, ny + dy, nx + dx)
            cell = jnp.sum((current - matched) ** 2, axis=-1)
            if cell_weights is not None:
                cell = cell * cell_weights[:, dy : dy + hw, dx : dx + ww]
            sq_dist = sq_dist + cell

    if synthesis_stride != 1:
        query = query & jnp.asarray(synthesis_grid((hw, ww), synthesis_stride))[None]
    weights = query.astype(features.dtype)
    if patch_average == "cells":
        return jnp.mean(jnp.sum(weights * sq_dist, axis=(1, 2)))
    count = jnp.sum(weights, axis=(1, 2))
    # |R| = 0 -> E_t = 0; the maximum keeps value and gradient finite (no 0 / 0).
    per_image = jnp.sum(weights * sq_dist, axis=(1, 2)) / jnp.maximum(count, 1.0)
    return jnp.mean(jnp.where(count > 0, per_image, 0.0))


def check_layers(layers) -> tuple[str, ...]:
    """`layers` as a non-empty tuple of layer names (one name alone is accepted)."""
    if isinstance(layers, str):
        layers = (layers,)
    layers = tuple(layers)
    if not layers:
        raise ValueError("layers must name at least one VGG-19 layer, e.g. ('relu3_1', 'relu4_1')")
    return layers


def _check_sources(holes: Mapping[str, jax.Array], layers, patch_size: int, image_shape) -> None:
    """With a concrete mask, every image with a hole must keep a source window at every layer."""
    for layer in layers:
        hole = holes[layer]
        if not isinstance(hole, np.ndarray):  # traced: its values are not known yet
            continue
        if hole.shape[1] < patch_size or hole.shape[2] < patch_size:
            raise ValueError(
                f"{layer} of a {image_shape[1]}x{image_shape[2]} image is a "
                f"{hole.shape[1]}x{hole.shape[2]} map, too small for {patch_size}x{patch_size} "
                "patches; use a larger image or drop the layer."
            )
        lacking = np.flatnonzero(~patches.has_source_patch(hole, patch_size)).tolist()
        if lacking:
            raise ValueError(
                f"the mask of image(s) {lacking} leaves no source patch at {layer} (every "
                f"{patch_size}x{patch_size} window of its {hole.shape[1]}x{hole.shape[2]} map, "
                f"{STRIDES[layer]}x smaller than the image, touches the hole), so there is no "
                "texture to copy. Use a smaller hole, a larger image, or drop this layer from "
                "`layers`."
            )


def _check_nn(nn, layers) -> None:
    if nn is None:
        return
    if not isinstance(nn, Mapping):
        raise TypeError(
            "nn must be a dict layer name -> int indices [N, h-s+1, w-s+1] "
            "(see nearest_neighbours_for), or None to search at every evaluation"
        )
    missing = [layer for layer in layers if layer not in nn]
    if missing:
        raise ValueError(f"nn lacks layers {missing}; compute it with nearest_neighbours_for")


def _check_features(features, layers, content_layer) -> None:
    if not isinstance(features, Mapping):
        raise TypeError(
            "features must be a dict layer name -> [N, h, w, C] map of x, e.g. vgg(x, layers) "
            "(npsynth.texture runs VGG-19 for you)"
        )
    missing = [layer for layer in (*layers, content_layer) if layer and layer not in features]
    if missing:
        raise ValueError(
            f"features lack layers {missing}: pass the maps of every texture layer (and of "
            "content_layer), e.g. vgg(x, npsynth.texture.feature_layers(layers, content_layer))"
        )


def _terms(
    x, reference, mask, holes, *, features, alpha, beta, layers, patch_size, nn, chunk_size,
    stride, content_layer=None, content_features=None, synthesis_stride=1,
    patch_average="windows",
):  # fmt: skip
    texture = jnp.zeros((), x.dtype)
    for layer in layers:
        texture = texture + texture_loss(
            features[layer],
            holes[layer],
            patch_size=patch_size,
            nn=None if nn is None else nn[layer],
            chunk_size=chunk_size,
            stride=stride,
            synthesis_stride=synthesis_stride,
            patch_average=patch_average,
        )
    if content_layer is None:
        content = content_loss(x, reference, mask)
    else:
        content = feature_content_loss(features[content_layer], content_features)
    tv = tv_loss(x)
    total = content + alpha * texture + beta * tv
    return {"content": content, "texture": texture, "tv": tv, "total": total}


def check_inputs(x, reference, mask, layers, patch_size) -> dict:
    """Check the inputs of the joint loss (x may be None) and return the hole of every layer
    (`conventions.feature_holes`): a ValueError when a concrete mask leaves some image no
    source patch at one of `layers`."""
    check_images(reference, "reference")
    if x is not None:
        check_images(x, "x")
        _check_pair(x, reference)
    check_mask(mask, reference.shape, batched=True, need_hole=False)
    if int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    holes = feature_holes(mask, layers)
    _check_sources(holes, layers, patch_size, reference.shape)
    return holes


def joint_loss_terms(
    x: jax.Array,
    reference: jax.Array,
    mask: jax.Array,
    *,
    features: Mapping[str, jax.Array],
    alpha: float,
    beta: float,
    layers: Sequence[str] = DEFAULT_LAYERS,
    patch_size: int = 3,
    nn: Mapping[str, jax.Array] | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    content_layer: str | None = None,
    content_features: jax.Array | None = None,
    synthesis_stride: int = 1,
    patch_average: str = "windows",
) -> dict[str, jax.Array]:
    """Every term of the joint loss (Yang et al. 2017, Eq. 1), for logging.

    Args: as `joint_loss`.

    Returns:
      dict of scalars: `content` (E_c, Eq. 2, on the pixels or at `content_layer`),
      `texture` (E_t summed over `layers`, Eq. 3, unweighted), `tv` (TV, unweighted) and
      `total` (`content + alpha*texture + beta*tv`).
    """
    layers = check_layers(layers)
    if check_content_layer(content_layer) is not None and content_features is None:
        raise ValueError(
            f"content_layer={content_layer!r} needs content_features, the reference's "
            "features there (npsynth.texture.reference_features)"
        )
    _check_features(features, layers, content_layer)
    _check_nn(nn, layers)
    holes = check_inputs(x, reference, mask, layers, patch_size)
    return _terms(
        x,
        reference,
        mask,
        holes,
        features=features,
        alpha=alpha,
        beta=beta,
        layers=layers,
        patch_size=patch_size,
        nn=nn,
        chunk_size=chunk_size,
        stride=stride,
        content_layer=content_layer,
        content_features=content_features,
        synthesis_stride=synthesis_stride,
        patch_average=patch_average,
    )


def joint_loss(
    x: jax.Array,
    reference: jax.Array,
    mask: jax.Array,
    *,
    features: Mapping[str, jax.Array],
    alpha: float,
    beta: float,
    layers: Sequence[str] = DEFAULT_LAYERS,
    patch_size: int = 3,
    nn: Mapping[str, jax.Array] | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    content_layer: str | None = None,
    content_features: jax.Array | None = None,
    synthesis_stride: int = 1,
    patch_average: str = "windows",
) -> jax.Array:
    """Joint loss `L = E_c + alpha * E_t + beta * TV` (Yang et al. 2017, Eq. 1).

    Differentiable in `x` (through `features`, when the caller computes them from `x`
    inside the differentiated function) and jit-able. With a concrete `mask` (an argument
    of an eager call, or closed over by the jitted function) the patch search only scores
    the windows near the hole; a traced mask gives the same value by a slower search.

    Args:
      x: `[N, H, W, 3]` float32 image being optimised, RGB in [0, 1].
      reference: `[N, H, W, 3]` content reference (Eq. 2), e.g. the content network's output.
      mask: `[N, H, W, 1]`, 1 = hole, 0 = known.
      features: dict layer -> `[N, H // f, W // f, C]` VGG-19 maps of `x` (f =
        `conventions.STRIDES[layer]`) at every one of `layers`, and at `content_layer` when
        set: `vgg(x, texture.feature_layers(layers, content_layer))`.
      alpha: weight of the texture term E_t (Eq. 3).
      beta: weight of the TV term.
      layers: VGG-19 layers of the texture term.
      patch_size: neural patch side s.
      nn: optional dict layer -> int `[N, h-s+1, w-s+1]` fixed matches
        (`nearest_neighbours_for`); None (the paper) searches the current features of `x`.
      chunk_size, stride: options of `npsynth.patches.nearest_neighbours`.
      content_layer: None (the paper, Eq. 2): E_c on the hole's pixels (`content_loss`); a
        VGG-19 layer (e.g. "relu4_2", the authors' released code): E_c is
        `feature_content_loss` of `features[content_layer]` and `content_features`.
      content_features: with `content_layer`, the reference's features there
        (`npsynth.texture.reference_features`; no gradient flows into them).
      synthesis_stride, patch_average: options of `texture_loss` (1 and "windows": the
        paper; 2 and "cells": the authors' released code, CNNMRF).

    Returns:
      Scalar L; each term summed per image (the feature E_c: a mean per image), then
      averaged over the batch.

    Raises:
      ValueError: on shapes, dtypes or (concrete) values it cannot use, including a mask that
        leaves no source patch at one of `layers`.
    """
    return joint_loss_terms(
        x,
        reference,
        mask,
        features=features,
        alpha=alpha,
        beta=beta,
        layers=layers,
        patch_size=patch_size,
        nn=nn,
        chunk_size=chunk_size,
        stride=stride,
        content_layer=content_layer,
        content_features=content_features,
        synthesis_stride=synthesis_stride,
        patch_average=patch_average,
    )["total"]


def nearest_neighbours_for(
    features: Mapping[str, jax.Array],
    mask: jax.Array,
    *,
    layers: Sequence[str] = DEFAULT_LAYERS,
    patch_size: int = 3,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
) -> dict[str, jax.Array]:
    """Matches `nn(i)` of Eq. 3 for an image's feature maps, per layer, to keep fixed for a
    scale (Yang et al. 2017, Eq. 3: the source patch most similar to each query patch).

    Args:
      features: dict layer -> `[N, H // f, W // f, C]` VGG-19 maps of the image (as
        `joint_loss` takes them); no gradient flows through the search.
      mask: `[N, H, W, 1]`, 1 = hole.
      layers, patch_size, chunk_size, stride: as `joint_loss`.

    Returns:
      dict layer -> int32 `[N, h-s+1, w-s+1]` (see `npsynth.patches.nearest_neighbours`), to
      pass as `nn=` to `joint_loss`.
    """
    layers = check_layers(layers)
    _check_features(features, layers, None)
    if int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    check_mask(mask, tuple(mask.shape[:3]) + (3,), batched=True, need_hole=False)
    holes = feature_holes(mask, layers)
    _check_sources(holes, layers, patch_size, mask.shape)
    return {
        layer: patches.nearest_neighbours(
            features[layer],
            holes[layer],
            patch_size=patch_size,
            chunk_size=chunk_size,
            stride=stride,
        )
        for layer in layers
    }


def hole_l2(prediction: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean squared error over the hole pixels (and channels) of a batch.

    Args:
      prediction, target: [N, H, W, C].
      mask: [N, H, W, 1], 1 = hole; pass ones for a prediction that is all hole.

    Returns:
      scalar; 0 when there is no hole pixel.
    """
    squared = jnp.square(prediction - target) * mask
    count = jnp.sum(mask) * prediction.shape[-1]
    return jnp.sum(squared) / jnp.maximum(count, 1.0)


def usable_layers(hole, layers: Sequence[str], patch_size: int) -> tuple[str, ...]:
    """The layers of `layers` at which `hole` ([H, W, 1] or [N, H, W, 1], concrete, 1 = hole)
    leaves a source patch (`patches.has_source_patch`) for every image."""
    hole = np.asarray(hole)
    holes = feature_holes(hole if hole.ndim == 4 else hole[None], layers)
    return tuple(
        layer for layer in layers if patches.has_source_patch(holes[layer], patch_size).all()
    )
