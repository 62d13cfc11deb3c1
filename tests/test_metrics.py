"""Tests for npsynth.metrics against hand computations and independent SSIM code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from npsynth.metrics import hole_metrics


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
