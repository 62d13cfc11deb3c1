"""The checks every setting goes through: each raises a ValueError naming the setting and
what it may be, before any computing (no JAX; the VGG-19 layer names are read lazily)."""

from __future__ import annotations

import math
import operator
import os


def check_number(name: str, value, *, high: float = math.inf) -> None:
    """A ValueError naming setting `name` unless `value` is a finite number in [0, high]
    (a number, not a bool or a string such as '0.5')."""
    number = math.nan
    if not isinstance(value, (bool, str, bytes)) and hasattr(type(value), "__float__"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            pass
    if not (math.isfinite(number) and 0 <= number <= high):
        allowed = "a finite number >= 0" if high == math.inf else f"a number from 0 to {high:g}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_count(name: str, value, *, low: int = 1, high: int) -> int:
    """`value` as an int; a ValueError naming setting `name` unless it is a whole number
    (an int, not a bool, a float or a string) from `low` to `high`."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or not low <= number <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return number


def check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    """A ValueError naming setting `name` unless `value` is one of the strings `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def check_path(name: str, value) -> None:
    """A ValueError naming setting `name` unless `value` is None or a path (str, PathLike)."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name} must be a path or None, got {value!r}")


def check_layers(name: str, value) -> tuple[str, ...]:
    """`value` (one VGG-19 layer name or a sequence of them) as a non-empty tuple of the
    layers npsynth knows (`npsynth.models.vgg.STRIDES`); else a ValueError naming `name`."""
    from npsynth.conventions import STRIDES

    layers = (value,) if isinstance(value, str) else value
    if not hasattr(layers, "__iter__") or isinstance(layers, bytes):
        layers = (layers,)
    layers = tuple(layers)
    unknown = [layer for layer in layers if not isinstance(layer, str) or layer not in STRIDES]
    if not layers or unknown:
        raise ValueError(f"{name} must name VGG-19 layers from {', '.join(STRIDES)}; got {value!r}")
    return layers


def check_content_layer(content_layer: str | None) -> str | None:
    """`content_layer` if it is None (E_c in pixel space, Eq. 2) or a layer VGG-19 returns
    (`npsynth.models.vgg.LAYERS`: conv1_1 ... relu5_4, pool1 ... pool4); else a ValueError."""
    from npsynth.conventions import LAYERS

    if content_layer is not None and content_layer not in LAYERS:
        raise ValueError(
            f"content_layer must be None (E_c on the pixels) or a VGG-19 layer such as "
            f"'relu4_2' (the authors' code), one of {', '.join(LAYERS)}; got {content_layer!r}"
        )
    return content_layer
