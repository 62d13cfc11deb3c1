"""The `paper` and `authors` presets (npsynth.presets): what they set, that `authors` is the
released code's energy up to its content weight, and that it runs.

The released code (leehomyc/Faster-High-Res-Neural-Inpainting, `run_texture_optimization.lua`
on CNNMRF's `mylib/*.lua`) is written again here in NumPy from its formulas, in its units
(VGG-19 input 256 * x, BGR, minus the Caffe mean; weights content 2e1, MRF 1e-4, TV 1e-4),
and compared with npsynth's joint loss at the preset's weights (docs/presets.md).
"""

from __future__ import annotations

import numpy as np
import pytest

import npsynth
from npsynth import losses, presets
from npsynth.conventions import feature_holes

CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68])


# --- the released code's energy, in NumPy ----------------------------------------------------


def authors_input(x: np.ndarray) -> np.ndarray:
    """`preprocess` of helper.lua: [0, 1] RGB -> BGR, times 256, minus the BGR mean."""
    return x[..., ::-1] * 256.0 - CAFFE_BGR_MEAN


def computegrid(size: int, patch: int, stride: int) -> list[int]:
    """CNNMRF's `computegrid(..., flag_all=1)` along one axis, 0-based: every `stride`-th
    window corner, and the last one."""
    corners = list(range(0, size - patch + 1, stride))
    if corners[-1] < size - patch:
        corners.append(size - patch)
    return corners


def authors_content(features, content_features, weight=2e1) -> float:
    """`nn.ContentLoss` (content.lua): weight * MSECriterion (mean over every element)."""
    return weight * np.mean((features - content_features) ** 2)


def authors_tv(u: np.ndarray, weight=1e-4) -> float:
    """The potential of `nn.TVLoss`'s gradient (tv.lua): weight / 2 * the squared differences
    x_diff = u[:H-1, :W-1] - u[:H-1, 1:] and y_diff = u[:H-1, :W-1] - u[1:, :W-1]."""
    x_diff = u[:-1, :-1] - u[:-1, 1:]
    y_diff = u[:-1, :-1] - u[1:, :-1]
    return weight / 2 * (np.sum(x_diff**2) + np.sum(y_diff**2))


def authors_mrf(start, current, target, target_ok, *, patch=3, stride=2, weight=1e-4):
    """The potential of `nn.MRFMM`'s gradient (mrf.lua) on one [h, w, C] map, its matches
    found on `start` (its first gradient evaluation of the scale) and then kept.

    Target patches: the stride-2 windows of `target` (its `target_mrf`) where `target_ok`;
    synthesis patches: the stride-2 windows of the whole map. Each synthesis window p is
    matched to the target window of highest normalised cross-correlation with p's window of
    `start`; the gradient at cell c is weight * (1 / n_c) * sum over the windows p covering
    c of (current_c - target_nn(p), c), n_c the number of synthesis windows covering c, so
    the energy is weight / 2 * sum_c (1 / n_c) sum_p |current_c - target_nn(p), c|^2.
    """
    h, w, _ = current.shape
    ys, xs = computegrid(h, patch, stride), computegrid(w, patch, stride)
    candidates = [(y, x) for y in ys for x in xs if target_ok[y, x]]
    bank = np.stack([target[y : y + patch, x : x + patch].ravel() for y, x in candidates])
    bank_norm = np.linalg.norm(bank, axis=1)
    coverage = np.zeros((h, w))
    for y in ys:
        for x in xs:
            coverage[y : y + patch, x : x + patch] += 1
    energy = 0.0
    for y in ys:
        for x in xs:
            query = start[y : y + patch, x : x + patch].ravel()
            response = bank @ query / (bank_norm * np.linalg.norm(query))
            ty, tx = candidates[int(np.argmax(response))]
            diff = current[y : y + patch, x : x + patch] - target[ty : ty + patch, tx : tx + patch]
            energy += np.sum(np.sum(diff**2, axis=-1) / coverage[y : y + patch, x : x + patch])
    return weight / 2 * energy


# --- the hand-made case ----------------------------------------------------------------------


def hand_made_case(flat_border: bool):
    """A 72x72 photo with a 24x24 hole at pixels 24-47 (relu4_1 cells 3-5 of a 9x9 map), random
    but fixed relu4_1 and relu4_2 maps of the start and of the current image (the current one
    differs from the start in the hole's cells only), and the content image's relu4_2 map."""
    rng = np.random.default_rng(40)
    x = rng.uniform(0, 1, (1, 72, 72, 3)).astype(np.float32)
    if flat_border:  # the last row and column flat: the pairs the released TV omits are 0
        x[:, -1, :, :] = x[:, -1:, -1:, :]
        x[:, :, -1, :] = x[:, -1:, -1:, :]
    mask = np.zeros((1, 72, 72, 1), np.float32)
    mask[:, 24:48, 24:48] = 1.0
    cells = feature_holes(mask, ("relu4_1",))["relu4_1"]
    start41 = rng.normal(0, 1, (1, 9, 9, 8)).astype(np.float32)
    current41 = start41 + cells * rng.normal(0, 1, start41.shape).astype(np.float32)
    current42 = rng.normal(0, 1, (1, 9, 9, 6)).astype(np.float32)
    content42 = rng.normal(0, 1, (1, 9, 9, 6)).astype(np.float32)
    return x, mask, cells, start41, current41, current42, content42


