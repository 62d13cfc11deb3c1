"""Hole masks: the mask generators (NumPy + Pillow, no JAX).

The image and mask conventions (float32 `[H, W, 1]` masks in {0, 1}, **1 = hole**, sizes as
`(height, width)`) and the one mask check, `check_mask`, live in `npsynth.conventions`
(imported here, so `npsynth.masks.check_mask` still names it). Pillow's own calls take
`(width, height)`; this module converts. Random masks take `rng`: an int seed or a
`numpy.random.Generator`, so every mask can be reproduced from the config.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from npsynth.conventions import check_mask  # noqa: F401 (the one mask check, named here too)
from npsynth.resize import check_size

# Kinds accepted by `make_mask` (and by the CLI flag `--hole`).
MASK_KINDS = ("center", "center:FRACTION", "boxes", "strokes")


def _as_generator(rng) -> np.random.Generator:
    """A NumPy Generator from an int seed or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"rng must be an int seed or a numpy.random.Generator, got {rng!r}; "
        "pass e.g. rng=0 so the mask can be reproduced"
    )


def _as_range(value, name: str, *, low: int) -> tuple[int, int]:
    """An inclusive (min, max) int range from an int or a pair."""
    lo, hi = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if not low <= lo <= hi:
        raise ValueError(
            f"{name} must be an int or (min, max) with {low} <= min <= max, got {value}"
        )
    return int(lo), int(hi)


def center_mask(height: int, width: int, *, fraction: float = 0.5) -> np.ndarray:
    """A centred rectangular hole whose sides are `fraction` of the image sides.

    The paper's default hole (Yang et al. 2017, Sec. 4) is a centred square of half the side.

    Args:
      height, width: mask size.
      fraction: hole side / image side, in (0, 1).

    Returns:
      float32 [height, width, 1], 1 = hole.
    """
    height, width = check_size((height, width))
    if not 0.0 < fraction < 1.0:
        raise ValueError(
            f"center hole fraction must be in (0, 1), got {fraction}; 0.5 is the paper's hole"
        )
    hole_h = min(height, max(1, round(fraction * height)))
    hole_w = min(width, max(1, round(fraction * width)))
    top, left = (height - hole_h) // 2, (width - hole_w) // 2
    mask = np.zeros((height, width, 1), np.float32)
    mask[top : top + hole_h, left : left + hole_w] = 1.0
    return mask


def random_boxes_mask(
    height: int, width: int, *, rng, count=(1, 4), max_fraction: float = 0.4
) -> np.ndarray:
    """Random axis-aligned rectangular holes (they may overlap).

    Each box side is drawn uniformly between a quarter of and the whole `max_fraction` of
    the image side; its position is uniform inside the image.

    Args:
      height, width: mask size.
      rng: int seed or numpy.random.Generator.
      count: number of boxes, an int or an inclusive (min, max) range.
      max_fraction: largest box side / image side, in (0, 1).

    Returns:
      float32 [height, width, 1], 1 = hole.
    """
    height, width = check_size((height, width))
    rng = _as_generator(rng)
    lo, hi = _as_range(count, "count", low=1)
    if not 0.0 < max_fraction < 1.0:
        raise ValueError(f"max_fraction must be in (0, 1), got {max_fraction}")
    mask = np.zeros((height, width, 1), np.float32)
    for _ in range(rng.integers(lo, hi + 1)):
        sides = []
        for side in (height, width):
            largest = max(1, int(max_fraction * side))
            sides.append(int(rng.integers(max(1, largest // 4), largest + 1)))
        box_h, box_w = sides
        top = int(rng.integers(0, height - box_h + 1))
        left = int(rng.integers(0, width - box_w + 1))
        mask[top : top + box_h, left : left + box_w] = 1.0
    return mask


def free_form_mask(
    height: int,
    width: int,
    *,
    rng,
    strokes=(1, 5),
    vertices=(4, 12),
    max_width: int | None = None,
    max_length: int | None = None,
) -> np.ndarray:
    """Random brush strokes, like the free-form masks of DeepFill v2 (Yu et al. 2019).

    Each stroke starts at a random point and walks through `vertices` random segments; each
    segment turns by up to 90 degrees from the previous one, has a random length up to
    `max_length`, and is drawn as a line of the stroke's random width with round joints.

    Args:
      height, width: mask size.
      rng: int seed or numpy.random.Generator.
      strokes: number of strokes, an int or an inclusive (min, max) range.
      vertices: segments per stroke, an int or an inclusive (min, max) range.
      max_width: widest brush in pixels; default 8% of the shorter side (at least 2).
      max_length: longest segment in pixels; default 25% of the shorter side (at least 2).

    Returns:
      float32 [height, width, 1], 1 = hole. Tiny masks may be covered whole; `check_mask`
      catches that.
    """
    height, width = check_size((height, width))
    rng = _as_generator(rng)
    stroke_lo, stroke_hi = _as_range(strokes, "strokes", low=1)
    vertex_lo, vertex_hi = _as_range(vertices, "vertices", low=1)
    shorter = min(height, width)
    max_width = max(2, round(0.08 * shorter)) if max_width is None else int(max_width)
    max_length = max(2, round(0.25 * shorter)) if max_length is None else int(max_length)
    if max_width < 1 or max_length < 1:
        raise ValueError(f"max_width and max_length must be >= 1, got {max_width}, {max_length}")

    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(stroke_lo, stroke_hi + 1)):
        brush = int(rng.integers(max(1, max_width // 3), max_width + 1))
        radius = brush / 2.0
        heading = rng.uniform(0.0, 2.0 * np.pi)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        points = [(x, y)]
        for _ in range(rng.integers(vertex_lo, vertex_hi + 1)):
            heading += rng.uniform(-np.pi / 2, np.pi / 2)  # A meandering walk.
            length = rng.uniform(max(1.0, max_length / 4), max_length)
            x = float(np.clip(x + length * np.cos(heading), 0, width - 1))
            y = float(np.clip(y + length * np.sin(heading), 0, height - 1))
            points.append((x, y))
        draw.line(points, fill=255, width=brush)
        for px, py in points:  # Round caps and joints.
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return (np.asarray(canvas) > 0).astype(np.float32)[..., None]


def make_mask(kind: str, height: int, width: int, *, rng=None) -> np.ndarray:
    """The mask named by a CLI-style string.

    Args:
      kind: "center" (half-side centred square), "center:FRACTION" (e.g. "center:0.25"),
        "boxes" (`random_boxes_mask`) or "strokes" (`free_form_mask`).
      height, width: mask size.
      rng: int seed or numpy.random.Generator; needed by the random kinds.

    Returns:
      float32 [height, width, 1], 1 = hole.
    """
    name, _, argument = str(kind).strip().lower().partition(":")
    if name == "center":
        if not argument:
            return center_mask(height, width)
        try:
            fraction = float(argument)
        except ValueError:
            raise ValueError(
                f"bad hole {kind!r}: FRACTION in center:FRACTION must be a number, e.g. center:0.25"
            ) from None
        return center_mask(height, width, fraction=fraction)
    if name in ("boxes", "strokes") and not argument:
        if rng is None:
            raise ValueError(f"hole kind {kind!r} is random: pass rng (an int seed or a Generator)")
        maker = random_boxes_mask if name == "boxes" else free_form_mask
        return maker(height, width, rng=rng)
    raise ValueError(f"unknown hole kind {kind!r}; choose one of {', '.join(MASK_KINDS)}")
