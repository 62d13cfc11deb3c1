"""npsynth.export: trained networks as .npz + .json (float16, float32, int8), and loading."""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from npsynth.config import ContentNetConfig, ContentTrainingConfig, Feature2ImageConfig
from npsynth.export import (
    F2I_FORMAT,
    ExportPathError,
    check_export_path,
    load_content_net,
    load_content_net_and_header,
    load_feature2image,
    load_image2feature,
    quantize_int8,
    read_header,
    save_content_net,
    save_feature2image,
)
from npsynth.models.content_net import make_content_net, predict
from npsynth.models.layers import eval_mode
from npsynth.models.translation import FeatureToImage

TINY = ContentTrainingConfig.tiny().model  # 32x32, widths 8-16
TINY_F2I = Feature2ImageConfig(image_size=32, widths=(8, 8, 8), blocks=1)
SKIPS = ContentNetConfig(image_size=16, channels=(4, 6), bottleneck=5, fill="harmonic", skips=True)


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, size, size, 3), dtype=np.float32)


def _box_mask(n: int, size: int) -> np.ndarray:
    mask = np.zeros((n, size, size, 1), np.float32)
    mask[:, 3:11, 5:20] = 1.0
    return mask


@pytest.fixture(scope="module")
def tiny_net():
    return eval_mode(make_content_net(TINY, rngs=nnx.Rngs(0)))


def test_export_round_trip(tmp_path, tiny_net):
    path = save_content_net(tiny_net, tmp_path / "net.npz", config=TINY, step=7)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["step"] == 7 and meta["dtype"] == "float16"
    assert meta["config"]["channels"] == [8, 16, 16]
    with np.load(path) as archive:
        assert all(archive[k].dtype == np.float16 for k in archive.files if k != "__config__")

    loaded = load_content_net(tmp_path / "net.npz")
    assert loaded.mode == "freeform" and loaded.image_size == 32
    images, mask = _images(2, 32), _box_mask(2, 32)
    np.testing.assert_allclose(
        predict(loaded, images, mask), predict(tiny_net, images, mask), atol=5e-3
    )
    # A folder holding content_net.npz loads too.
    save_content_net(tiny_net, tmp_path / "run" / "content_net.npz", config=TINY, dtype="float32")
    exact = load_content_net(tmp_path / "run")
    np.testing.assert_allclose(
        predict(exact, images, mask), predict(tiny_net, images, mask), atol=1e-6
    )


def test_int8_quantization_on_a_hand_computed_kernel():

    # Two output channels: peaks 2.54 and 0.0 (an all-zero channel keeps scale 1).
    weights = np.array([[[1.27, 0.0], [-2.54, 0.0]], [[0.005, 0.0], [2.0, 0.0]]], np.float32)
    q, scale = quantize_int8(weights)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    np.testing.assert_allclose(scale, [0.02, 1.0], rtol=1e-6)
    # 1.27 / 0.02 = 63.5 rounds to even (64); 0.005 / 0.02 = 0.25 -> 0; 2.0 / 0.02 = 100.
    np.testing.assert_array_equal(q[..., 0], [[64, -127], [0, 100]])
    np.testing.assert_array_equal(q[..., 1], 0)


def test_int8_export_is_a_quarter_of_float32_and_close(tmp_path, tiny_net):
    small = save_content_net(tiny_net, tmp_path / "q.npz", config=TINY, dtype="int8")
    full = save_content_net(tiny_net, tmp_path / "f.npz", config=TINY, dtype="float32")
    with np.load(small) as archive:
        kinds = {k: archive[k].dtype for k in archive.files if k != "__config__"}
    kernels = [k for k in kinds if k.endswith("kernel")]
    assert kernels and all(kinds[k] == np.int8 for k in kernels)
    assert all(kinds[k + "::scale"] == np.float32 for k in kernels)
    assert small.stat().st_size < 0.4 * full.stat().st_size
    assert json.loads(small.with_suffix(".json").read_text())["dtype"] == "int8"
    # Each loaded kernel is within half a step of the original, channel by channel.
    loaded = load_content_net(small)
    original = dict(nnx.to_flat_state(nnx.state(tiny_net, nnx.Param)))
    for path, value in nnx.to_flat_state(nnx.state(loaded, nnx.Param)):
        if path[-1] == "kernel":
            w = np.asarray(original[path].get_value())
            step = np.abs(w).reshape(-1, w.shape[-1]).max(0) / 127
            assert np.all(np.abs(np.asarray(value.get_value()) - w) <= step / 2 + 1e-7)
    images, mask = _images(2, 32), _box_mask(2, 32)
    np.testing.assert_allclose(
        predict(loaded, images, mask), predict(tiny_net, images, mask), atol=2e-2
    )
    with pytest.raises(ValueError, match="int8"):
        save_content_net(tiny_net, tmp_path / "x.npz", config=TINY, dtype="int4")


def test_load_errors_are_clear(tmp_path, tiny_net):
    with pytest.raises(FileNotFoundError, match="--export"):
        load_content_net(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not an exported content network"):
        load_content_net(tmp_path / "junk.npz")
    path = save_content_net(tiny_net, tmp_path / "net.npz", config=TINY)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays.pop("__config__")))
    meta["config"]["bottleneck"] = 16  # the arrays are for 32
    np.savez(tmp_path / "bad.npz", __config__=np.asarray(json.dumps(meta)), **arrays)
    with pytest.raises(ValueError, match="shape"):
        load_content_net(tmp_path / "bad.npz")


