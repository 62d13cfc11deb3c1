"""Tests for npsynth.config: per-method settings, their nested records, their checks and
the presets (`npsynth.presets`)."""

from __future__ import annotations

import dataclasses

import pytest

from npsynth import presets
from npsynth.config import (
    InpaintConfig,
    OptimizeConfig,
    PasteOptions,
    PyramidConfig,
    ReferenceOptions,
    SolverOptions,
    TextureOptions,
    TranslateConfig,
    config_for,
    setting_paths,
    with_settings,
)


def build(cls, **fields):
    """`cls`'s defaults with `fields` set by their flat names (`config_for`)."""
    return config_for(cls.method, **fields)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"scales": (64, 32)}, "increasing"),
        ({"scales": (64, 64)}, "increasing"),
        ({"iterations": 0}, "iterations"),
        ({"content": "magic"}, "content"),
        ({"nn_update": "sometimes"}, "nn_update"),
        ({"nn_update": "per_chunk"}, "nn_update must be one of per_scale, every_eval"),
        ({"content_layer": "relu4_5"}, "content_layer must be None .* got 'relu4_5'"),
        ({"content_layer": "pixels"}, "content_layer must be None"),
        ({"patchmatch_base_sigma": -1.0}, "patchmatch_base_sigma"),
        ({"patchmatch_base_sigma": float("nan")}, "patchmatch_base_sigma"),
        ({"paste_offset_span": -0.5}, "paste_offset_span"),
        ({"paste_exact_reach": float("nan")}, "paste_exact_reach"),
    ],
)
def test_bad_settings_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(InpaintConfig, **overrides)


def test_each_method_has_only_its_own_fields():
    shared = {f.name for f in dataclasses.fields(PyramidConfig)}
    optimize = {f.name for f in dataclasses.fields(OptimizeConfig)} - shared
    translate = {f.name for f in dataclasses.fields(TranslateConfig)} - shared
    assert shared == {"scales", "levels", "context", "reference", "paste"}
    assert optimize == {
        "iterations", "alpha", "beta", "beta_last", "content_layer", "texture", "solver",
    }  # fmt: skip
    assert translate == {
        "image2feature", "image2feature_checkpoint", "feature2image_checkpoint", "level_paste",
        "chunk_size",
    }  # fmt: skip
    assert len(dataclasses.fields(OptimizeConfig)) <= 12  # a handful of knobs at the top
    assert InpaintConfig is OptimizeConfig
    # Paper defaults: Yang et al. Sec. 3.3 (128, 256, 512); Song et al. Fig. 4 (256, 512).
    # Iterations: 15 per scale by default (issue 20's frontier), 100 in the paper (Sec. 4).
    assert OptimizeConfig().scales == (128, 256, 512) and OptimizeConfig().iterations == 15
    paper = presets.config("paper").solver
    assert (paper.linesearch, paper.linesearch_init, paper.maxls, paper.rel_tol) == (
        "zoom", "increase", 30, 0.0,
    )  # the paper schedule's line search: jaxopt's defaults, no early stop  # fmt: skip
    assert TranslateConfig().scales == (256, 512)


def test_every_nested_setting_has_one_flat_name_and_one_record():
    paths = setting_paths(OptimizeConfig)
    assert paths["maxls"] == ("solver", "maxls") and paths["layers"] == ("texture", "layers")
    assert paths["content"] == ("reference", "content")
    assert paths["paste_exact_reach"] == ("paste", "paste_exact_reach")
    assert paths["alpha"] == ("alpha",) and paths["solver"] == ("solver",)
    leaves = [path[-1] for path in paths.values()]
    assert len(leaves) == len(set(leaves))  # unique, so a flat CLI flag finds its record
    records = {
        "reference": ReferenceOptions, "paste": PasteOptions, "texture": TextureOptions,
        "solver": SolverOptions,
    }  # fmt: skip
    for name, cls in records.items():
        names = {f.name for f in dataclasses.fields(cls)}
        assert {
            leaf for leaf, path in paths.items() if path[:1] == (name,) and path != (name,)
        } == names
    assert setting_paths(TranslateConfig)["chunk_size"] == ("chunk_size",)


