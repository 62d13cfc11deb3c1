"""Tests of npsynth.conventions: the hole at feature resolution and the VGG-19 layer table
(the image and mask checks are tested through their users, tests/test_masks.py and
tests/test_losses.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth import conventions
from references import reference_downsample


def test_downsample_mask_known_values():
    mask = np.zeros((1, 8, 8, 1), np.float32)
    mask[0, 5, 2] = 1
    hole = np.asarray(conventions.downsample_mask(jnp.asarray(mask), 4))
    np.testing.assert_array_equal(hole[0, :, :, 0], [[0, 0], [1, 0]])


def test_downsample_mask_matches_reference_and_crops_like_pooling():
    rng = np.random.default_rng(1)
    mask = (rng.random((2, 19, 13, 1)) < 0.1).astype(np.float32)
    for factor in (2, 4, 8):
        got = conventions.downsample_mask(jnp.asarray(mask), factor)
        assert got.shape == (2, 19 // factor, 13 // factor, 1)
        np.testing.assert_array_equal(got, reference_downsample(mask, factor))
        # A NumPy mask gives NumPy cells, so a concrete mask stays concrete under jit.
        cells = conventions.downsample_mask(mask, factor)
        assert isinstance(cells, np.ndarray)
        np.testing.assert_array_equal(cells, got)
    traced = jax.jit(lambda m: conventions.downsample_mask(m, 4))(mask)
    np.testing.assert_array_equal(traced, reference_downsample(mask, 4))


def test_downsample_mask_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\[N, H, W, 1\]"):
        conventions.downsample_mask(jnp.zeros((1, 8, 8)), 4)
    with pytest.raises(ValueError, match="smaller than one 8x8 cell"):
        conventions.downsample_mask(np.zeros((1, 4, 16, 1)), 8)


def test_feature_holes_are_each_layers_cells():
    mask = np.zeros((1, 32, 8, 1), np.float32)
    mask[0, 9, 3] = 1
    holes = conventions.feature_holes(mask, ("relu3_1", "relu4_1", "relu5_1"))
    np.testing.assert_array_equal(holes["relu3_1"], reference_downsample(mask, 4))
    np.testing.assert_array_equal(holes["relu4_1"], reference_downsample(mask, 8))
    assert holes["relu5_1"].shape == (1, 2, 0, 1)  # 8 px wide: no 16 px cell, no error
    with pytest.raises(ValueError, match="unknown VGG-19 layers"):
        conventions.feature_holes(mask, ("relu9_1",))


def test_layer_table_by_hand():
    assert conventions.STRIDES["relu3_1"] == 4 and conventions.STRIDES["relu4_1"] == 8
    assert conventions.LAYERS[:3] == ("conv1_1", "relu1_1", "conv1_2")
    assert len(conventions.CONVS) == 16
    assert conventions.receptive_field("relu3_1") == (10, 13)
