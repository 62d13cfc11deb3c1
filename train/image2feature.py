"""Train Image2Feature (Song et al. 2018, arXiv 1711.08590, Sec. 3.1) adversarially, resumably.

  python -m train.image2feature --images ../shared/data/train --workdir runs/i2f
  python -m train.image2feature --tfds imagenet --workdir runs/i2f
  python -m train.image2feature --workdir runs/i2f --resume        # continue a run
  python -m train.image2feature --workdir runs/i2f --export        # weights -> .npz

The network sees the masked photo (mean-filled, with the mask) and predicts its VGG-19
relu3_1 features; the loss is lam * L2(features) + (1 - lam) * adversarial, the
discriminator judging the predicted features composited with the true known cells. The
data options, checkpoints, `--resume`, logging, samples and sharding are those of
`train.content` (`npsynth.training.loop`); the sample grids show the features' channel mean. The export
is workdir/image2feature.npz, used by `npsynth.inpaint(method="translate")` through
`image2feature_checkpoint=...` or $NPSYNTH_IMAGE2FEATURE.
"""

from __future__ import annotations

import sys

from npsynth.training import cli
from npsynth.training.trainers import IMAGE2FEATURE as TRAINER

PROG = "python -m train.image2feature"
DESCRIPTION = "Train the Image2Feature network of feature image translation inpainting."

run, export, parse_args, main = cli.entry_points(TRAINER, prog=PROG, description=DESCRIPTION)


if __name__ == "__main__":
    sys.exit(main())