def test_nested_settings_by_flat_name_by_dict_or_by_record_give_one_config():
    by_name = config_for("optimize", maxls=5, layers=("relu4_1",), patchmatch_base_sigma=0.0)
    by_dict = config_for(
        "optimize", solver={"maxls": 5}, texture={"layers": ("relu4_1",)},
        reference={"patchmatch_base_sigma": 0.0},
    )  # fmt: skip
    by_record = config_for(
        "optimize", solver=SolverOptions(maxls=5), texture=TextureOptions(layers=("relu4_1",)),
        reference=ReferenceOptions(patchmatch_base_sigma=0.0),
    )  # fmt: skip
    assert by_name == by_dict == by_record
    assert by_name.solver == SolverOptions(maxls=5)  # the record's other fields at defaults
    assert by_name.texture.layers == ("relu4_1",) and by_name.reference.content == "auto"
    # A dict merges into the record it replaces; the constructor takes one too.
    tuned = with_settings(by_name, solver={"tol": 1e-3})
    assert (tuned.solver.maxls, tuned.solver.tol) == (5, 1e-3)
    assert OptimizeConfig(solver={"maxls": 5}).solver == SolverOptions(maxls=5)
    with pytest.raises(ValueError, match="unknown setting.*'speed' of SolverOptions"):
        config_for("optimize", solver={"speed": 2})
    with pytest.raises(ValueError, match="solver must be a SolverOptions or a dict"):
        OptimizeConfig(solver=5)
    with pytest.raises(ValueError, match="maxls must be a whole number"):
        config_for("optimize", solver={"maxls": 0})  # the record's checks run


def test_content_layer_is_off_by_default_and_takes_any_vgg_layer():
    from npsynth.models.vgg import LAYERS

    assert OptimizeConfig().content_layer is None  # E_c on the pixels, as before
    assert OptimizeConfig(content_layer="relu4_2").content_layer == "relu4_2"  # authors' code
    assert all(OptimizeConfig(content_layer=layer).content_layer == layer for layer in LAYERS)
    with pytest.raises(ValueError, match="content_layer is a setting of method 'optimize'"):
        config_for("translate", content_layer="relu4_2")


def test_config_for_builds_the_methods_config_and_names_stray_fields():
    assert config_for("translate", scales=(64, 128)) == TranslateConfig(scales=(64, 128))
    assert config_for("optimize", alpha=1.0).alpha == 1.0
    with pytest.raises(ValueError, match="iterations is a setting of method 'optimize'"):
        config_for("translate", iterations=3)
    with pytest.raises(ValueError, match="image2feature is a setting of method 'translate'"):
        config_for("optimize", image2feature="content")
    with pytest.raises(ValueError, match="unknown setting 'speed'"):
        config_for("optimize", speed=2)


def test_presets_are_a_method_and_its_settings():
    harmonic = ReferenceOptions(content="harmonic")
    assert presets.config("tiny") == OptimizeConfig(
        scales=(32, 64), iterations=5, reference=harmonic
    )
    # Another method takes the preset's settings it has.
    assert presets.config("tiny", method="translate", context=0.5) == TranslateConfig(
        scales=(32, 64), reference=harmonic, context=0.5
    )
    assert presets.config("default") == OptimizeConfig() == config_for("default")
    assert presets.config("fast") == OptimizeConfig(levels=1)
    assert presets.config("translate") == TranslateConfig() == config_for("translate")
    paper = presets.config("paper")  # Eq. 1-3 as written, Sec. 4's 100 iterations
    assert (paper.iterations, paper.beta_last, paper.content_layer) == (100, None, None)
    assert paper.texture == TextureOptions(nn_update="every_eval")  # relu3_1, relu4_1, 3x3
    assert config_for("paper", maxls=5).solver.maxls == 5  # overrides on top of a preset
    # A record override merges into the preset's record, whatever order it comes in.
    assert presets.config("paper", texture={"patch_size": 5}).texture.nn_update == "every_eval"
    with pytest.raises(ValueError, match="preset must be one of default, fast, paper"):
        presets.config("quick")
    with pytest.raises(ValueError, match="iterations is a setting of method 'optimize'"):
        presets.config("translate", iterations=3)


@pytest.mark.parametrize(
    "overrides, message",
    [({"image2feature": "magic"}, "image2feature"), ({"scales": (8, 16)}, "from 16 to 65536")],
)
def test_bad_translate_settings_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(TranslateConfig, **overrides)


