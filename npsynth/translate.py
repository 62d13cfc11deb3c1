"""Feature image translation (Song, Yang, Lin et al. 2018, arXiv 1711.08590): the fast path.

Instead of optimising each image (`npsynth.inpaint(method="optimize")`), two networks
translate around one patch-swap in VGG-19 relu3_1 space (the paper's Sec. 3 and Fig. 4):

1. Image2Feature predicts the hole's relu3_1 features from the masked image (or: the
   content network's fill, through VGG-19).
2. Patch-swap (`npsynth.patches.swap_hole_features`) replaces each hole cell by the mean of
   the best-matching (normalised cross-correlation) 3x3 known patches covering it.
3. Feature2Image decodes the swapped features back to an RGB image, composited with the
   known pixels.

At the next scale the result is upsampled, and its relu3_1 features are swapped and
decoded again. Both networks are trained adversarially (`npsynth.steps`) by
`python -m train.image2feature` and `python -m train.feature2image`; the tasks they train
(`Image2FeatureTask`, `Feature2ImageTask`) live here.

Arrays are NHWC float32; images RGB in [0, 1]; masks [N, H, W, 1], 1 = hole; features are
relu3_1 of the pretrained VGG-19 (Caffe preprocessing), 4x smaller than the image.
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

from npsynth import data, export, patches
from npsynth.config import (
    Feature2ImageConfig,
    Feature2ImageLossConfig,
    Image2FeatureConfig,
    InpaintConfig,
)
from npsynth.content_net import Discriminator, composite
from npsynth.fill import harmonic_fill, mean_fill
from npsynth.layers import StridedConvTranspose
from npsynth.steps import hole_l2
from npsynth.vgg import STRIDES, VGG19

# The feature layer both networks translate to and from (Song et al. 2018, Sec. 3.2).
LAYER = "relu3_1"
CHANNELS = 256
FACTOR = STRIDES[LAYER]  # 4: relu3_1 is 4x smaller than the image.
# relu3_1 of the Caffe VGG-19 has a root mean square of about 400 on photos (eval512 at
# 128 px: 424); the networks see and predict features times this, about unit scale.
FEATURE_SCALE = 1.0 / 400.0
I2F_FORMAT = "npsynth.image2feature/1"
F2I_FORMAT = "npsynth.feature2image/1"
ASSETS = Path(__file__).parent / "assets"
SHIPPED_F2I = ASSETS / "feature2image.npz"
SHIPPED_I2F = ASSETS / "image2feature.npz"


def _conv(c_in, c_out, size=3, *, stride=1, dilation=1, rngs):
    padding = ((1, 1), (1, 1)) if size == 4 else "SAME"
    return nnx.Conv(
        c_in, c_out, (size, size), strides=(stride, stride), kernel_dilation=(dilation, dilation),
        padding=padding, rngs=rngs,
    )  # fmt: skip


class ResidualBlock(nnx.Module):
    """x + conv(elu(conv(elu(x)))), 3x3 convolutions with the given dilation."""

    def __init__(self, channels: int, *, dilation: int = 1, rngs: nnx.Rngs):
        self.conv1 = _conv(channels, channels, dilation=dilation, rngs=rngs)
        self.conv2 = _conv(channels, channels, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return x + self.conv2(jax.nn.elu(self.conv1(jax.nn.elu(x))))


def _check_image_batch(images, mask, name: str) -> None:
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{name} expects images [N, H, W, 3], got {tuple(images.shape)}")
    if images.shape[1] % FACTOR or images.shape[2] % FACTOR:
        raise ValueError(
            f"{name} needs a height and width divisible by {FACTOR}, got {images.shape[1:3]}; "
            "pad the image first"
        )
    if mask.shape != images.shape[:3] + (1,):
        raise ValueError(f"mask must be [N, H, W, 1] like images, got {tuple(mask.shape)}")


class ImageToFeature(nnx.Module):
    """Image2Feature: the masked image -> its relu3_1 features, the hole's predicted.

    Input: the image with its hole filled by the known pixels' mean colour, in [-1, 1], and
    the mask as a fourth channel. Two strided 4x4 convolutions down to quarter resolution,
    dilated residual blocks (the receptive field spans the hole), a 3x3 convolution to 256
    channels and a ReLU (relu3_1 is non-negative). Fully convolutional; ELU activations.
    """

    def __init__(self, config: Image2FeatureConfig, *, rngs: nnx.Rngs):
        w1, w2 = config.widths
        self.down1 = _conv(4, w1, 4, stride=2, rngs=rngs)
        self.down2 = _conv(w1, w2, 4, stride=2, rngs=rngs)
        self.blocks = nnx.List([ResidualBlock(w2, dilation=d, rngs=rngs) for d in config.dilations])
        self.head = _conv(w2, CHANNELS, rngs=rngs)

    def __call__(self, images: jax.Array, mask: jax.Array) -> jax.Array:
        """[N, H, W, 3] images (hole ignored), [N, H, W, 1] masks -> [N, H/4, W/4, 256]."""
        _check_image_batch(images, mask, "ImageToFeature")
        hole = (mask > 0.5).astype(jnp.float32)
        x = jnp.concatenate([mean_fill(images, hole) * 2.0 - 1.0, hole], axis=-1)
        x = jax.nn.elu(self.down2(jax.nn.elu(self.down1(x))))
        for block in self.blocks:
            x = block(x)
        return jax.nn.relu(self.head(jax.nn.elu(x))) / FEATURE_SCALE


class FeatureToImage(nnx.Module):
    """Feature2Image: relu3_1 features -> the RGB image, 4x larger.

    A 3x3 convolution and residual blocks at quarter resolution, then twice a 4x4 stride-2
    transposed convolution (`StridedConvTranspose`) and a 3x3 convolution; ELU activations,
    tanh mapped to [0, 1] at the end. Fully convolutional.
    """

    def __init__(self, config: Feature2ImageConfig, *, rngs: nnx.Rngs):
        w0, w1, w2 = config.widths
        self.stem = _conv(CHANNELS, w0, rngs=rngs)
        self.blocks = nnx.List([ResidualBlock(w0, rngs=rngs) for _ in range(config.blocks)])
        self.up1 = StridedConvTranspose(w0, w1, rngs=rngs)
        self.conv1 = _conv(w1, w1, rngs=rngs)
        self.up2 = StridedConvTranspose(w1, w2, rngs=rngs)
        self.out = _conv(w2, 3, rngs=rngs)

    def __call__(self, features: jax.Array) -> jax.Array:
        """[N, h, w, 256] relu3_1 -> [N, 4h, 4w, 3] in [0, 1]."""
        if features.ndim != 4 or features.shape[-1] != CHANNELS:
            raise ValueError(
                f"FeatureToImage expects relu3_1 features [N, h, w, {CHANNELS}], "
                f"got {tuple(features.shape)}"
            )
        x = jax.nn.elu(self.stem(features * FEATURE_SCALE))
        for block in self.blocks:
            x = block(x)
        x = jax.nn.elu(self.up1(jax.nn.elu(x)))
        x = jax.nn.elu(self.up2(jax.nn.elu(self.conv1(x))))
        return (jnp.tanh(self.out(x)) + 1.0) * 0.5


# ----------------------------------------------------------------------------------------------
# Training tasks (`npsynth.steps.GanTask`)


def _vgg_features(vgg_parts, images: jax.Array) -> jax.Array:
    graphdef, state = vgg_parts
    return nnx.merge(graphdef, state)(images, (LAYER,))[LAYER]


def vgg_parts(vgg: VGG19) -> tuple:
    """(graphdef, state) of `vgg`, closed over by the training steps: only the weights up to
    relu3_1 are traced, so only they become constants of the compiled steps."""
    return nnx.split(vgg)


@dataclasses.dataclass(frozen=True, eq=False)
class Image2FeatureTask:
    """Image2Feature: L_rec = mean squared relu3_1 error (times FEATURE_SCALE); the
    discriminator judges the predicted features composited with the true known cells."""

    config: Image2FeatureConfig
    vgg: tuple  # `vgg_parts` of the pretrained VGG-19

    def make_generator(self, rngs):
        return ImageToFeature(self.config, rngs=rngs)

    def make_discriminator(self, rngs):
        return Discriminator(
            input_size=self.config.image_size // FACTOR, width=self.config.disc_width,
            max_width=self.config.disc_max_width, in_channels=CHANNELS, rngs=rngs,
        )  # fmt: skip

    def _truth(self, batch):
        return jax.lax.stop_gradient(_vgg_features(self.vgg, batch["image"]))

    def generate(self, generator, batch, key):
        del key  # no dropout
        prediction = generator(batch["image"], batch["mask"])
        cells = patches.downsample_mask(batch["mask"], FACTOR)
        fake = jnp.where(cells > 0.5, prediction, self._truth(batch)) * FEATURE_SCALE
        return prediction, fake

    def real(self, batch):
        return self._truth(batch) * FEATURE_SCALE

    def reconstruction(self, prediction, batch):
        cells = patches.downsample_mask(batch["mask"], FACTOR)
        error = (prediction - self._truth(batch)) * FEATURE_SCALE
        l2 = jnp.mean(jnp.square(error))
        return l2, {"feat_l2": l2, "hole_feat_l2": hole_l2(error, jnp.zeros_like(error), cells)}

    def sample(self, generator, batch):
        cells = patches.downsample_mask(batch["mask"], FACTOR)
        features = jnp.where(
            cells > 0.5, generator(batch["image"], batch["mask"]), self._truth(batch)
        )
        return feature_picture(features, batch["image"].shape[1:3])


@dataclasses.dataclass(frozen=True, eq=False)
class Feature2ImageTask:
    """Feature2Image, trained on patch-swapped relu3_1 of masked photos as inference makes
    them (`swapped`), so it learns to hide the seams of the swap. L_rec = pixel * L2 over
    the hole + known * L2 over the known pixels + perceptual * L2 of relu3_1 of the output
    composited with the known pixels (which also scores the seams); the discriminator
    judges that composite."""

    config: Feature2ImageConfig
    loss: Feature2ImageLossConfig
    vgg: tuple  # `vgg_parts` of the pretrained VGG-19
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE

    def make_generator(self, rngs):
        return FeatureToImage(self.config, rngs=rngs)

    def make_discriminator(self, rngs):
        return Discriminator(
            input_size=self.config.image_size, width=self.config.disc_width,
            max_width=self.config.disc_max_width, rngs=rngs,
        )  # fmt: skip

    def swapped(self, batch):
        """relu3_1 of the harmonic fill of the masked photo, the hole's cells patch-swapped:
        what `inpaint(method="translate")` decodes at its first scale without a network."""
        initial = harmonic_fill(batch["image"], batch["mask"])
        features = jax.lax.stop_gradient(_vgg_features(self.vgg, initial))
        cells = patches.downsample_mask(batch["mask"], FACTOR)
        return patches.swap_hole_features(features, cells, chunk_size=self.chunk_size)

    def prepare(self, batch):
        return {"swapped": self.swapped(batch)}

    def _decoder_input(self, batch):
        """The swapped features: from `prepare` when the batch has them, else computed."""
        return batch["swapped"] if "swapped" in batch else self.swapped(batch)

    def generate(self, generator, batch, key):
        del key  # no dropout
        prediction = generator(self._decoder_input(batch))
        return prediction, composite("freeform", batch["image"], batch["mask"], prediction)

    def real(self, batch):
        return batch["image"]

    def reconstruction(self, prediction, batch):
        pixel = hole_l2(prediction, batch["image"], batch["mask"])
        known = hole_l2(prediction, batch["image"], 1.0 - batch["mask"])
        truth = jax.lax.stop_gradient(_vgg_features(self.vgg, batch["image"]))
        filled = composite("freeform", batch["image"], batch["mask"], prediction)
        perceptual = jnp.mean(jnp.square((_vgg_features(self.vgg, filled) - truth) * FEATURE_SCALE))
        rec = self.loss.pixel * pixel + self.loss.known * known + self.loss.perceptual * perceptual
        return rec, {"pixel": pixel, "known": known, "perceptual": perceptual}

    def sample(self, generator, batch):
        prediction = generator(self._decoder_input(batch))
        return composite("freeform", batch["image"], batch["mask"], prediction)


def feature_picture(features: jax.Array, size) -> jax.Array:
    """Grey picture of features [N, h, w, C]: channel mean, scaled to [0, 1] per image,
    repeated to RGB and upsampled (nearest) to `size`."""
    mean = jnp.mean(features, axis=-1, keepdims=True)
    mean = mean / jnp.maximum(jnp.max(mean, axis=(1, 2, 3), keepdims=True), 1e-6)
    rgb = jnp.repeat(mean, 3, axis=-1)
    return jax.image.resize(rgb, (rgb.shape[0], *size, 3), "nearest")


# ----------------------------------------------------------------------------------------------
# Export and loading


def save_image2feature(model, path, *, config: Image2FeatureConfig, step=None, dtype="float16"):
    """Write an Image2Feature network as .npz + .json (`npsynth.export.save_network`)."""
    return export.save_network(
        model, path, format=I2F_FORMAT, config=config, step=step, dtype=dtype
    )


def save_feature2image(model, path, *, config: Feature2ImageConfig, step=None, dtype="float16"):
    """Write a Feature2Image network as .npz + .json (`npsynth.export.save_network`)."""
    return export.save_network(
        model, path, format=F2I_FORMAT, config=config, step=step, dtype=dtype
    )


def load_image2feature(path) -> ImageToFeature:
    """An exported Image2Feature network (a .npz, or a workdir holding image2feature.npz)."""
    model, _ = export.load_network(
        path, format=I2F_FORMAT, what="Image2Feature network", default_name="image2feature.npz",
        build=lambda c: ImageToFeature(Image2FeatureConfig(**c), rngs=nnx.Rngs(0)),
        how_to_make="train one with `python -m train.image2feature` (it exports at the end)",
    )  # fmt: skip
    return model


def load_feature2image(path) -> FeatureToImage:
    """An exported Feature2Image network (a .npz, or a workdir holding feature2image.npz)."""
    model, _ = export.load_network(
        path, format=F2I_FORMAT, what="Feature2Image network", default_name="feature2image.npz",
        build=lambda c: FeatureToImage(Feature2ImageConfig(**c), rngs=nnx.Rngs(0)),
        how_to_make="train one with `python -m train.feature2image` (it exports at the end)",
    )  # fmt: skip
    return model


def _checkpoint(explicit, variable: str, shipped: Path) -> Path | None:
    for candidate in (explicit, os.environ.get(variable)):
        if candidate:
            return Path(candidate)
    return shipped if shipped.exists() else None


def feature2image_checkpoint(config: InpaintConfig) -> Path | None:
    """The config's Feature2Image weights, else $NPSYNTH_FEATURE2IMAGE, else the shipped ones."""
    return _checkpoint(config.feature2image_checkpoint, "NPSYNTH_FEATURE2IMAGE", SHIPPED_F2I)


