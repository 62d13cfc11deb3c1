"""Inpainting quality metrics over the hole and over the whole image (NumPy + scikit-image).

Definitions (images in [0, 1], masks with 1 = hole, see `npsynth.masks`):

- L1, L2: mean absolute and mean squared error over the hole pixels and the 3 channels
  (`*_hole`), or over all pixels and channels (`*_all`).
- PSNR = 10 log10(1 / L2) in dB (data range 1.0); `inf` when L2 is 0 (identical pixels).
- SSIM: the structural similarity of Wang et al. (2004) with their settings: an 11x11
  Gaussian window of sigma 1.5, population (co)variances, K1 = 0.01, K2 = 0.03, data range
  1.0, per channel (`skimage.metrics.structural_similarity(..., channel_axis=-1,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)`).
  `ssim_all` is exactly scikit-image's value: the mean of the SSIM map without its 5-pixel
  border. `ssim_hole` is the mean of the same SSIM map over the hole pixels and channels,
  border included (there the windows are reflected at the image edge), so holes touching the
  border are scored too. SSIM windows straddle the hole border, so ssim_hole also sees some
  known pixels around the hole.

Values are computed on the arrays as given: quantise outputs to 8 bits first to score what
a saved PNG holds.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

# Wang et al. (2004) SSIM settings; the Gaussian window is 11x11 (truncated at 3.5 sigma).
SSIM_SETTINGS = {
    "channel_axis": -1,
    "data_range": 1.0,
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
}
_SSIM_WINDOW = 11


def _psnr(l2: float) -> float:
    return math.inf if l2 == 0.0 else float(10.0 * np.log10(1.0 / l2))


def hole_metrics(output, truth, mask) -> dict[str, float]:
    """L1, L2, PSNR and SSIM of an inpainted image, over the hole and over the whole image.

    Args:
      output: float [H, W, 3], the inpainted image in [0, 1].
      truth: float [H, W, 3], the original image.
      mask: [H, W, 1] (or [H, W]), 1 = hole; values > 0.5 count as hole.

    Returns:
      {"l1_hole", "l2_hole", "psnr_hole", "ssim_hole", "l1_all", "l2_all", "psnr_all",
      "ssim_all"} as Python floats; PSNR is `math.inf` for identical pixels. See the module
      docstring for the exact definitions.
    """
    output = np.asarray(output, np.float64)
    truth = np.asarray(truth, np.float64)
    mask = np.asarray(mask)
    if output.ndim != 3 or output.shape[-1] != 3 or output.shape != truth.shape:
        raise ValueError(
            f"output {output.shape} and truth {truth.shape} must both be one image [H, W, 3]; "
            "score batches one image at a time and average the dicts"
        )
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.shape != output.shape[:2]:
        raise ValueError(
            f"mask shape {mask.shape} does not match the image size {output.shape[:2]}; "
            "pass the [H, W, 1] mask the image was inpainted with"
        )
    if min(output.shape[:2]) < _SSIM_WINDOW:
        raise ValueError(
            f"images must be at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels for SSIM "
            f"(Gaussian window, sigma 1.5); got {output.shape[0]}x{output.shape[1]}"
        )
    if not (np.all(np.isfinite(output)) and np.all(np.isfinite(truth))):
        raise ValueError(
            "output or truth contains NaN or infinite values; metrics need finite pixels"
        )
    hole = mask > 0.5
    if not hole.any():
        raise ValueError("mask has no hole pixels: hole metrics are undefined; check the mask")

    error = output - truth
    ssim_all, ssim_map = structural_similarity(output, truth, full=True, **SSIM_SETTINGS)
    l1_hole = float(np.abs(error[hole]).mean())
    l2_hole = float(np.square(error[hole]).mean())
    l1_all = float(np.abs(error).mean())
    l2_all = float(np.square(error).mean())
    return {
        "l1_hole": l1_hole,
        "l2_hole": l2_hole,
        "psnr_hole": _psnr(l2_hole),
        "ssim_hole": float(ssim_map[hole].mean()),
        "l1_all": l1_all,
        "l2_all": l2_all,
        "psnr_all": _psnr(l2_all),
        "ssim_all": float(ssim_all),
    }