def test_options_for_irregular_holes_and_their_defaults():
    # docs/archive/results-rounds.md, "Optimize on irregular holes: starts and matches".
    default = OptimizeConfig()
    assert (default.texture.nn_update, default.reference.content) == ("per_scale", "auto")
    # E_c's reference at later scales: PatchMatch where the first one is.
    assert default.reference_every_scale("patchmatch")
    assert not any(default.reference_every_scale(s) for s in ("network", "harmonic", "mean"))
    config = build(OptimizeConfig, nn_update="every_eval", content="patchmatch")
    assert (config.texture.nn_update, config.reference.content) == ("every_eval", "patchmatch")
    assert build(TranslateConfig, content="patchmatch").reference.content == "patchmatch"
    with pytest.raises(ValueError, match="every_eval"):  # the message lists the choices
        build(OptimizeConfig, nn_update="per_iteration")
    for removed in ("alpha_scaling", "content_scales"):  # no preset or result uses them
        with pytest.raises(ValueError, match=f"unknown setting '{removed}'"):
            build(OptimizeConfig, **{removed: "auto"})


@pytest.mark.parametrize(
    "cls, overrides, message",
    [
        (OptimizeConfig, {"alpha": float("inf")}, "alpha must be a number from 0 to 1, got inf"),
        (OptimizeConfig, {"alpha": 1e30}, "alpha must be a number from 0 to 1, got 1e+30"),
        (OptimizeConfig, {"beta": float("inf")}, "beta must be a number from 0 to 1e+06, got inf"),
        (OptimizeConfig, {"beta_last": float("inf")}, "beta_last must be a number from 0 to 1e+06"),
        (OptimizeConfig, {"beta": 1e300}, "beta must be a number from 0 to 1e+06, got 1e+300"),
        (
            TranslateConfig,
            {"patchmatch_base_sigma": float("inf")},
            "patchmatch_base_sigma must be a number from 0 to 1000, got inf",
        ),
        (
            TranslateConfig,
            {"paste_offset_span": float("inf")},
            "paste_offset_span must be a finite number >= 0, got inf",
        ),
        (
            OptimizeConfig,
            {"paste_exact_reach": float("-inf")},
            "paste_exact_reach must be a finite",
        ),
        (
            OptimizeConfig,
            {"context": float("inf")},
            "context must be a finite number >= 0, got inf",
        ),
        (
            OptimizeConfig,
            {"context": float("nan")},
            "context must be a finite number >= 0, got nan",
        ),
    ],
)
def test_non_finite_or_huge_numbers_are_refused_naming_the_setting_and_range(
    cls, overrides, message
):
    import re

    with pytest.raises(ValueError, match=re.escape(message)):
        build(cls, **overrides)


def test_the_largest_allowed_numbers_and_a_huge_paste_span_are_accepted():
    config = build(OptimizeConfig, alpha=1.0, beta=1e6, beta_last=1e6, patchmatch_base_sigma=1e3)
    assert (config.alpha, config.beta, config.reference.patchmatch_base_sigma) == (1.0, 1e6, 1e3)
    # The paste's Gaussian is cut where the image ends (`fill.local_mean`): any finite span.
    paste = build(TranslateConfig, paste_offset_span=1e300).paste
    assert paste.paste_offset_span == 1e300


def test_the_last_scale_must_reach_the_smallest_level_the_methods_work_at():
    with pytest.raises(ValueError, match=r"the last scale must be at least 32 px.*got \(16,\)"):
        OptimizeConfig(scales=(16,))
    assert OptimizeConfig(scales=(16, 32)).scales == (16, 32)  # the 16 px level is skipped


