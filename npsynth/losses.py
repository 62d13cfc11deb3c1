"""The joint loss of multi-scale neural patch synthesis (Yang et al. 2017, Eqs. 1-3).

`L(x) = E_c + alpha * E_t + beta * TV` for an image `x` whose hole (mask 1) is being filled:
- `E_c` (Eq. 2): squared distance to the content reference inside the hole; or, with
  `content_layer` set, the mean squared distance of the VGG-19 features of `x` to those of
  the reference at that layer, over the whole image (the authors' released code: relu4_2).
- `E_t` (Eq. 3): for each VGG-19 layer, the mean squared distance of every query patch (a
  window of the feature map touching the hole) to its most similar source patch (a window
  outside the hole), matched by normalised cross-correlation with no gradient through the match.
- `TV`: the squared total variation of the whole image.
Each term is summed per image and averaged over the batch; `E_t` is first divided, per image
and layer, by that image's number of query patches (0 when it has none).

Arrays are NHWC float32: images `[N, H, W, 3]` RGB in [0, 1], mask `[N, H, W, 1]` (1 = hole).
Nothing here is jitted; jit at the call site (`make_joint_loss` gives a pure f(x) -> scalar).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from npsynth import patches
from npsynth.config.checks import check_content_layer
from npsynth.masks import check_mask
from npsynth.models.vgg import STRIDES, check_images

DEFAULT_LAYERS = ("relu3_1", "relu4_1")


def _is_concrete(a) -> bool:
    return not isinstance(a, jax.core.Tracer)


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


def texture_loss(
    features: jax.Array,
    hole: jax.Array,
    *,
    patch_size: int = 3,
    nn: jax.Array | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
) -> jax.Array:
    """Texture term of one layer, E_t^phi (Yang et al. 2017, Eq. 3).

    `E_t^phi = (1 / |R|) * sum over query windows i of |P_i - stop_gradient(P_nn(i))|^2`, where
    the query windows R touch the hole and `nn(i)` is the source window (no hole cell) with
    the highest normalised cross-correlation (`npsynth.patches.nearest_neighbours`).

    Args:
      features: `[N, h, w, C]` feature map of the image (e.g. VGG-19 relu3_1).
      hole: `[N, h, w, 1]` hole at feature resolution (`npsynth.patches.downsample_mask`).
      patch_size: window side s.
      nn: optional int `[N, h-s+1, w-s+1]` matches to use instead of searching the current
        features (e.g. kept fixed for a whole scale).
      chunk_size, stride: passed to `nearest_neighbours` when `nn` is None.

    Returns:
      Scalar: per image the mean over its query windows (0 when it has none), averaged over
      the batch. Gradients flow into the query windows only.
    """
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

    # |P_i - P_nn(i)|^2 as a sum over the s*s cells of the window, without building patches.
    sq_dist = jnp.zeros((n, hw, ww), features.dtype)
    for dy in range(patch_size):
        for dx in range(patch_size):
            current = features[:, dy : dy + hw, dx : dx + ww, :]
            matched = patches.gather_cells(target, ny + dy, nx + dx)
            sq_dist = sq_dist + jnp.sum((current - matched) ** 2, axis=-1)

    weights = query.astype(features.dtype)
    count = jnp.sum(weights, axis=(1, 2))
    # |R| = 0 -> E_t = 0; the maximum keeps value and gradient finite (no 0 / 0).
    per_image = jnp.sum(weights * sq_dist, axis=(1, 2)) / jnp.maximum(count, 1.0)
    return jnp.mean(jnp.where(count > 0, per_image, 0.0))


def _holes(mask, layers: Sequence[str]) -> dict[str, jax.Array]:
    """Hole of every layer; NumPy when `mask` is concrete so the search box stays static."""
    holes = {}
    for layer in layers:
        if layer not in STRIDES:
            raise ValueError(f"unknown VGG-19 layer {layer!r}; choose from {tuple(STRIDES)}")
        if _is_concrete(mask):
            holes[layer] = patches.downsample_mask_np(np.asarray(mask), STRIDES[layer])
        else:
            holes[layer] = patches.downsample_mask(mask, STRIDES[layer])
    return holes


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
        if not _is_concrete(hole):
            continue
        hole = np.asarray(hole)
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


def reference_features(reference: jax.Array, *, vgg, content_layer: str) -> jax.Array:
    """The content reference's features at `content_layer`, the target of
    `feature_content_loss`: `[N, h, w, C]`, computed once per scale and passed to `joint_loss`
    as `content_features` (no gradient flows into them)."""
    check_content_layer(content_layer)
    return lax.stop_gradient(vgg(lax.stop_gradient(reference), (content_layer,))[content_layer])


def _terms(
    x, reference, mask, holes, *, vgg, alpha, beta, layers, patch_size, nn, chunk_size, stride,
    content_layer=None, content_features=None,
):  # fmt: skip
    if content_layer is None:
        features = vgg(x, layers)
    else:  # one forward gives the texture layers and the content layer
        features = vgg(x, tuple(dict.fromkeys((*layers, content_layer))))
    texture = jnp.zeros((), x.dtype)
    for layer in layers:
        texture = texture + texture_loss(
            features[layer],
            holes[layer],
            patch_size=patch_size,
            nn=None if nn is None else nn[layer],
            chunk_size=chunk_size,
            stride=stride,
        )
    if content_layer is None:
        content = content_loss(x, reference, mask)
    else:
        if content_features is None:
            content_features = reference_features(reference, vgg=vgg, content_layer=content_layer)
        content = feature_content_loss(features[content_layer], content_features)
    tv = tv_loss(x)
    total = content + alpha * texture + beta * tv
    return {"content": content, "texture": texture, "tv": tv, "total": total}


def _check_inputs(x, reference, mask, layers, patch_size):
    """Check the inputs (x may be None) and return the hole of every layer."""
    check_images(reference, "reference")
    if x is not None:
        check_images(x, "x")
        _check_pair(x, reference)
    check_mask(mask, reference.shape, batched=True, need_hole=False)
    if int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    holes = _holes(mask, layers)
    _check_sources(holes, layers, patch_size, reference.shape)
    return holes


def joint_loss_terms(
    x: jax.Array,
    reference: jax.Array,
    mask: jax.Array,
    *,
    vgg,
    alpha: float,
    beta: float,
    layers: Sequence[str] = DEFAULT_LAYERS,
    patch_size: int = 3,
    nn: Mapping[str, jax.Array] | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    content_layer: str | None = None,
    content_features: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Every term of the joint loss (Yang et al. 2017, Eq. 1), for logging.

    Args: as `joint_loss`.

    Returns:
      dict of scalars: `content` (E_c, Eq. 2, on the pixels or at `content_layer`),
      `texture` (E_t summed over `layers`, Eq. 3, unweighted), `tv` (TV, unweighted) and
      `total` (`content + alpha*texture + beta*tv`).
    """
    layers = check_layers(layers)
    check_content_layer(content_layer)
    _check_nn(nn, layers)
    holes = _check_inputs(x, reference, mask, layers, patch_size)
    return _terms(
        x,
        reference,
        mask,
        holes,
        vgg=vgg,
        alpha=alpha,
        beta=beta,
        layers=layers,
        patch_size=patch_size,
        nn=nn,
        chunk_size=chunk_size,
        stride=stride,
        content_layer=content_layer,
        content_features=content_features,
    )


