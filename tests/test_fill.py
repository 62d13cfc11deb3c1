"""Tests for npsynth.fill: mean and harmonic hole filling, and the Poisson paste."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth.fill import harmonic_fill, local_mean, mean_fill, poisson_paste
from references import reference_harmonic


def _irregular_hole(height: int, width: int, seed: int) -> np.ndarray:
    """A blobby hole that touches the image border, float32 [H, W, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    hole = np.zeros((height, width), bool)
    for _ in range(4):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(0.15, 0.3) * min(height, width)
        hole |= (yy - cy) ** 2 + ((xx - cx) * 0.7) ** 2 < radius**2
    hole[0, : width // 3] = True  # Along the top border (zero-flux edge).
    hole[height // 2, :] = True  # A one-pixel line splitting the image.
    return hole.astype(np.float32)[..., None]


def _smooth_image(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width] / max(height, width)
    channels = [
        0.5 + 0.4 * np.sin(rng.uniform(2, 8) * xx + rng.uniform(0, 6)) * np.cos(3 * yy)
        for _ in range(3)
    ]
    noise = rng.uniform(-0.05, 0.05, (height, width, 3))
    return (np.stack(channels, -1) + noise).astype(np.float32)


# Tests reuse two shapes, (12, 15) unbatched and (2, 37, 30) batched, to compile only a few times.


def test_harmonic_fill_matches_sparse_solve_batched():
    images = np.stack([_smooth_image(37, 30, s) for s in (0, 1)])
    masks = np.stack([_irregular_hole(37, 30, s) for s in (2, 3)])
    filled = np.asarray(harmonic_fill(images, masks))
    assert filled.shape == images.shape and filled.dtype == np.float32
    for n in range(2):
        expected = reference_harmonic(images[n], masks[n, ..., 0] > 0)
        np.testing.assert_allclose(filled[n], expected, atol=1e-3)
        known = masks[n, ..., 0] == 0
        np.testing.assert_array_equal(filled[n][known], images[n][known])  # Bit-exact.


@pytest.mark.parametrize("seed", [0, 1])
def test_harmonic_fill_matches_sparse_solve_unbatched_and_jitted(seed):
    image, mask = _smooth_image(12, 15, seed), _irregular_hole(12, 15, seed + 5)
    filled = np.asarray(harmonic_fill(image, mask))
    assert filled.shape == (12, 15, 3)
    np.testing.assert_allclose(filled, reference_harmonic(image, mask[..., 0] > 0), atol=1e-3)
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(filled[known], image[known])
    jitted = np.asarray(jax.jit(harmonic_fill)(image, mask))
    np.testing.assert_allclose(jitted, filled, atol=1e-6)


def test_harmonic_fill_reproduces_a_linear_ramp():
    # A linear ramp is harmonic; with the hole away from the zero-flux border the discrete
    # solution is the ramp itself.
    ramp = np.broadcast_to(np.linspace(0, 1, 15, dtype=np.float32)[None, :, None], (12, 15, 3))
    mask = np.zeros((12, 15, 1), np.float32)
    mask[3:9, 4:11] = 1
    np.testing.assert_allclose(np.asarray(harmonic_fill(ramp, mask)), ramp, atol=1e-5)


def test_harmonic_fill_empty_and_full_holes():
    images = np.random.default_rng(0).random((2, 37, 30, 3)).astype(np.float32)
    masks = np.zeros((2, 37, 30, 1), np.float32)
    masks[1] = 1.0  # No known pixel at all: grey.
    filled = np.asarray(harmonic_fill(images, masks))
    np.testing.assert_array_equal(filled[0], images[0])
    np.testing.assert_allclose(filled[1], 0.5, atol=1e-6)


def test_harmonic_fill_rejects_mismatched_mask():
    with pytest.raises(ValueError, match="mask shape"):
        harmonic_fill(jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 8, 7, 1)))
    with pytest.raises(ValueError, match="float"):
        harmonic_fill(jnp.zeros((8, 8, 3), jnp.uint8), jnp.zeros((8, 8, 1)))


def test_mean_fill_by_hand():
    image = np.zeros((2, 2, 2, 3), np.float32)
    image[0, :, :, 0] = [[0.2, 0.4], [0.9, 0.6]]
    image[0, :, :, 1] = 1.0
    image[1] = 0.3
    mask = np.zeros((2, 2, 2, 1), np.float32)
    mask[0, 1, 0] = 1  # Known red values of image 0: 0.2, 0.4, 0.6 -> mean 0.4.
    mask[1, 0, 1] = 1
    filled = np.asarray(jax.jit(mean_fill)(image, mask))
    np.testing.assert_allclose(filled[0, 1, 0], [0.4, 1.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(filled[1, 0, 1], [0.3, 0.3, 0.3], atol=1e-7)
    keep = np.broadcast_to(mask == 0, image.shape)
    np.testing.assert_array_equal(filled[keep], image[keep])
    single = np.asarray(mean_fill(image[0], mask[0]))
    np.testing.assert_array_equal(single, filled[0])


# ----------------------------------------------------------------------------------------------
# poisson_paste: guided interpolation (Perez et al. 2003) with the source's gradient.


def _guided_reference(source: np.ndarray, target: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Perez et al.'s discrete system, written out densely and solved with np.linalg.solve:
    for each hole pixel p with in-image 4-neighbours N(p),
    |N(p)| f_p - sum_{q in N(p), hole} f_q = sum_{q in N(p), known} target_q
    + sum_{q in N(p)} (source_p - source_q)."""
    height, width = hole.shape
    rows, cols = np.nonzero(hole)
    index = {(y, x): k for k, (y, x) in enumerate(zip(rows, cols))}
    matrix = np.zeros((len(rows), len(rows)))
    rhs = np.zeros((len(rows), source.shape[-1]))
    for k, (y, x) in enumerate(zip(rows, cols)):
        for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if not (0 <= yy < height and 0 <= xx < width):
                continue
            matrix[k, k] += 1.0
            rhs[k] += source[y, x].astype(np.float64) - source[yy, xx]
            if hole[yy, xx]:
                matrix[k, index[yy, xx]] -= 1.0
            else:
                rhs[k] += target[yy, xx]
    out = target.astype(np.float64).copy()
    out[rows, cols] = np.linalg.solve(matrix, rhs)
    return out


def test_poisson_paste_matches_a_dense_solve_of_perez_system():
    rng = np.random.default_rng(7)
    source = rng.random((12, 15, 3), dtype=np.float32)  # Rough: gradients everywhere.
    target = _smooth_image(12, 15, 3)
    mask = _irregular_hole(12, 15, 6)  # Touches the image border (zero flux there).
    pasted = np.asarray(poisson_paste(source, target, mask))
    expected = _guided_reference(source, target, mask[..., 0] > 0)
    np.testing.assert_allclose(pasted, expected, atol=1e-4)
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(pasted[known], target[known])  # Bit for bit.
    jitted = np.asarray(jax.jit(poisson_paste)(source, target, mask))
    np.testing.assert_allclose(jitted, pasted, atol=1e-6)


def test_poisson_paste_one_row_by_hand():
    # One row, hole at columns 1..3 between known 0.0 and 1.0; the source is a spike.
    # f = g + h with h linear from target - source at the ends: h(0) = 0 - 0.5 = -0.5,
    # h(4) = 1 - 0.5 = 0.5, so h = -0.5, -0.25, 0, 0.25, 0.5 and f = g + h.
    source = np.array([0.5, 0.5, 0.9, 0.5, 0.5], np.float32)[None, :, None]
    target = np.array([0.0, 7.0, 7.0, 7.0, 1.0], np.float32)[None, :, None]
    mask = np.array([0, 1, 1, 1, 0], np.float32)[None, :, None]
    pasted = np.asarray(poisson_paste(source, target, mask))[0, :, 0]
    np.testing.assert_allclose(pasted, [0.0, 0.25, 0.9, 0.75, 1.0], atol=1e-5)


def test_poisson_paste_removes_a_colour_offset():
    truth = np.stack([_smooth_image(37, 30, s) for s in (0, 1)])
    masks = np.stack([_irregular_hole(37, 30, s) for s in (2, 3)])
    # A constant offset per channel is removed whatever the hole (it touches the border).
    offset = np.array([0.2, -0.15, 0.05], np.float32)
    pasted = np.asarray(poisson_paste(truth + offset, truth, masks))
    np.testing.assert_allclose(pasted, truth, atol=1e-4)
    # A linear colour ramp too, for a hole away from the zero-flux image border.
    mask = np.zeros((2, 37, 30, 1), np.float32)
    mask[:, 8:30, 5:24] = 1.0
    yy, xx = np.mgrid[:37, :30].astype(np.float32) / 30
    ramp = (0.1 + 0.3 * xx - 0.2 * yy)[None, ..., None] * np.array([1.0, -0.5, 2.0], np.float32)
    pasted = np.asarray(poisson_paste(truth + ramp, truth, mask))
    np.testing.assert_allclose(pasted, truth, atol=1e-4)
    # Pasted directly, the offset would stay: the test above is not trivially true.
    assert np.abs((truth + ramp) - truth)[mask[..., 0] > 0].max() > 0.1


def test_poisson_paste_of_the_truth_is_the_truth_and_no_border_keeps_the_source():
    truth = np.stack([_smooth_image(37, 30, s) for s in (0, 1)])
    masks = np.stack([_irregular_hole(37, 30, s) for s in (2, 3)])
    np.testing.assert_allclose(np.asarray(poisson_paste(truth, truth, masks)), truth, atol=1e-6)
    masks[1] = 1.0  # No known pixel: no border to match, the source is kept.
    source = truth[::-1] + 0.1
    pasted = np.asarray(poisson_paste(source, truth, masks))
    np.testing.assert_allclose(pasted[1], source[1], atol=1e-6)
    known = masks[0, ..., 0] == 0
    np.testing.assert_array_equal(pasted[0][known], truth[0][known])


def test_poisson_paste_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="source shape"):
        poisson_paste(jnp.zeros((8, 7, 3)), jnp.zeros((8, 8, 3)), jnp.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match="mask shape"):
        poisson_paste(jnp.zeros((8, 8, 3)), jnp.zeros((8, 8, 3)), jnp.zeros((8, 7, 1)))


# ----------------------------------------------------------------------------------------------
# local_mean and poisson_paste's offset_sigma: only the offset's smooth part is spread.


def test_local_mean_is_a_normalised_gaussian_convolution():
    # Reference: scipy's Gaussian filter (zero outside the image, cut at 3 sigma) of
    # weights * values over that of the weights, image by image and channel by channel.
    from scipy import ndimage

    rng = np.random.default_rng(3)
    values = rng.random((2, 20, 17, 3), dtype=np.float32)
    weights = rng.random((2, 20, 17, 1)) > 0.4
    got = np.asarray(local_mean(values, weights, 2.0))
    for n in range(2):
        count = ndimage.gaussian_filter(
            weights[n, ..., 0] * 1.0, 2.0, mode="constant", truncate=3.0
        )
        for c in range(3):
            total = ndimage.gaussian_filter(
                values[n, ..., c] * weights[n, ..., 0], 2.0, mode="constant", truncate=3.0
            )
            np.testing.assert_allclose(got[n, ..., c], total / count, atol=1e-5)
    with pytest.raises(ValueError, match="sigma"):
        local_mean(values, weights, 0.0)


def test_local_mean_takes_a_gaussian_wider_than_the_image():
    # A 3x40 strip (a panorama's worked region): the Gaussian reaches past its ends. Cut
    # where the image ends, it gives what scipy's uncut filter (zero outside) gives, and a
    # Gaussian of 1e300 px weighs every pixel alike: the weighted mean of the whole strip.
    from scipy import ndimage

    rng = np.random.default_rng(4)
    values = rng.random((1, 3, 40, 1), dtype=np.float32)
    weights = rng.random((1, 3, 40, 1)) > 0.3
    got = np.asarray(local_mean(values, weights, 50.0))
    count = ndimage.gaussian_filter(weights[0, ..., 0] * 1.0, 50.0, mode="constant", truncate=3.0)
    total = ndimage.gaussian_filter(
        values[0, ..., 0] * weights[0, ..., 0], 50.0, mode="constant", truncate=3.0
    )
    np.testing.assert_allclose(got[0, ..., 0], total / count, atol=1e-5)
    mean = (values * weights).sum() / weights.sum()
    np.testing.assert_allclose(np.asarray(local_mean(values, weights, 1e300)), mean, atol=1e-5)
    with pytest.raises(ValueError, match="finite"):
        local_mean(values, weights, float("inf"))


def _checkerboard_pastes():
    """The photo: 0.5 plus a +-0.2 checkerboard of 1-pixel cells; the fill: a flat 0.3; an
    8x8 hole. Returns source, target, mask, hole and the exact and 3 px averaged pastes."""
    y, x = np.mgrid[:24, :24]
    target = (0.5 + 0.2 * (-1.0) ** (y + x))[..., None].astype(np.float32)
    source = np.full_like(target, 0.3)
    mask = np.zeros((24, 24, 1), np.float32)
    mask[8:16, 8:16] = 1
    exact = np.asarray(poisson_paste(source, target, mask))
    smooth = np.asarray(poisson_paste(source, target, mask, offset_sigma=3.0))
    return source, target, mask, mask[..., 0] > 0, exact, smooth


def test_poisson_paste_with_offset_sigma_spreads_only_the_smooth_offset():
    # The exact paste takes each border pixel's offset (0.0 or 0.4), so the fill near the
    # border swings with the checker; averaged over 3 px the offset is 0.2 everywhere and
    # the hole is a flat 0.5, the photo's mean.
    _, target, _, hole, exact, smooth = _checkerboard_pastes()
    assert np.abs(exact[hole] - 0.5).max() > 0.05
    np.testing.assert_allclose(smooth[hole], 0.5, atol=0.01)
    np.testing.assert_array_equal(smooth[~hole], target[~hole])  # known pixels bit for bit


def test_poisson_paste_exact_weight_blends_the_exact_and_the_averaged_offset():
    # The checkerboard case above: where exact_weight is 1 the paste is Perez's exact one,
    # where it is 0 the averaged one, and in between the two corrections mix linearly
    # (both pastes are source + a harmonic correction).
    source, target, mask, hole, exact, smooth = _checkerboard_pastes()
    ones, zeros = np.ones_like(mask), np.zeros_like(mask)
    got_one = poisson_paste(source, target, mask, offset_sigma=3.0, exact_weight=ones)
    got_zero = poisson_paste(source, target, mask, offset_sigma=3.0, exact_weight=zeros)
    np.testing.assert_allclose(np.asarray(got_one), exact, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got_zero), smooth, atol=1e-5)
    weight = np.broadcast_to(np.arange(24.0) / 23.0, (24, 24))[..., None].astype(np.float32)
    mixed = np.asarray(poisson_paste(source, target, mask, offset_sigma=3.0, exact_weight=weight))
    np.testing.assert_allclose(
        mixed[hole], (weight * exact + (1 - weight) * smooth)[hole], atol=1e-5
    )
    np.testing.assert_array_equal(mixed[~hole], target[~hole])
