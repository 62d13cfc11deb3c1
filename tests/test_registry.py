"""Tests for npsynth.methods: the registry of methods. A third method, defined here, needs
only its config class, its step and its entry: the API, the presets, the config routing and
the page take it without any other change."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pytest

import npsynth
from npsynth import presets, pyramid
from npsynth.config import PyramidConfig, config_for
from npsynth.methods import METHODS, Method, needs_no_network
from npsynth.serve import app, estimate


@dataclasses.dataclass(frozen=True, kw_only=True)
class MeanFillConfig(PyramidConfig):
    """A toy method: every hole pixel becomes the mean colour of the level's known pixels."""

    method: ClassVar[str] = "toy"
    scales: tuple[int, ...] = (32, 64)
    shade: float = 1.0  # the mean is multiplied by this


def make_mean_fill_step(config: MeanFillConfig, vgg) -> pyramid.LevelStep:
    def step(level: pyramid.Level) -> pyramid.LevelResult:
        height, width = level.size
        known = level.known[:height, :width][level.hole[:height, :width, 0] <= 0]
        mean = known.mean(axis=0) * config.shade
        return pyramid.LevelResult(np.where(level.hole > 0, mean, level.known))

    return step


def mean_fill_work(config, level_sizes, hole_fraction) -> list[float]:
    return [h * w / 1e6 for h, w in list(level_sizes)[: config.levels]]


TOY = Method(
    "toy", MeanFillConfig, make_mean_fill_step, needs_no_network, mean_fill_work,
    seconds_per_work=0.5, summary="the known pixels' mean colour (a test method)",
)  # fmt: skip


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(METHODS, "toy", TOY)
    return TOY


def test_a_third_method_runs_through_inpaint_presets_and_config_for(toy):
    colour = np.array([0.2, 0.5, 0.8], np.float32)
    image = np.broadcast_to(colour, (64, 56, 3)).copy()
    hole = np.zeros((64, 56, 1), np.float32)
    hole[10:30, 12:28] = 1.0
    image[hole[..., 0] > 0] = 0.0  # the hole's pixels must not matter
    no_vgg = object()  # the toy step never calls a network
    result = npsynth.inpaint(image, hole, method="toy", shade=0.5, vgg=no_vgg)
    # The photo fits the last scale: the last level is the photo itself, its known pixels
    # all `colour`, so the hole is half that colour (shade 0.5); the known pixels as given.
    filled = result.image[hole[..., 0] > 0]
    np.testing.assert_allclose(filled, np.tile(colour / 2, (320, 1)), atol=1e-4)  # float32 resize
    np.testing.assert_array_equal(result.image[hole[..., 0] <= 0], image[hole[..., 0] <= 0])
    assert [s.size for s in result.scales] == [(32, 28), (64, 56)]  # scales 32, 64
    # Config routing, by method and with a preset's settings this method has.
    assert config_for("toy", shade=0.5, content="mean") == MeanFillConfig(
        shade=0.5, reference={"content": "mean"}
    )
    tiny = presets.config("tiny", method="toy")  # 32, 64 px and harmonic; no iterations
    assert (tiny.scales, tiny.reference.content) == ((32, 64), "harmonic")
    with pytest.raises(ValueError, match="shade is a setting of method 'toy', not 'optimize'"):
        config_for("optimize", shade=0.5)
    with pytest.raises(ValueError, match="iterations is a setting of method 'optimize'"):
        config_for("toy", iterations=3)


def test_the_page_lists_and_runs_a_third_method(toy):
    assert app.method_info()["toy"] == toy.summary
    config = app.job_config({"method": "toy", "scales": [32, 64], "levels": 1})
    assert config == MeanFillConfig(scales=(32, 64), levels=1)
    # Its estimate: its own work times its own rate (32 px level of a 64 px photo: 32x32).
    seconds = estimate.TimeModel().estimate(config, (64, 64))["seconds"]
    assert seconds == pytest.approx(0.5 * 32 * 32 / 1e6)


def test_every_registered_method_names_its_config_and_checks_its_networks(monkeypatch):
    assert set(METHODS) >= {"optimize", "translate"}
    for name, method in METHODS.items():
        assert method.name == name and method.config.method == name and method.summary
        assert method.config().method == name
    assert npsynth.METHODS is METHODS
    # Translate's one check of its networks: a ValueError naming what is missing and how.
    monkeypatch.setenv("NPSYNTH_FEATURE2IMAGE", "")
    from npsynth import hub

    monkeypatch.setattr(hub, "resolve", lambda kind, explicit=None: None)
    translate = METHODS["translate"]
    with pytest.raises(
        ValueError, match=r"needs a trained Feature2Image network: pass .*NPSYNTH_FEATURE2IMAGE"
    ):
        translate.check_networks(translate.config())
    with pytest.raises(ValueError, match="Feature2Image network.*; image2feature='network' needs"):
        translate.check_networks(translate.config(image2feature="network"))
    METHODS["optimize"].check_networks(METHODS["optimize"].config())  # VGG-19 only
