"""The registry of inpainting methods: one `Method` record per method, in `METHODS`.

The API (`npsynth.inpaint`), the config routing (`npsynth.config.config_for`), the presets,
the page and the evaluation read this table; nothing else names a method. A method is a
config class (extending `npsynth.config.pyramid.PyramidConfig`, with a `method` name), a
per-level step (`npsynth.pyramid.LevelStep`) plugged into the one coarse-to-fine loop, and
one entry here: adding a third method touches its config module, its method module and
this file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from npsynth import pyramid
from npsynth.config.optimize import OptimizeConfig
from npsynth.config.pyramid import PyramidConfig
from npsynth.config.translate import TranslateConfig
from npsynth.conventions import receptive_field
from npsynth.methods import optimize, translate
from npsynth.texture import feature_layers


@dataclasses.dataclass(frozen=True)
class Method:
    """One inpainting method, as every part of npsynth sees it."""

    name: str
    config: type[PyramidConfig]  # its settings; `config()` gives its defaults
    # The per-level step from a config and the texture network (a `pyramid.LevelStep`).
    make_step: Callable[[PyramidConfig, object], pyramid.LevelStep]
    # Raises one ValueError naming each network the config needs and none is found for,
    # and how to get it; called before any photo is filled.
    check_networks: Callable[[PyramidConfig], None]
    # The cost model behind the page's estimate and progress bar: the work of filling a hole
    # covering `hole_fraction` of the photo (None: not known yet) at each pyramid level of
    # `level_sizes` ((height, width) each, `pyramid.level_sizes`) that the config works at
    # (the first `config.levels`), in megapixel-iterations, one number per level.
    work: Callable[[PyramidConfig, Sequence[tuple[int, int]], float | None], list[float]]
    # Seconds per unit of `work` on this project's 2-core CPU machine, before any job has
    # been timed (`npsynth.serve.estimate`), for the centred hole of a quarter of the photo.
    seconds_per_work: float
    summary: str  # one line for listings (the page, the README's table, --help)


def needs_no_network(config: PyramidConfig) -> None:
    """`check_networks` of a method that uses only VGG-19 (fetched on first use)."""


def optimize_work(
    config: OptimizeConfig, level_sizes: Sequence[tuple[int, int]], hole_fraction=None
) -> list[float]:
    """Megapixels that VGG-19 sees times L-BFGS iterations at each level worked at (the first
    `config.levels`; skipped coarse levels take no iterations): the level's, or with
    `hole_fraction` the texture window's (`npsynth.window.texture_window`), taken as a
    centred square hole of that share of the level grown by the deepest texture layer's
    receptive field on each side (`window_margin`)."""
    iterations = config.per_scale_iterations()[len(config.scales) - len(level_sizes) :]
    worked = list(zip(level_sizes, iterations, strict=True))[: config.levels]
    margin = window_margin(config)
    return [window_megapixels(size, hole_fraction, margin) * n for size, n in worked]


def window_margin(config: OptimizeConfig) -> int:
    """Pixels the texture window reaches past the hole on each side: the receptive field
    (before and after) of the deepest layer VGG-19 computes (`window.texture_window`)."""
    layers = feature_layers(config.texture.layers, config.content_layer)
    return max(sum(receptive_field(layer)) for layer in layers)


def window_megapixels(size: tuple[int, int], hole_fraction: float | None, margin: int) -> float:
    """Megapixels of the window VGG-19 sees at a level of `size` for a centred square hole
    covering `hole_fraction` of it (None: the whole level), grown by `margin` on each side."""
    height, width = size
    if hole_fraction is None:
        return height * width / 1e6
    side = max(0.0, min(1.0, hole_fraction)) ** 0.5
    return min(height, height * side + 2 * margin) * min(width, width * side + 2 * margin) / 1e6


def translate_work(
    config: TranslateConfig, level_sizes: Sequence[tuple[int, int]], hole_fraction=None
) -> list[float]:
    """Megapixels at each level worked at: one pass of three networks per level."""
    return [h * w / 1e6 for h, w in list(level_sizes)[: config.levels]]


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "optimize", OptimizeConfig, optimize.OptimizeStep, needs_no_network, optimize_work,
            seconds_per_work=43.0,
            summary="multi-scale neural patch synthesis: L-BFGS on the joint loss (Eq. 1) "
            "at every scale (Yang et al. 2017)",
        ),
        Method(
            "translate", TranslateConfig, translate.make_step, translate.check_networks,
            translate_work, seconds_per_work=14.0,
            summary="feature image translation: Image2Feature -> patch-swap -> "
            "Feature2Image at every scale (Song et al. 2018), fast",
        ),
    )
}  # fmt: skip


def method_of(name: str) -> Method:
    """The registered method `name`, or a ValueError that lists them."""
    if name not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]
