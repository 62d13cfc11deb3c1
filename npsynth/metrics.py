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

PSNR, SSIM and L1 reward a blur; three more measures see texture and colour:

- Sharpness ratio (`sharpness_ratio`): the mean gradient magnitude of the output over the
  hole pixels divided by the truth's over the same pixels (1 = as sharp as the photo, below
  1 = blurrier, above 1 = busier). The gradient is taken on the luminance
  Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) by central differences,
  (Y[i+1] - Y[i-1]) / 2 along each axis, one-sided differences Y[i+1] - Y[i] on the image
  border (`numpy.gradient`); its magnitude is sqrt(dY/dx^2 + dY/dy^2) per pixel. The
  differences at the hole's edge use the known pixels next to it. NaN when the truth is
  flat over the hole (its mean gradient is 0).
- VGG-19 feature distance (`feature_distance`; not LPIPS: no learned weights, no other
  layers): at each hole cell of relu3_1 and relu4_1 of the pretrained VGG-19, the output's
  and the truth's feature vectors are divided by their length over the channels and the
  distance is half their squared difference, 1 - cos(angle) (0 = same features,
  1 = orthogonal); it is averaged over the hole cells of each layer, then over the layers.
  A cell is a hole cell when any pixel of its stride x stride block is a hole pixel.
- Colour gap (`colour_gap`, needs no truth): how far a fill strays from its surroundings,
  the CIE76 colour difference Delta E*ab (Euclidean distance in CIELAB, D65, of
  `skimage.color.rgb2lab`) between the mean CIELAB colour of the hole pixels and that of the
  ring of known pixels at most `ring` pixels (Euclidean distance) from the nearest hole
  pixel. Delta E*ab is about 2.3 at a just noticeable difference; black to white is 100.

Values are computed on the arrays as given: quantise outputs to 8 bits first to score what
a saved PNG holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab
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
# ITU-R BT.601 luma weights of R, G, B: the luminance whose gradient `sharpness_ratio` takes.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# Width (pixels) of the ring of known pixels around the hole that `colour_gap` compares with.
RING_WIDTH = 8
# The VGG-19 layers of `feature_distance` (those of the texture term, Yang et al. 2017 Sec. 3.2).
FEATURE_LAYERS = ("relu3_1", "relu4_1")
# Feature vectors shorter than this count as zero in `feature_distance` (ReLU cells all off).
_FEATURE_EPS = 1e-6


def _psnr(l2: float) -> float:
    return math.inf if l2 == 0.0 else float(10.0 * np.log10(1.0 / l2))


def _hole(mask, size: tuple[int, int]) -> np.ndarray:
    """bool [H, W], True = hole, from a [H, W, 1] or [H, W] mask, or ValueError."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.shape != tuple(size):
        raise ValueError(
            f"mask shape {mask.shape} does not match the image size {tuple(size)}; "
            "pass the [H, W, 1] mask the image was inpainted with"
        )
    hole = mask > 0.5
    if not hole.any():
        raise ValueError("mask has no hole pixels: hole metrics are undefined; check the mask")
    return hole


def _image(image, name: str) -> np.ndarray:
    """float64 [H, W, 3] with finite values, or ValueError."""
    image = np.asarray(image, np.float64)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"{name} must be one image [H, W, 3], got shape {image.shape}; score batches one "
            "image at a time"
        )
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{name} contains NaN or infinite values; metrics need finite pixels")
    return image


def _pair(output, truth, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(output, truth, hole) checked: one image each of the same size, a mask with a hole."""
    output, truth = np.asarray(output), np.asarray(truth)
    if output.ndim != 3 or output.shape[-1] != 3 or output.shape != truth.shape:
        raise ValueError(
            f"output {output.shape} and truth {truth.shape} must both be one image [H, W, 3]; "
            "score batches one image at a time and average the dicts"
        )
    output, truth = _image(output, "output"), _image(truth, "truth")
    return output, truth, _hole(mask, output.shape[:2])


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
    output, truth, hole = _pair(output, truth, mask)
    if min(output.shape[:2]) < _SSIM_WINDOW:
        raise ValueError(
            f"images must be at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels for SSIM "
            f"(Gaussian window, sigma 1.5); got {output.shape[0]}x{output.shape[1]}"
        )
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


