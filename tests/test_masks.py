"""Tests for npsynth.masks: the one mask check and the mask generators."""

from __future__ import annotations

import numpy as np
import pytest

from npsynth import masks

# ----------------------------------------------------------------------------------------------
# check_mask


def test_check_mask_accepts_good_masks():
    mask = np.zeros((4, 5, 1), np.float32)
    mask[1, 2] = 1
    masks.check_mask(mask, (4, 5, 3))
    masks.check_mask(np.stack([mask, 1 - mask]), (2, 4, 5, 3))


@pytest.mark.parametrize(
    "mask, shape, message",
    [
        (np.zeros((4, 5), np.float32), (4, 5, 3), r"\[H, W, 1\]"),
        (np.ones((4, 4, 1), np.float32), (4, 5, 3), "4x4 .* 4x5"),
        (np.ones((5, 4, 1), np.float32), (4, 5, 3), "differ by a rotation: .*load_mask_for"),
        (np.zeros((4, 5, 1), np.float32), (4, 5, 3), "no hole pixels: nothing to inpaint"),
        (np.ones((4, 5, 1), np.float32), (4, 5, 3), "covers the whole image"),
        (np.full((4, 5, 1), 0.5, np.float32), (4, 5, 3), r"0 \(known\) or 1 \(hole\)"),
    ],
)
def test_check_mask_errors(mask, shape, message):
    with pytest.raises(ValueError, match=message):
        masks.check_mask(mask, shape)


def test_check_mask_checks_every_image_of_a_batch():
    batch = np.zeros((2, 4, 4, 1), np.float32)
    batch[0, 0, 0] = 1
    with pytest.raises(ValueError, match="no hole pixels"):
        masks.check_mask(batch, (2, 4, 4, 3))


# ----------------------------------------------------------------------------------------------
# Mask generators


def test_center_mask_by_hand():
    mask = masks.center_mask(8, 6)
    expected = np.zeros((8, 6), np.float32)
    expected[2:6, 1:4] = 1  # Half of each side (4 x 3), centred.
    np.testing.assert_array_equal(mask[..., 0], expected)
    assert mask.dtype == np.float32 and mask.shape == (8, 6, 1)
    quarter = masks.center_mask(8, 8, fraction=0.25)
    assert quarter.sum() == 4 and quarter[3:5, 3:5].all()
    with pytest.raises(ValueError, match="fraction"):
        masks.center_mask(8, 8, fraction=1.0)


@pytest.mark.parametrize("maker", [masks.random_boxes_mask, masks.free_form_mask])
def test_random_masks_are_seeded_binary_and_partial(maker):
    drawn = [maker(48, 40, rng=seed) for seed in range(6)]
    for mask in drawn:
        assert mask.dtype == np.float32 and mask.shape == (48, 40, 1)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        masks.check_mask(mask, (48, 40, 3))
    np.testing.assert_array_equal(maker(48, 40, rng=3), drawn[3])
    np.testing.assert_array_equal(maker(48, 40, rng=np.random.default_rng(3)), drawn[3])
    assert not all(np.array_equal(drawn[0], other) for other in drawn[1:])
    with pytest.raises(ValueError, match="rng"):
        maker(48, 40, rng=None)


def test_random_boxes_respect_max_fraction():
    for seed in range(10):
        mask = masks.random_boxes_mask(40, 60, rng=seed, count=1, max_fraction=0.25)[..., 0]
        rows, cols = np.nonzero(mask)
        assert rows.max() - rows.min() + 1 <= 10 and cols.max() - cols.min() + 1 <= 15


def test_make_mask_parses_kinds():
    np.testing.assert_array_equal(masks.make_mask("center", 8, 8), masks.center_mask(8, 8))
    np.testing.assert_array_equal(
        masks.make_mask("center:0.25", 8, 8), masks.center_mask(8, 8, fraction=0.25)
    )
    np.testing.assert_array_equal(
        masks.make_mask("boxes", 8, 9, rng=2), masks.random_boxes_mask(8, 9, rng=2)
    )
    np.testing.assert_array_equal(
        masks.make_mask("strokes", 8, 9, rng=2), masks.free_form_mask(8, 9, rng=2)
    )
    for bad, message in [("circle", "unknown hole kind"), ("center:half", "FRACTION")]:
        with pytest.raises(ValueError, match=message):
            masks.make_mask(bad, 8, 8, rng=0)
    with pytest.raises(ValueError, match="rng"):
        masks.make_mask("strokes", 8, 8)


def test_check_mask_batched_mode_of_the_losses():
    mask = np.zeros((2, 4, 4, 1), np.float32)  # no hole at all: allowed with need_hole=False
    masks.check_mask(mask, (2, 4, 4, 3), batched=True, need_hole=False)
    with pytest.raises(ValueError, match=r"mask must have shape \[N, H, W, 1\]"):
        masks.check_mask(mask[0], (2, 4, 4, 3), batched=True, need_hole=False)
    with pytest.raises(ValueError, match="no hole"):
        masks.check_mask(mask, (2, 4, 4, 3), batched=True)
    with pytest.raises(ValueError, match="0 \\(known\\) or 1"):
        masks.check_mask(mask + 0.5, (2, 4, 4, 3), batched=True, need_hole=False)


def test_check_mask_checks_only_the_shape_of_a_traced_mask():
    import jax

    images = np.zeros((1, 4, 4, 3), np.float32)

    @jax.jit
    def checked(mask):
        masks.check_mask(mask, images.shape, batched=True, need_hole=False)
        return mask.sum()

    assert float(checked(np.full((1, 4, 4, 1), 0.5, np.float32))) == 8.0  # values unknown
    with pytest.raises(ValueError, match="mask must have shape"):
        checked(np.zeros((1, 4, 4), np.float32))
