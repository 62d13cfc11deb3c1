"""Tests for npsynth.harness.baselines on a small real photo (skipped without the optional packages)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import sample_photo
from npsynth.harness import baselines

# The package each baseline needs, for pytest.importorskip.
NEEDS = {
    "telea": "cv2",
    "navier_stokes": "cv2",
    "biharmonic": "skimage",
    "patchmatch": "patchmatch",
}


@pytest.fixture(scope="module")
def photo_and_hole():
    """The cat photo with a square hole in its fur (not a face: no baseline can guess one)."""
    image = sample_photo("chelsea", size=64)
    mask = np.zeros((64, 64, 1), np.float32)
    mask[20:44, 16:40] = 1
    return image, mask


def test_registry_names():
    assert set(baselines.BASELINES) == set(NEEDS)
    assert baselines.get_baseline("telea") is baselines.telea
    with pytest.raises(ValueError, match="unknown baseline .*choose one of"):
        baselines.get_baseline("lama")


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_baseline_fills_the_hole(name, photo_and_hole):
    pytest.importorskip(NEEDS[name])
    image, mask = photo_and_hole
    filled = baselines.BASELINES[name](image, mask)
    assert filled.shape == image.shape and filled.dtype == np.float32
    assert np.all(np.isfinite(filled)) and filled.min() >= 0.0 and filled.max() <= 1.0
    hole = mask[..., 0] > 0
    np.testing.assert_array_equal(filled[~hole], image[~hole])
    error = np.abs(filled - image)[hole].mean()
    zeros_error = np.abs(image)[hole].mean()  # Filling the hole with black.
    assert error < 0.5 * zeros_error, (name, error, zeros_error)
    empty = np.zeros_like(mask)
    np.testing.assert_array_equal(baselines.BASELINES[name](image, empty), image)


def test_baselines_reject_bad_shapes(photo_and_hole):
    image, mask = photo_and_hole
    with pytest.raises(ValueError, match="mask shape"):
        baselines.biharmonic(image, mask[:32])
    with pytest.raises(ValueError, match="one RGB image"):
        baselines.biharmonic(image[None], mask)


def test_missing_package_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cv2(name, *args, **kwargs):
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    image = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ImportError, match=r'pip install "npsynth\[compare\]"'):
        baselines.telea(image, np.ones((8, 8, 1), np.float32))