def gradient_magnitude(image) -> np.ndarray:
    """float64 [H, W]: the luminance gradient's magnitude at every pixel (see the module
    docstring: BT.601 luminance, central differences, one-sided on the border).

    Args:
      image: float [H, W, 3] in [0, 1], at least 2x2 pixels.
    """
    image = _image(image, "image")
    if min(image.shape[:2]) < 2:
        raise ValueError(f"the gradient needs at least 2x2 pixels, got {image.shape[:2]}")
    luminance = image @ np.asarray(LUMA_WEIGHTS)
    d_rows, d_cols = np.gradient(luminance)
    return np.hypot(d_rows, d_cols)


def sharpness_ratio(output, truth, mask) -> float:
    """The output's mean luminance gradient magnitude over the hole over the truth's.

    Args:
      output: float [H, W, 3], the inpainted image in [0, 1].
      truth: float [H, W, 3], the original image.
      mask: [H, W, 1] (or [H, W]), 1 = hole; values > 0.5 count as hole.

    Returns:
      1.0 when as sharp as the truth, below 1 when blurrier; NaN when the truth is flat over
      the hole.
    """
    output, truth, hole = _pair(output, truth, mask)
    reference = float(gradient_magnitude(truth)[hole].mean())
    if reference == 0.0:
        return math.nan
    return float(gradient_magnitude(output)[hole].mean()) / reference


def colour_gap(image, mask, *, ring: int = RING_WIDTH) -> float:
    """Delta E*ab between the mean CIELAB colour of the hole and of the known ring around it.

    Args:
      image: float [H, W, 3] in [0, 1], the filled photo (or the photo itself, for the gap
        of what the hole covers).
      mask: [H, W, 1] (or [H, W]), 1 = hole; values > 0.5 count as hole.
      ring: the ring's width in pixels: the known pixels whose Euclidean distance to the
        nearest hole pixel is at most `ring`.

    Returns:
      the CIE76 colour difference (0 = the same mean colour; black to white = 100).
    """
    image = _image(image, "image")
    hole = _hole(mask, image.shape[:2])
    if ring < 1:
        raise ValueError(f"ring must be at least 1 pixel wide, got {ring}")
    around = ~hole & (ndimage.distance_transform_edt(~hole) <= ring)
    if not around.any():
        raise ValueError("the hole covers the whole image: there is no ring of known pixels")
    lab = rgb2lab(np.clip(image, 0.0, 1.0))
    return float(np.linalg.norm(lab[hole].mean(axis=0) - lab[around].mean(axis=0)))


def _unit(features: np.ndarray) -> np.ndarray:
    """Each cell's feature vector over its length (over the last axis); zero vectors stay 0."""
    length = np.linalg.norm(features, axis=-1, keepdims=True)
    return features / np.maximum(length, _FEATURE_EPS)


