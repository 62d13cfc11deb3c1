"""Tests for npsynth.window: the texture term's window (VGG-19 only around the hole, exact)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth.window import texture_window, windowed_vgg

LAYERS = ("relu3_1", "relu4_1")
STRIDES = {"relu3_1": 4, "relu4_1": 8}


# ------------------------------------------------------------- the texture term's window


def _boxes_mask(height, width, boxes) -> np.ndarray:
    mask = np.zeros((1, height, width, 1), np.float32)
    for top, left, box_h, box_w in boxes:
        mask[:, top : top + box_h, left : left + box_w] = 1.0
    return mask


def test_texture_window_of_the_papers_hole_at_512_worked_by_hand():
    # Hole rows 128..383. relu4_1 (stride 8, field 30 before / 37 after): the first cell that
    # sees row 128 is ceil((128 - 37) / 8) = 12, which sees from 96 - 30 = 66; the last is
    # floor((383 + 30) / 8) = 51, which sees to 408 + 37 = 445. Aligned to 8: 64..447, 384
    # rows (a multiple of 32). relu3_1 needs less (106..405).
    window = texture_window(_boxes_mask(512, 512, [(128, 128, 256, 256)]))
    assert (window.top, window.left, window.size) == (64, 64, (384, 384))
    assert window.valid["relu4_1"].shape == (1, 64, 64, 1)
    assert window.valid["relu3_1"].shape == (1, 128, 128, 1)


@pytest.mark.parametrize(
    "mask",
    [
        np.zeros((1, 64, 64, 1), np.float32),  # no hole
        _boxes_mask(64, 64, [(24, 24, 16, 16)]),  # the field covers the image
        _boxes_mask(196, 196, [(90, 90, 8, 8)]),  # not a multiple of 8
    ],
)
def test_texture_window_is_none_when_it_saves_nothing(mask):
    assert texture_window(mask) is None


@pytest.mark.parametrize(
    "height, width, boxes",
    [
        # Inside the image: the window meets no image edge.
        pytest.param(192, 192, [(88, 90, 8, 6)], marks=pytest.mark.slow),
        (128, 160, [(0, 150, 6, 10), (10, 140, 4, 4)]),  # two holes in a corner
    ],
)
def test_windowed_vgg_gives_the_whole_images_features_and_gradients(
    random_vgg, height, width, boxes
):
    # The joint loss sees VGG-19 only through vgg(x, layers): equal features and equal
    # gradients of a random linear function of them give an equal loss and gradient.
    mask = _boxes_mask(height, width, boxes)
    window = texture_window(mask, LAYERS)
    assert window is not None and window.height * window.width < height * width
    rng = np.random.default_rng(0)
    known = rng.random((1, height, width, 3)).astype(np.float32)
    x = jnp.asarray(np.where(mask > 0, rng.random(known.shape), known).astype(np.float32))
    fixed = random_vgg(jnp.asarray(known), LAYERS)  # same known pixels, another hole content
    weights = {layer: rng.standard_normal(f.shape).astype(np.float32) for layer, f in fixed.items()}

    def value_and_grad(vgg):
        def linear(x):
            features = vgg(x, LAYERS)
            return sum(jnp.sum(weights[layer] * features[layer]) for layer in LAYERS)

        return jax.value_and_grad(linear)(x)  # eager: no compile for a one-off call

    windowed = windowed_vgg(random_vgg, fixed, window.top, window.left, window.size, window.valid)
    whole_value, whole_grad = value_and_grad(random_vgg)
    value, grad = value_and_grad(windowed)
    np.testing.assert_allclose(value, whole_value, rtol=1e-5)
    # The solver moves the hole pixels only: their gradients must agree, up to float32
    # rounding (summation order), 1e-5 of the largest.
    hole = np.broadcast_to(mask > 0, grad.shape)
    whole_grad = np.asarray(whole_grad)[hole]
    np.testing.assert_allclose(
        np.asarray(grad)[hole], whole_grad, rtol=1e-5, atol=1e-5 * np.abs(whole_grad).max()
    )

    # Taking every window cell as exact, ignoring the receptive fields, is measurably wrong.
    careless = {
        layer: _window_cells(window, layer, valid.shape) for layer, valid in window.valid.items()
    }
    careless_vgg = windowed_vgg(random_vgg, fixed, window.top, window.left, window.size, careless)
    wrong = careless_vgg(x, LAYERS)["relu4_1"] - random_vgg(x, LAYERS)["relu4_1"]
    assert np.abs(wrong).max() > 1e-2 * np.abs(fixed["relu4_1"]).max()


def _window_cells(window, layer, shape) -> np.ndarray:
    """bool [1, h, w, 1]: every cell of `layer` inside the window."""
    stride = STRIDES[layer]
    cells = np.zeros(shape, bool)
    rows = slice(window.top // stride, (window.top + window.height) // stride)
    cols = slice(window.left // stride, (window.left + window.width) // stride)
    cells[:, rows, cols] = True
    return cells
