"""VGG-19 (Simonyan & Zisserman, 2015) as a Flax NNX module: the texture network.

The neural patches of the joint loss (Yang et al. 2017, Eq. 3) are 3x3 windows of the
relu3_1 and relu4_1 activations of an ImageNet-pretrained VGG-19. This module holds the
16 convolutions with their Caffe input convention; `npsynth.hub.load_vgg19` finds the weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

# The layer table and the image check live with npsynth's conventions (no JAX there), so
# the maths can use them without this network; imported here under their old names.
from npsynth.conventions import (  # noqa: F401 (CONV_NAMES, STRIDES, receptive_field)
    CONV_NAMES,
    CONVS,
    LAYERS,
    STRIDES,
    check_images,
    receptive_field,
)

# Caffe preprocessing: BGR mean of the ImageNet training set, on the [0, 255] scale.
BGR_MEAN = (103.939, 116.779, 123.68)


class VGG19(nnx.Module):
    """VGG-19 convolutional trunk with Caffe preprocessing inside.

    Args:
      pooling: "max" (the original network) or "avg" (smoother gradients, as in Gatys et al.).
      rngs: initialises the convolutions; load real weights with `load_vgg19`.
    """

    def __init__(self, *, pooling: str = "max", rngs: nnx.Rngs):
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        self.pooling = pooling
        for name, c_in, c_out in CONVS:
            setattr(self, name, nnx.Conv(c_in, c_out, (3, 3), padding=((1, 1), (1, 1)), rngs=rngs))

    def __call__(
        self, images: jax.Array, layers: Sequence[str] = ("relu3_1", "relu4_1")
    ) -> dict[str, jax.Array]:
        """Activations of `layers` for `images`.

        Args:
          images: float32 [N, H, W, 3], RGB in [0, 1], any H and W.
          layers: names from `LAYERS` (conv1_1 ... relu5_4, pool1 ... pool4).

        Returns:
          dict layer name -> [N, h, w, C]; nothing past the deepest requested layer is computed.
        """
        if isinstance(layers, str):
            layers = (layers,)
        unknown = [name for name in layers if name not in LAYERS]
        if unknown or not layers:
            raise ValueError(f"unknown VGG-19 layers {unknown or layers}; choose from {LAYERS}")
        check_images(images)
        deepest = max(LAYERS.index(name) for name in layers)
        wanted = set(layers)

        # Caffe convention: [0, 255], RGB -> BGR, minus the BGR mean.
        x = images[..., ::-1] * 255.0 - jnp.asarray(BGR_MEAN, jnp.float32).reshape(1, 1, 1, 3)
        out = {}
        for name in LAYERS[: deepest + 1]:
            if name.startswith("conv"):
                x = getattr(self, name)(x)
            elif name.startswith("relu"):
                x = jax.nn.relu(x)
            elif self.pooling == "max":
                x = nnx.max_pool(x, (2, 2), strides=(2, 2))
            else:
                x = nnx.avg_pool(x, (2, 2), strides=(2, 2))
            if name in wanted:
                out[name] = x
        return out


def vgg19_from_weights(
    weights: Mapping[str, tuple[np.ndarray, np.ndarray]], *, pooling: str = "max"
) -> VGG19:
    """Build a VGG19 holding `weights`: conv name -> (HWIO kernel, bias), float32."""
    model = nnx.eval_shape(lambda: VGG19(pooling=pooling, rngs=nnx.Rngs(0)))
    for name, c_in, c_out in CONVS:
        if name not in weights:
            raise ValueError(f"VGG-19 weights lack layer {name}")
        kernel, bias = weights[name]
        if kernel.shape != (3, 3, c_in, c_out) or bias.shape != (c_out,):
            raise ValueError(
                f"{name}: expected kernel (3, 3, {c_in}, {c_out}) and bias ({c_out},), "
                f"got {kernel.shape} and {bias.shape}"
            )
        conv = getattr(model, name)
        conv.kernel.set_value(jnp.asarray(kernel, jnp.float32))
        conv.bias.set_value(jnp.asarray(bias, jnp.float32))
    return model
