"""One level of feature image translation (Song, Yang, Lin et al. 2018, arXiv 1711.08590),
the fast path: VGG-19 relu3_1 of the level's guide (the hole's features predicted by
Image2Feature at the first level, when there is one) -> patch-swap
(`npsynth.patches.swap_hole_features`: each hole cell becomes the mean of the best-matching
known 3x3 patches covering it) -> Feature2Image -> pasted into the known pixels, by default
in the gradient domain (`npsynth.fill.poisson_paste`, `TranslateConfig.level_paste`).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from npsynth import conventions, hub, losses, patches
from npsynth import fill as fills
from npsynth.config.inpaint import LEVEL_PASTES, TranslateConfig
from npsynth.models.translation import FACTOR, LAYER, FeatureToImage, ImageToFeature
from npsynth.models.vgg import VGG19
from npsynth.pyramid import Level, LevelResult


@functools.partial(jax.jit, static_argnums=0)
def _apply(graphdef, state, *args):
    return nnx.merge(graphdef, state)(*args)


def _run(model, *args) -> jax.Array:
    graphdef, state = nnx.split(model)
    return _apply(graphdef, state, *args)


@functools.partial(jax.jit, static_argnums=0)
def _features(graphdef, state, images):
    return nnx.merge(graphdef, state)(images, (LAYER,))[LAYER]


def translate_level(
    fill: np.ndarray,
    known: np.ndarray,
    hole: np.ndarray,
    *,
    vgg: VGG19,
    feature2image: FeatureToImage,
    image2feature: ImageToFeature | None = None,
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE,
    swap: bool = True,
    paste: str = "poisson",
) -> np.ndarray:
    """One scale of the fast path: features -> patch-swap -> Feature2Image -> composite.

    Args:
      fill: [H, W, 3] the current guess (known pixels plus a fill of the hole); its relu3_1
        gives the features (H and W multiples of 4).
      known: [H, W, 3] the known pixels at this scale; hole: [H, W, 1], 1 = hole.
      vgg, feature2image: the networks; image2feature: if given, its prediction replaces
        the features of the hole's cells before the swap.
      chunk_size: of the nearest-neighbour search.
      swap: False decodes the features as they are (a diagnostic: with `fill` the true
        photo, it measures how well Feature2Image inverts relu3_1).
      paste: "poisson": the hole is the decoded image plus the harmonic function that meets
        `known` on the hole's border (`npsynth.fill.poisson_paste`), clipped to [0, 1];
        "direct": the decoded image clipped to [0, 1].

    Where the hole leaves no all-known 3x3 patch of relu3_1 (tiny scales, huge holes), the
    features are decoded unswapped, with a warning.

    Returns:
      [H, W, 3]: the known pixels, and Feature2Image's output pasted in the hole.
    """
    if paste not in LEVEL_PASTES:
        raise ValueError(f"paste must be poisson or direct, got {paste!r}")
    images = jnp.asarray(fill[None])
    graphdef, state = nnx.split(vgg)
    features = _features(graphdef, state, images)
    cells = conventions.downsample_mask(jnp.asarray(hole[None]), FACTOR)
    if image2feature is not None:
        predicted = _run(image2feature, jnp.asarray(known[None]), jnp.asarray(hole[None]))
        features = jnp.where(cells > 0.5, predicted, features)
    if swap and losses.usable_layers(hole, (LAYER,), patch_size=3):
        features = patches.swap_hole_features(features, cells, chunk_size=chunk_size)
    elif swap:
        warnings.warn(
            f"at {hole.shape[0]}x{hole.shape[1]} the hole leaves no known 3x3 patch of {LAYER} "
            "to swap in; decoding the features unswapped there"
        )
    decoded = np.asarray(_run(feature2image, features)[0])
    if paste == "poisson":
        decoded = np.asarray(fills.poisson_paste(decoded, known, hole))
    return np.where(hole > 0, np.clip(decoded, 0.0, 1.0), known).astype(np.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class TranslateStep:
    """The `pyramid.LevelStep` of method="translate" (Fig. 4 of Song et al.): at the first
    level the guide is the content reference and Image2Feature (if any) predicts the hole's
    features; later levels start from the previous result, upsampled."""

    config: TranslateConfig
    vgg: VGG19
    feature2image: FeatureToImage
    image2feature: ImageToFeature | None = None

    def __call__(self, level: Level) -> LevelResult:
        image = translate_level(
            level.guide, level.known, level.hole, vgg=self.vgg, feature2image=self.feature2image,
            image2feature=self.image2feature if level.index == 0 else None,
            chunk_size=self.config.chunk_size, paste=self.config.level_paste,
        )  # fmt: skip
        return LevelResult(image, None, (LAYER,))


def check_networks(config: TranslateConfig) -> None:
    """The one check that translate has its networks (`npsynth.hub`): a Feature2Image
    network always, an Image2Feature network where `image2feature="network"`; a ValueError
    naming each one missing and how to get it."""
    missing = []
    if hub.resolve("feature2image", config.feature2image_checkpoint) is None:
        missing.append(
            "method 'translate' needs a trained Feature2Image network: pass "
            "feature2image_checkpoint=PATH (--feature2image PATH), set $NPSYNTH_FEATURE2IMAGE, "
            "or train one with `python -m train.feature2image`"
        )
    if config.image2feature == "network" and (
        hub.resolve("image2feature", config.image2feature_checkpoint) is None
    ):
        missing.append(
            "image2feature='network' needs a trained Image2Feature network: pass "
            "image2feature_checkpoint=PATH, set $NPSYNTH_IMAGE2FEATURE, or train one with "
            "`python -m train.image2feature`"
        )
    if missing:
        raise ValueError("; ".join(missing))


def make_step(config: TranslateConfig, vgg: VGG19) -> TranslateStep:
    """The step with its networks found by `npsynth.hub` (explicit path, environment
    variable, shipped asset), or the ValueError of `check_networks`."""
    check_networks(config)
    i2f = None
    if config.image2feature != "content":
        i2f_path = hub.resolve("image2feature", config.image2feature_checkpoint)
        if i2f_path is not None:
            i2f = hub.load("image2feature", i2f_path)
    f2i_path = hub.resolve("feature2image", config.feature2image_checkpoint)
    return TranslateStep(config, vgg, hub.load("feature2image", f2i_path), i2f)
