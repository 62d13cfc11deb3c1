"""npsynth.models.layers: the phase-form transposed convolution, shapes and helpers."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from npsynth.models.layers import (
    StridedConvTranspose,
    count_params,
    eval_mode,
    halvings,
    strided_conv_transpose,
)


def reference_conv_transpose(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """lax.conv_transpose(x, k, (2, 2), "SAME") by its definition, in float64 loops: the
    stride-2 dilated input, padded by 2, correlated with the (unflipped) 4x4 kernel:
    y[o] = sum_i x[i] k[2 i + 2 - o] per axis, taps outside 0..3 dropped."""
    n, h, w, _ = x.shape
    out = np.zeros((n, 2 * h, 2 * w, kernel.shape[-1]))
    for oy in range(2 * h):
        for ox in range(2 * w):
            for iy in range(h):
                ty = 2 * iy + 2 - oy
                if not 0 <= ty < 4:
                    continue
                for ix in range(w):
                    tx = 2 * ix + 2 - ox
                    if 0 <= tx < 4:
                        out[:, oy, ox] += x[:, iy, ix].astype(np.float64) @ kernel[ty, tx]
    return out


def test_strided_conv_transpose_matches_its_definition_and_flax():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    kernel = rng.normal(size=(4, 4, 4, 6)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    got = strided_conv_transpose(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(bias))
    np.testing.assert_allclose(got, reference_conv_transpose(x, kernel) + bias, atol=1e-5)

    ours = StridedConvTranspose(4, 6, rngs=nnx.Rngs(1))
    flax_layer = nnx.ConvTranspose(4, 6, (4, 4), strides=(2, 2), padding="SAME", rngs=nnx.Rngs(1))
    np.testing.assert_array_equal(ours.kernel[...], flax_layer.kernel[...])  # same parameters
    np.testing.assert_allclose(ours(jnp.asarray(x)), flax_layer(jnp.asarray(x)), atol=1e-5)
    with pytest.raises(ValueError, match="4x4"):
        strided_conv_transpose(jnp.asarray(x), jnp.zeros((3, 3, 4, 6)), None)


def test_halvings_count_the_stride_2_layers_down_to_4_pixels():
    assert [halvings(s) for s in (8, 16, 32, 128)] == [1, 2, 3, 5]
    for bad in (4, 12, 100):
        with pytest.raises(ValueError, match="power of two"):
            halvings(bad)


def test_count_params_and_eval_mode():
    model = nnx.Sequential(
        nnx.Linear(3, 4, rngs=nnx.Rngs(0)), nnx.BatchNorm(4, rngs=nnx.Rngs(0)),
        nnx.Dropout(0.5),
    )  # fmt: skip
    assert count_params(model) == 3 * 4 + 4 + 4 + 4  # kernel, bias, BN scale and bias
    viewed = eval_mode(model)
    assert viewed.layers[1].use_running_average and viewed.layers[2].deterministic
    plain = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    assert eval_mode(plain) is plain  # nothing to switch
