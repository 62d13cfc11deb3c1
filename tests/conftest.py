"""Shared test fixtures: paths to ../shared, real VGG-19 weights, and strict JAX settings."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NPSYNTH_SHARED", REPO.parent / "shared"))
SHARED_VGG19 = SHARED / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Tests find the real weights the way CI does, unless the caller chose another file.
if "NPSYNTH_VGG19" not in os.environ and SHARED_VGG19.exists():
    os.environ["NPSYNTH_VGG19"] = str(SHARED_VGG19)

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder (override with $NPSYNTH_SHARED)."""
    if not SHARED.exists():
        pytest.fail(f"shared data folder {SHARED} not found; set NPSYNTH_SHARED to its path")
    return SHARED


@pytest.fixture(scope="session")
def vgg():
    """VGG-19 with the real ImageNet-pretrained weights (from $NPSYNTH_VGG19)."""
    from npsynth.hub import load_vgg19

    return load_vgg19()


@pytest.fixture(scope="session")
def random_vgg():
    """VGG-19 with random (He-scaled) weights, for fast shape and maths tests."""
    from npsynth.models.vgg import CONVS, vgg19_from_weights

    rng = np.random.default_rng(0)
    weights = {
        name: (
            rng.normal(0, np.sqrt(2 / (9 * c_in)), (3, 3, c_in, c_out)).astype(np.float32),
            rng.normal(0, 0.01, c_out).astype(np.float32),
        )
        for name, c_in, c_out in CONVS
    }
    return vgg19_from_weights(weights)


def load_photo(path: Path, size: int | None = None) -> np.ndarray:
    """A photo as float32 [H, W, 3] in [0, 1], optionally resized to size x size."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    if size is not None:
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image, np.float32) / 255.0


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """A folder of 8 small photos (JPEG, PNG, greyscale, RGBA, in sub-folders) and one
    corrupt file."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    (folder / "sub" / "deeper").mkdir(parents=True)
    for i in range(8):
        height, width = (40, 56) if i % 2 else (48, 36)
        pixels = (rng.random((height, width, 3)) * 255).astype(np.uint8)
        picture = Image.fromarray(pixels)
        if i == 5:
            picture = picture.convert("L")
        if i == 6:
            picture = picture.convert("RGBA")
        where = folder if i < 3 else folder / "sub" if i < 6 else folder / "sub" / "deeper"
        picture.save(where / f"photo_{i}.{'jpg' if i in (0, 3) else 'png'}")
    (folder / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    return folder


@pytest.fixture(scope="session")
def photo(shared) -> np.ndarray:
    """A real 64x64 photo (eval512 img_002), for the end-to-end inpainting tests."""
    return load_photo(shared / "data" / "eval512" / "img_002.png", size=64)


@pytest.fixture(scope="session")
def hole() -> np.ndarray:
    """The centred quarter-side square hole of a 64x64 image, [64, 64, 1], 1 = hole."""
    from npsynth import masks

    return masks.center_mask(64, 64, fraction=0.25)
