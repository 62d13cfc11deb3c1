"""Train Feature2Image (Song et al. 2018, arXiv 1711.08590, Sec. 3.3) adversarially, resumably.

  python -m train.feature2image --images ../shared/data/train --workdir runs/f2i
  python -m train.feature2image --tfds imagenet --workdir runs/f2i
  python -m train.feature2image --workdir runs/f2i --resume        # continue a run
  python -m train.feature2image --workdir runs/f2i --export        # weights -> .npz

Each step crops photos, cuts a hole (free-form: boxes, strokes or the centred square),
takes the photo's VGG-19 relu3_1, patch-swaps the hole's cells from the known ones
(`npsynth.patches.swap_hole_features`) and decodes the result; the loss is
lam * (pixel L2 + perceptual * relu3_1 L2) + (1 - lam) * adversarial, the discriminator
judging the output composited with the known pixels. The data options, checkpoints,
`--resume`, logging, samples and sharding are those of `train.content` (`train.gan`); the
export is workdir/feature2image.npz, used by `npsynth.inpaint(method="translate")` through
`feature2image_checkpoint=...` or $NPSYNTH_FEATURE2IMAGE.
"""

from __future__ import annotations

import sys

from npsynth.config import Feature2ImageConfig, Feature2ImageLossConfig, Feature2ImageTrainingConfig
from train import gan


def _task(cfg: Feature2ImageTrainingConfig):
    from npsynth import translate
    from npsynth.vgg import load_vgg19

    return translate.Feature2ImageTask(cfg.model, cfg.loss, translate.vgg_parts(load_vgg19()))


def _save(generator, path, cfg: Feature2ImageTrainingConfig, step: int, dtype: str):
    from npsynth.translate import save_feature2image

    return save_feature2image(generator, path, config=cfg.model, step=step, dtype=dtype)


TRAINER = gan.Trainer(
    prog="python -m train.feature2image",
    description="Train the Feature2Image network of feature image translation inpainting.",
    config_cls=Feature2ImageTrainingConfig,
    sections=gan.sections(Feature2ImageConfig, ("loss", "loss", Feature2ImageLossConfig)),
    make_task=_task,
    save=_save,
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


def run(cfg: Feature2ImageTrainingConfig, workdir, **kwargs) -> dict:
    """`gan.run` for Feature2Image (see there for the arguments and the result)."""
    return gan.run(TRAINER, cfg, workdir, **kwargs)


def export(workdir, out=None, *, dtype: str = "float16"):
    """The newest checkpoint's Feature2Image network as .npz (`gan.export`)."""
    return gan.export(TRAINER, workdir, out, dtype=dtype)


def main(argv=None) -> int:
    return gan.main(TRAINER, argv)


if __name__ == "__main__":
    sys.exit(main())
