"""Named presets: a method and the settings it changes from that method's defaults.

`npsynth.inpaint(image, mask, preset="fast")`, `config("paper", iterations=50)`; the page's
choices, the frontier's schedules and the tests read them here.

| preset      | method    | settings                                                        |
|-------------|-----------|-----------------------------------------------------------------|
| `default`   | optimize  | the defaults: 128, 256, 512 px, 15 iterations, beta 0.25 last   |
| `fast`      | optimize  | `levels=1`: the first level, upsampled and pasted               |
| `paper`     | optimize  | Eq. 1-3 as written: 100 iterations, matches at every evaluation  |
| `authors`   | optimize  | the released code: E_c on relu4_2, E_t on relu4_1, strides 2    |
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


# The released code's weights (content 2e1, MRF 1e-4, TV 1e-4 on the 0-256 scale) divided by
# its content weight, with the 1/2 of its gradient-only MRF and TV terms (see "authors").
AUTHORS_CONTENT_WEIGHT, AUTHORS_MRF_WEIGHT, AUTHORS_TV_WEIGHT = 2e1, 1e-4, 1e-4
AUTHORS_PIXEL_SCALE = 256.0  # its `preprocess` multiplies [0, 1] by 256 (Caffe: 255)
AUTHORS_ALPHA = AUTHORS_MRF_WEIGHT / 2 / AUTHORS_CONTENT_WEIGHT
AUTHORS_BETA = AUTHORS_TV_WEIGHT / 2 * AUTHORS_PIXEL_SCALE**2 / AUTHORS_CONTENT_WEIGHT

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
        # The authors' released code (Faster-High-Res-Neural-Inpainting,
        # `run_texture_optimization.lua`, on CNNMRF), its weights mapped onto npsynth's terms
        # (docs/presets.md; checked in tests/test_presets.py). Its energy, in its units (VGG-19
        # input u = 256 * x in BGR minus the Caffe mean; n_c: the stride-2 grid windows
        # covering feature cell c; TV' without the last row's horizontal and the last
        # column's vertical differences):
        #   E = 2e1 * mean((relu4_2(u) - relu4_2(u_content))^2)
        #       + 1e-4 / 2 * sum_c (1 / n_c) sum_{grid windows p at c} |relu4_1(u)_c - T_nn(p),c|^2
        #       + 1e-4 / 2 * TV'(u)
        # (the MRF and TV modules return gradients only; these are their potentials). With
        # TV'(u) = 256^2 TV'(x) and npsynth's relu4_2 mean and "cells" E_t, E = 20 * L for
        # L = E_c + alpha * E_t + beta * TV with alpha = 1e-4 / 2 / 20 = 2.5e-6 and
        # beta = 1e-4 / 2 * 256^2 / 20 = 0.16384: the same minimiser.
        Preset(
            "authors", "optimize",
            {"content_layer": "relu4_2", "layers": ("relu4_1",), "patch_size": 3,
             "source_stride": 2, "synthesis_stride": 2, "patch_average": "cells",
             "nn_update": "per_scale", "iterations": 100, "alpha": AUTHORS_ALPHA,
             "beta": AUTHORS_BETA, "beta_last": None, "history_size": 25},
            "the authors' released code: E_c on relu4_2, E_t on relu4_1, 100 iterations (slow)",
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
