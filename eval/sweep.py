"""Choose the joint loss weights: hole PSNR/SSIM over a grid of alpha (texture) and beta (TV).

  python -m eval.sweep --images ../shared/data/eval512 --limit 10 --resize 128 --scales 64,128 \\
      --alphas 0,1e-8,1e-7,1e-6,1e-5 --betas 0,0.1,1 --out out/sweep

Each photo gets the default centred hole (half the side), another generated hole (`--hole`),
or a mask from a folder or glob pattern (`--masks`, paired in sorted order as in
`eval.inpaint`); the fill is compared with the original. Weights are traced arguments of
the per-scale solve, so the grid compiles once.
Prints a markdown table (also written to OUT/sweep.md) and the best setting by hole PSNR.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from npsynth.evaluation import sweep
from npsynth.evaluation.runner import Photos
from npsynth.io import atomic_write


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sweep", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--resize", type=int, default=128, help="longest side of the photos (px)")
    parser.add_argument("--scales", default="64,128")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--alphas", default="0,1e-8,1e-7,1e-6,1e-5")
    parser.add_argument("--betas", default="0,0.1,1")
    holes = parser.add_mutually_exclusive_group()
    holes.add_argument("--hole", help="generated hole, e.g. center:0.5 (the default) or boxes")
    holes.add_argument(
        "--masks", type=Path, help="folder or quoted glob pattern of masks (instead of --hole)"
    )
    parser.add_argument("--content", default="harmonic")
    parser.add_argument("--out", type=Path, default=Path("out/sweep"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    command = "python -m eval.sweep " + shlex.join(argv if argv is not None else sys.argv[1:])
    photos = Photos(
        images=args.images, masks=args.masks, hole=args.hole, limit=args.limit, resize=args.resize
    )
    scales = tuple(int(s) for s in args.scales.split(","))
    rows = sweep.sweep(
        photos, args.alphas.split(","), args.betas.split(","),
        scales=scales, iterations=args.iterations, content=args.content,
    )  # fmt: skip
    header = [
        f"- command: `{command}`",
        (
            f"- data: first {args.limit} photos of `{args.images}` downsized to "
            f"{args.resize} px, holes {photos.holes}"
        ),
        (
            f"- scales {args.scales}, {args.iterations} L-BFGS iterations per scale, "
            f"content {args.content}"
        ),
    ]
    text = sweep.render(rows, header=header)
    atomic_write(args.out / "sweep.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
