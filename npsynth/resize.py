"""Host-side resizing of images and masks (NumPy + Pillow, no JAX); sizes are (height, width)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def check_size(size) -> tuple[int, int]:
    """(height, width) as positive ints, or ValueError."""
    try:
        height, width = (int(n) for n in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive (height, width), got {size!r}")
    return height, width


def resize_image(image, size: tuple[int, int], *, clip: bool = True) -> np.ndarray:
    """Resize with Pillow's antialiased bicubic filter, in float32, channel by channel.

    Args:
      image: float [H, W, C] or [N, H, W, C] (any C, e.g. RGB in [0, 1]).
      size: (height, width) of the result.
      clip: clip the result to [0, 1] (bicubic overshoots a little at sharp edges).

    Returns:
      float32 [height, width, C] or [N, height, width, C].
    """
    height, width = check_size(size)
    image = np.asarray(image, np.float32)
    if image.ndim not in (3, 4):
        raise ValueError(
            f"resize_image expects [H, W, C] or [N, H, W, C]; got shape {image.shape}. "
            "Add a channel axis with image[..., None] for greyscale."
        )
    flat = image.reshape((-1,) + image.shape[-3:]) if image.ndim == 4 else image[None]
    out = np.empty((flat.shape[0], height, width, flat.shape[-1]), np.float32)
    for n in range(flat.shape[0]):
        for c in range(flat.shape[-1]):
            band = Image.fromarray(np.ascontiguousarray(flat[n, ..., c]), mode="F")
            out[n, ..., c] = np.asarray(band.resize((width, height), Image.Resampling.BICUBIC))
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out if image.ndim == 4 else out[0]


def _any_over_spans(hole: np.ndarray, axis: int, new_size: int) -> np.ndarray:
    """Resize boolean `hole` along `axis`: an output cell is True if any source cell it
    overlaps is True (output cell i covers source [i*n/new, (i+1)*n/new))."""
    size = hole.shape[axis]
    index = np.arange(new_size)
    starts = (index * size) // new_size
    stops = -((-(index + 1) * size) // new_size)  # Ceiling division.
    counts = np.cumsum(hole, axis=axis, dtype=np.int64)
    counts = np.concatenate([np.zeros_like(np.take(counts, [0], axis=axis)), counts], axis=axis)
    return (np.take(counts, stops, axis=axis) - np.take(counts, starts, axis=axis)) > 0


def resize_mask(mask, size: tuple[int, int]) -> np.ndarray:
    """Resize a mask without ever losing hole area.

    A pixel of the result is a hole if any source pixel its footprint overlaps is a hole,
    so a downsized hole still covers everything the original covered (it may grow by up to
    one output pixel at its border); upsizing by an integer factor is nearest neighbour.

    Args:
      mask: [H, W, 1] or [N, H, W, 1], 1 = hole (values > 0.5 count as hole).
      size: (height, width) of the result.

    Returns:
      float32 [height, width, 1] or [N, height, width, 1] in {0, 1}.
    """
    height, width = check_size(size)
    mask = np.asarray(mask)
    if mask.ndim not in (3, 4) or mask.shape[-1] != 1:
        raise ValueError(
            f"mask must have shape [H, W, 1] or [N, H, W, 1]; got {mask.shape}. "
            "Add the channel axis with mask[..., None]."
        )
    hole = mask > 0.5
    hole = _any_over_spans(hole, mask.ndim - 3, height)
    hole = _any_over_spans(hole, mask.ndim - 2, width)
    return hole.astype(np.float32)