@pytest.mark.parametrize(
    "cls, overrides, message",
    [
        (
            OptimizeConfig,
            {"iterations": 2**31},
            "iterations must be a whole number from 1 to 100000, got 2147483648",
        ),
        (
            OptimizeConfig,
            {"iterations": 10**20},
            "iterations must be a whole number from 1 to 100000",
        ),
        (
            OptimizeConfig,
            {"iterations": (2, 99999999999)},
            "iterations must be a whole number from 1 to 100000, got 99999999999",
        ),
        (
            OptimizeConfig,
            {"iterations": 2.5},
            "iterations must be a whole number from 1 to 100000, got 2.5",
        ),
        (
            OptimizeConfig,
            {"iterations": True},
            "iterations must be a whole number from 1 to 100000, got True",
        ),
        (
            OptimizeConfig,
            {"iterations": "5"},
            "iterations must be a whole number from 1 to 100000, got '5'",
        ),
        (
            OptimizeConfig,
            {"levels": float("nan")},
            "levels must be a whole number from 1 to 64, got nan",
        ),
        (OptimizeConfig, {"levels": 1.5}, "levels must be a whole number from 1 to 64, got 1.5"),
        (TranslateConfig, {"levels": 65}, "levels must be a whole number from 1 to 64, got 65"),
        (
            OptimizeConfig,
            {"chunk_size": float("nan")},
            "chunk_size must be a whole number from 1 to 1048576, got nan",
        ),
        (
            TranslateConfig,
            {"chunk_size": 0},
            "chunk_size must be a whole number from 1 to 1048576, got 0",
        ),
        (
            OptimizeConfig,
            {"patch_size": 0},
            "patch_size must be a whole number from 1 to 16, got 0",
        ),
        (
            OptimizeConfig,
            {"chunk_iterations": float("nan")},
            "chunk_iterations must be a whole number from 1 to 100000, got nan",
        ),
        (
            OptimizeConfig,
            {"chunk_iterations": 2**31},
            "chunk_iterations must be a whole number from 1 to 100000",
        ),
        (
            OptimizeConfig,
            {"history_size": 10.0},
            "history_size must be a whole number from 1 to 1000, got 10.0",
        ),
        (
            OptimizeConfig,
            {"maxls": 10**6},
            "maxls must be a whole number from 1 to 1000, got 1000000",
        ),
        (
            OptimizeConfig,
            {"scales": (32, 64.5)},
            "scales must be a whole number from 16 to 65536, got 64.5",
        ),
        (OptimizeConfig, {"scales": (32, 2**40)}, "scales must be a whole number from 16 to 65536"),
        (
            OptimizeConfig,
            {"scales": 64},
            "scales must be a sequence of whole numbers of pixels, got 64",
        ),
        (OptimizeConfig, {"alpha": "0.5"}, "alpha must be a number from 0 to 1, got '0.5'"),
        (OptimizeConfig, {"beta": "1"}, "beta must be a number from 0 to 1e+06, got '1'"),
        (TranslateConfig, {"context": "1.0"}, "context must be a finite number >= 0, got '1.0'"),
        (OptimizeConfig, {"tol": float("nan")}, "tol must be a finite number >= 0, got nan"),
        (OptimizeConfig, {"rel_tol": 2.0}, "rel_tol must be a number from 0 to 1, got 2.0"),
        (
            OptimizeConfig,
            {"content": ["harmonic"]},
            "content must be one of auto, network, harmonic",
        ),
        (
            TranslateConfig,
            {"level_paste": None},
            "level_paste must be one of poisson, direct, got None",
        ),
        (
            TranslateConfig,
            {"feature2image_checkpoint": 3},
            "feature2image_checkpoint must be a path or None, got 3",
        ),
    ],
)
def test_every_setting_is_checked_by_type_and_range_naming_it(cls, overrides, message):
    import re

    with pytest.raises(ValueError, match=re.escape(message)):
        build(cls, **overrides)


@pytest.mark.parametrize("layers", [("relu9_9",), (), ("relu3_1", 4), "conv0"])
def test_unknown_texture_layers_are_refused_listing_the_known_ones(layers):
    with pytest.raises(ValueError, match=r"layers must name VGG-19 layers from .*relu3_1.*relu4_1"):
        build(OptimizeConfig, layers=layers)


def test_whole_numbers_of_any_integer_type_are_kept_as_ints_at_their_bounds():
    import numpy as np

    config = build(
        OptimizeConfig,
        scales=(np.int64(32), 65536), iterations=(100000, np.int32(1)), levels=np.int64(64),
        chunk_size=1 << 20, patch_size=16, history_size=1000, maxls=np.int16(1000),
        chunk_iterations=100000, layers="relu4_1", alpha=np.float32(0.5),
    )  # fmt: skip
    assert config.scales == (32, 65536) and type(config.scales[0]) is int
    assert config.iterations == (100000, 1) and type(config.iterations[1]) is int
    assert (config.levels, config.solver.maxls, config.texture.layers) == (64, 1000, ("relu4_1",))
    assert type(config.levels) is int and type(config.solver.maxls) is int
    assert config.per_scale_iterations() == (100000, 1)
    assert build(OptimizeConfig, scales=(32, 64, 128), iterations=7).per_scale_iterations() == (
        7, 7, 7,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"iterations must be one number or one per scale \(3\)"):
        build(OptimizeConfig, iterations=(5, 5))