def test_fill_is_exported_and_old_exports_load_as_mean(tmp_path):
    config = ContentNetConfig(image_size=16, channels=(8, 8), bottleneck=8, fill="harmonic")
    net = make_content_net(config, rngs=nnx.Rngs(0))
    path = save_content_net(net, tmp_path / "h.npz", config=config)
    assert load_content_net(path).fill == "harmonic"
    mean_config = ContentNetConfig(image_size=16, channels=(8, 8), bottleneck=8)
    with pytest.raises(ValueError, match="fill"):
        save_content_net(net, tmp_path / "x.npz", config=mean_config)
    # An export written before `fill` existed has no such key: it is a mean-fill network.
    mean_net = make_content_net(mean_config, rngs=nnx.Rngs(0))
    path = save_content_net(mean_net, tmp_path / "m.npz", config=mean_config)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays.pop("__config__")))
    del meta["config"]["fill"]
    np.savez(tmp_path / "old.npz", __config__=np.asarray(json.dumps(meta)), **arrays)
    assert load_content_net(tmp_path / "old.npz").fill == "mean"
    with pytest.raises(ValueError, match="fill"):
        ContentNetConfig(fill="zeros")


def test_skips_network_round_trips(tmp_path):
    net = make_content_net(SKIPS, rngs=nnx.Rngs(2))
    images = _images(2, 16, seed=7)
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[:, 2:7, 3:13] = 1.0
    # Give the last layer (zero at initialisation) weights: a non-trivial network to compare.
    last = net.decoder[-1]
    last.kernel[...] = 0.05 * jax.random.normal(jax.random.key(0), last.kernel[...].shape)
    path = save_content_net(net, tmp_path / "skips.npz", config=SKIPS, dtype="float32")
    loaded = load_content_net(path)
    assert loaded.skips and json.loads(path.with_suffix(".json").read_text())["config"]["skips"]
    np.testing.assert_allclose(predict(loaded, images, mask), predict(net, images, mask), atol=1e-6)
    with pytest.raises(ValueError, match="skips"):
        save_content_net(net, tmp_path / "x.npz", config=dataclasses.replace(SKIPS, skips=False))


def test_header_is_readable_without_loading(tmp_path, tiny_net):
    path = save_content_net(tiny_net, tmp_path / "net.npz", config=TINY, step=3, dtype="float32")
    header = read_header(path)
    assert header == json.loads(path.with_suffix(".json").read_text())
    assert header["format"] == "npsynth.content_net/1" and header["step"] == 3
    assert header["config"] == dataclasses.asdict(TINY) | {"channels": [8, 16, 16]}
    # Parameters of the tiny generator, counted from its layers' shapes here.
    expected = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(tiny_net, nnx.Param)))
    assert header["params"] == expected
    model, again = load_content_net_and_header(path)
    assert again == header and model.channels == (8, 16, 16)


def test_translation_network_round_trip_and_clear_load_errors(tmp_path):
    f2i = FeatureToImage(TINY_F2I, rngs=nnx.Rngs(3))
    path = save_feature2image(f2i, tmp_path / "f2i.npz", config=TINY_F2I, step=5)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["step"] == 5 and meta["format"] == F2I_FORMAT
    features = jnp.asarray(np.random.default_rng(1).random((1, 4, 5, 256), dtype=np.float32) * 400)
    loaded = load_feature2image(tmp_path / "f2i.npz")
    np.testing.assert_allclose(loaded(features), f2i(features), atol=2e-3)  # float16 weights

    with pytest.raises(ValueError, match="expected 'npsynth.image2feature/1'"):
        load_image2feature(path)  # a Feature2Image file is not an Image2Feature one
    with pytest.raises(FileNotFoundError, match="train.image2feature"):
        load_image2feature(tmp_path)  # folder without image2feature.npz
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an exported Feature2Image network"):
        load_feature2image(tmp_path / "junk.npz")


def test_an_export_never_replaces_a_side_car_the_user_did_not_name(tmp_path, tiny_net):
    side = tmp_path / "side"
    side.mkdir()
    (side / "model.json").write_text('{"my": "notes"}\n')
    with pytest.raises(ExportPathError, match=r"would replace '.*model.json' \(written beside"):
        save_content_net(tiny_net, side / "model.npz", config=TINY)
    assert (side / "model.json").read_text() == '{"my": "notes"}\n'
    assert not (side / "model.npz").exists()
    # An earlier export's own header is replaced with the new one.
    first = save_content_net(tiny_net, tmp_path / "net.npz", config=TINY, step=1)
    save_content_net(tiny_net, first, config=TINY, step=2)
    assert json.loads(first.with_suffix(".json").read_text())["step"] == 2
    with pytest.raises(ExportPathError, match=r"must end in .npz, got '.*x.png'"):
        check_export_path(tmp_path / "x.png")
    with pytest.raises(ExportPathError, match="is a folder"):
        check_export_path(_folder(side / "dir.npz"))


def _folder(path):
    path.mkdir()
    return path


def test_an_export_whose_side_car_is_a_fifo_is_refused_at_once(tmp_path):
    from test_reading import release, within

    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    message = r"exporting to '.*x.npz': cannot use the side-car '.*x.json': it is not a regular f"
    with pytest.raises(ExportPathError, match=message):
        within(lambda: check_export_path(tmp_path / "x.npz"), unblock=release(fifo))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