def authors_energy(x, cells, start41, current41, current42, content42) -> dict[str, float]:
    # Target windows: those of the photo with no hole cell (the released code paints its hole
    # over with copies of known rows; here its windows are left out instead: docs/presets.md).
    hole = cells[0, ..., 0] > 0
    free = ~np.lib.stride_tricks.sliding_window_view(hole, (3, 3)).any(axis=(-2, -1))
    return {
        "content": authors_content(current42[0], content42[0]),
        "texture": authors_mrf(start41[0], current41[0], start41[0], free),
        "tv": authors_tv(authors_input(x[0].astype(np.float64))),
    }


def npsynth_terms(config, x, mask, start41, current41, current42, content42):
    nn = losses.nearest_neighbours_for(
        {"relu4_1": start41}, mask, layers=config.texture.layers,
        patch_size=config.texture.patch_size, stride=config.texture.source_stride,
    )  # fmt: skip
    return losses.joint_loss_terms(
        x, x, mask, features={"relu4_1": current41, "relu4_2": current42},
        alpha=config.alpha, beta=config.beta, layers=config.texture.layers,
        patch_size=config.texture.patch_size, nn=nn, content_layer=config.content_layer,
        content_features=content42, synthesis_stride=config.texture.synthesis_stride,
        patch_average=config.texture.patch_average,
    )  # fmt: skip


def test_authors_preset_is_the_released_energy_divided_by_its_content_weight():
    config = presets.config("authors")
    x, mask, cells, start41, current41, current42, content42 = hand_made_case(flat_border=True)
    theirs = authors_energy(x, cells, start41, current41, current42, content42)
    ours = {k: float(v) for k, v in npsynth_terms(config, x, mask, start41, current41,
                                                  current42, content42).items()}  # fmt: skip
    scale = 2e1  # the released content weight: the one constant between the two energies
    assert theirs["texture"] > 0 and theirs["tv"] > 0
    np.testing.assert_allclose(theirs["content"], scale * ours["content"], rtol=1e-5)
    np.testing.assert_allclose(theirs["texture"], scale * config.alpha * ours["texture"], rtol=1e-5)
    np.testing.assert_allclose(theirs["tv"], scale * config.beta * ours["tv"], rtol=1e-5)
    np.testing.assert_allclose(sum(theirs.values()), scale * ours["total"], rtol=1e-5)


def test_the_released_tv_omits_the_last_row_and_column_pairs():
    # npsynth's TV counts every neighbouring pair; the released one leaves out the horizontal
    # pairs of the last row and the vertical pairs of the last column (documented, not modelled).
    config = presets.config("authors")
    x = hand_made_case(flat_border=False)[0]
    u = authors_input(x[0].astype(np.float64))
    omitted = (
        1e-4 / 2 * (np.sum(np.diff(u[-1], axis=0) ** 2) + np.sum(np.diff(u[:, -1], axis=0) ** 2))
    )
    ours = float(losses.tv_loss(x))
    np.testing.assert_allclose(authors_tv(u) + omitted, 2e1 * config.beta * ours, rtol=1e-5)


def test_authors_preset_settings():
    config = presets.config("authors")
    assert config.content_layer == "relu4_2"
    assert config.texture.layers == ("relu4_1",) and config.texture.patch_size == 3
    assert (config.texture.source_stride, config.texture.synthesis_stride) == (2, 2)
    assert config.texture.patch_average == "cells" and config.texture.nn_update == "per_scale"
    assert config.per_scale_iterations() == (100, 100, 100) and config.scales == (128, 256, 512)
    assert config.alpha == pytest.approx(1e-4 / 2 / 2e1)
    assert config.beta == pytest.approx(1e-4 / 2 * 256**2 / 2e1) and config.beta_last is None
    assert config.solver.history_size == 25


def test_paper_preset_is_eq_1_to_3_as_written():
    config = presets.config("paper")
    assert config.content_layer is None  # Eq. 2: the hole's pixels
    assert config.texture.layers == ("relu3_1", "relu4_1") and config.texture.patch_size == 3
    assert config.texture.nn_update == "every_eval"  # Eq. 3: nn(i) of the current x
    assert (config.texture.source_stride, config.texture.synthesis_stride) == (1, 1)
    assert config.texture.patch_average == "windows"  # Eq. 3: 1 / |R| times the sum
    assert config.per_scale_iterations() == (100, 100, 100)
    assert config.beta_last is None  # one beta (Eq. 1) at every scale


def test_authors_preset_runs(photo, hole, vgg):
    blank = np.where(hole > 0, 0.0, photo)
    out = npsynth.inpaint(
        blank, hole, preset="authors", scales=(32, 64), iterations=2, content="harmonic", vgg=vgg
    )
    assert out.image.shape == photo.shape and np.isfinite(out.image).all()
    np.testing.assert_array_equal(out.image[hole[..., 0] == 0], photo[hole[..., 0] == 0])
    assert out.scales[-1].layers == ("relu4_1",)  # at 64 px relu4_1 keeps a stride-2 source
