"""The joint loss of an image through VGG-19 (Yang et al. 2017, Eqs. 1-3): the glue that runs
the texture network and hands its feature maps to the pure maths of `npsynth.losses`.

`vgg` is anything called as `vgg(images, layers) -> {layer: [N, h, w, C]}`: the
`npsynth.models.vgg.VGG19` network (`npsynth.load_vgg19()`) or a stand-in that runs it on a
window only (`npsynth.window.windowed_vgg`). The optimize method
(`npsynth.methods.optimize`) and the benchmarks use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
from jax import lax

from npsynth import losses, patches
from npsynth.config.checks import check_content_layer
from npsynth.conventions import check_images


def feature_layers(layers: Sequence[str], content_layer: str | None = None) -> tuple[str, ...]:
    """The layers VGG-19 computes for the joint loss: the texture layers (Eq. 3), and E_c's
    layer (Eq. 2) when E_c is in feature space; one forward gives them all."""
    if content_layer is None:
        return tuple(layers)
    return tuple(dict.fromkeys((*layers, content_layer)))


def reference_features(reference: jax.Array, *, vgg, content_layer: str) -> jax.Array:
    """The content reference's features at `content_layer`, the target of
    `losses.feature_content_loss` (Eq. 2 in feature space): `[N, h, w, C]`, computed once per
    scale and passed to `losses.joint_loss` as `content_features` (no gradient flows into them)."""
    check_content_layer(content_layer)
    return lax.stop_gradient(vgg(lax.stop_gradient(reference), (content_layer,))[content_layer])


def matches(
    x: jax.Array,
    mask: jax.Array,
    *,
    vgg,
    layers: Sequence[str] = losses.DEFAULT_LAYERS,
    patch_size: int = 3,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
) -> dict[str, jax.Array]:
    """The matches `nn(i)` of Eq. 3 for image `x`: `losses.nearest_neighbours_for` of its
    VGG-19 features, to keep fixed for a scale.

    Args:
      x: `[N, H, W, 3]` float32 image, RGB in [0, 1]; mask: `[N, H, W, 1]`, 1 = hole.
      vgg: the texture network; layers, patch_size, chunk_size, stride: as `losses.joint_loss`.

    Returns:
      dict layer -> int32 `[N, h-s+1, w-s+1]`, to pass as `nn=` to the joint loss.
    """
    layers = losses.check_layers(layers)
    check_images(x, "x")
    losses.check_inputs(None, x, mask, layers, patch_size)
    return losses.nearest_neighbours_for(
        vgg(lax.stop_gradient(x), layers), mask, layers=layers, patch_size=patch_size,
        chunk_size=chunk_size, stride=stride,
    )  # fmt: skip


def make_joint_loss(
    reference: jax.Array,
    mask: jax.Array,
    *,
    vgg,
    alpha: float,
    beta: float,
    layers: Sequence[str] = losses.DEFAULT_LAYERS,
    patch_size: int = 3,
    nn: Mapping[str, jax.Array] | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    content_layer: str | None = None,
    synthesis_stride: int = 1,
    patch_average: str = "windows",
    terms: bool = False,
):
    """A pure `f(x) -> L` (Yang et al. 2017, Eq. 1) closing over the targets, for a solver:
    `f(x) = losses.joint_loss(x, reference, mask, features=vgg(x, ...), ...)`.

    Checks `reference` and `mask` here, and with `content_layer` computes the reference's
    features there once. Because the mask is closed over (concrete), a jitted `f` searches
    only near the hole. Jit `f` once per scale.

    Args:
      reference, mask, alpha, beta, layers, patch_size, nn, chunk_size, stride,
        content_layer, synthesis_stride, patch_average: as `losses.joint_loss`; `nn` fixed for every evaluation, or None to
        search at each one.
      vgg: the texture network (see the module docstring).
      terms: return the dict of `losses.joint_loss_terms` instead of the scalar.

    Returns:
      `f(x)`, x `[N, H, W, 3]` float32 like `reference`.
    """
    layers = losses.check_layers(layers)
    losses.check_inputs(None, reference, mask, layers, patch_size)
    content_features = None
    if check_content_layer(content_layer) is not None:
        content_features = reference_features(reference, vgg=vgg, content_layer=content_layer)
    computed = feature_layers(layers, content_layer)

    def loss(x):
        check_images(x, "x")
        out = losses.joint_loss_terms(
            x, reference, mask, features=vgg(x, computed), alpha=alpha, beta=beta,
            layers=layers, patch_size=patch_size, nn=nn, chunk_size=chunk_size, stride=stride,
            content_layer=content_layer, content_features=content_features,
            synthesis_stride=synthesis_stride, patch_average=patch_average,
        )  # fmt: skip
        return out if terms else out["total"]

    return loss
