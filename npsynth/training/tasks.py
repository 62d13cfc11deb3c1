"""What each adversarially trained network learns (`npsynth.training.steps.GanTask`).

- `ContentTask`: the content network (Yang et al. 2017, Sec. 3.1): L_rec = the hole's L2.
- `Image2FeatureTask`, `Feature2ImageTask`: the two networks of feature image translation
  (Song et al. 2018, Sec. 3.2), trained around VGG-19 relu3_1.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from npsynth import conventions, patches
from npsynth.config.models import ContentNetConfig, Feature2ImageConfig, Image2FeatureConfig
from npsynth.config.training import Feature2ImageLossConfig
from npsynth.fill import harmonic_fill
from npsynth.losses import hole_l2
from npsynth.models.content_net import centre_box, composite, make_content_net, make_discriminator
from npsynth.models.discriminator import Discriminator
from npsynth.models.translation import (
    CHANNELS,
    FACTOR,
    FEATURE_SCALE,
    LAYER,
    FeatureToImage,
    ImageToFeature,
)
from npsynth.models.vgg import VGG19


@dataclasses.dataclass(frozen=True)
class ContentTask:
    """The content network (Yang et al. 2017, Sec. 3.1): L_rec = the hole's L2."""

    config: ContentNetConfig

    def make_generator(self, rngs):
        return make_content_net(self.config, rngs=rngs)

    def make_discriminator(self, rngs):
        return make_discriminator(self.config, rngs=rngs)

    def generate(self, generator, batch, key):
        prediction = generator(batch["image"], batch["mask"], rngs=key)
        if self.config.mode == "paper":
            return prediction, prediction
        return prediction, composite(self.config.mode, batch["image"], batch["mask"], prediction)

    def real(self, batch):
        return centre_crop(batch["image"]) if self.config.mode == "paper" else batch["image"]

    def reconstruction(self, prediction, batch):
        if self.config.mode == "paper":
            target, mask = centre_crop(batch["image"]), jnp.ones_like(prediction[..., :1])
        else:
            target, mask = batch["image"], batch["mask"]
        l2 = hole_l2(prediction, target, mask)
        return l2, {"l2": l2}

    def sample(self, generator, batch):
        prediction = generator(batch["image"], batch["mask"])
        return composite(self.config.mode, batch["image"], batch["mask"], prediction)


def centre_crop(images: jax.Array) -> jax.Array:
    start, stop = centre_box(images.shape[1])
    return images[:, start:stop, start:stop]


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
        cells = conventions.downsample_mask(batch["mask"], FACTOR)
        fake = jnp.where(cells > 0.5, prediction, self._truth(batch)) * FEATURE_SCALE
        return prediction, fake

    def real(self, batch):
        return self._truth(batch) * FEATURE_SCALE

    def reconstruction(self, prediction, batch):
        cells = conventions.downsample_mask(batch["mask"], FACTOR)
        error = (prediction - self._truth(batch)) * FEATURE_SCALE
        l2 = jnp.mean(jnp.square(error))
        return l2, {"feat_l2": l2, "hole_feat_l2": hole_l2(error, jnp.zeros_like(error), cells)}

    def sample(self, generator, batch):
        cells = conventions.downsample_mask(batch["mask"], FACTOR)
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
        cells = conventions.downsample_mask(batch["mask"], FACTOR)
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
