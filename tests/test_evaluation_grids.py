"""npsynth.harness.grids: input | mask | outputs | truth, tile by tile."""

from __future__ import annotations

import numpy as np

from npsynth import viz
from npsynth.harness.grids import comparison_grid


def test_comparison_grid_columns():
    truth = np.full((12, 12, 3), 0.2, np.float32)
    mask = np.zeros((12, 12, 1), np.float32)
    mask[4:8, 4:8] = 1
    outputs = {"a": np.zeros_like(truth), "b": np.ones_like(truth) * 0.6}
    grid = comparison_grid(truth, mask, outputs)
    step = 12 + viz.GAP
    assert grid.shape == (viz.LABEL_HEIGHT + 12, 5 * 12 + 4 * viz.GAP, 3)
    tiles = [grid[viz.LABEL_HEIGHT :, i * step : i * step + 12] for i in range(5)]
    expected = [
        viz.masked_input(truth, mask),
        np.repeat(mask, 3, axis=-1),
        outputs["a"],
        outputs["b"],
        truth,
    ]
    for tile, want in zip(tiles, expected):
        np.testing.assert_allclose(tile, np.round(want * 255) / 255, atol=1e-6)
    np.testing.assert_array_equal(grid, viz.grid(
        [("input", expected[0]), ("mask", mask), ("a", outputs["a"]), ("b", outputs["b"]),
         ("truth", truth)]
    ))  # fmt: skip
