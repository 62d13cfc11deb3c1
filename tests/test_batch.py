"""Tests for npsynth.inpaint_batch: several photos at once, one L-BFGS each (jax.vmap)."""

from __future__ import annotations

import numpy as np
import pytest

import npsynth
from npsynth.config import InpaintConfig

TINY = InpaintConfig.tiny(iterations=4)


def _holes():
    first = np.zeros((64, 64, 1), np.float32)
    first[20:44, 16:40] = 1
    second = np.zeros((64, 64, 1), np.float32)
    second[8:30, 30:60] = 1  # another place and size: the batch's window is their union's
    return first, second


def test_a_batch_fills_each_photo_as_one_alone_does(photo, vgg):
    other = np.ascontiguousarray(photo[:, ::-1])
    holes = _holes()
    images = [np.where(h > 0, 0.0, p) for p, h in zip((photo, other), holes)]
    batch = npsynth.inpaint_batch(images, holes, config=TINY, vgg=vgg)
    alone = [npsynth.inpaint(i, h, config=TINY, vgg=vgg) for i, h in zip(images, holes)]
    for together, single, image, hole in zip(batch, alone, images, holes):
        # The same maths as one program per photo; the batched program rounds differently,
        # which 4 L-BFGS iterations amplify to at most about one 8-bit level.
        np.testing.assert_allclose(together.image, single.image, atol=5e-3)
        assert np.mean(np.abs(together.image - single.image)) < 1e-4
        for a, b in zip(together.scales, single.scales):
            np.testing.assert_allclose(a.losses, b.losses, rtol=1e-3)
        known = hole[..., 0] == 0
        np.testing.assert_array_equal(together.image[known], image[known])
    # The photos are solved apart: their fills differ.
    assert np.abs(batch[0].image - batch[1].image).max() > 0.1


def test_a_batch_needs_one_size(photo, vgg):
    small = photo[:48, :48]
    hole = np.zeros((48, 48, 1), np.float32)
    hole[10:20, 10:20] = 1
    with pytest.raises(ValueError, match="one size"):
        npsynth.inpaint_batch([photo, small], [_holes()[0], hole], config=TINY, vgg=vgg)
