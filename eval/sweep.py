"""Choose the joint loss weights: hole PSNR/SSIM over a grid of alpha (texture) and beta (TV).

  python -m eval.sweep --images ../shared/data/eval512 --limit 10 --resize 128 --scales 64,128 \\
      --alphas 0,1e-8,1e-7,1e-6,1e-5 --betas 0,0.1,1 --out out/sweep

Each photo gets the default centred hole (half the side), another generated hole (`--hole`),
or a mask from a folder or glob pattern (`--masks`, paired in sorted order as in
`eval.inpaint`); the fill is compared with the original. Weights are traced arguments of
the per-scale solve, so the grid compiles once.
Prints a markdown table (also written to OUT/sweep.md) and the best setting by hole PSNR.
Flags, photos, masks and OUT are checked before the first fill; a bad one ends with one
line naming it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from npsynth.config.inpaint import config_for
from npsynth.evaluation.cli_errors import (
    as_input_error,
    hole_kind,
    int_list,
    main_errors,
    positive_int,
)
from npsynth.files import atomic_write
from npsynth.harness import checks
from npsynth.harness.runner import Photos
from npsynth.studies import sweep


def float_list(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated numbers >= 0, e.g. 0,1e-7,1e-6."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes comma-separated numbers, got {text!r}") from None
    if min(values) < 0:
        raise argparse.ArgumentTypeError(f"takes weights >= 0, got {text!r}")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sweep", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--limit", type=positive_int, default=10)
    parser.add_argument(
        "--resize", type=positive_int, default=128, help="longest side of the photos (px)"
    )
    parser.add_argument("--scales", type=int_list, default="64,128")
    parser.add_argument("--iterations", type=positive_int, default=50)
    parser.add_argument("--alphas", type=float_list, default="0,1e-8,1e-7,1e-6,1e-5")
    parser.add_argument("--betas", type=float_list, default="0,0.1,1")
    holes = parser.add_mutually_exclusive_group()
    holes.add_argument(
        "--hole", type=hole_kind, help="generated hole, e.g. center:0.5 (the default) or boxes"
    )
    holes.add_argument(
        "--masks", type=Path,
        help="folder or quoted glob pattern of masks, or one mask file (instead of --hole)",
    )  # fmt: skip
    parser.add_argument("--content", default="harmonic")
    parser.add_argument("--out", type=Path, default=Path("out/sweep"))
    return parser.parse_args(argv)


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done; 2 for a bad flag or setting, 1 for a bad photo, mask or --out,
    130 after Ctrl-C, each with one line on stderr (`npsynth.evaluation.cli_errors`)."""
    args = parse_args(argv)
    command = "python -m eval.sweep " + shlex.join(argv if argv is not None else sys.argv[1:])
    photos = Photos(
        images=args.images, masks=args.masks, hole=args.hole, limit=args.limit, resize=args.resize
    )
    scales = args.scales
    with as_input_error(code=2):  # the settings every point of the grid shares
        config_for("optimize", scales=scales, iterations=args.iterations, content=args.content)
    checks.check_output_folder(args.out, [args.out / "sweep.md"])
    rows = sweep.sweep(
        photos, args.alphas, args.betas,
        scales=scales, iterations=args.iterations, content=args.content,
    )  # fmt: skip
    header = [
        f"- command: `{command}`",
        (
            f"- data: first {args.limit} photos of `{args.images}` downsized to "
            f"{args.resize} px, holes {photos.holes}"
        ),
        (
            f"- scales {','.join(map(str, scales))}, {args.iterations} L-BFGS iterations per scale, "
            f"content {args.content}"
        ),
    ]
    text = sweep.render(rows, header=header)
    atomic_write(args.out / "sweep.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
