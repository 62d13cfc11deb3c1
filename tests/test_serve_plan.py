"""npsynth.serve.jobs.job_plan: the levels a job works at and their shares of its time."""

from __future__ import annotations

import numpy as np
import pytest

from npsynth.config.inpaint import config_for
from npsynth.serve.jobs import job_plan


def hole(height: int, width: int, box) -> np.ndarray:
    top, bottom, left, right = box
    mask = np.zeros((height, width), bool)
    mask[top:bottom, left:right] = True
    return mask


def test_levels_weigh_pixels_times_iterations():
    # A 96 x 128 photo fits in the last scale: levels 48 x 64 and 96 x 128, 3 and 5 iterations.
    config = config_for("optimize", scales=(64, 128), iterations=(3, 5))
    plan = job_plan(config, hole(96, 128, (10, 30, 20, 50)))
    work = [48 * 64 * 3, 96 * 128 * 5]
    assert [level["size"] for level in plan] == [[48, 64], [96, 128]]
    assert [level["iterations"] for level in plan] == [3, 5]
    assert [level["weight"] for level in plan] == pytest.approx([w / sum(work) for w in work])


def test_a_large_photo_is_planned_in_the_window_around_its_hole():
    # 400 x 1000 with a 20 x 20 hole: the window is the last scale (128) on each side.
    config = config_for("translate", scales=(64, 128))
    plan = job_plan(config, hole(400, 1000, (200, 220, 500, 520)))
    assert [level["size"] for level in plan] == [[64, 64], [128, 128]]
    assert [level["weight"] for level in plan] == pytest.approx([0.2, 0.8])


def test_the_fast_choice_plans_its_first_level_only():
    config = config_for("optimize", scales=(64, 128), levels=1)
    plan = job_plan(config, hole(96, 128, (10, 30, 20, 50)))
    assert plan == [{"size": [48, 64], "iterations": config.iterations, "weight": 1.0}]


def test_levels_weigh_the_window_vgg_sees_around_the_hole():
    # A 512 px photo with a centred 128 px hole (a sixteenth: a quarter of each side): VGG-19
    # sees the hole and 67 px around it (relu4_1's receptive field), at most the level.
    config = config_for("optimize", scales=(128, 256, 512), iterations=(15, 15, 15))
    plan = job_plan(config, hole(512, 512, (192, 320, 192, 320)))
    work = [128**2, (64 + 134) ** 2, (128 + 134) ** 2]
    assert [level["weight"] for level in plan] == pytest.approx([w / sum(work) for w in work])
