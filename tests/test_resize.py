"""Tests for npsynth.resize: resizing images, and masks without losing hole pixels."""

from __future__ import annotations

import numpy as np

from npsynth import masks, resize

# ----------------------------------------------------------------------------------------------
# Resizing


def test_resize_image_keeps_linear_ramps():
    # Bicubic interpolation reproduces linear functions exactly away from the borders; a 2x
    # downsizing samples the ramp at the output pixel centres, x_in = 2 * x_out + 0.5.
    columns = np.arange(32, dtype=np.float32)
    image = np.broadcast_to((columns / 64.0)[None, :, None], (6, 32, 3)).copy()
    small = resize.resize_image(image, (3, 16))
    assert small.shape == (3, 16, 3) and small.dtype == np.float32
    expected = (2 * np.arange(16) + 0.5) / 64.0
    np.testing.assert_allclose(small[1, 3:-3, 0], expected[3:-3], atol=1e-5)


def test_resize_image_constant_batched_and_clipped():
    image = np.full((2, 9, 7, 3), 0.25, np.float32)
    out = resize.resize_image(image, (4, 5))
    assert out.shape == (2, 4, 5, 3)
    np.testing.assert_allclose(out, 0.25, atol=1e-6)
    edge = np.zeros((8, 8, 1), np.float32)
    edge[:, 4:] = 1.0  # Bicubic overshoots at a sharp edge: clipping keeps [0, 1].
    assert resize.resize_image(edge, (8, 13)).max() <= 1.0
    assert resize.resize_image(edge, (8, 13)).min() >= 0.0
    assert resize.resize_image(edge, (8, 13), clip=False).max() > 1.0


def test_resize_mask_by_hand():
    mask = np.zeros((4, 4, 1), np.float32)
    mask[1, 2] = 1
    np.testing.assert_array_equal(resize.resize_mask(mask, (2, 2))[..., 0], [[0, 1], [0, 0]])
    # 3 -> 2: output pixel 0 covers source [0, 1.5), pixel 1 covers [1.5, 3); the centre
    # source pixel straddles both, so it marks all four outputs.
    centre = np.zeros((3, 3, 1), np.float32)
    centre[1, 1] = 1
    np.testing.assert_array_equal(resize.resize_mask(centre, (2, 2))[..., 0], np.ones((2, 2)))
    corner = np.zeros((3, 3, 1), np.float32)
    corner[0, 0] = 1
    np.testing.assert_array_equal(resize.resize_mask(corner, (2, 2))[..., 0], [[1, 0], [0, 0]])
    up = resize.resize_mask(np.array([[[1.0], [0.0]]], np.float32), (2, 4))
    np.testing.assert_array_equal(up[..., 0], [[1, 1, 0, 0], [1, 1, 0, 0]])


def test_resize_mask_never_shrinks_the_hole():
    for seed in range(5):
        mask = masks.free_form_mask(37, 29, rng=seed, max_width=3)
        small = resize.resize_mask(mask[None], (10, 7))[0]
        # Every source hole pixel lies in (the footprint of) a small hole pixel.
        rows = (np.arange(37) * 10) // 37
        cols = (np.arange(29) * 7) // 29
        covered = small[rows[:, None], cols[None, :], 0]
        assert np.all(covered[mask[..., 0] > 0] == 1)
        assert small.shape == (10, 7, 1) and set(np.unique(small)) <= {0.0, 1.0}
