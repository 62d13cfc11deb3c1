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
import itertools
import shlex
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from eval.inpaint import DEFAULT_HOLE, _atomic_write, machine, pairs
from npsynth import metrics
from npsynth.config import InpaintConfig
from npsynth.synthesis import inpaint


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
    args = parser.parse_args(argv)
    args.seed = 0  # what eval.inpaint.pairs reads, besides images, limit, resize, masks, hole
    return args


def sweep(args) -> list[dict]:
    items = pairs(args)
    scales = tuple(int(s) for s in args.scales.split(","))
    grid = list(
        itertools.product(map(float, args.alphas.split(",")), map(float, args.betas.split(",")))
    )
    rows = []
    for alpha, beta in tqdm(grid, desc="settings"):
        config = InpaintConfig(
            scales=scales, iterations=args.iterations, alpha=alpha, beta=beta, content=args.content
        )
        scores = []
        for _, image, mask in items:
            filled = inpaint(np.where(mask > 0, 0.0, image), mask, config=config).image
            scores.append(metrics.hole_metrics(filled, image, mask))
        rows.append(
            {"alpha": alpha, "beta": beta}
            | {
                k: float(np.mean([s[k] for s in scores]))
                for k in ("psnr_hole", "ssim_hole", "l1_hole")
            }
        )
    return rows


def render(rows: list[dict], args) -> str:
    best = max(rows, key=lambda r: r["psnr_hole"])
    lines = [
        "# Joint-loss weight sweep",
        "",
        f"- command: `python -m eval.sweep {shlex.join(sys.argv[1:])}`",
        f"- data: first {args.limit} photos of `{args.images}` downsized to {args.resize} px, holes {args.masks or args.hole or DEFAULT_HOLE}",
        f"- scales {args.scales}, {args.iterations} L-BFGS iterations per scale, content {args.content}",
        f"- machine: {machine()}",
        "",
        "| alpha | beta | PSNR hole | SSIM hole | L1 hole |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = " **best**" if r is best else ""
        lines.append(
            f"| {r['alpha']:g} | {r['beta']:g} | {r['psnr_hole']:.2f}{mark} | {r['ssim_hole']:.4f} | {r['l1_hole']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = sweep(args)
    args.out.mkdir(parents=True, exist_ok=True)
    text = render(rows, args)
    _atomic_write(args.out / "sweep.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
