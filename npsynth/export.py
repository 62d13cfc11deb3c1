"""Trained networks as small files: weights in one `.npz`, their config inside and beside it.

Every trained network of npsynth (content network, Image2Feature, Feature2Image) travels the
same way: each array of the model's state under its "/"-joined path, cast to float16 (or
float32, or int8 for the weight matrices with one float32 scale per output channel), and a
JSON header under "__config__" naming the format, the architecture, the
training step and the parameter count. A readable `.json` with the same header lies beside
the `.npz`. `load_network` checks the format, rebuilds the architecture from the header and
fills it, with a clear error for a missing file, a foreign file or mismatched shapes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from zlib import error as zlib_error

import jax.numpy as jnp
import numpy as np
from flax import nnx

from npsynth.config.models import ContentNetConfig, Feature2ImageConfig, Image2FeatureConfig
from npsynth.files import NotRegularFile, atomic_write, open_input, read_regular
from npsynth.models.content_net import ContentNet, make_content_net
from npsynth.models.layers import count_params, eval_mode
from npsynth.models.translation import FeatureToImage, ImageToFeature


def _flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "/"))
        else:
            flat[name] = np.asarray(value)
    return flat


def _unflatten_into(template: dict, flat: dict[str, np.ndarray], path: Path, prefix="") -> dict:
    out = {}
    for key, value in template.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out[key] = _unflatten_into(value, flat, path, name + "/")
            continue
        if name not in flat:
            raise ValueError(f"{path}: weights lack {name!r}; the file does not fit its config")
        array = flat[name]
        if array.shape != tuple(value.shape):
            raise ValueError(
                f"{path}: {name!r} has shape {array.shape}, the config needs {tuple(value.shape)}"
            )
        out[key] = jnp.asarray(array, jnp.float32)
    return out


SCALE_SUFFIX = "::scale"  # int8 files: the per-output-channel scale of the array before it


def quantize_int8(weights) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per output channel (the last axis): weights are
    about `q * scale`, off by at most scale / 2 (scale = max |w| of the channel / 127)."""
    weights = np.asarray(weights, np.float32)
    peak = np.abs(weights).reshape(-1, weights.shape[-1]).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    return np.clip(np.rint(weights / scale), -127, 127).astype(np.int8), scale


