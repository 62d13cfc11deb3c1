"""The method settings as flags: one flag per leaf setting of every method's config.

`python -m eval.inpaint` and `eval.gallery` offer the same flags, derived from the configs
(`npsynth.config.flags`): `--patch-size`, `--maxls`, `--scales 128,256,512`, `--beta-last
none`, each with the comment above its field as help. Only the flags a command line spells
reach `method_configs`, so a preset or a method's own default (optimize's scales are
128,256,512, translate's 256,512) holds for the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence

from npsynth import presets
from npsynth.config import flags
from npsynth.config.inpaint import PyramidConfig, config_for
from npsynth.methods import METHODS as REGISTRY

# The methods and their config classes (method name -> config dataclass), from the registry.
CONFIGS = {name: method.config for name, method in REGISTRY.items()}
METHODS = tuple(CONFIGS)

# Flags spelt otherwise than their field, as the README has always spelt them: the network
# checkpoints are `--feature2image PATH` and `--image2feature PATH`, so translate's field
# `image2feature` (which features fill the hole) is `--image2feature-mode`; translate's
# `level_paste` (poisson or direct) has always been `--paste`.
NAMES = {"image2feature": "image2feature-mode", "level_paste": "paste"}
ALIASES = {
    "feature2image_checkpoint": ("--feature2image",),
    "image2feature_checkpoint": ("--image2feature",),
}


def method_configs(
    methods: Iterable[str], preset: str | None = None, fields: Mapping[str, object] = {}
) -> dict[str, PyramidConfig]:
    """Each method's config: the preset's (`preset`, else the method's defaults) with the
    flat settings `fields` (leaf name -> value) that the method has; a setting of another
    method only is not passed to it (`--alpha` means nothing to translate).

    Raises:
      ValueError: an unknown method, preset or setting, or a value the config refuses.
    """
    configs = {}
    for method in methods:
        if method not in CONFIGS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(CONFIGS)}")
        cls = CONFIGS[method]
        own = {name: value for name, value in fields.items() if name in _leaf_names(cls)}
        settings = flags.nest(cls, own)
        if preset is None:
            configs[method] = config_for(method, **settings)
        else:
            configs[method] = presets.config(preset, method=method, **settings)
    return configs


def preset_method(preset: str | None) -> str:
    """The method a command line runs when it names none: the preset's, else the "default"
    preset's (optimize). An unknown preset is a usage error (one line naming --preset, exit 2).
    """
    preset = "default" if preset is None else preset
    if preset not in presets.PRESETS:
        flags.usage_error(
            f"argument --preset: unknown preset {preset!r}; choose from {', '.join(presets.PRESETS)}"
        )
    return presets.PRESETS[preset].method


@functools.cache
def settings_flags() -> type:
    """The dataclass of every method's settings, one field per leaf (first method's type)."""
    settings = {}
    for cls in CONFIGS.values():
        for leaf in flags.leaves(cls):
            settings.setdefault(leaf.name, leaf)
    defaults, hints = {}, {}
    for name in settings:
        values = {m: value for m, value in _defaults().items() if name in value}
        values = {m: value[name] for m, value in values.items()}
        defaults[name] = next(iter(values.values()))
        if len(set(map(repr, values.values()))) > 1 or len(values) < len(CONFIGS):
            hints[name] = "(default: " + "; ".join(f"{m} {_text(v)}" for m, v in values.items())
            hints[name] += ")"
    return flags.flat_flags(
        "MethodSettings", settings, defaults, hints=hints, names=NAMES, aliases=ALIASES
    )


def given_settings(parsed, args: Sequence[str]) -> dict[str, object]:
    """The settings of `parsed` (a `settings_flags()` instance) that `args` spelt."""
    return {name: getattr(parsed, name) for name in flags.given(type(parsed), args)}


@functools.cache
def _leaf_names(cls: type) -> frozenset[str]:
    return frozenset(leaf.name for leaf in flags.leaves(cls))


@functools.cache
def _defaults() -> dict[str, dict[str, object]]:
    """Method -> leaf name -> its default value."""
    found = {}
    for method, cls in CONFIGS.items():
        config = cls()  # the method's defaults
        values = {}
        for leaf in flags.leaves(cls):
            value = config
            for part in leaf.path:
                value = getattr(value, part)
            values[leaf.name] = value
        found[method] = values
    return found


def _text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
