"""Tests for npsynth.metrics against hand computations and independent SSIM code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from npsynth.metrics import (
    RING_WIDTH,
    colour_gap,
    feature_distance,
    feature_distances,
    gradient_magnitude,
    hole_metrics,
    report_metrics,
    sharpness_ratio,
)


def _images(seed: int = 0, size: int = 16):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.2, 0.8, (size, size, 3))
    mask = np.zeros((size, size, 1), np.float32)
    mask[4:12, 2:10] = 1  # 64 of 256 pixels.
    return truth, mask


def _ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Wang et al. (2004) SSIM map per channel: Gaussian sigma 1.5 window of 11 taps."""

    def blur(a):
        return np.stack(
            [gaussian_filter(a[..., c], 1.5, truncate=3.5, mode="reflect") for c in range(3)], -1
        )

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def test_constant_error_in_the_hole():
    truth, mask = _images()
    output = truth + 0.1 * mask  # Error 0.1 in every hole pixel and channel, 0 elsewhere.
    metrics = hole_metrics(output, truth, mask)
    assert metrics["l1_hole"] == pytest.approx(0.1)
    assert metrics["l2_hole"] == pytest.approx(0.01)
    assert metrics["psnr_hole"] == pytest.approx(20.0)
    assert metrics["l1_all"] == pytest.approx(0.1 * 64 / 256)
    assert metrics["l2_all"] == pytest.approx(0.01 * 64 / 256)
    assert metrics["psnr_all"] == pytest.approx(10 * math.log10(256 / (0.01 * 64)))
    assert set(metrics) == {
        "l1_hole", "l2_hole", "psnr_hole", "ssim_hole", "l1_all", "l2_all", "psnr_all", "ssim_all"
    }  # fmt: skip
    assert all(isinstance(value, float) for value in metrics.values())


def test_identical_images():
    truth, mask = _images(1)
    metrics = hole_metrics(truth, truth, mask)
    assert metrics["psnr_hole"] == math.inf and metrics["psnr_all"] == math.inf
    assert metrics["l1_hole"] == 0.0 and metrics["l2_all"] == 0.0
    assert metrics["ssim_hole"] == pytest.approx(1.0) and metrics["ssim_all"] == pytest.approx(1.0)