def _encode(flat: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """State arrays as stored: cast to `dtype`; with "int8" only arrays of rank >= 2
    (kernels) are quantized, the rest (biases, batch-norm statistics) stay float16."""
    out = {}
    for name, value in flat.items():
        value = np.asarray(value, np.float32)
        if dtype == "int8" and value.ndim >= 2:
            out[name], out[name + SCALE_SUFFIX] = quantize_int8(value)
        else:
            out[name] = value.astype("float16" if dtype == "int8" else dtype)
    return out


def _decode(flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of `_encode`: float32 arrays, int8 ones multiplied by their scales."""
    out = {}
    for name, value in flat.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = flat.get(name + SCALE_SUFFIX)
        out[name] = np.asarray(value, np.float32) * (1.0 if scale is None else scale)
    return out


class ExportPathError(ValueError):
    """A path an exported network cannot be written to (`check_export_path`)."""


def _is_export_header(path: Path) -> bool:
    """Whether `path` is the .json side-car of an npsynth export (its header)."""
    try:
        meta = json.loads(read_regular(path, "the side-car"))
    except NotRegularFile:
        raise
    except (OSError, ValueError):
        return False
    return (
        isinstance(meta, dict)
        and str(meta.get("format", "")).startswith("npsynth.")
        and "config" in meta
    )


def check_export_path(path) -> Path:
    """`path` as a Path once an export may be written there: a .npz file (not a folder), and
    the side-car `.json` beside it, which the user did not name, missing or the header of an
    earlier npsynth export (so a user's own file of that name is never replaced).

    Raises:
      ExportPathError: naming the path, or the side-car it would replace (also one that
        is not a regular file, e.g. a FIFO, which is never read).
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ExportPathError(f"export path must end in .npz, got {str(path)!r}")
    if path.is_dir():
        raise ExportPathError(f"export path {str(path)!r} is a folder; give a .npz file")
    sidecar = path.with_suffix(".json")
    try:
        header = not os.path.lexists(sidecar) or _is_export_header(sidecar)
    except NotRegularFile as error:
        raise ExportPathError(f"exporting to {str(path)!r}: {error}") from None
    if not header:
        raise ExportPathError(
            f"exporting to {str(path)!r} would replace {str(sidecar)!r} (written beside it), "
            "which is not an npsynth export's header; choose another path or move that file"
        )
    return path


def save_network(
    model: nnx.Module, path, *, format: str, config, step: int | None = None, dtype="float16"
) -> Path:
    """Write `model`'s state as `path` (.npz) and `path` with suffix .json, atomically.

    Args:
      model: the network (parameters and batch-norm statistics are saved).
      path: the .npz to write (parent folders are created; `check_export_path`).
      format: the format tag `load_network` will expect (e.g. "npsynth.content_net/1").
      config: the architecture, a dataclass rebuilt by the loader.
      step: training step, recorded in the header.
      dtype: "float16" (default, half the size), "float32", or "int8" (a quarter: kernels
        as int8 with per-output-channel scales, `quantize_int8`; other arrays float16).

    Returns:
      the .npz path.
    """
    path = check_export_path(path)
    if dtype not in ("float16", "float32", "int8"):
        raise ValueError(f"dtype must be float16, float32 or int8, got {dtype!r}")
    flat = _encode(_flatten(nnx.to_pure_dict(nnx.state(model))), dtype)
    meta = {
        "format": format,
        "config": dataclasses.asdict(config),
        "step": step,
        "dtype": dtype,
        "params": count_params(model),
    }
    buffer = io.BytesIO()
    np.savez(buffer, __config__=np.asarray(json.dumps(meta)), **flat)
    atomic_write(path, buffer.getvalue())
    atomic_write(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    return path


def read_header(path) -> dict:
    """The JSON header of an exported network (format, config, step, dtype, params)."""
    return _read_npz(Path(path), "network")[0]


# The first bytes of a zip file (an .npz): a local file header, or the end of an empty one.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _read_npz(path: Path, what: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, stored arrays) of the exported network file `path`, opened once
    (`npsynth.files.open_input`: a FIFO with no writer is refused, never waited on).

    Raises:
      FileNotFoundError: no such file. ValueError: not a regular file, not an npsynth
        network file (no .npz, or no header), or a truncated or damaged one; the message
        names the file.
    """
    with open_input(path, f"{what} weights") as stream:
        if stream.read(4) not in _ZIP_MAGIC:
            raise ValueError(
                f"{str(path)!r} is not an exported {what}: not an npsynth network file (an "
                ".npz written by npsynth.export, which is a zip file)"
            )
        stream.seek(0)
        try:
            with np.load(stream, allow_pickle=False) as archive:
                flat = {name: archive[name] for name in archive.files}
        except (zipfile.BadZipFile, EOFError, OSError, zlib_error) as error:
            raise ValueError(
                f"{str(path)!r} is not a complete exported {what} (truncated or damaged: "
                f"{error}); export or copy it again"
            ) from error
        except ValueError as error:  # numpy's word on pickled object arrays is no advice here
            raise ValueError(
                f"{str(path)!r} is not an exported {what}: it holds Python objects, which "
                "npsynth never writes"
            ) from error
    if "__config__" not in flat:
        raise ValueError(
            f"{str(path)!r} is not an exported {what}: an .npz without npsynth's header "
            "(__config__)"
        )
    try:
        meta = json.loads(str(flat.pop("__config__")))
    except ValueError as error:
        raise ValueError(f"{str(path)!r}: its npsynth header is not readable ({error})") from error
    if not isinstance(meta, dict):
        raise ValueError(f"{str(path)!r}: its npsynth header is not a JSON object")  # noqa: TRY004
    return meta, flat


def load_network(
    path,
    *,
    format: str,
    build: Callable[[dict], nnx.Module],
    what: str,
    default_name: str,
    how_to_make: str,
) -> tuple[nnx.Module, dict]:
    """Load a network written by `save_network`, in evaluation mode.

    Args:
      path: the .npz, or a folder holding `default_name` (e.g. a training workdir).
      format: the expected format tag.
      build: config dict (the header's "config") -> the model, called under `nnx.eval_shape`.
      what: the network's name in error messages ("content network").
      default_name: file looked for when `path` is a folder.
      how_to_make: the command that writes such a file, for the not-found message.

    Returns:
      (the model in float32 with running batch-norm statistics and no dropout, the header).
    """
    path = Path(path)
    if path.is_dir():
        path = path / default_name
    if not path.exists():
        raise FileNotFoundError(f"{what} weights {str(path)!r} not found; {how_to_make}")
    meta, flat = _read_npz(path, what)
    try:
        flat = _decode(flat)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{str(path)!r} is not an exported {what}: {error}") from error
    if meta.get("format") != format:
        raise ValueError(f"{str(path)!r} has format {meta.get('format')!r}, expected {format!r}")
    model = nnx.eval_shape(lambda: build(meta["config"]))
    state = nnx.state(model)
    pure = _unflatten_into(nnx.to_pure_dict(state), flat, path)
    extra = set(flat) - set(_flatten(pure))
    if extra:
        raise ValueError(f"{str(path)!r} has arrays its config does not use: {sorted(extra)[:5]}")
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(model, state)
    return eval_mode(model), meta


# ----------------------------------------------------------------------------------------------
# The three trained networks

# Format tags in the .npz and .json of each network.
CONTENT_NET_FORMAT = "npsynth.content_net/1"


def save_content_net(
    model: ContentNet, path, *, config: ContentNetConfig, step: int | None = None, dtype="float16"
) -> Path:
    """Write the generator's weights (and batch-norm statistics) as .npz plus a .json.

    The .npz alone is enough for `load_content_net` (see `npsynth.export.save_network`).

    Args:
      model: the generator.
      path: the .npz to write (parent folders are created).
      config: the model's architecture (checked against the model).
      step: training step, recorded in the metadata.
      dtype: "float16" (default, half the size), "float32" or "int8" (`save_network`).

    Returns:
      the .npz path.
    """
    if (model.mode, model.image_size, model.channels, model.fill, model.skips) != (
        config.mode,
        config.image_size,
        config.channels,
        config.fill,
        config.skips,
    ):
        raise ValueError(
            "config does not describe this model (mode, image_size, channels, fill or skips)"
        )
    return save_network(
        model, path, format=CONTENT_NET_FORMAT, config=config, step=step, dtype=dtype
    )


def load_content_net(path) -> ContentNet:
    """Load an exported content network (see `save_content_net`), in evaluation mode.

    Args:
      path: the .npz file, or a folder holding `content_net.npz` (e.g. a training workdir,
        where `python -m train.content` exports at the end of training).

    Returns:
      a `ContentNet` in float32 with running batch-norm statistics, ready for `predict`.
    """
    return load_content_net_and_header(path)[0]


def load_content_net_and_header(path) -> tuple[ContentNet, dict]:
    """`load_content_net`, and the export's header (format, config, step, dtype, params)."""
    return load_network(
        path,
        format=CONTENT_NET_FORMAT,
        build=lambda config: make_content_net(ContentNetConfig(**config), rngs=nnx.Rngs(0)),
        what="content network",
        default_name="content_net.npz",
        how_to_make="export them from a training run with "
        "`python -m train.content --workdir DIR --export`",
    )


I2F_FORMAT = "npsynth.image2feature/1"
F2I_FORMAT = "npsynth.feature2image/1"


def save_image2feature(model, path, *, config: Image2FeatureConfig, step=None, dtype="float16"):
    """Write an Image2Feature network as .npz + .json (`save_network`)."""
    return save_network(model, path, format=I2F_FORMAT, config=config, step=step, dtype=dtype)


def save_feature2image(model, path, *, config: Feature2ImageConfig, step=None, dtype="float16"):
    """Write a Feature2Image network as .npz + .json (`save_network`)."""
    return save_network(model, path, format=F2I_FORMAT, config=config, step=step, dtype=dtype)


def load_image2feature(path) -> ImageToFeature:
    """An exported Image2Feature network (a .npz, or a workdir holding image2feature.npz)."""
    model, _ = load_network(
        path, format=I2F_FORMAT, what="Image2Feature network", default_name="image2feature.npz",
        build=lambda c: ImageToFeature(Image2FeatureConfig(**c), rngs=nnx.Rngs(0)),
        how_to_make="train one with `python -m train.image2feature` (it exports at the end)",
    )  # fmt: skip
    return model


def load_feature2image(path) -> FeatureToImage:
    """An exported Feature2Image network (a .npz, or a workdir holding feature2image.npz)."""
    model, _ = load_network(
        path, format=F2I_FORMAT, what="Feature2Image network", default_name="feature2image.npz",
        build=lambda c: FeatureToImage(Feature2ImageConfig(**c), rngs=nnx.Rngs(0)),
        how_to_make="train one with `python -m train.feature2image` (it exports at the end)",
    )  # fmt: skip
    return model
