"""Choose the joint loss weights: hole PSNR/SSIM over a grid of alpha (texture) and beta (TV).

  python -m eval.sweep --images ../shared/data/eval512 --limit 10 --resize 128 --scales 64,128 \\
      --alphas 0,1e-8,1e-7,1e-6,1e-5 --betas 0,0.1,1 --out out/sweep

Each photo gets the default centred hole (half the side), another generated hole (`--hole`),
or a mask from a folder or glob pattern (`--masks`, paired in sorted order as in
`eval.inpaint`); the fill is compared with the original. Weights are traced arguments of
the per-scale solve, so the grid compiles once.
Prints a markdown table (also written to OUT/sweep.md) and the best setting by hole PSNR.
Flags, photos, masks and OUT are checked before the first fill; a bad one ends with one
line naming it. The flags are `npsynth.studies.sweep.SweepRun`'s fields.
"""

from __future__ import annotations

import shlex
import sys

from npsynth.cli.errors import main_errors
from npsynth.config.flags import parse_command_line
from npsynth.studies.sweep import SweepRun, run_sweep

PROG = "python -m eval.sweep"


def parse_args(argv=None) -> SweepRun:
    return parse_command_line(SweepRun, argv, prog=PROG, description=__doc__.split("\n")[0])


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done; 2 for a bad flag or setting, 1 for a bad photo, mask or --out,
    130 after Ctrl-C, each with one line on stderr (`npsynth.cli.errors`)."""
    run = parse_args(argv)
    print(run_sweep(run, command=f"{PROG} {shlex.join(sys.argv[1:] if argv is None else argv)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
