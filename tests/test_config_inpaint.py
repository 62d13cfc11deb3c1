"""Tests for npsynth.config: per-method settings, their checks and presets."""

from __future__ import annotations

import dataclasses

import pytest

from npsynth.config import (
    InpaintConfig,
    OptimizeConfig,
    PyramidConfig,
    TranslateConfig,
    config_for,
)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"scales": (64, 32)}, "increasing"),
        ({"scales": (64, 64)}, "increasing"),
        ({"iterations": 0}, "iterations"),
        ({"content": "magic"}, "content"),
        ({"nn_update": "sometimes"}, "nn_update"),
        ({"alpha_scaling": "per_patch"}, "alpha_scaling"),
        ({"content_scales": "last"}, "content_scales"),
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
        InpaintConfig(**overrides)


def test_each_method_has_only_its_own_fields():
    shared = {f.name for f in dataclasses.fields(PyramidConfig)}
    optimize = {f.name for f in dataclasses.fields(OptimizeConfig)} - shared
    translate = {f.name for f in dataclasses.fields(TranslateConfig)} - shared
    assert shared == {
        "scales",
        "context",
        "content",
        "content_checkpoint",
        "chunk_size",
        "levels",
        "patchmatch_base_sigma",
        "paste_offset_span",
        "paste_exact_reach",
    }
    assert optimize == {
        "iterations", "alpha", "beta", "beta_last", "layers", "patch_size", "nn_update", "tol",
        "rel_tol", "history_size", "linesearch", "linesearch_init", "maxls", "chunk_iterations",
        "alpha_scaling", "content_scales", "content_layer",
    }  # fmt: skip
    assert translate == {
        "image2feature", "image2feature_checkpoint", "feature2image_checkpoint", "paste"
    }  # fmt: skip
    assert InpaintConfig is OptimizeConfig
    # Paper defaults: Yang et al. Sec. 3.3 (128, 256, 512); Song et al. Fig. 4 (256, 512).
    # Iterations: 15 per scale by default (issue 20's frontier), 100 in the paper (Sec. 4).
    assert OptimizeConfig().scales == (128, 256, 512) and OptimizeConfig().iterations == 15
    paper = OptimizeConfig(iterations=100).solver_options()
    assert (paper.linesearch, paper.linesearch_init, paper.maxls, paper.rel_tol) == (
        "zoom", "increase", 30, 0.0,
    )  # the paper schedule's line search: jaxopt's defaults, no early stop  # fmt: skip
    assert TranslateConfig().scales == (256, 512)


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


def test_tiny_presets():
    assert OptimizeConfig.tiny() == OptimizeConfig(
        scales=(32, 64), iterations=5, content="harmonic"
    )
    assert TranslateConfig.tiny(context=0.5) == TranslateConfig(
        scales=(32, 64), content="harmonic", context=0.5
    )


@pytest.mark.parametrize(
    "overrides, message",
    [({"image2feature": "magic"}, "image2feature"), ({"scales": (8, 16)}, "from 16 to 65536")],
)
def test_bad_translate_settings_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        TranslateConfig(**overrides)


def test_options_for_irregular_holes_and_their_defaults():
    # docs/results.md, "Optimize on irregular holes: starts and matches".
    default = OptimizeConfig()
    assert (default.nn_update, default.alpha_scaling, default.content) == (
        "per_scale", "none", "auto",
    )  # fmt: skip
    # E_c's reference at later scales: PatchMatch where the first one is, unless told.
    assert default.content_scales == "auto"
    assert default.reference_every_scale("patchmatch")
    assert not any(default.reference_every_scale(s) for s in ("network", "harmonic", "mean"))
    assert not OptimizeConfig(content_scales="first").reference_every_scale("patchmatch")
    assert OptimizeConfig(content_scales="every").reference_every_scale("network")
    config = OptimizeConfig(nn_update="per_chunk", alpha_scaling="per_pixel", content="patchmatch")
    assert (config.nn_update, config.alpha_scaling, config.content) == (
        "per_chunk", "per_pixel", "patchmatch",
    )  # fmt: skip
    assert TranslateConfig(content="patchmatch").content == "patchmatch"  # a shared reference
    with pytest.raises(ValueError, match="every_eval"):  # the message lists the choices
        OptimizeConfig(nn_update="per_iteration")


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
        cls(**overrides)


def test_the_largest_allowed_numbers_and_a_huge_paste_span_are_accepted():
    config = OptimizeConfig(alpha=1.0, beta=1e6, beta_last=1e6, patchmatch_base_sigma=1e3)
    assert (config.alpha, config.beta, config.patchmatch_base_sigma) == (1.0, 1e6, 1e3)
    # The paste's Gaussian is cut where the image ends (`fill.local_mean`): any finite span.
    assert TranslateConfig(paste_offset_span=1e300).paste_offset_span == 1e300


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
        (TranslateConfig, {"paste": None}, "paste must be one of poisson, direct, got None"),
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
        cls(**overrides)


@pytest.mark.parametrize("layers", [("relu9_9",), (), ("relu3_1", 4), "conv0"])
def test_unknown_texture_layers_are_refused_listing_the_known_ones(layers):
    with pytest.raises(ValueError, match=r"layers must name VGG-19 layers from .*relu3_1.*relu4_1"):
        OptimizeConfig(layers=layers)


def test_whole_numbers_of_any_integer_type_are_kept_as_ints_at_their_bounds():
    import numpy as np

    config = OptimizeConfig(
        scales=(np.int64(32), 65536), iterations=(100000, np.int32(1)), levels=np.int64(64),
        chunk_size=1 << 20, patch_size=16, history_size=1000, maxls=np.int16(1000),
        chunk_iterations=100000, layers="relu4_1", alpha=np.float32(0.5),
    )  # fmt: skip
    assert config.scales == (32, 65536) and type(config.scales[0]) is int
    assert config.iterations == (100000, 1) and type(config.iterations[1]) is int
    assert (config.levels, config.maxls, config.layers) == (64, 1000, ("relu4_1",))
    assert type(config.levels) is int and type(config.maxls) is int
