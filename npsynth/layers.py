"""Building blocks shared by the networks (`content_net`, `translate`).

`StridedConvTranspose` is `nnx.ConvTranspose` with a 4x4 kernel, stride 2 and "SAME"
padding, the decoder layer of DCGAN and the Context Encoder. It has the same parameters
and output, but it is computed in phase ("sub-pixel") form: four stride-1 2x2
convolutions, one per output phase, interleaved. XLA's CPU backend runs the lhs-dilated
convolution behind `lax.conv_transpose` 5 to 10 times slower than this form, gradient
included (`python -m eval.bench layers`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

# Per axis, output pixel 2q + p of lax.conv_transpose(x, k, (2,), "SAME") with a 4-tap
# kernel (padding 2 on each side of the dilated input) is
#   p = 0: x[q - 1] k[0] + x[q] k[2]      p = 1: x[q] k[1] + x[q + 1] k[3]
# i.e. a 2-tap convolution with taps k[p::2], the input padded by _PHASE_PADDING[p].
_PHASE_PADDING = ((1, 0), (0, 1))


def strided_conv_transpose(x: jax.Array, kernel: jax.Array, bias: jax.Array | None) -> jax.Array:
    """`lax.conv_transpose(x, kernel, (2, 2), "SAME")` (+ bias), computed per output phase.

    Args:
      x: [N, H, W, C_in]; kernel: [4, 4, C_in, C_out] (Flax layout, not flipped);
      bias: [C_out] or None.

    Returns:
      [N, 2H, 2W, C_out].
    """
    if kernel.shape[:2] != (4, 4):
        raise ValueError(f"expected a 4x4 kernel, got {kernel.shape[0]}x{kernel.shape[1]}")
    n, h, w, _ = x.shape
    c_out = kernel.shape[-1]
    kernel = kernel.astype(x.dtype)
    rows = []
    for p_y in (0, 1):
        phases = [
            jax.lax.conv_general_dilated(
                x,
                kernel[p_y::2, p_x::2],
                (1, 1),
                (_PHASE_PADDING[p_y], _PHASE_PADDING[p_x]),
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )
            for p_x in (0, 1)
        ]
        rows.append(jnp.stack(phases, axis=3))  # [N, H, W, 2 (p_x), C]
    y = jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, c_out)  # [N, H, 2 (p_y), W, 2, C]
    if bias is not None:
        y = y + bias.astype(y.dtype).reshape(1, 1, 1, -1)
    return y


class StridedConvTranspose(nnx.ConvTranspose):
    """`nnx.ConvTranspose(c_in, c_out, (4, 4), strides=(2, 2), padding="SAME")`: the same
    parameters and output, computed by `strided_conv_transpose`."""

    def __init__(self, c_in: int, c_out: int, *, rngs: nnx.Rngs, **kwargs):
        super().__init__(c_in, c_out, (4, 4), strides=(2, 2), padding="SAME", rngs=rngs, **kwargs)

    def __call__(self, x: jax.Array) -> jax.Array:
        bias = self.bias[...] if self.bias is not None else None
        return strided_conv_transpose(x, self.kernel[...], bias)