def image2feature_checkpoint(config: InpaintConfig) -> Path | None:
    """The config's Image2Feature weights, else $NPSYNTH_IMAGE2FEATURE, else the shipped ones."""
    return _checkpoint(config.image2feature_checkpoint, "NPSYNTH_IMAGE2FEATURE", SHIPPED_I2F)


@functools.cache
def _load_cached(kind: str, path: str):
    return load_feature2image(path) if kind == "f2i" else load_image2feature(path)


# ----------------------------------------------------------------------------------------------
# Inference


@functools.partial(jax.jit, static_argnums=0)
def _apply(graphdef, state, *args):
    return nnx.merge(graphdef, state)(*args)


def _run(model, *args) -> jax.Array:
    graphdef, state = nnx.split(model)
    return _apply(graphdef, state, *args)


@functools.partial(jax.jit, static_argnums=0)
def _features(graphdef, state, images):
    return nnx.merge(graphdef, state)(images, (LAYER,))[LAYER]


def has_sources(hole: np.ndarray, patch_size: int = 3) -> bool:
    """Whether `hole` ([H, W, 1]) leaves at least one all-known patch at relu3_1."""
    cells = np.asarray(patches.downsample_mask(jnp.asarray(hole[None]), FACTOR))
    if min(cells.shape[1:3]) < patch_size:
        return False
    return not np.asarray(patches.query_windows(jnp.asarray(cells), patch_size=patch_size)).all()


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

    Where the hole leaves no all-known 3x3 patch of relu3_1 (tiny scales, huge holes), the
    features are decoded unswapped, with a warning.

    Returns:
      [H, W, 3]: the known pixels, and Feature2Image's output in the hole.
    """
    images = jnp.asarray(fill[None])
    graphdef, state = nnx.split(vgg)
    features = _features(graphdef, state, images)
    cells = patches.downsample_mask(jnp.asarray(hole[None]), FACTOR)
    if image2feature is not None:
        predicted = _run(image2feature, jnp.asarray(known[None]), jnp.asarray(hole[None]))
        features = jnp.where(cells > 0.5, predicted, features)
    if swap and has_sources(hole):
        features = patches.swap_hole_features(features, cells, chunk_size=chunk_size)
    elif swap:
        warnings.warn(
            f"at {hole.shape[0]}x{hole.shape[1]} the hole leaves no known 3x3 patch of {LAYER} "
            "to swap in; decoding the features unswapped there"
        )
    decoded = np.asarray(_run(feature2image, features)[0])
    return np.where(hole > 0, np.clip(decoded, 0.0, 1.0), known).astype(np.float32)


def inpaint_translate(image, mask, *, config: InpaintConfig, vgg: VGG19, progress: bool = False):
    """`npsynth.inpaint(method="translate")`: the multi-scale fast path (Fig. 4 of Song et al.).

    At the first scale the content reference (`synthesis.content_reference`: the content
    network, or a harmonic fill) is the initial fill, and Image2Feature (if configured)
    predicts the hole's features; each later scale starts from the previous result,
    upsampled. Inputs are checked by `npsynth.inpaint`.
    """
    from npsynth import synthesis

    start = time.perf_counter()
    f2i_path = feature2image_checkpoint(config)
    if f2i_path is None:
        raise FileNotFoundError(
            "method='translate' needs a trained Feature2Image network: pass "
            "feature2image_checkpoint=PATH, set $NPSYNTH_FEATURE2IMAGE, or train one with "
            "`python -m train.feature2image`"
        )
    f2i = _load_cached("f2i", str(f2i_path))
    i2f = None
    if config.image2feature != "content":
        i2f_path = image2feature_checkpoint(config)
        if i2f_path is not None:
            i2f = _load_cached("i2f", str(i2f_path))
        elif config.image2feature == "network":
            raise FileNotFoundError(
                "image2feature='network' needs a trained Image2Feature network: pass "
                "image2feature_checkpoint=PATH, set $NPSYNTH_IMAGE2FEATURE, or train one with "
                "`python -m train.image2feature`"
            )

    scales = config.translate_scales
    region, region_image, region_mask = synthesis.work_region(
        image, mask, scales[-1], config.context
    )
    sizes = synthesis._level_sizes(region_image.shape[:2], scales)
    results, reference, previous = [], None, None
    bar = synthesis._progress(sizes, progress)
    for size in sizes:
        level_start = time.perf_counter()
        known, hole = (
            synthesis._known_at(region_image, region_mask, size),
            data.resize_mask(region_mask, size),
        )
        if previous is None:
            reference = synthesis.content_reference(known, hole, config)
            guess = reference
        else:
            guess = np.where(hole > 0, data.resize_image(previous, size), known)
        height, width = size
        padded = [
            synthesis._pad(a, m)
            for a, m in ((guess, "symmetric"), (known, "symmetric"), (hole, "constant"))
        ]
        result = translate_level(
            *padded, vgg=vgg, feature2image=f2i, image2feature=i2f if previous is None else None,
            chunk_size=config.chunk_size,
        )[:height, :width]  # fmt: skip
        previous = result
        results.append(
            synthesis.ScaleResult(
                size, result, np.zeros(0, np.float32), (LAYER,), time.perf_counter() - level_start
            )
        )
        bar.update(1)
        bar.set_postfix(size=f"{height}x{width}")
    bar.close()

    output = synthesis.paste_hole(image, mask, region, previous)
    return synthesis.InpaintResult(output, results, reference, region, time.perf_counter() - start)
