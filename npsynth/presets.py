"""Named presets: a method and the settings it changes from that method's defaults.

`npsynth.inpaint(image, mask, preset="fast")`, `config("paper", iterations=50)`; the page's
choices, the frontier's schedules and the tests read them here.

| preset      | method    | settings                                                        |
|-------------|-----------|-----------------------------------------------------------------|
| `default`   | optimize  | the defaults: 128, 256, 512 px, 15 iterations, beta 0.25 last   |
| `fast`      | optimize  | `levels=1`: the first level, upsampled and pasted               |
| `paper`     | optimize  | Eq. 1-3 as written: 100 iterations, matches at every evaluation  |
| `tiny`      | optimize  | 32 and 64 px, harmonic reference, 5 iterations (tests, smoke)   |
| `translate` | translate | the defaults: 256, 512 px, Poisson paste at every level         |
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from npsynth.config.inpaint import setting_paths, with_settings
from npsynth.config.pyramid import PyramidConfig


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named configuration: `method` with `settings` (flat names, `with_settings`)."""

    name: str
    method: str  # a name of `npsynth.methods.METHODS`
    settings: Mapping[str, object]
    summary: str  # one line for listings (the page, the README's table, --help)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("default", "optimize", {}, "optimize with today's defaults (docs/results.md)"),
        # The first level only, pasted up in the gradient domain: it beats Telea at a tenth
        # of the default's time or less (docs/results.md, "The fast choice").
        Preset("fast", "optimize", {"levels": 1}, "optimize at the first scale only, upsampled"),
        # Eq. 1-3 as written: E_c on the hole's pixels, E_t on relu3_1 and relu4_1 with 3x3
        # patches, the nearest neighbours of Eq. 3 recomputed at every loss evaluation, 100
        # L-BFGS iterations per scale (Sec. 4), one TV weight at every scale.
        Preset(
            "paper", "optimize",
            {"content_layer": None, "layers": ("relu3_1", "relu4_1"), "patch_size": 3,
             "nn_update": "every_eval", "iterations": 100, "beta_last": None},
            "Eq. 1-3 as written, 100 L-BFGS iterations per scale (slow)",
        ),
        Preset(
            "tiny", "optimize", {"scales": (32, 64), "content": "harmonic", "iterations": 5},
            "32 and 64 px, harmonic reference, 5 iterations: for tests and smoke runs",
        ),
        Preset("translate", "translate", {}, "feature image translation with its defaults: fast"),
    )
}  # fmt: skip


def config(name: str, *, method: str | None = None, **overrides) -> PyramidConfig:
    """The config of preset `name` with `overrides` (flat names or records, as
    `npsynth.config.with_settings` takes them).

    Args:
      name: a name of `PRESETS`.
      method: None (the preset's method), or another method: the preset's settings that
        method has are applied to its defaults (`config("tiny", method="translate")`: 32 and
        64 px, harmonic reference).
      overrides: settings of the method, applied after the preset's.

    Raises:
      ValueError: an unknown preset, method or setting.
    """
    from npsynth.methods import method_of

    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
    preset = PRESETS[name]
    chosen = method_of(preset.method if method is None else method)
    settings = dict(preset.settings)
    if chosen.name != preset.method:
        names = setting_paths(chosen.config)
        settings = {key: value for key, value in settings.items() if key in names}
    return with_settings(with_settings(chosen.config(), **settings), **overrides)
