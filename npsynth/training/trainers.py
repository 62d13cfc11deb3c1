"""The three adversarially trained networks, as `Trainer`s for `npsynth.training.loop`.

A `Trainer` says what one training job trains: its config class, the task (networks and
losses, `npsynth.training.tasks`), how the generator is exported, and what is plotted and
shown on the progress bar. `CONTENT`, `IMAGE2FEATURE` and `FEATURE2IMAGE` are the jobs of
`python -m train.content`, `train.image2feature` and `train.feature2image`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from npsynth import export
from npsynth.config.models import ContentNetConfig, Feature2ImageConfig, Image2FeatureConfig
from npsynth.config.training import (
    ContentTrainingConfig,
    Feature2ImageLossConfig,
    Feature2ImageTrainingConfig,
    Image2FeatureTrainingConfig,
)
from npsynth.training.tasks import ContentTask, Feature2ImageTask, Image2FeatureTask, vgg_parts


@dataclasses.dataclass(frozen=True)
class Trainer:
    """What one training job trains.

    The config class must have `model`, `data` (`DataConfig`) and `train` (`TrainConfig`)
    fields, may have more sections (e.g. `loss`), a `mask_kind` property (the training
    holes) and a `tiny()` preset (`npsynth.config.training.TrainingJob`); `model.image_size`
    is the crop side.
    """

    name: str  # "content network"
    config_cls: type
    make_task: Callable  # config -> GanTask (the same task for the same settings)
    save: Callable  # (generator, path, config, step, dtype) -> Path
    export_name: str  # file the generator is exported to in the workdir
    plotted: tuple[str, ...]  # metrics drawn in loss.png
    shown: tuple[tuple[str, str], ...]  # (progress-bar label, metric)


@functools.cache
def content_task(model: ContentNetConfig) -> ContentTask:
    return ContentTask(model)


@functools.cache
def image2feature_task(model: Image2FeatureConfig) -> Image2FeatureTask:
    """One task per architecture and process, so runs in one process compile its steps once."""
    from npsynth.hub import default_vgg

    return Image2FeatureTask(model, vgg_parts(default_vgg()))


@functools.cache
def feature2image_task(model: Feature2ImageConfig, loss: Feature2ImageLossConfig):
    """One task per architecture, loss and process (see `image2feature_task`)."""
    from npsynth.hub import default_vgg

    return Feature2ImageTask(model, loss, vgg_parts(default_vgg()))


CONTENT = Trainer(
    name="content network",
    config_cls=ContentTrainingConfig,
    make_task=lambda cfg: content_task(cfg.model),
    save=lambda generator, path, cfg, step, dtype: export.save_content_net(
        generator, path, config=cfg.model, step=step, dtype=dtype
    ),
    export_name="content_net.npz",
    plotted=("l2", "adv", "d_loss"),
    shown=(("l2", "l2"), ("adv", "adv"), ("d", "d_loss")),
)

IMAGE2FEATURE = Trainer(
    name="Image2Feature network",
    config_cls=Image2FeatureTrainingConfig,
    make_task=lambda cfg: image2feature_task(cfg.model),
    save=lambda generator, path, cfg, step, dtype: export.save_image2feature(
        generator, path, config=cfg.model, step=step, dtype=dtype
    ),
    export_name="image2feature.npz",
    plotted=("feat_l2", "hole_feat_l2", "adv", "d_loss"),
    shown=(("l2", "feat_l2"), ("hole", "hole_feat_l2"), ("adv", "adv"), ("d", "d_loss")),
)

FEATURE2IMAGE = Trainer(
    name="Feature2Image network",
    config_cls=Feature2ImageTrainingConfig,
    make_task=lambda cfg: feature2image_task(cfg.model, cfg.loss),
    save=lambda generator, path, cfg, step, dtype: export.save_feature2image(
        generator, path, config=cfg.model, step=step, dtype=dtype
    ),
    export_name="feature2image.npz",
    plotted=("pixel", "known", "perceptual", "adv", "d_loss"),
    shown=(
        ("pixel", "pixel"),
        ("known", "known"),
        ("perc", "perceptual"),
        ("adv", "adv"),
        ("d", "d_loss"),
    ),
)
