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
`--resume`, logging, samples and sharding are those of `train.content` (`npsynth.training.loop`); the
export is workdir/feature2image.npz, used by `npsynth.inpaint(method="translate")` through
`feature2image_checkpoint=...` or $NPSYNTH_FEATURE2IMAGE.
"""

from __future__ import annotations

import sys

from npsynth.training import cli
from npsynth.training.trainers import FEATURE2IMAGE as TRAINER

PROG = "python -m train.feature2image"
DESCRIPTION = "Train the Feature2Image network of feature image translation inpainting."

run, export, parse_args, main = cli.entry_points(TRAINER, prog=PROG, description=DESCRIPTION)


if __name__ == "__main__":
    sys.exit(main())