def joint_loss(
    x: jax.Array,
    reference: jax.Array,
    mask: jax.Array,
    *,
    vgg,
    alpha: float,
    beta: float,
    layers: Sequence[str] = DEFAULT_LAYERS,
    patch_size: int = 3,
    nn: Mapping[str, jax.Array] | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    content_layer: str | None = None,
    content_features: jax.Array | None = None,
) -> jax.Array:
    """Joint loss `L = E_c + alpha * E_t + beta * TV` (Yang et al. 2017, Eq. 1).

    Differentiable in `x` and jit-able. With a concrete `mask` (an argument of an eager call,
    or closed over by the jitted function, as in `make_joint_loss`) the patch search only
    scores the windows near the hole; a traced mask gives the same value by a slower search.

    Args:
      x: `[N, H, W, 3]` float32 image being optimised, RGB in [0, 1].
      reference: `[N, H, W, 3]` content reference (Eq. 2), e.g. the content network's output.
      mask: `[N, H, W, 1]`, 1 = hole, 0 = known.
      vgg: `npsynth.models.vgg.VGG19` texture network (ImageNet weights: `load_vgg19()`).
      alpha: weight of the texture term E_t (Eq. 3).
      beta: weight of the TV term.
      layers: VGG-19 layers of the texture term.
      patch_size: neural patch side s.
      nn: optional dict layer -> int `[N, h-s+1, w-s+1]` fixed matches
        (`nearest_neighbours_for`); None (the paper) searches the current features of `x`.
      chunk_size, stride: options of `npsynth.patches.nearest_neighbours`.
      content_layer: None (the paper, Eq. 2): E_c on the hole's pixels (`content_loss`); a
        VGG-19 layer (e.g. "relu4_2", the authors' released code): E_c is
        `feature_content_loss` of that layer's features of `x` and of `reference`, the layer
        computed by the same VGG-19 call as the texture layers.
      content_features: with `content_layer`, the reference's features there
        (`reference_features`), to compute them once rather than at every evaluation.

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
        vgg=vgg,
        alpha=alpha,
        beta=beta,
        layers=layers,
        patch_size=patch_size,
        nn=nn,
        chunk_size=chunk_size,
        stride=stride,
        content_layer=content_layer,
        content_features=content_features,
    )["total"]


def make_joint_loss(
    reference: jax.Array,
    mask: jax.Array,
    *,
    vgg,
    alpha: float,
    beta: float,
    layers: Sequence[str] = DEFAULT_LAYERS,
    patch_size: int = 3,
    nn: Mapping[str, jax.Array] | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    content_layer: str | None = None,
    terms: bool = False,
):
    """A pure `f(x) -> L` (Yang et al. 2017, Eq. 1) closing over the targets, for a solver.

    Checks `reference` and `mask` once, here, and with `content_layer` computes the
    reference's features there once. Because the mask is closed over (concrete), a jitted
    `f` searches only near the hole. Jit `f` once per scale.

    Args:
      reference, mask, vgg, alpha, beta, layers, patch_size, nn, chunk_size, stride,
        content_layer: as `joint_loss`; `nn` fixed for every evaluation, or None to search
        at each one.
      terms: return the dict of `joint_loss_terms` instead of the scalar.

    Returns:
      `f(x)`, x `[N, H, W, 3]` float32 like `reference`.
    """
    layers = check_layers(layers)
    _check_nn(nn, layers)
    holes = _check_inputs(None, reference, mask, layers, patch_size)
    content_features = None
    if check_content_layer(content_layer) is not None:
        content_features = reference_features(reference, vgg=vgg, content_layer=content_layer)

    def loss(x):
        check_images(x, "x")
        _check_pair(x, reference)
        out = _terms(
            x,
            reference,
            mask,
            holes,
            vgg=vgg,
            alpha=alpha,
            beta=beta,
            layers=layers,
            patch_size=patch_size,
            nn=nn,
            chunk_size=chunk_size,
            stride=stride,
            content_layer=content_layer,
            content_features=content_features,
        )
        return out if terms else out["total"]

    return loss


def nearest_neighbours_for(
    x: jax.Array,
    mask: jax.Array,
    *,
    vgg,
    layers: Sequence[str] = DEFAULT_LAYERS,
    patch_size: int = 3,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
) -> dict[str, jax.Array]:
    """Matches `nn(i)` of Eq. 3 for the current image, per layer, to keep fixed for a scale.

    Args:
      x: `[N, H, W, 3]` float32 image, RGB in [0, 1].
      mask: `[N, H, W, 1]`, 1 = hole.
      vgg, layers, patch_size, chunk_size, stride: as `joint_loss`.

    Returns:
      dict layer -> int32 `[N, h-s+1, w-s+1]` (see `npsynth.patches.nearest_neighbours`), to
      pass as `nn=` to `joint_loss` or `make_joint_loss`.
    """
    layers = check_layers(layers)
    check_images(x, "x")
    holes = _check_inputs(None, x, mask, layers, patch_size)
    features = vgg(lax.stop_gradient(x), layers)
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
    batch = hole if hole.ndim == 4 else hole[None]
    return tuple(
        layer
        for layer in layers
        if patches.has_source_patch(
            patches.downsample_mask_np(batch, STRIDES[layer]), patch_size
        ).all()
    )
