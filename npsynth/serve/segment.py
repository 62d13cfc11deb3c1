"""Select an object for the web page: a box around it or a click on it proposes the hole.

The proposal is OpenCV's GrabCut (Rother, Kolmogorov and Blake 2004, "GrabCut: interactive
foreground extraction using iterated graph cuts"): a colour model (Gaussian mixtures) of the
object and of the background, refined with a graph cut a few times. It is seeded by

- a box: outside it is background for sure, inside probably the object;
- a click: a small disc around it is the object for sure, a larger one probably the object,
  the rest probably background; the answer keeps only the part connected to the click;
- the painted strokes, if any: painted pixels are the object for sure (inside the box).

It works on the photo shrunk to about `WORK_PIXELS` (about a second on one CPU core whatever
the photo's size), then the answer is scaled back and grown by `grow` pixels (objects leave
shadows and halos). Pure: arrays in, a boolean mask out; OpenCV is imported when called.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

WORK_PIXELS = 250_000  # the photo is shrunk to about this many pixels for the graph cut
ITERATIONS = 4  # GrabCut's rounds of colour model + graph cut
CLICK_SURE, CLICK_LIKELY = 0.01, 0.08  # a click's seed discs, in fractions of the shorter side
MAX_GROW = 200  # the most pixels a selection may grow by


def select_object(
    image: np.ndarray,
    *,
    box: Sequence[float] | None = None,
    point: Sequence[float] | None = None,
    painted: np.ndarray | None = None,
    grow: int = 0,
    work_pixels: int = WORK_PIXELS,
    iterations: int = ITERATIONS,
) -> np.ndarray:
    """The object in `image` that `box` surrounds or `point` lies on, as a hole mask.

    Args:
      image: uint8 [H, W, 3] RGB photo.
      box: (x0, y0, x1, y1) in photo pixels (any corner order), or None.
      point: (x, y) in photo pixels, or None. Exactly one of box and point.
      painted: bool [H, W], pixels already painted as hole (the object for sure), or None.
      grow: pixels to grow the selection by on every side (0 to MAX_GROW).
    Returns:
      bool [H, W], True = the selected object (the hole to fill).
    Raises:
      ValueError: neither or both of box and point, one outside the photo, a box with no
      area, `painted` of another size, `grow` out of range.
    """
    import cv2

    height, width = image.shape[:2]
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"the photo must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
    if (box is None) == (point is None):
        raise ValueError("give a box around the object or a point on it (one of them)")
    if painted is not None and painted.shape != (height, width):
        raise ValueError(f"the painted mask is {painted.shape}, the photo {height}x{width}")
    if not 0 <= grow <= MAX_GROW:
        raise ValueError(f"grow must be 0 to {MAX_GROW} pixels, got {grow}")

    scale = min(1.0, math.sqrt(work_pixels / (height * width)))
    small_h, small_w = max(1, round(height * scale)), max(1, round(width * scale))
    small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
    sure = None
    if painted is not None and painted.any():
        sure = cv2.resize(painted.astype(np.uint8), (small_w, small_h), cv2.INTER_NEAREST) > 0

    if box is not None:
        seeds, inside = _box_seeds((small_h, small_w), box, scale, (height, width))
        if sure is not None:
            seeds[sure & inside] = cv2.GC_FGD
        keep_at = None
    else:
        seeds, keep_at = _click_seeds((small_h, small_w), point, scale, (height, width))
        if sure is not None:
            seeds[sure] = cv2.GC_FGD
    if not np.isin(seeds, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
        seeds[[0, -1], :] = cv2.GC_BGD  # a box over the whole photo: its border is background
        seeds[:, [0, -1]] = cv2.GC_BGD
    background, foreground = np.zeros((1, 65)), np.zeros((1, 65))  # GrabCut's model buffers
    cv2.grabCut(small, seeds, None, background, foreground, iterations, cv2.GC_INIT_WITH_MASK)
    selected = np.isin(seeds, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if keep_at is not None:
        selected = _component_at(selected, keep_at)
    if scale < 1.0:
        grown = cv2.resize(selected.astype(np.float32), (width, height), cv2.INTER_LINEAR)
        selected = (grown >= 0.5).astype(np.uint8)
    return grow_mask(selected > 0, grow)


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` grown by `pixels` on every side: every pixel at most that far from it (Euclid)."""
    if pixels <= 0 or not mask.any():
        return mask.copy()
    import cv2

    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= pixels


def _box_seeds(small_size, box, scale, size):
    """GrabCut seeds of a box: certain background outside, probable object inside."""
    import cv2

    height, width = size
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise ValueError(f"the box {tuple(box)} is outside the {width}x{height} photo")
    left, right = max(0, math.floor(x0 * scale)), min(small_size[1], math.ceil(x1 * scale))
    top, bottom = max(0, math.floor(y0 * scale)), min(small_size[0], math.ceil(y1 * scale))
    if right - left < 2 or bottom - top < 2:
        raise ValueError("the box is too small: draw it around the whole object")
    seeds = np.full(small_size, cv2.GC_BGD, np.uint8)
    seeds[top:bottom, left:right] = cv2.GC_PR_FGD
    return seeds, seeds == cv2.GC_PR_FGD


def _click_seeds(small_size, point, scale, size):
    """GrabCut seeds of a click: a sure disc, a probable disc around it, probable background."""
    import cv2

    height, width = size
    x, y = (float(v) for v in point)
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"the point {tuple(point)} is outside the {width}x{height} photo")
    centre = (min(small_size[1] - 1, int(x * scale)), min(small_size[0] - 1, int(y * scale)))
    side = min(small_size)
    seeds = np.full(small_size, cv2.GC_PR_BGD, np.uint8)
    cv2.circle(seeds, centre, max(2, round(CLICK_LIKELY * side)), cv2.GC_PR_FGD, -1)
    cv2.circle(seeds, centre, max(1, round(CLICK_SURE * side)), cv2.GC_FGD, -1)
    return seeds, centre


def _component_at(selected: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """The connected part of `selected` (uint8 0/1) that contains pixel `at` = (x, y)."""
    import cv2

    _, labels = cv2.connectedComponents(selected, connectivity=8)
    label = labels[at[1], at[0]]
    return ((labels == label) & (label != 0)).astype(np.uint8)
