"""Train the content network (Yang et al. 2017, Sec. 3.1) adversarially, resumably.

  python -m train.content --tfds imagenet --workdir runs/content          # ImageNet (TFDS)
  python -m train.content --images ../shared/data/train --workdir runs/c  # a folder of photos
  python -m train.content --workdir runs/c --resume                       # continue a run
  python -m train.content --workdir runs/c --export                       # weights -> .npz
  python -m train.content --tiny --images DIR --workdir /tmp/t            # seconds-long smoke run

Loss: lam * L2(hole) + (1 - lam) * adversarial (lam = 0.999), Adam(2e-4, b1 = 0.5); one
discriminator and one generator update per step, data parallel over all local devices
(`--distributed` for several hosts). ImageNet must be downloaded by hand first: TFDS needs
ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in ~/tensorflow_datasets/downloads/manual/
(or <--data-dir>/downloads/manual/); the first run then prepares it (once, hours).

The workdir gets: config.json, checkpoints/<step>/ (the newest --keep), metrics.jsonl,
log.txt, samples/step_*.png (input | prediction | truth), loss.png, and at the end
content_net.npz + content_net.json (the generator in float16, for `npsynth.load_content_net`).
It must be a new or empty folder, or an npsynth workdir (its `.npsynth` marker, or an older
run's checkpoints/ beside its config.json): any other folder is refused, nothing written.
`--export-to` never replaces a .json beside the .npz that is not an earlier export's.
Ctrl-C (or SIGTERM) saves a checkpoint at the end of the current step and exits; `--resume`
then continues with the same batches and the same losses as an uninterrupted run.

Runtime: the defaults (Context Encoder widths, 128 px, batch 64, 200k steps) are a GPU job.
On the 2-core CPU, `--channels 32,64,128,256,256 --bottleneck 512 --batch-size 16` (a
15 MB float16 export, 7.7 MB with `--export-dtype int8`) runs at about 1.4 steps/s with
`--lam 1` (no discriminator) and 0.74 with the paper's loss, alone on the machine;
`--tiny` runs about 40 steps/s.

`--fill harmonic` (not in the paper) gives the network the harmonic fill instead of the mean
colour and has it learn a correction on top, starting from zero: with little compute it
starts from, and stays close to, a strong fill (docs/training.md). `--skips` (not
in the paper, free-form mode) adds U-Net skip connections around the bottleneck; the shipped
free-form network uses both, with `--lam 1` (1.0 steps/s at the widths above, batch 16).
"""

from __future__ import annotations

import sys

from npsynth.training import cli
from npsynth.training.trainers import CONTENT as TRAINER

PROG = "python -m train.content"
DESCRIPTION = "Train the content network of neural patch synthesis inpainting."

run, export, parse_args, main = cli.entry_points(TRAINER, prog=PROG, description=DESCRIPTION)


if __name__ == "__main__":
    sys.exit(main())
