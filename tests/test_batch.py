"""Tests for npsynth.inpaint_batch: several photos at once, one L-BFGS each (jax.vmap)."""

from __future__ import annotations

import numpy as np
import pytest

import npsynth
from npsynth import presets
from npsynth.config import with_settings

TINY = presets.config("tiny", iterations=4)


def _holes():
    first = np.zeros((64, 64, 1), np.float32)
    first[20:44, 16:40] = 1
    second = np.zeros((64, 64, 1), np.float32)
    second[8:30, 30:60] = 1  # another place and size: the batch's window is their union's
    return first, second


@pytest.mark.parametrize(
    "matches",
    [
        {"nn_update": "per_scale"},
    ],
    ids=["per_scale"],
)
def test_a_batch_fills_each_photo_as_one_alone_does(photo, vgg, matches):
    config = with_settings(TINY, **matches)
    other = np.ascontiguousarray(photo[:, ::-1])
    holes = _holes()
    images = [np.where(h > 0, 0.0, p) for p, h in zip((photo, other), holes)]
    batch = npsynth.inpaint_batch(images, holes, config=config, vgg=vgg)
    alone = [npsynth.inpaint(i, h, config=config, vgg=vgg) for i, h in zip(images, holes)]
    for together, single, image, hole in zip(batch, alone, images, holes):
        # The same maths as one program per photo; the batched program rounds differently,
        # which 4 L-BFGS iterations amplify to at most about one 8-bit level.
        np.testing.assert_allclose(together.image, single.image, atol=5e-3)
        assert np.mean(np.abs(together.image - single.image)) < 1e-4
        for a, b in zip(together.scales, single.scales):
            np.testing.assert_allclose(a.losses, b.losses, rtol=1e-3)
            assert a.evaluations == b.evaluations
        known = hole[..., 0] == 0
        np.testing.assert_array_equal(together.image[known], image[known])
    # The photos are solved apart: their fills differ.
    assert np.abs(batch[0].image - batch[1].image).max() > 0.1


def test_a_batch_needs_one_size(photo, vgg):
    small = photo[:48, :48]
    hole = np.zeros((48, 48, 1), np.float32)
    hole[10:20, 10:20] = 1
    with pytest.raises(ValueError, match="one size"):
        npsynth.inpaint_batch([photo, small], [_holes()[0], hole], config=TINY, vgg=vgg)


SHARDED = """
import sys
import jax
import numpy as np
import npsynth
from npsynth import presets

assert len(jax.local_devices()) == 2, jax.local_devices()
placed = []
real_put = jax.device_put
def put(x, device=None, *args, **kwargs):
    placed.append(getattr(device, "num_devices", 1))
    return real_put(x, device, *args, **kwargs)
jax.device_put = put

data = np.load(sys.argv[1])
config = presets.config("tiny", scales=(32,), iterations=3, chunk_iterations=2)
batch = npsynth.inpaint_batch(list(data["images"]), list(data["holes"]), config=config)
assert placed and set(placed) == {2}, placed  # every batched array split over 2 devices
np.save(sys.argv[2], np.stack([result.image for result in batch]))
"""


@pytest.mark.slow  # opt-in (--integration): a whole run, in CI's second pass
def test_a_batch_split_over_two_devices_fills_each_photo_as_one_alone_does(photo, vgg, tmp_path):
    """Two forced host devices: the sharded path (`jax.sharding`) of a batch of two."""
    import os
    import subprocess
    import sys

    holes = _holes()
    other = np.ascontiguousarray(photo[:, ::-1])
    images = [np.where(h > 0, 0.0, p) for p, h in zip((photo, other), holes)]
    np.savez(tmp_path / "batch.npz", images=np.stack(images), holes=np.stack(holes))
    env = os.environ | {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "NPSYNTH_COMPILATION_CACHE": "0",
        "JAX_PLATFORMS": "cpu",
    }
    done = subprocess.run(
        [sys.executable, "-c", SHARDED, str(tmp_path / "batch.npz"), str(tmp_path / "out.npy")],
        check=False, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    config = presets.config("tiny", scales=(32,), iterations=3, chunk_iterations=2)
    for together, image, hole in zip(np.load(tmp_path / "out.npy"), images, holes):
        alone = npsynth.inpaint(image, hole, config=config, vgg=vgg).image
        np.testing.assert_allclose(together, alone, atol=5e-3)
        assert np.abs(together - image).max() > 0.05  # the hole was filled