def test_ssim_matches_independent_computations():
    truth, mask = _images(2, size=24)
    noise = np.random.default_rng(3).normal(0, 0.1, truth.shape)
    output = np.clip(truth + noise * mask, 0, 1)
    metrics = hole_metrics(output.astype(np.float32), truth.astype(np.float32), mask)
    expected_all = structural_similarity(
        output.astype(np.float32).astype(np.float64),
        truth.astype(np.float32).astype(np.float64),
        channel_axis=-1,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert metrics["ssim_all"] == pytest.approx(expected_all, abs=1e-6)
    ssim = _ssim_map(output.astype(np.float32).astype(np.float64), truth.astype(np.float32))
    assert metrics["ssim_hole"] == pytest.approx(ssim[mask[..., 0] > 0].mean(), abs=1e-5)
    assert ssim[5:-5, 5:-5].mean() == pytest.approx(expected_all, abs=1e-5)  # Same map.
    assert metrics["ssim_hole"] < 0.99


def test_bad_inputs():
    truth, mask = _images()
    with pytest.raises(ValueError, match="no hole pixels"):
        hole_metrics(truth, truth, np.zeros_like(mask))
    with pytest.raises(ValueError, match="mask shape"):
        hole_metrics(truth, truth, mask[:8])
    with pytest.raises(ValueError, match="one image"):
        hole_metrics(truth[None], truth[None], mask)
    with pytest.raises(ValueError, match="at least 11x11"):
        hole_metrics(truth[:8, :8], truth[:8, :8], mask[:8, :8])


def _grey(values) -> np.ndarray:
    """An image whose three channels all hold `values` [H, W] (so luminance = values)."""
    return np.repeat(np.asarray(values, np.float64)[..., None], 3, axis=-1)


def test_gradient_magnitude_by_hand():
    # A plane of slopes 0.02 per row and 0.01 per column: every difference, central or
    # one-sided on the border, is exact, so |grad| = sqrt(0.02^2 + 0.01^2) everywhere.
    rows, cols = np.mgrid[0:4, 0:5]
    plane = _grey(0.02 * rows + 0.01 * cols)
    np.testing.assert_allclose(gradient_magnitude(plane), np.sqrt(0.02**2 + 0.01**2))
    # Luminance weights: a ramp in green alone has 0.587 times the ramp's slope.
    green = np.zeros((4, 5, 3))
    green[..., 1] = 0.1 * cols
    np.testing.assert_allclose(gradient_magnitude(green), 0.587 * 0.1)


def test_sharpness_ratio_by_hand():
    # Every row of the truth is 0, .1, .2, .3, .4; the hole is columns 1..3.
    truth = _grey(np.tile([0.0, 0.1, 0.2, 0.3, 0.4], (4, 1)))
    mask = np.zeros((4, 5, 1))
    mask[:, 1:4] = 1
    # A flat fill of 0.2: central differences (0.2 - 0) / 2, (0.2 - 0.2) / 2, (0.4 - 0.2) / 2
    # at columns 1, 2, 3 against 0.1 each for the truth: ratio (0.1 + 0 + 0.1) / 0.3.
    flat = _grey(np.tile([0.0, 0.2, 0.2, 0.2, 0.4], (4, 1)))
    assert sharpness_ratio(flat, truth, mask) == pytest.approx(2 / 3)
    assert sharpness_ratio(truth, truth, mask) == 1.0
    # A vertical ramp 0.2 + 0.1 r in the hole (rows r = 0..3), the truth's known columns 0 and
    # 4 kept: d/drow = 0.1 everywhere in the hole; d/dcol = (0.2 + 0.1 r) / 2 at column 1,
    # 0 at column 2, (0.4 - 0.2 - 0.1 r) / 2 at column 3.
    ramp = truth.copy()
    ramp[:, 1:4] = (0.2 + 0.1 * np.arange(4))[:, None, None]
    r = np.arange(4)
    magnitudes = np.concatenate(
        [np.hypot(0.1 + 0.05 * r, 0.1), np.full(4, 0.1), np.hypot(0.1 - 0.05 * r, 0.1)]
    )
    assert sharpness_ratio(ramp, truth, mask) == pytest.approx(magnitudes.mean() / 0.1)
    assert math.isnan(sharpness_ratio(flat, _grey(np.full((4, 5), 0.3)), mask))  # flat truth


def test_colour_gap_by_hand():
    # One hole pixel in the middle of a 9x9 image: with ring = 1 the ring is its four
    # neighbours at distance 1 (the diagonal ones are sqrt(2) away).
    image = np.zeros((9, 9, 3))
    mask = np.zeros((9, 9, 1))
    mask[4, 4] = 1
    for row, col in ((3, 4), (5, 4), (4, 3), (4, 5)):
        image[row, col] = 1.0  # white ring, black hole and everything else black
    assert colour_gap(image, mask, ring=1) == pytest.approx(100.0, abs=1e-3)  # L* 0 to 100
    # ring = 2 adds 4 diagonal and 4 distance-2 pixels, all black: mean L* = 100 * 4 / 12.
    assert colour_gap(image, mask, ring=2) == pytest.approx(100 / 3, abs=1e-3)
    image[4, 4] = 1.0  # a white hole beside its white ring
    assert colour_gap(image, mask, ring=1) == pytest.approx(0.0, abs=1e-3)
    # Two white and two black neighbours: mean (L*, a*, b*) = (50, 0, 0) against white.
    image[3, 4] = image[5, 4] = 0.0
    assert colour_gap(image, mask, ring=1) == pytest.approx(50.0, abs=1e-3)
    with pytest.raises(ValueError, match="no ring"):
        colour_gap(image, np.ones((9, 9, 1)), ring=1)
    with pytest.raises(ValueError, match="no hole"):
        colour_gap(image, np.zeros((9, 9, 1)))


def test_a_foreign_colour_has_a_larger_gap_than_the_rings_colour(photo, hole):
    inside = hole[..., 0] > 0
    around = (np.abs(np.arange(64) - 31.5)[:, None].clip(8, None) < 20) & ~inside  # near it
    plain = np.where(hole > 0, photo[around].mean(axis=0), photo)
    foreign = np.where(hole > 0, np.array([1.0, 0.0, 1.0]), photo)  # magenta
    assert colour_gap(foreign, hole) > colour_gap(plain, hole) + 20


def _blurred(photo, hole, sigma=2.0):
    blur = np.stack([gaussian_filter(photo[..., c], sigma) for c in range(3)], -1)
    return np.where(hole > 0, blur, photo)


def test_a_blurred_hole_is_less_sharp_and_further_in_vgg_features(photo, hole, vgg):
    blurred = _blurred(photo, hole)
    assert sharpness_ratio(photo, photo, hole) == 1.0
    assert sharpness_ratio(blurred, photo, hole) < 0.7
    assert feature_distance(photo, photo, hole, vgg=vgg) == pytest.approx(0.0, abs=1e-6)
    distance = feature_distance(blurred, photo, hole, vgg=vgg)
    assert 0.05 < distance < 1.0
    assert feature_distance(_blurred(photo, hole, 4.0), photo, hole, vgg=vgg) > distance


@pytest.mark.parametrize(
    "size, rows, cols",
    [((128, 128), (10, 20), (12, 21)), ((100, 90), (81, 100), (60, 90))],  # corner; edge
)
def test_feature_distance_in_a_window_equals_the_whole_image(random_vgg, size, rows, cols):
    # A small hole: VGG-19 sees a window around it only; the answer must be what the whole
    # image's features give, computed here directly.
    rng = np.random.default_rng(4)
    truth = rng.uniform(0, 1, (*size, 3)).astype(np.float32)
    mask = np.zeros((*size, 1), np.float32)
    mask[slice(*rows), slice(*cols)] = 1
    outputs = [np.where(mask > 0, rng.uniform(0, 1, truth.shape), truth) for _ in range(3)]
    features = random_vgg(np.stack([*outputs, truth]).astype(np.float32), ("relu3_1", "relu4_1"))
    expected = []
    for layer, stride in (("relu3_1", 4), ("relu4_1", 8)):
        # Hole cells: any pixel of the block is a hole pixel; pooling drops trailing rows.
        cells = np.zeros((size[0] // stride, size[1] // stride), bool)
        cells[rows[0] // stride : (rows[1] - 1) // stride + 1,
              cols[0] // stride : (cols[1] - 1) // stride + 1] = True  # fmt: skip
        *outs, ref = (np.asarray(f, np.float64)[cells] for f in features[layer])
        norm = np.linalg.norm
        expected.append([np.mean(1 - (a * ref).sum(-1) / (norm(a, axis=-1) * norm(ref, axis=-1)))
                         for a in outs])  # fmt: skip
    got = feature_distances(outputs, truth, mask, vgg=random_vgg, batch=2)
    np.testing.assert_allclose(got, np.mean(expected, axis=0), rtol=1e-4)
    only = feature_distance(outputs[1], truth, mask, vgg=random_vgg, layers="relu3_1")
    assert only == pytest.approx(expected[0][1], rel=1e-4)
    assert feature_distances([], truth, mask, vgg=random_vgg) == []


def test_report_metrics_has_every_measure_per_method(photo, hole, random_vgg):
    blurred = _blurred(photo, hole)
    scores = report_metrics({"blur": blurred, "same": photo}, photo, hole, vgg=random_vgg)
    assert list(scores) == ["blur", "same"]
    assert list(scores["blur"]) == [
        "l1_hole", "l2_hole", "psnr_hole", "ssim_hole", "l1_all", "l2_all", "psnr_all",
        "ssim_all", "sharpness_ratio", "feature_distance", "colour_gap",
    ]  # fmt: skip
    assert scores["blur"]["sharpness_ratio"] == sharpness_ratio(blurred, photo, hole)
    assert scores["blur"]["colour_gap"] == colour_gap(blurred, hole, ring=RING_WIDTH)
    assert scores["blur"]["feature_distance"] == pytest.approx(
        feature_distance(blurred, photo, hole, vgg=random_vgg), rel=1e-6
    )
    assert scores["same"]["feature_distance"] == pytest.approx(0.0, abs=1e-6)
    assert all(isinstance(v, float) for row in scores.values() for v in row.values())
