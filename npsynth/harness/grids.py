"""The picture of one evaluated photo: input | mask | each method's output | truth."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from npsynth import viz


def comparison_grid(
    truth: np.ndarray, mask: np.ndarray, outputs: Mapping[str, np.ndarray], **options
) -> np.ndarray:
    """One labelled row: the input as the methods see it (hole white), the mask, every
    output under its method's name, and the true photo.

    Args:
      truth: [H, W, 3] the photo in [0, 1]; mask: [H, W, 1], 1 = hole.
      outputs: method name -> [H, W, 3] filled photo, left to right.
      options: passed to `npsynth.viz.grid` (e.g. `height`).

    Returns:
      float32 [LABEL_HEIGHT + H, total width, 3] (`npsynth.viz.grid`).
    """
    columns = [("input", viz.masked_input(truth, mask)), ("mask", mask)]
    columns += [*outputs.items(), ("truth", truth)]
    return viz.grid(columns, **options)
