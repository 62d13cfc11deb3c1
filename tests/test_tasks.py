"""npsynth.training.tasks: what each adversarially trained network learns."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth import conventions
from npsynth.config import (
    ContentNetConfig,
    Feature2ImageConfig,
    Feature2ImageLossConfig,
    Feature2ImageTrainingConfig,
)
from npsynth.fill import harmonic_fill
from npsynth.losses import hole_l2
from npsynth.models.translation import FEATURE_SCALE
from npsynth.training.tasks import (
    ContentTask,
    Feature2ImageTask,
    centre_crop,
    feature_picture,
    vgg_parts,
)
from references import reference_swap

TINY_F2I = Feature2ImageConfig(image_size=32, widths=(8, 8, 8), blocks=1)


def test_hole_l2_known_values_and_gradient_only_in_hole():
    prediction = jnp.zeros((1, 2, 2, 3))
    target = jnp.ones((1, 2, 2, 3)) * jnp.asarray([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    mask = jnp.asarray([[1.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 2, 1)
    # Two hole pixels, each with squared errors 1, 4, 9: mean 14 / 3.
    assert float(jax.jit(hole_l2)(prediction, target, mask)) == pytest.approx(14 / 3)
    grad = jax.grad(hole_l2)(prediction, target, mask)
    assert float(jnp.abs(grad * (1.0 - mask)).max()) == 0.0
    assert float(jnp.abs(grad)[mask[..., 0] > 0].min()) > 0.0
    assert float(hole_l2(prediction, target, jnp.zeros_like(mask))) == 0.0


def test_content_task_reconstruction_in_both_modes():
    rng = np.random.default_rng(3)
    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[:, 2:6, 3:13] = 1.0  # 40 hole pixels per image
    batch = {"image": jnp.asarray(images), "mask": jnp.asarray(mask)}
    free = ContentTask(ContentNetConfig(image_size=16, channels=(4, 4), bottleneck=4))
    prediction = rng.random((2, 16, 16, 3), dtype=np.float32)
    rec, terms = free.reconstruction(jnp.asarray(prediction), batch)
    squared = (prediction.astype(np.float64) - images) ** 2
    assert float(rec) == pytest.approx(squared[mask[..., 0] > 0].mean(), rel=1e-5)
    assert terms == {"l2": rec}
    # Paper mode: the prediction is the central 8x8; all of it is scored.
    paper = ContentTask(ContentNetConfig(mode="paper", image_size=16, channels=(4, 4)))
    centre = rng.random((2, 8, 8, 3), dtype=np.float32)
    rec, _ = paper.reconstruction(jnp.asarray(centre), batch)
    assert float(rec) == pytest.approx(((centre - images[:, 4:12, 4:12]) ** 2).mean(), rel=1e-5)
    np.testing.assert_array_equal(paper.real(batch), images[:, 4:12, 4:12])
    np.testing.assert_array_equal(centre_crop(jnp.asarray(images)), images[:, 4:12, 4:12])


def test_feature_picture_is_the_scaled_channel_mean():
    features = np.zeros((1, 2, 2, 4), np.float32)
    features[0, 0, 0] = [4, 4, 4, 4]  # mean 4: the image's maximum -> 1
    features[0, 1, 1] = [0, 2, 0, 2]  # mean 1 -> 0.25
    picture = np.asarray(feature_picture(jnp.asarray(features), (4, 4)))
    assert picture.shape == (1, 4, 4, 3)
    expected = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0],
                         [0.0, 0.0, 0.25, 0.25], [0.0, 0.0, 0.25, 0.25]])  # fmt: skip
    for c in range(3):
        np.testing.assert_allclose(picture[0, ..., c], expected, rtol=1e-6)


def test_training_swap_under_jit_matches_brute_force(random_vgg):
    task = Feature2ImageTask(
        TINY_F2I, Feature2ImageTrainingConfig.tiny().loss, vgg_parts(random_vgg), chunk_size=7
    )
    rng = np.random.default_rng(2)
    images = rng.random((2, 32, 40, 3), dtype=np.float32)
    mask = np.zeros((2, 32, 40, 1), np.float32)
    mask[0, 8:20, 12:24] = 1.0
    mask[1, 20:28, 4:12] = 1.0
    swapped = jax.jit(task.swapped)({"image": jnp.asarray(images), "mask": jnp.asarray(mask)})
    initial = harmonic_fill(jnp.asarray(images), jnp.asarray(mask))  # the inference-time fill
    features = np.asarray(random_vgg(initial, ("relu3_1",))["relu3_1"])
    cells = np.asarray(conventions.downsample_mask(jnp.asarray(mask), 4))
    np.testing.assert_allclose(swapped, reference_swap(features, cells), rtol=1e-4, atol=1e-3)


def test_feature2image_reconstruction_weighs_hole_known_and_perceptual(random_vgg):
    loss = Feature2ImageLossConfig(pixel=2.0, known=0.5, perceptual=0.25)
    task = Feature2ImageTask(TINY_F2I, loss, vgg_parts(random_vgg))
    rng = np.random.default_rng(5)
    image = rng.random((1, 32, 32, 3), dtype=np.float32)
    prediction = rng.random((1, 32, 32, 3), dtype=np.float32)
    mask = np.zeros((1, 32, 32, 1), np.float32)
    mask[0, 8:16, 4:28] = 1.0  # 192 hole pixels, 832 known
    rec, parts = task.reconstruction(jnp.asarray(prediction), {"image": image, "mask": mask})

    squared = (prediction.astype(np.float64) - image) ** 2
    hole = mask[..., 0] > 0
    assert float(parts["pixel"]) == pytest.approx(squared[hole].mean(), rel=1e-5)
    assert float(parts["known"]) == pytest.approx(squared[~hole].mean(), rel=1e-5)
    filled = np.where(mask > 0, prediction, image)
    feats = [np.asarray(random_vgg(jnp.asarray(x), ("relu3_1",))["relu3_1"], np.float64)
             for x in (filled, image)]  # fmt: skip
    perceptual = np.mean(((feats[0] - feats[1]) * FEATURE_SCALE) ** 2)
    assert float(parts["perceptual"]) == pytest.approx(perceptual, rel=1e-4)
    expected = 2.0 * squared[hole].mean() + 0.5 * squared[~hole].mean() + 0.25 * perceptual
    assert float(rec) == pytest.approx(expected, rel=1e-4)
