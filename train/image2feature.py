"""Train Image2Feature (Song et al. 2018, arXiv 1711.08590, Sec. 3.1) adversarially, resumably.

  python -m train.image2feature --images ../shared/data/train --workdir runs/i2f
  python -m train.image2feature --tfds imagenet --workdir runs/i2f
  python -m train.image2feature --workdir runs/i2f --resume        # continue a run
  python -m train.image2feature --workdir runs/i2f --export        # weights -> .npz

The network sees the masked photo (mean-filled, with the mask) and predicts its VGG-19
relu3_1 features; the loss is lam * L2(features) + (1 - lam) * adversarial, the
discriminator judging the predicted features composited with the true known cells. The
data options, checkpoints, `--resume`, logging, samples and sharding are those of
`train.content` (`train.gan`); the sample grids show the features' channel mean. The export
is workdir/image2feature.npz, used by `npsynth.inpaint(method="translate")` through
`image2feature_checkpoint=...` or $NPSYNTH_IMAGE2FEATURE.
"""

from __future__ import annotations

import sys

from npsynth.config import Image2FeatureConfig, Image2FeatureTrainingConfig
from train import gan


def _task(cfg: Image2FeatureTrainingConfig):
    from npsynth import translate
    from npsynth.vgg import load_vgg19

    return translate.Image2FeatureTask(cfg.model, translate.vgg_parts(load_vgg19()))


def _save(generator, path, cfg: Image2FeatureTrainingConfig, step: int, dtype: str):
    from npsynth.translate import save_image2feature

    return save_image2feature(generator, path, config=cfg.model, step=step, dtype=dtype)


TRAINER = gan.Trainer(
    prog="python -m train.image2feature",
    description="Train the Image2Feature network of feature image translation inpainting.",
    config_cls=Image2FeatureTrainingConfig,
    sections=gan.sections(Image2FeatureConfig),
    make_task=_task,
    save=_save,
    export_name="image2feature.npz",
    plotted=("feat_l2", "hole_feat_l2", "adv", "d_loss"),
    shown=(("l2", "feat_l2"), ("hole", "hole_feat_l2"), ("adv", "adv"), ("d", "d_loss")),
)


def run(cfg: Image2FeatureTrainingConfig, workdir, **kwargs) -> dict:
    """`gan.run` for Image2Feature (see there for the arguments and the result)."""
    return gan.run(TRAINER, cfg, workdir, **kwargs)


def export(workdir, out=None, *, dtype: str = "float16"):
    """The newest checkpoint's Image2Feature network as .npz (`gan.export`)."""
    return gan.export(TRAINER, workdir, out, dtype=dtype)


def main(argv=None) -> int:
    return gan.main(TRAINER, argv)


if __name__ == "__main__":
    sys.exit(main())
