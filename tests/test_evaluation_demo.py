"""Tests for npsynth.studies.demo: the built-in object-removal scene."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from npsynth.studies import demo


def test_the_rocket_scenes_mask_covers_both_masts_and_little_else():
    image, mask = demo.rocket_scene(640)
    assert image.shape == (427, 640, 3) and mask.shape == (427, 640, 1)
    _, parts = ndimage.label(mask[..., 0])
    assert parts == 2  # one hole per mast
    assert 0.02 < mask.mean() < 0.1  # under a tenth of the photo
    # Pixels on the masts, read off the photo by eye: the left pole's top and lattice, the
    # right pole's top and lattice; the rocket between them stays known.
    for y, x in ((125, 200), (300, 188), (125, 446), (300, 455)):
        assert mask[y, x, 0] == 1
    assert mask[250, 322, 0] == 0  # the rocket
    small_image, small_mask = demo.rocket_scene(256)
    assert small_image.shape == (171, 256, 3) and small_mask.shape == (171, 256, 1)
    assert set(np.unique(small_mask)) == {0.0, 1.0}
