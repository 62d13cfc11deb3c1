"""npsynth.viz: labelled grids of images, checked pixel by pixel on flat tiles."""

from __future__ import annotations

import numpy as np

from npsynth import viz


def test_masked_input_whitens_the_hole():
    image = np.full((4, 4, 3), 0.2, np.float32)
    mask = np.zeros((4, 4, 1), np.float32)
    mask[1:3, 1:3] = 1
    shown = viz.masked_input(image, mask)
    assert shown.dtype == np.float32
    assert (shown[1:3, 1:3] == 1).all() and (shown[0] == np.float32(0.2)).all()


def test_grid_places_labelled_tiles_side_by_side():
    black = np.zeros((10, 20, 3), np.float32)
    grey_mask = np.full((10, 10, 1), 0.5, np.float32)  # one channel: shown grey
    out = viz.grid([("a", black), ("b", grey_mask)])
    assert out.shape == (viz.LABEL_HEIGHT + 10, 20 + viz.GAP + 10, 3)
    tiles = out[viz.LABEL_HEIGHT :]
    assert (tiles[:, :20] == 0).all()
    assert (tiles[:, 20 : 20 + viz.GAP] == 1).all()  # white gap
    np.testing.assert_allclose(tiles[:, 20 + viz.GAP :], 128 / 255)
    assert (out[: viz.LABEL_HEIGHT, :20] < 1).any()  # the label is drawn
    taller = viz.grid([("a", black), ("b", grey_mask)], height=20)
    assert taller.shape == (viz.LABEL_HEIGHT + 20, 40 + viz.GAP + 20, 3)


def test_stack_pads_narrow_rows_white():
    wide, narrow = np.zeros((3, 6, 3), np.float32), np.zeros((2, 4, 3), np.float32)
    out = viz.stack([wide, narrow])
    assert out.shape == (3 + viz.GAP + 2, 6, 3)
    assert (out[3 : 3 + viz.GAP] == 1).all() and (out[-2:, 4:] == 1).all()
    assert (out[-2:, :4] == 0).all()
