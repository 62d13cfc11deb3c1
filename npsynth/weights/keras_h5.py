"""The Keras-applications VGG-19 "notop" HDF5 file, and its download.

Layout: per layer a group `blockB_convC` holding `blockB_convC/kernel:0` (HWIO, float32)
and `blockB_convC/bias:0`; pooling layers have empty groups. The canonical file is
`KERAS_URL`, pinned by `KERAS_MD5` (Keras applications; weights CC BY 4.0, Oxford VGG).
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from npsynth.files import atomic_write
from npsynth.models.vgg import CONV_NAMES
from npsynth.weights.checks import Arrays, WeightsError, check_arrays

KERAS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
KERAS_MD5 = "253f8cb515780f3b799900260a226db6"
DOWNLOAD_TIMEOUT_S = 30


def keras_name(conv_name: str) -> str:
    """conv3_1 -> block3_conv1 (the Keras-applications layer name)."""
    block, index = conv_name[4:].split("_")
    return f"block{block}_conv{index}"


def read_keras_h5(
    path: str | os.PathLike, names: tuple[str, ...] = CONV_NAMES, *, stream=None
) -> Arrays:
    """Read layers `names` from the Keras-applications layout (`blockB_convC/blockB_convC/kernel:0`).

    Checks only the layout; `npsynth.weights.read_path` checks that the arrays make a VGG-19.
    `stream`: the file already opened (binary, seekable), read instead of opening `path`.
    """
    import h5py

    path = Path(path)
    if stream is None and not path.exists():
        raise FileNotFoundError(f"VGG-19 weights file {path} does not exist")
    try:
        with h5py.File(path if stream is None else stream, "r") as f:
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


def download(url: str, dest: Path, *, md5: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download `url` to `dest`: read it whole (with a progress bar), check its md5, and only
    then write it (`npsynth.files.atomic_write`), so a failed download leaves nothing behind."""
    from tqdm.auto import tqdm

    digest, blocks = hashlib.md5(), []
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=Path(dest).name) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                blocks.append(block)
                digest.update(block)
                bar.update(len(block))
    if digest.hexdigest() != md5:
        raise WeightsError(f"{url}: md5 {digest.hexdigest()} != expected {md5}; not used")
    return atomic_write(dest, b"".join(blocks))


def fetch_keras_arrays(workdir: Path) -> Arrays:
    """Download `KERAS_URL` into `workdir`, check its md5, and read it."""
    h5 = download(KERAS_URL, Path(workdir) / Path(KERAS_URL).name, md5=KERAS_MD5)
    return check_arrays(read_keras_h5(h5), KERAS_URL)
