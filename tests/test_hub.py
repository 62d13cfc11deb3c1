"""npsynth.hub: explicit path > environment variable > user cache > shipped asset, for every
kind; the one cache folder; the one in-process cache of loaded networks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from npsynth import export, hub
from npsynth.models.translation import FeatureToImage
from npsynth.weights import keras_h5, read_path, write_cache

# Written out here, not taken from hub.ENV_VARS: the documented variable of each kind.
VARIABLES = {
    "vgg19": "NPSYNTH_VGG19",
    "content_net": "NPSYNTH_CONTENT_NET",
    "feature2image": "NPSYNTH_FEATURE2IMAGE",
    "image2feature": "NPSYNTH_IMAGE2FEATURE",
}
ASSETS = Path(__file__).resolve().parents[1] / "npsynth" / "assets"


@pytest.fixture
def no_variables(monkeypatch, tmp_path):
    """None of the kinds' variables set, and the user cache under tmp_path."""
    for name in VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return monkeypatch


def test_cache_dir_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.cache_dir() == tmp_path / "xdg" / "npsynth"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub.cache_dir() == tmp_path / "home" / ".cache" / "npsynth"


@pytest.mark.parametrize("kind", list(VARIABLES))
def test_explicit_beats_variable_beats_shipped(kind, no_variables, tmp_path):
    explicit, variable, shipped = (tmp_path / f"{name}.npz" for name in ("a", "b", "c"))
    for path in (explicit, variable, shipped):
        path.write_bytes(b"")  # hub only picks paths; the loaders read them
    no_variables.setitem(hub.SHIPPED, kind, (tmp_path / "not_there.npz", shipped))
    assert hub.candidates(kind) == [shipped]  # shipped assets that exist, in order
    no_variables.setenv(VARIABLES[kind], str(variable))
    assert hub.candidates(kind) == [variable]
    assert hub.candidates(kind, explicit) == [explicit]
    assert hub.resolve(kind, str(explicit)) == explicit
    assert hub.resolve(kind) == variable
    # An explicit path wins even when it does not exist: the loader then says so.
    assert hub.resolve(kind, tmp_path / "typo.npz") == tmp_path / "typo.npz"
    no_variables.delenv(VARIABLES[kind])
    no_variables.setitem(hub.SHIPPED, kind, ())
    assert hub.candidates(kind) == [] and hub.resolve(kind) is None


def test_shipped_assets_and_home_expansion(no_variables, tmp_path):
    no_variables.setenv("HOME", str(tmp_path))
    assert hub.resolve("feature2image", "~/f2i.npz") == tmp_path / "f2i.npz"
    assert hub.candidates("vgg19") == []  # never shipped: fetched into the cache instead
    assert hub.candidates("content_net") == [
        ASSETS / "content_net.npz",  # the paper-mode network first
        ASSETS / "content_net_freeform.npz",
    ]
    assert hub.resolve("feature2image") == ASSETS / "feature2image.npz"
    assert hub.resolve("image2feature") is None  # none ships yet


def test_unknown_kind_is_an_error(tmp_path):
    for call in (hub.candidates, hub.resolve):
        with pytest.raises(ValueError, match="unknown network kind 'vgg16'; choose from vgg19"):
            call("vgg16")
    with pytest.raises(ValueError, match="unknown network kind 'vgg16'"):
        hub.load("vgg16", tmp_path / "x.npz")


def test_load_keeps_one_object_per_kind_and_path(monkeypatch, tmp_path):
    calls = []

    def fake_loader(path):
        calls.append(path)
        return object()

    monkeypatch.setattr(export, "load_content_net", fake_loader)
    monkeypatch.setattr(export, "load_image2feature", fake_loader)
    monkeypatch.setenv("HOME", str(tmp_path))
    first = hub.load("content_net", tmp_path / "net.npz")
    assert hub.load("content_net", str(tmp_path / "net.npz")) is first
    assert hub.load("content_net", "~/net.npz") is first  # the same file, spelt differently
    assert calls == [str(tmp_path / "net.npz")]
    assert hub.load("content_net", tmp_path / "other.npz") is not first
    assert hub.load("image2feature", tmp_path / "net.npz") is not first
    assert len(calls) == 3


def test_load_of_the_shipped_feature2image_is_cached():
    path = ASSETS / "feature2image.npz"
    model = hub.load("feature2image", path)
    assert isinstance(model, FeatureToImage)
    assert hub.load("feature2image", path) is model


# ------------------------------------------------------------------------------- VGG-19


@pytest.fixture(scope="module")
def marked_vgg_files(tmp_path_factory, vgg19_file):
    """Three npsynth cache files of the real weights, told apart by conv1_1's first bias."""
    full = read_path(vgg19_file)
    folder = tmp_path_factory.mktemp("vgg")
    files = {}
    for marker, name in enumerate(("explicit", "variable", "cache"), start=1001):
        bias = full["conv1_1"][1].copy()
        bias[0] = marker
        files[name] = write_cache(
            folder / f"{name}.npz", full | {"conv1_1": (full["conv1_1"][0], bias)}
        )
    return files


def first_bias(model) -> float:
    return float(np.asarray(model.conv1_1.bias[...])[0])


def test_load_vgg19_order(no_variables, tmp_path, marked_vgg_files):
    files = marked_vgg_files
    cache_file = tmp_path / "xdg" / "npsynth" / "vgg19.npz"
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(files["cache"].read_bytes())
    no_variables.setenv("NPSYNTH_VGG19", str(files["variable"]))
    assert first_bias(hub.load_vgg19(files["explicit"])) == 1001  # explicit > variable
    assert first_bias(hub.load_vgg19()) == 1002  # variable > cache
    no_variables.delenv("NPSYNTH_VGG19")
    assert first_bias(hub.load_vgg19()) == 1003  # the cache of hub.cache_dir()
    assert hub.load("vgg19", files["explicit"]) is hub.load("vgg19", files["explicit"])


def test_load_vgg19_fetches_into_the_user_cache(no_variables, tmp_path, keras_vgg19_file):
    shared = keras_vgg19_file
    no_variables.setattr(keras_h5, "KERAS_URL", shared.as_uri())
    no_variables.setattr(keras_h5, "KERAS_MD5", hashlib.md5(shared.read_bytes()).hexdigest())
    model = hub.load_vgg19(pooling="avg")
    assert model.pooling == "avg"
    cached = read_path(tmp_path / "xdg" / "npsynth" / "vgg19.npz")
    expected = read_path(shared)
    np.testing.assert_array_equal(cached["conv4_1"][0], expected["conv4_1"][0])
    np.testing.assert_array_equal(np.asarray(model.conv4_1.kernel[...]), expected["conv4_1"][0])
