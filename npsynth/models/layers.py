"""Building blocks shared by the networks (`content_net`, `translation`, `discriminator`).

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
import numpy as np
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


# ----------------------------------------------------------------------------------------------
# Layers of the encoder-decoders and the discriminator (DCGAN / Context Encoder)

# The encoder-decoder's kernels (4x4, stride 2, as in DCGAN and the Context Encoder).
KERNEL = (4, 4)


# The encoder stops at this spatial size (Context Encoder: 4x4x512 before the bottleneck).
BOTTOM = 4


# BatchNorm running-average momentum (PyTorch's 0.1 in Flax's convention).
BN_MOMENTUM = 0.9


# Slope of the discriminator's leaky ReLUs (DCGAN).
LEAKY_SLOPE = 0.2


def halvings(size: int) -> int:
    """How many stride-2 layers take `size` down to `BOTTOM` (size must be BOTTOM * 2^k)."""
    count = size.bit_length() - BOTTOM.bit_length()
    if count < 1 or size != BOTTOM * 2**count:
        raise ValueError(
            f"size must be {BOTTOM} times a power of two (>= {2 * BOTTOM}), got {size}"
        )
    return count


def matrix_init(base=None):
    """`base` drawn as a [fan_in, fan_out] matrix, then reshaped to the kernel's shape.

    The same distribution as `base` on the 4-D kernel (its fan-in is every axis but the
    last), but XLA on CPU compiles 4-D random draws very slowly (seconds per shape).
    """

    base = base or jax.nn.initializers.lecun_normal()

    def init(key, shape, dtype=jnp.float32):
        fan_in = int(np.prod(shape[:-1]))
        return base(key, (fan_in, shape[-1]), dtype).reshape(shape)

    return init


def down_conv(c_in: int, c_out: int, rngs: nnx.Rngs) -> nnx.Conv:
    return nnx.Conv(
        c_in, c_out, KERNEL, strides=(2, 2), padding=((1, 1), (1, 1)),
        kernel_init=matrix_init(), rngs=rngs,
    )  # fmt: skip


def up_conv(c_in: int, c_out: int, rngs: nnx.Rngs) -> StridedConvTranspose:
    return StridedConvTranspose(c_in, c_out, kernel_init=matrix_init(), rngs=rngs)


def batch_norm(channels: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(channels, momentum=BN_MOMENTUM, rngs=rngs)


def conv(c_in, c_out, size=3, *, stride=1, dilation=1, rngs):
    padding = ((1, 1), (1, 1)) if size == 4 else "SAME"
    return nnx.Conv(
        c_in, c_out, (size, size), strides=(stride, stride), kernel_dilation=(dilation, dilation),
        padding=padding, rngs=rngs,
    )  # fmt: skip


def count_params(model: nnx.Module) -> int:
    """Number of trainable parameters."""
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def eval_mode(model: nnx.Module) -> nnx.Module:
    """`model` viewed for inference: dropout off and running batch-norm statistics, where
    it has such layers (`nnx.view` refuses flags no layer uses)."""
    flags = {}
    for _, module in nnx.iter_modules(model):
        if isinstance(module, nnx.Dropout):
            flags["deterministic"] = True
        if isinstance(module, nnx.BatchNorm):
            flags["use_running_average"] = True
    return nnx.view(model, **flags) if flags else model
