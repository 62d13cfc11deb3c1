"""Classical inpainting baselines to compare neural patch synthesis with.

Each baseline is `fn(image, mask) -> filled`: image float32 [H, W, 3] RGB in [0, 1], mask
[H, W, 1] with 1 = hole (as in `npsynth.masks`); the result is float32 [H, W, 3] in [0, 1]
whose known pixels are exactly the input's. OpenCV and PatchMatch work on 8-bit images, so
their hole pixels are multiples of 1/255.

The OpenCV baselines need the `compare` extra: `pip install "npsynth[compare]"`
(opencv-python-headless); PatchMatch's package, pypatchmatch, is a core dependency.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# OpenCV's inpaint radius (pixels around each hole pixel that are used), its usual value.
CV2_RADIUS = 3

_INSTALL_HINT = 'install the comparison baselines with: pip install "npsynth[compare]"'


def _checked(image, mask) -> tuple[np.ndarray, np.ndarray]:
    """(float32 [H, W, 3] image, bool [H, W] hole), or ValueError."""
    image = np.asarray(image, np.float32)
    mask = np.asarray(mask)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"baselines take one RGB image [H, W, 3]; got shape {image.shape}. "
            "Call them per image (images[i])."
        )
    if mask.shape != image.shape[:2] + (1,):
        raise ValueError(
            f"mask shape {mask.shape} does not match image shape {image.shape}; "
            "pass a [H, W, 1] mask of the image's size, 1 = hole"
        )
    return image, mask[..., 0] > 0.5


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _merge(image: np.ndarray, hole: np.ndarray, filled) -> np.ndarray:
    """Hole pixels from `filled` (uint8 or float), known pixels exactly from `image`."""
    filled = np.asarray(filled)
    if filled.dtype == np.uint8:
        filled = filled.astype(np.float32) / 255.0
    filled = np.clip(filled.astype(np.float32), 0.0, 1.0)
    return np.where(hole[..., None], filled, image).astype(np.float32)


def _import_cv2():
    try:
        import cv2
    except ImportError as error:
        raise ImportError(
            f"OpenCV baselines need opencv-python-headless; {_INSTALL_HINT}"
        ) from error
    return cv2


def _opencv(image, mask, method_name: str) -> np.ndarray:
    cv2 = _import_cv2()
    image, hole = _checked(image, mask)
    if not hole.any():
        return image.copy()
    method = getattr(cv2, method_name)
    # cv2 treats the channels as BGR, but both methods work channel by channel, so RGB is fine.
    filled = cv2.inpaint(_to_uint8(image), hole.astype(np.uint8) * 255, CV2_RADIUS, method)
    return _merge(image, hole, filled)


def telea(image, mask) -> np.ndarray:
    """OpenCV's fast marching method of Telea (2004): `cv2.inpaint(..., cv2.INPAINT_TELEA)`.

    Args:
      image: float32 [H, W, 3] in [0, 1].
      mask: [H, W, 1], 1 = hole.

    Returns:
      float32 [H, W, 3], known pixels unchanged.
    """
    return _opencv(image, mask, "INPAINT_TELEA")


def navier_stokes(image, mask) -> np.ndarray:
    """OpenCV's Navier-Stokes method of Bertalmio et al. (2001): `cv2.INPAINT_NS`.

    Args:
      image: float32 [H, W, 3] in [0, 1].
      mask: [H, W, 1], 1 = hole.

    Returns:
      float32 [H, W, 3], known pixels unchanged.
    """
    return _opencv(image, mask, "INPAINT_NS")


def biharmonic(image, mask) -> np.ndarray:
    """Biharmonic interpolation (Damelin & Hoang 2018): `skimage.restoration.inpaint_biharmonic`.

    Slow for large holes (it solves a sparse system per hole region).

    Args:
      image: float32 [H, W, 3] in [0, 1].
      mask: [H, W, 1], 1 = hole.

    Returns:
      float32 [H, W, 3], known pixels unchanged.
    """
    from skimage.restoration import inpaint_biharmonic

    image, hole = _checked(image, mask)
    if not hole.any():
        return image.copy()
    filled = inpaint_biharmonic(image.astype(np.float64), hole, channel_axis=-1)
    return _merge(image, hole, filled)


def patchmatch(image, mask) -> np.ndarray:
    """PatchMatch inpainting (Barnes et al. 2009): `npsynth.reference.patchmatch_fill`, the
    one wrapper of the pypatchmatch package (7x7 patches, its seed set before each call, so
    results are reproducible).

    Args:
      image: float32 [H, W, 3] in [0, 1].
      mask: [H, W, 1], 1 = hole.

    Returns:
      float32 [H, W, 3], known pixels unchanged.
    """
    from npsynth.reference import patchmatch_fill

    image, hole = _checked(image, mask)
    return patchmatch_fill(image, hole[..., None].astype(np.float32))


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "telea": telea,
    "navier_stokes": navier_stokes,
    "biharmonic": biharmonic,
    "patchmatch": patchmatch,
}


def get_baseline(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The baseline called `name` (a key of `BASELINES`)."""
    try:
        return BASELINES[name]
    except KeyError:
        raise ValueError(
            f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}"
        ) from None