def _feature_span(first: int, last: int, extent: int, layers) -> slice:
    """The pixels along one axis that the hole cells of `layers` depend on (hole pixels
    first..last): each hole cell's receptive field, the start a multiple of the largest
    stride so the window's cells line up with the image's."""
    from npsynth.models.vgg import STRIDES, receptive_field

    align = max(STRIDES[layer] for layer in layers)
    start = min(first - STRIDES[layer] + 1 - receptive_field(layer)[0] for layer in layers)
    stop = max(last + receptive_field(layer)[1] + 1 for layer in layers)
    return slice(max(0, start // align * align), min(extent, stop))


def feature_distances(
    outputs, truth, mask, *, vgg, layers=FEATURE_LAYERS, batch: int = 4
) -> list[float]:
    """The VGG-19 feature distance over the hole (not LPIPS; see the module docstring) of
    each of several outputs from one truth, whose features are computed once.

    VGG-19 sees only the window of the image that the hole cells depend on (their receptive
    fields), so their features are the whole image's at a fraction of the cost.

    Args:
      outputs: a sequence of float [H, W, 3] images in [0, 1], inpainted with `mask`.
      truth: float [H, W, 3], the original image.
      mask: [H, W, 1] (or [H, W]), 1 = hole; values > 0.5 count as hole.
      vgg: the pretrained VGG-19 (`npsynth.hub.default_vgg()`), `vgg(images, layers) -> dict`.
      layers: VGG-19 layers to compare (default relu3_1 and relu4_1).
      batch: outputs per VGG-19 call (bounds the memory).

    Returns:
      per output, the mean over `layers` of the mean over hole cells of
      0.5 |u - v|^2 for the unit-length feature vectors u (output) and v (truth): 1 - cos of
      their angle (0.5 where one of them is all zero). 0 for identical images, 1 for
      orthogonal features; NaN when no layer has a hole cell (a hole only in the trailing
      rows or columns that pooling drops).
    """
    from npsynth.conventions import feature_holes

    checked = [_pair(output, truth, mask) for output in outputs]
    if not checked:
        return []
    truth, hole = checked[0][1], checked[0][2]
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    window = (
        _feature_span(rows[0], rows[-1], hole.shape[0], layers),
        _feature_span(cols[0], cols[-1], hole.shape[1], layers),
    )
    hole = hole[window]
    cells = {
        layer: c[0, ..., 0] for layer, c in feature_holes(hole[None, ..., None], layers).items()
    }
    used = [layer for layer in layers if cells[layer].any()]
    if not used:
        return [math.nan] * len(checked)

    def hole_features(images) -> dict[str, np.ndarray]:
        """layer -> [N, hole cells, C] unit-length features of images [N, H, W, 3]."""
        features = vgg(np.asarray(images, np.float32)[:, window[0], window[1]], used)
        return {
            layer: _unit(np.asarray(features[layer], np.float64)[:, cells[layer]]) for layer in used
        }

    reference = hole_features(truth[None])
    distances = []
    for start in range(0, len(checked), batch):
        chunk = hole_features(np.stack([output for output, _, _ in checked[start : start + batch]]))
        per_layer = [
            0.5 * np.square(chunk[layer] - reference[layer]).sum(axis=-1).mean(axis=-1)
            for layer in used
        ]
        distances += [float(d) for d in np.mean(per_layer, axis=0)]
    return distances


def feature_distance(output, truth, mask, *, vgg, layers=FEATURE_LAYERS) -> float:
    """The VGG-19 feature distance over the hole of one output (`feature_distances`)."""
    return feature_distances([output], truth, mask, vgg=vgg, layers=layers)[0]


def report_metrics(
    outputs: Mapping[str, np.ndarray], truth, mask, *, vgg, ring: int = RING_WIDTH
) -> dict[str, dict[str, float]]:
    """Every measure of an evaluation report for each method's output of one photo.

    Args:
      outputs: method -> float [H, W, 3] filled image in [0, 1].
      truth: float [H, W, 3], the original image.
      mask: [H, W, 1] (or [H, W]), 1 = hole.
      vgg: the pretrained VGG-19, for `feature_distances`.
      ring: the ring's width for `colour_gap`.

    Returns:
      method -> `hole_metrics`, then "sharpness_ratio", "feature_distance" and "colour_gap"
      (of the output, ring `ring`).
    """
    distances = feature_distances(list(outputs.values()), truth, mask, vgg=vgg)
    return {
        method: hole_metrics(output, truth, mask)
        | {
            "sharpness_ratio": sharpness_ratio(output, truth, mask),
            "feature_distance": distance,
            "colour_gap": colour_gap(output, mask, ring=ring),
        }
        for (method, output), distance in zip(outputs.items(), distances)
    }
