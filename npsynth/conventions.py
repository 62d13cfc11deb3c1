"""The conventions npsynth's maths relies on, written down and checked once (NumPy only: no
JAX, Pillow, network or file here, so every layer may import it).

- An image is float32 `[H, W, 3]` (batched: `[N, H, W, 3]`), RGB, values in [0, 1].
- A mask is float32 `[H, W, 1]` (batched: `[N, H, W, 1]`) with values in {0, 1}:
  **1 = hole** (pixels to synthesise), **0 = known** (pixels kept and used as texture source).
- Sizes are given as `(height, width)`, in that order.
- VGG-19's layer L (`LAYERS`) gives a map `[N, H // f, W // f, C]`, f = `STRIDES[L]`; its cell
  `(y, x)` covers the pixels `f*y .. f*y + f - 1` (and `x` likewise) and sees the pixels
  `receptive_field(L)` around them. A cell is a hole cell of Eq. 3 (Yang et al. 2017) when
  any pixel of its block is a hole pixel (`downsample_mask`).

Arrays may be NumPy or JAX arrays; under `jax.jit` (traced) only shapes are checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# VGG-19's 16 convolutions in order, as (name, input channels, output channels)
# (`npsynth.models.vgg.VGG19` builds them).
CONVS: tuple[tuple[str, int, int], ...] = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512), ("conv4_4", 512, 512),
    ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512), ("conv5_4", 512, 512),
)  # fmt: skip
CONV_NAMES: tuple[str, ...] = tuple(name for name, _, _ in CONVS)


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


def is_traced(array) -> bool:
    """Whether `array` is a JAX tracer (under `jax.jit`/`grad`: its values are not known yet),
    told by class name so that this module needs no JAX."""
    return any(cls.__name__ == "Tracer" for cls in type(array).__mro__)


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
    if np.dtype(images.dtype) != np.float32:
        raise ValueError(
            f"{name} must be float32 RGB in [0, 1]; got dtype {images.dtype}. "
            "Convert with np.asarray(img, np.float32) / 255 for 8-bit images."
        )
    if not is_traced(images) and not np.isfinite(np.asarray(images)).all():
        raise ValueError(f"{name} contains NaN or infinite values; pass a finite image.")


def check_mask(
    mask, image_shape: Sequence[int], *, batched: bool = False, need_hole: bool = True
) -> None:
    """Raise ValueError unless `mask` is a usable hole mask for an image of `image_shape`.

    The one mask check of npsynth: `npsynth.inpaint`, the losses and the CLIs all use it.

    Args:
      mask: [H, W, 1] or [N, H, W, 1] (NumPy or JAX array), values in {0, 1}, 1 = hole.
        Under `jax.jit` (a traced mask) only the shape is checked.
      image_shape: shape of the image(s), [H, W, 3] or [N, H, W, 3] (or just (H, W)).
      batched: require [N, H, W, 1] with the N of `image_shape` (the losses' convention).
      need_hole: require every mask to have a hole pixel and a known pixel; the losses
        accept masks without a hole (their texture term is then 0).
    """
    image_shape = tuple(int(n) for n in image_shape)
    if batched:
        expected = image_shape[:3] + (1,)
        if len(image_shape) != 4 or tuple(mask.shape) != expected:
            raise ValueError(
                f"mask must have shape [N, H, W, 1] = {expected} to match images of "
                f"shape {image_shape} (1 = hole, 0 = known); got {tuple(mask.shape)}. "
                "Add the channel axis with mask[..., None]."
            )
    if len(mask.shape) not in (3, 4) or mask.shape[-1] != 1:
        raise ValueError(
            f"mask must have shape [H, W, 1] or [N, H, W, 1]; got {tuple(mask.shape)}. "
            "Add the channel axis with mask[..., None]."
        )
    image_hw = image_shape[:2] if len(image_shape) == 2 else image_shape[-3:-1]
    if tuple(mask.shape[-3:-1]) != image_hw:
        if tuple(mask.shape[-3:-1]) == image_hw[::-1]:
            fix = (
                "they differ by a rotation: if the photo has an EXIF orientation, the mask was "
                "drawn on its unrotated pixels; read it with "
                "npsynth.io.load_mask_for(mask_path, photo_path), which turns it the same way."
            )
        else:
            fix = "resize the mask with load_mask(path, size=(H, W)) or resize_mask."
        raise ValueError(
            f"mask size {mask.shape[-3]}x{mask.shape[-2]} (HxW) does not match the image size "
            f"{image_hw[0]}x{image_hw[1]}; {fix}"
        )
    if len(mask.shape) == 4 and len(image_shape) == 4 and mask.shape[0] != image_shape[0]:
        raise ValueError(
            f"{mask.shape[0]} masks for {image_shape[0]} images; pass one mask per image."
        )
    if is_traced(mask):
        return  # under jit: its values are not known yet
    mask = np.asarray(mask)
    if not np.all((mask == 0) | (mask == 1)):
        bad = np.unique(mask[(mask != 0) & (mask != 1)])[:5]
        raise ValueError(
            f"mask values must be 0 (known) or 1 (hole); found e.g. {bad.tolist()}. "
            "Binarise it, e.g. (mask > 0.5).astype(np.float32)."
        )
    if not need_hole:
        return
    per_image = mask.reshape(-1 if mask.ndim == 4 else 1, image_hw[0] * image_hw[1])
    holes = per_image.sum(axis=1)
    if np.any(holes == 0):
        raise ValueError(
            "mask has no hole pixels: nothing to inpaint. Mark the region to fill with 1 "
            "(white in a mask file)."
        )
    if np.any(holes == per_image.shape[1]):
        raise ValueError(
            "mask covers the whole image: neural patch synthesis needs known pixels to copy "
            "texture from. Leave part of the image unmasked (0, black in a mask file)."
        )


def downsample_mask(mask, factor: int):
    """The hole at the resolution of a feature map `factor` times smaller (Eq. 3's hole cells).

    A cell is a hole when any pixel of its `factor x factor` block is: `hole[n, y, x] =
    max(mask[n, f*y:f*(y+1), f*x:f*(x+1)])`. Trailing rows and columns that do not fill a
    block are dropped, as VGG-19's pooling drops them.

    Args:
      mask: `[N, H, W, 1]`, 1 = hole, 0 = known; a NumPy array (the result is one too, so a
        concrete mask stays concrete under `jax.jit`) or a JAX array.
      factor: downsampling factor f (`STRIDES[layer]`: 4 for relu3_x, 8 for relu4_x).

    Returns:
      `[N, H // f, W // f, 1]`, the same kind of array and dtype as `mask`.
    """
    if mask.ndim != 4 or mask.shape[-1] != 1:
        raise ValueError(
            f"mask must have shape [N, H, W, 1] (1 = hole); got {tuple(mask.shape)}. "
            "Add the channel axis with mask[..., None]."
        )
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    height, width = mask.shape[1:3]
    if height < factor or width < factor:
        raise ValueError(
            f"mask of {height}x{width} pixels is smaller than one {factor}x{factor} cell"
        )
    return _cells(mask, factor)


def _cells(mask, factor: int):
    """`downsample_mask` without its checks; a map smaller than one cell gives no cells."""
    n, height, width, _ = mask.shape
    h, w = height // factor, width // factor
    mask = mask[:, : h * factor, : w * factor, :]
    return mask.reshape(n, h, factor, w, factor, 1).max(axis=(2, 4))


def feature_holes(mask, layers: Sequence[str]) -> dict:
    """The hole cells of every layer of `layers` (`downsample_mask` by `STRIDES[layer]`): a
    concrete mask gives NumPy holes (the patch search then stays static under `jax.jit`)."""
    unknown = [layer for layer in layers if layer not in STRIDES]
    if unknown:
        raise ValueError(f"unknown VGG-19 layers {unknown}; choose from {tuple(STRIDES)}")
    if not is_traced(mask):
        mask = np.asarray(mask)
    if mask.ndim != 4 or mask.shape[-1] != 1:
        raise ValueError(f"mask must have shape [N, H, W, 1] (1 = hole); got {tuple(mask.shape)}")
    return {layer: _cells(mask, STRIDES[layer]) for layer in layers}
