"""Settings of `npsynth.inpaint`: building a method's config from flat or nested fields.

Each method has its own config class (`npsynth.config.optimize.OptimizeConfig`,
`npsynth.config.translate.TranslateConfig`, both extending
`npsynth.config.pyramid.PyramidConfig`), registered in `npsynth.methods.METHODS`; named
presets are in `npsynth.presets`. A config's tuning sits in nested records (`solver`,
`texture`, `reference`, `paste`) whose field names are unique across the config, so every
setting has one flat name: `config_for("optimize", maxls=5)` and
`config_for("optimize", solver={"maxls": 5})` are the same config.
"""

from __future__ import annotations

import dataclasses
import functools
import typing

from npsynth.config.optimize import (
    LINESEARCH_INITS,
    LINESEARCHES,
    MAX_ALPHA,
    MAX_BETA,
    MAX_ITERATIONS,
    MAX_PATCH_SIZE,
    NN_UPDATES,
    OptimizeConfig,
    SolverOptions,
    TextureOptions,
)
from npsynth.config.pyramid import (
    CONTENT_REFERENCES,
    MAX_BASE_SIGMA,
    MAX_CHUNK_SIZE,
    MAX_LEVELS,
    MAX_SCALE,
    MIN_LEVEL_SIZE,
    PasteOptions,
    PyramidConfig,
    ReferenceOptions,
)
from npsynth.config.translate import IMAGE2FEATURES, LEVEL_PASTES, TranslateConfig

# The config of the default method; kept under the name `npsynth.inpaint` has always taken.
InpaintConfig = OptimizeConfig

__all__ = [
    "CONTENT_REFERENCES", "IMAGE2FEATURES", "LEVEL_PASTES", "LINESEARCHES", "LINESEARCH_INITS",
    "MAX_ALPHA", "MAX_BASE_SIGMA", "MAX_BETA", "MAX_CHUNK_SIZE", "MAX_ITERATIONS", "MAX_LEVELS",
    "MAX_PATCH_SIZE", "MAX_SCALE", "MIN_LEVEL_SIZE", "NN_UPDATES", "InpaintConfig",
    "OptimizeConfig", "PasteOptions", "PyramidConfig", "ReferenceOptions", "SolverOptions",
    "TextureOptions", "TranslateConfig", "config_for", "setting_paths", "with_settings",
]  # fmt: skip


@functools.cache
def records(cls: type) -> dict[str, type]:
    """The fields of config class `cls` that are nested records: name -> record class."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(cls)
        if isinstance(hints[f.name], type) and dataclasses.is_dataclass(hints[f.name])
    }


@functools.cache
def setting_paths(cls: type) -> dict[str, tuple[str, ...]]:
    """Every setting of config class `cls` by its flat name: its path from the top
    (`("scales",)`, `("solver", "maxls")`), records included (`("solver",)`)."""
    nested = records(cls)
    paths = {}
    for field in dataclasses.fields(cls):
        paths[field.name] = (field.name,)
        if field.name in nested:
            for leaf in dataclasses.fields(nested[field.name]):
                if leaf.name in paths:  # kept unique by the configs' authors
                    raise TypeError(f"{cls.__name__}: setting {leaf.name!r} is named twice")
                paths[leaf.name] = (field.name, leaf.name)
    return paths


def with_settings(config: PyramidConfig, **fields) -> PyramidConfig:
    """A copy of `config` with `fields` set, each by its flat name (`maxls=5`) or as a
    record (`solver={"maxls": 5}`, merged into `config`'s record, or a `SolverOptions`);
    every value is checked again. An unknown name is a ValueError."""
    cls = type(config)
    paths = setting_paths(cls)
    unknown = sorted(set(fields) - set(paths))
    if unknown:
        raise ValueError("; ".join(_stray(name, cls) for name in unknown))
    nested = records(cls)
    top = {name: value for name, value in fields.items() if len(paths[name]) == 1}
    for name, value in top.items():
        if name in nested and isinstance(value, dict):
            top[name] = _merged(getattr(config, name), value)
    for name, value in fields.items():
        if len(paths[name]) == 2:
            record, leaf = paths[name]
            top[record] = _merged(top.get(record, getattr(config, record)), {leaf: value})
    return dataclasses.replace(config, **top)


def _merged(record, changes: dict):
    """`record` with `changes`; a ValueError names a field it does not have."""
    if not dataclasses.is_dataclass(record):  # a bad value: the config's check names it
        return record
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(record)})
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(map(repr, unknown))} of {type(record).__name__}"
        )
    return dataclasses.replace(record, **changes)


def _stray(name: str, cls: type) -> str:
    """Why `name` is no setting of `cls`: another method's, or unknown."""
    from npsynth.methods import METHODS

    owners = [m.name for m in METHODS.values() if name in setting_paths(m.config)]
    if owners:
        return f"{name} is a setting of method {owners[0]!r}, not {cls.method!r}"
    return f"unknown setting {name!r}"


def config_for(name: str, **fields) -> PyramidConfig:
    """The config of method or preset `name` (`npsynth.methods.METHODS`,
    `npsynth.presets.PRESETS`) with `fields` set (`with_settings`: flat names or records).

    A field of another method raises a ValueError that names the method it belongs to.
    """
    from npsynth import presets
    from npsynth.methods import METHODS

    if name in METHODS:
        return with_settings(METHODS[name].config(), **fields)
    if name in presets.PRESETS:
        return presets.config(name, **fields)
    raise ValueError(
        f"method must be one of {', '.join(METHODS)} (or a preset: "
        f"{', '.join(presets.PRESETS)}), got {name!r}"
    )
