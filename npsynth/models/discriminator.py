"""The discriminator shared by the three adversarially trained networks (Context Encoder /
DCGAN style, Pathak et al. 2016).
"""

from __future__ import annotations

import itertools

import jax
from flax import nnx

from npsynth.models.layers import BOTTOM, LEAKY_SLOPE, batch_norm, down_conv, halvings


class Discriminator(nnx.Module):
    """Context-Encoder / DCGAN discriminator: strided 4x4 convolutions to 4x4, then one logit.

    Layer i has min(width * 2^i, max_width) channels, leaky ReLU (0.2) and batch norm after
    all but the first; a fully connected layer (a 4x4 valid convolution) gives the logit.

    Args:
      input_size: side of the judged image, 4 * 2^k: the central half in paper mode, the
        whole image in freeform mode.
      width, max_width: channel widths (Context Encoder: 64 and 512).
      in_channels: 3 for images; Image2Feature's discriminator judges 256-channel features.
      rngs: initialises the weights.
    """

    def __init__(
        self,
        *,
        input_size: int,
        width: int = 64,
        max_width: int = 512,
        in_channels: int = 3,
        rngs: nnx.Rngs,
    ):
        count = halvings(input_size)
        channels = tuple(min(width * 2**i, max_width) for i in range(count))
        self.input_size = input_size
        self.in_channels = in_channels
        widths = (in_channels,) + channels
        self.convs = nnx.List([down_conv(a, b, rngs) for a, b in itertools.pairwise(widths)])
        self.norms = nnx.List([batch_norm(c, rngs) for c in channels[1:]])
        self.head = nnx.Linear(BOTTOM * BOTTOM * channels[-1], 1, rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        """Real/fake logits for float32 [N, input_size, input_size, C] in [0, 1] -> [N]."""
        size, c = self.input_size, self.in_channels
        if images.ndim != 4 or images.shape[1:] != (size, size, c):
            raise ValueError(
                f"Discriminator expects images [N, {size}, {size}, {c}], got {tuple(images.shape)}"
            )
        x = images * 2.0 - 1.0
        for index, conv in enumerate(self.convs):
            x = conv(x)
            if index > 0:
                x = self.norms[index - 1](x)
            x = jax.nn.leaky_relu(x, LEAKY_SLOPE)
        return self.head(x.reshape(x.shape[0], -1))[:, 0]
