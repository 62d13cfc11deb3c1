"""npsynth.config.training: the training jobs' settings, their tiny presets and hole kinds."""

from __future__ import annotations

import pytest

from npsynth.config import (
    ContentNetConfig,
    ContentTrainingConfig,
    DataConfig,
    Feature2ImageConfig,
    Feature2ImageLossConfig,
    Feature2ImageTrainingConfig,
    Image2FeatureConfig,
    Image2FeatureTrainingConfig,
    TrainConfig,
)

TINY_DATA = DataConfig(mask_kind="boxes", min_scale=1.0, max_scale=1.5, workers=1)
TINY_TRAIN = TrainConfig(steps=2, batch_size=2, save_every=1, keep=2, log_every=1, sample_every=1)


def test_tiny_presets():
    assert ContentTrainingConfig.tiny() == ContentTrainingConfig(
        model=ContentNetConfig(image_size=32, channels=(8, 16, 16), bottleneck=32, disc_width=8,
                               disc_max_width=16),
        data=TINY_DATA,
        train=TrainConfig(steps=2, batch_size=4, save_every=1, keep=2, log_every=1,
                          sample_every=1),
    )  # fmt: skip
    assert Image2FeatureTrainingConfig.tiny() == Image2FeatureTrainingConfig(
        model=Image2FeatureConfig(image_size=32, widths=(8, 16), dilations=(1, 2), disc_width=8,
                                  disc_max_width=16),
        data=TINY_DATA, train=TINY_TRAIN,
    )  # fmt: skip
    assert Feature2ImageTrainingConfig.tiny(loss={"known": 0.5}) == Feature2ImageTrainingConfig(
        model=Feature2ImageConfig(image_size=32, widths=(16, 8, 8), blocks=1, disc_width=8,
                                  disc_max_width=16),
        loss=Feature2ImageLossConfig(known=0.5), data=TINY_DATA, train=TINY_TRAIN,
    )  # fmt: skip
    cfg = ContentTrainingConfig.tiny(data={"images": "d"}, train={"steps": 5})
    assert cfg.data.images == "d" and cfg.data.mask_kind == "boxes" and cfg.train.steps == 5
    assert ContentTrainingConfig.tiny().train.steps == 2  # presets are not changed by overrides


def test_auto_holes_are_center_in_paper_mode_and_mixed_otherwise():
    paper = ContentTrainingConfig(model=ContentNetConfig(mode="paper"))
    assert paper.mask_kind == "center" and ContentTrainingConfig().mask_kind == "mixed"
    assert Image2FeatureTrainingConfig().mask_kind == "mixed"
    assert Feature2ImageTrainingConfig().mask_kind == "mixed"
    strokes = Feature2ImageTrainingConfig(data=DataConfig(mask_kind="strokes"))
    assert strokes.mask_kind == "strokes"


def test_training_configs_reject_bad_values():
    with pytest.raises(ValueError, match="tiny"):
        Feature2ImageTrainingConfig.tiny(optimizer={})
    with pytest.raises(ValueError, match="tiny"):
        ContentTrainingConfig.tiny(loss={})
    with pytest.raises(ValueError, match="perceptual"):
        Feature2ImageTrainingConfig.tiny(loss={"pixel": 0.0, "perceptual": 0.0})
    with pytest.raises(ValueError, match="known"):
        Feature2ImageLossConfig(known=-1.0)
    with pytest.raises(ValueError, match="paper mode"):
        ContentTrainingConfig(
            model=ContentNetConfig(mode="paper"), data=DataConfig(mask_kind="boxes")
        )
    with pytest.raises(ValueError, match="either tfds or images"):
        DataConfig(tfds="mnist", images="d")
    with pytest.raises(ValueError, match="unknown mask_kind"):
        DataConfig(mask_kind="blobs")
    with pytest.raises(ValueError, match="lam"):
        TrainConfig(lam=1.5)
