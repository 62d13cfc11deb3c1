"""The npsynth cache file of the converted VGG-19: an `.npz` of float32 arrays.

Layout: `conv1_1/kernel` (HWIO), `conv1_1/bias`, ... for every layer, plus `sha256`, the
content hash of the arrays (`npsynth.weights.checks.content_sha256`), checked on reading.
The cache folder itself is chosen by the caller (`npsynth.hub.cache_dir()`).
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from npsynth.files import atomic_write
from npsynth.models.vgg import CONV_NAMES
from npsynth.weights.checks import Arrays, WeightsError, content_sha256

CACHE_FILE = "vgg19.npz"  # its name inside the user cache folder


def read_cache(path: str | os.PathLike, *, stream=None) -> Arrays:
    """Read an npsynth cache file (npz of `conv1_1/kernel`, ... plus their content sha256);
    `stream`: the file already opened (binary, seekable), read instead of opening `path`."""
    path = Path(path)
    if stream is None and not path.exists():
        raise FileNotFoundError(f"VGG-19 cache file {path} does not exist")
    try:
        with np.load(path if stream is None else stream, allow_pickle=False) as data:
            names = [n for n in CONV_NAMES if f"{n}/kernel" in data.files]
            arrays = {n: (data[f"{n}/kernel"], data[f"{n}/bias"]) for n in names}
            expected = str(data["sha256"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise WeightsError(f"{path} is not a readable npsynth cache file: {err}") from err
    if content_sha256(arrays) != expected:
        raise WeightsError(f"{path}: content sha256 does not match the one stored in it; corrupt")
    return arrays


def write_cache(path: str | os.PathLike, arrays: Arrays) -> Path:
    """Write `arrays` as an npsynth cache file, atomically (`npsynth.files.atomic_write`)."""
    payload = {f"{n}/kernel": k for n, (k, _) in arrays.items()}
    payload |= {f"{n}/bias": b for n, (_, b) in arrays.items()}
    payload["sha256"] = np.array(content_sha256(arrays))
    buffer = io.BytesIO()
    np.savez(buffer, **payload)
    return atomic_write(path, buffer.getvalue())
