"""npsynth.models.translation: Image2Feature and Feature2Image (Song et al. 2018)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from npsynth.config import Feature2ImageConfig, Image2FeatureConfig
from npsynth.models.translation import FeatureToImage, ImageToFeature, ResidualBlock

TINY_F2I = Feature2ImageConfig(image_size=32, widths=(8, 8, 8), blocks=1)
TINY_I2F = Image2FeatureConfig(image_size=32, widths=(8, 16), dilations=(1, 2))


def test_network_shapes_ranges_and_errors():
    i2f = ImageToFeature(TINY_I2F, rngs=nnx.Rngs(0))
    f2i = FeatureToImage(TINY_F2I, rngs=nnx.Rngs(0))
    images = jnp.asarray(np.random.default_rng(0).random((2, 24, 36, 3), dtype=np.float32))
    mask = jnp.zeros((2, 24, 36, 1)).at[:, 8:16, 10:20].set(1.0)
    features = i2f(images, mask)
    assert features.shape == (2, 6, 9, 256) and float(features.min()) >= 0.0
    decoded = f2i(features)
    assert decoded.shape == (2, 24, 36, 3)
    assert 0.0 <= float(decoded.min()) and float(decoded.max()) <= 1.0
    # The hole's pixels are not seen: changing them changes nothing.
    scribbled = jnp.where(mask > 0, 1.0 - images, images)
    np.testing.assert_allclose(i2f(scribbled, mask), features, rtol=1e-5, atol=1e-3)

    with pytest.raises(ValueError, match="divisible by 4"):
        i2f(images[:, :22], mask[:, :22])
    with pytest.raises(ValueError, match="mask"):
        i2f(images, mask[..., :1][:, :, :-4])
    with pytest.raises(ValueError, match="relu3_1 features"):
        f2i(features[..., :128])
    with pytest.raises(ValueError, match="widths"):
        Feature2ImageConfig(widths=(8, 8))
    with pytest.raises(ValueError, match="power of two"):
        Image2FeatureConfig(image_size=48)


def test_residual_block_is_x_plus_two_convolutions():
    block = ResidualBlock(3, dilation=2, rngs=nnx.Rngs(1))
    x = jnp.asarray(np.random.default_rng(2).normal(size=(1, 9, 9, 3)), jnp.float32)
    elu = nnx.elu
    expected = x + block.conv2(elu(block.conv1(elu(x))))
    np.testing.assert_allclose(block(x), expected, rtol=1e-6)
    assert block.conv1.kernel_dilation == (2, 2) and block.conv2.kernel_dilation == (1, 1)
