"""The window of the texture term: VGG-19 evaluated only around the hole (exact).

With the known pixels fixed, only the feature cells whose receptive field meets the hole
change while a scale is optimised. VGG-19 therefore needs to see only a window around the
hole: the cells that can change are read from the window's features (where the window's
edge does not reach their receptive field), every other cell from features computed once.
The joint loss (Yang et al. 2017, Eq. 1) and its gradient are unchanged; the work shrinks
with the hole.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from npsynth.conventions import STRIDES, receptive_field
from npsynth.losses import DEFAULT_LAYERS, check_layers

# Window sides are rounded up to a multiple of this (pixels), so that holes of similar size
# share one compiled solver.
WINDOW_MULTIPLE = 32


@dataclasses.dataclass(frozen=True)
class TextureWindow:
    """The part of an image VGG-19 must see to evaluate the texture term (Eq. 3) exactly."""

    top: int  # pixels; a multiple of the deepest layer's stride
    left: int
    height: int  # pixels; a multiple of the deepest layer's stride
    width: int
    # layer -> bool [1, h, w, 1]: the cells of the whole image's feature map read from the
    # window's features (all others keep the features of the starting image).
    valid: dict[str, np.ndarray]

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width


def _window_span(first: int, last: int, extent: int, layers, align: int) -> tuple[int, int]:
    """(start, length) along one axis of the window for hole pixels first..last."""
    low, high = first, last + 1
    for layer in layers:
        stride, (before, after) = STRIDES[layer], receptive_field(layer)
        cells = extent // stride
        # The cells whose receptive field meets the hole, which must be computed exactly.
        lo_cell = max(0, -(-(first - after) // stride))
        hi_cell = min(cells - 1, (last + before) // stride)
        low = min(low, stride * lo_cell - before)
        high = max(high, stride * hi_cell + after + 1)
    low = max(0, low // align * align)
    high = min(extent, -(-high // align) * align)
    multiple = math.lcm(WINDOW_MULTIPLE, align)
    length = min(extent, -(-(high - low) // multiple) * multiple)
    return min(low, extent - length), length


def _valid_cells(start: int, length: int, extent: int, layer: str) -> np.ndarray:
    """Cells of `layer` along one axis whose value the window [start, start+length) gives exactly."""
    stride, (before, after) = STRIDES[layer], receptive_field(layer)
    pixel = stride * np.arange(extent // stride)
    inside = (pixel >= start) & (pixel < start + length)
    # A window edge on the image's edge pads exactly as the whole image does.
    sees_before = (pixel - before >= start) | (start == 0)
    sees_after = (pixel + after < start + length) | (start + length == extent)
    return inside & sees_before & sees_after


def texture_window(mask, layers: Sequence[str] = DEFAULT_LAYERS) -> TextureWindow | None:
    """The window VGG-19 must see for the texture term of `layers`, or None if it is the image.

    Args:
      mask: concrete `[N, H, W, 1]`, `[H, W, 1]` or `[H, W]` mask, 1 = hole (the union over
        the batch is used). H and W must be multiples of the deepest layer's stride, else None.
      layers: the texture layers.

    Returns:
      A `TextureWindow` (for `windowed_vgg`), or None when there is no hole or the window
      would not be smaller than the image.
    """
    layers = check_layers(layers)
    hole = np.asarray(mask) != 0
    if hole.ndim == 4:
        hole = hole[..., 0].any(axis=0)
    elif hole.ndim == 3:
        hole = hole[..., 0]
    if hole.ndim != 2:
        raise ValueError(f"mask must be [N, H, W, 1], [H, W, 1] or [H, W]; got {np.shape(mask)}")
    height, width = hole.shape
    align = max(STRIDES[layer] for layer in layers)
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    if rows.size == 0 or height % align or width % align:
        return None
    top, win_h = _window_span(rows[0], rows[-1], height, layers, align)
    left, win_w = _window_span(cols[0], cols[-1], width, layers, align)
    if (win_h, win_w) == (height, width):
        return None
    valid = {
        layer: (
            _valid_cells(top, win_h, height, layer)[:, None]
            & _valid_cells(left, win_w, width, layer)[None, :]
        )[None, :, :, None]
        for layer in layers
    }
    return TextureWindow(int(top), int(left), int(win_h), int(win_w), valid)


def windowed_vgg(
    vgg, fixed: Mapping[str, jax.Array], top, left, size: tuple[int, int], valid
) -> Callable[[jax.Array, Sequence[str]], dict[str, jax.Array]]:
    """A stand-in for `vgg` that runs it on a window of the image only (`texture_window`).

    Args:
      vgg: the texture network, `vgg(x, layers) -> dict`.
      fixed: layer -> `[N, h, w, C]` features of an image with the same known pixels (for
        example the starting image), used for every cell the window does not give exactly.
      top, left: window offset in pixels (int or traced int; multiples of the deepest stride).
      size: static (height, width) of the window, pixels.
      valid: layer -> bool `[1, h, w, 1]`, the cells taken from the window (`TextureWindow.valid`).

    Returns:
      `f(x, layers)` equal to `vgg(x, layers)` wherever the known pixels of `x` are those of
      the image behind `fixed` and its hole lies where `texture_window` saw it.
    """

    def features(x: jax.Array, layers: Sequence[str]) -> dict[str, jax.Array]:
        window = lax.dynamic_slice(x, (0, top, left, 0), (x.shape[0], *size, x.shape[3]))
        inner = vgg(window, layers)
        out = {}
        for layer in layers:
            stride = STRIDES[layer]
            start = (0, top // stride, left // stride, 0)
            placed = lax.dynamic_update_slice(jnp.zeros_like(fixed[layer]), inner[layer], start)
            out[layer] = jnp.where(valid[layer], placed, lax.stop_gradient(fixed[layer]))
        return out

    return features
