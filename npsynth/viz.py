"""Pictures for people: labelled side-by-side grids (input | mask | output | truth)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

LABEL_HEIGHT = 18
GAP = 4


def masked_input(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image as the method sees it: hole pixels shown white."""
    return np.where(mask > 0, 1.0, image).astype(np.float32)


def grid(columns: Sequence[tuple[str, np.ndarray]], *, height: int | None = None) -> np.ndarray:
    """One row of labelled images, each `[H, W, 3]` or `[H, W, 1]` in [0, 1].

    Args:
      columns: (label, image) pairs, left to right.
      height: resize every image to this height (keeping its aspect); default the first's.

    Returns:
      float32 `[LABEL_HEIGHT + h, total width, 3]` on a white background.
    """
    height = height or columns[0][1].shape[0]
    tiles = []
    for label, image in columns:
        image = np.asarray(image, np.float32)
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        width = max(1, round(image.shape[1] * height / image.shape[0]))
        tile = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
        tiles.append((label, tile.resize((width, height), Image.Resampling.BICUBIC)))
    total = sum(t.width for _, t in tiles) + GAP * (len(tiles) - 1)
    canvas = Image.new("RGB", (total, height + LABEL_HEIGHT), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for label, tile in tiles:
        canvas.paste(tile, (x, LABEL_HEIGHT))
        draw.text((x + 2, 3), label, fill="black")
        x += tile.width + GAP
    return np.asarray(canvas, np.float32) / 255.0


def stack(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of equal width one above the other (narrower rows padded white on the right)."""
    width = max(r.shape[1] for r in rows)
    padded = [
        np.pad(r, [(0, GAP), (0, width - r.shape[1]), (0, 0)], constant_values=1.0) for r in rows
    ]
    return np.concatenate(padded, axis=0)[:-GAP]
