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

# The 16 convolutions in order, as (name, input channels, output channels).
CONVS: tuple[tuple[str, int, int], ...] = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512), ("conv4_4", 512, 512),
    ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512), ("conv5_4", 512, 512),
)  # fmt: skip
CONV_NAMES: tuple[str, ...] = tuple(name for name, _, _ in CONVS)

# Caffe preprocessing: BGR mean of the ImageNet training set, on the [0, 255] scale.
BGR_MEAN = (103.939, 116.779, 123.68)


def _layer_table() -> tuple[tuple[str, ...], dict[str, int]]:
    """Every named output in forward order, and its downsampling factor relative to the input."""
    names, strides = [], {}
    for block in range(1, 6):
        for conv in (name for name in CONV_NAMES if name.startswith(f"conv{block}_")):
            for name in (conv, "relu" + conv[4:]):
                names.append(name)
                strides[name] = 2 ** (block - 1)
        if block < 5:
            names.append(f"pool{block}")
            strides[f"pool{block}"] = 2**block
    return tuple(names), strides


# LAYERS: conv1_1, relu1_1, ..., pool1, ..., relu5_4. STRIDES: f of the joint-loss definition
# (4 for relu3_x, 8 for relu4_x).
LAYERS, STRIDES = _layer_table()


def receptive_field(layer: str) -> tuple[int, int]:
    """How far `layer` sees: cell i (stride s = STRIDES[layer]) depends exactly on the input
    pixels s*i - before ... s*i + after. Returns (before, after).

    Each 3x3 convolution widens the field by one cell of its input on both sides; each 2x2
    stride-2 pooling adds one input cell after (e.g. relu3_1: (10, 13); relu4_1: (30, 37)).
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown VGG-19 layer {layer!r}; choose from {LAYERS}")
    before = after = 0
    step = 1  # input pixels per cell of the current map
    for name in LAYERS[: LAYERS.index(layer) + 1]:
        if name.startswith("conv"):
            before, after = before + step, after + step
        elif name.startswith("pool"):
            after += step
            step *= 2
    return before, after


def check_images(images, name: str = "images") -> None:
    """Raise ValueError unless `images` is float32 [N, H, W, 3] (and finite, when concrete).

    Finiteness is tested in NumPy: under jit even a concrete array closed over by the jitted
    function gives tracers through jnp. `name` is the argument named in the message.
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"{name} must have shape [N, H, W, 3] (RGB, NHWC); got shape {tuple(images.shape)}. "
            "Add a batch axis with images[None] or drop an alpha channel with images[..., :3]."
        )
    if images.dtype != jnp.float32:
        raise ValueError(
            f"{name} must be float32 RGB in [0, 1]; got dtype {images.dtype}. "
            "Convert with np.asarray(img, np.float32) / 255 for 8-bit images."
        )
    if not isinstance(images, jax.core.Tracer) and not np.isfinite(np.asarray(images)).all():
        raise ValueError(f"{name} contains NaN or infinite values; pass a finite image.")


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
