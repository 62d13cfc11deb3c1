"""A reader for legacy (pre-1.6, non-zip) `torch.save` files that needs no torch.

Layout: pickles of the magic number, the protocol version (1001) and the system info; the
object pickle, whose tensors reference storages by persistent id; a pickle of the storage
keys; then per key an int64 element count and the raw little-endian data. The unpickler
accepts only what a state dict holds (tensors, storages, OrderedDict): no code runs.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from npsynth.weights.checks import WeightsError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
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
            if pickle.load(f) != LEGACY_MAGIC:
                raise WeightsError(f"{path} is not a legacy torch file (wrong magic number)")
            if pickle.load(f) != LEGACY_PROTOCOL:
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
