"""What every VGG-19 weights reader shares: the error type, the layer check, the content hash.

Weights are a dict conv name -> (HWIO kernel, bias), float32, in the order and with the
channel counts of `npsynth.models.vgg.CONVS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from npsynth.models.vgg import CONV_NAMES, CONVS

Arrays = dict[str, tuple[np.ndarray, np.ndarray]]

# Content hash (see `content_sha256`) of the canonical float32 weights.
REFERENCE_SHA256 = "c2a8044d3c28d3b0cc6e5ca7f7a427dfaaf807a7f7feead3854cb66d7a256d9b"


class WeightsError(ValueError):
    """The weights are missing, corrupt, truncated or of the wrong layout."""


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


def file_digest(path: str | Path, algorithm: str) -> str:
    """Hex digest of a file's bytes (`algorithm` as `hashlib.new` names it), read in blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
