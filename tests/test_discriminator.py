"""npsynth.models.discriminator: the DCGAN / Context Encoder discriminator."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from npsynth.models.discriminator import Discriminator


def test_discriminator_logits_and_widths():
    disc = nnx.eval_shape(
        lambda: Discriminator(input_size=32, width=4, max_width=8, rngs=nnx.Rngs(0))
    )
    assert [conv.out_features for conv in disc.convs] == [4, 8, 8]
    assert disc.head.in_features == 4 * 4 * 8
    logits = nnx.eval_shape(
        lambda d, x: d(x), disc, jax.ShapeDtypeStruct((3, 32, 32, 3), jnp.float32)
    )
    assert logits.shape == (3,)
    with pytest.raises(ValueError, match=r"\[N, 32, 32, 3\]"):
        nnx.eval_shape(lambda d, x: d(x), disc, jax.ShapeDtypeStruct((1, 16, 16, 3), jnp.float32))


def test_feature_discriminator_takes_256_channels():
    disc = Discriminator(input_size=8, width=4, max_width=8, in_channels=256, rngs=nnx.Rngs(0))
    assert disc.convs[0].in_features == 256 and len(disc.convs) == 1
    features = jnp.asarray(np.random.default_rng(0).random((2, 8, 8, 256)), jnp.float32)
    logits = disc(features)
    assert logits.shape == (2,) and np.all(np.isfinite(np.asarray(logits)))
