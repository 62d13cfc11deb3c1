"""The two networks of feature image translation (Song, Yang, Lin et al. 2018, arXiv 1711.08590).

Image2Feature predicts the hole's VGG-19 relu3_1 features from the masked image; Feature2Image
decodes (patch-swapped) relu3_1 features back to an RGB image (the paper's Sec. 3 and Fig. 4).
Arrays are NHWC float32; images RGB in [0, 1]; masks [N, H, W, 1], 1 = hole; features are
relu3_1 of the pretrained VGG-19 (Caffe preprocessing), 4x smaller than the image.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from npsynth.config.models import Feature2ImageConfig, Image2FeatureConfig
from npsynth.fill import mean_fill
from npsynth.models.layers import StridedConvTranspose, conv
from npsynth.models.vgg import STRIDES

# The feature layer both networks translate to and from (Song et al. 2018, Sec. 3.2).
LAYER = "relu3_1"
CHANNELS = 256
FACTOR = STRIDES[LAYER]  # 4: relu3_1 is 4x smaller than the image.


# relu3_1 of the Caffe VGG-19 has a root mean square of about 400 on photos (eval512 at
# 128 px: 424); the networks see and predict features times this, about unit scale.
FEATURE_SCALE = 1.0 / 400.0


class ResidualBlock(nnx.Module):
    """x + conv(elu(conv(elu(x)))), 3x3 convolutions with the given dilation."""

    def __init__(self, channels: int, *, dilation: int = 1, rngs: nnx.Rngs):
        self.conv1 = conv(channels, channels, dilation=dilation, rngs=rngs)
        self.conv2 = conv(channels, channels, rngs=rngs)

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
        self.down1 = conv(4, w1, 4, stride=2, rngs=rngs)
        self.down2 = conv(w1, w2, 4, stride=2, rngs=rngs)
        self.blocks = nnx.List([ResidualBlock(w2, dilation=d, rngs=rngs) for d in config.dilations])
        self.head = conv(w2, CHANNELS, rngs=rngs)

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
        self.stem = conv(CHANNELS, w0, rngs=rngs)
        self.blocks = nnx.List([ResidualBlock(w0, rngs=rngs) for _ in range(config.blocks)])
        self.up1 = StridedConvTranspose(w0, w1, rngs=rngs)
        self.conv1 = conv(w1, w1, rngs=rngs)
        self.up2 = StridedConvTranspose(w1, w2, rngs=rngs)
        self.out = conv(w2, 3, rngs=rngs)

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
