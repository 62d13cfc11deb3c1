"""Score content networks against the harmonic fill at 128 px (the content network's size).

  python -m eval.content --images ../shared/data/eval512 --limit 20 \\
      --net adversarial=out/train/adv --net l2-only=out/train/l2 --out docs/content
  python -m eval.content --images ../shared/data/eval512 --limit 20 --fast-path --out out/ceiling

Each photo is downsized to 128x128 and given a hole (default: the centred 64x64 square of
the paper; `--masks DIR` pairs the photos with mask files in sorted order, e.g. the
irregular holes of ../shared/data/masks); every method fills it from the known pixels
only. Writes report.md (means of hole L1 / PSNR / SSIM per method, and on how many photos
each beats the harmonic fill's hole PSNR), metrics.csv and grid.png (input | mask |
methods | truth, one row per photo, the first --grid-rows photos). Photos are named by their
path below --images, suffix kept (`a.png`, `sub/a.png`); --out may be the photos' folder
(its grid.png is never read as a photo). Every photo and mask is read and checked, and
--out checked, before the first fill; a bad input ends with one line naming it (exit 2).

`--fast-path` adds one scale of `method="translate"` (Song et al. 2018) on the harmonic
fill, with `--image2feature` also with that network, and two upper bounds that look at the
true photo, so they are not methods but tell where the fast path loses quality:
`oracle_swap` patch-swaps the true photo's relu3_1 (a perfect Image2Feature) and
`oracle_decode` decodes it unswapped (how well Feature2Image inverts relu3_1).
The flags are `npsynth.studies.content.ContentRun`'s fields.
"""

from __future__ import annotations

import shlex
import sys

from npsynth.cli.errors import main_errors
from npsynth.config.flags import parse_command_line
from npsynth.studies.content import ContentRun, run_content

PROG = "python -m eval.content"


def parse_args(argv=None) -> ContentRun:
    return parse_command_line(ContentRun, argv, prog=PROG, description=__doc__.split("\n")[0])


@main_errors(code=2)
def main(argv=None) -> int:
    """Exit 0 when done; 2 with one line on stderr for a bad flag, network, photo, mask or
    --out; 130 after Ctrl-C (`npsynth.cli.errors`)."""
    run = parse_args(argv)
    print(run_content(run, command=f"{PROG} {shlex.join(sys.argv[1:] if argv is None else argv)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
