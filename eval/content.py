"""Score content networks against the harmonic fill at 128 px (the content network's size).

  python -m eval.content --images ../shared/data/eval512 --limit 20 \
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
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from npsynth.evaluation.cli_errors import (
    InputError,
    as_input_error,
    hole_kind,
    main_errors,
    seed_int,
)
from npsynth.harness import checks
from npsynth.harness.runner import DEFAULT_HOLE
from npsynth.studies import content


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.content", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=Path, required=True, help="folder of photos")
    parser.add_argument(
        "--net", action="append", default=[], metavar="NAME=PATH",
        help="a content network (.npz or training workdir) to score, named; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--fast-path", action="store_true",
        help="also score the fast path (translate) and its two upper bounds (see above)",
    )  # fmt: skip
    parser.add_argument(
        "--feature2image", help="Feature2Image for --fast-path (default: the shipped one)"
    )
    parser.add_argument(
        "--image2feature", help="with --fast-path, also score translate with this Image2Feature"
    )
    holes = parser.add_mutually_exclusive_group()
    holes.add_argument(
        "--hole", default=None, type=hole_kind,
        help=f"generated hole: center[:FRACTION] (default {DEFAULT_HOLE}), boxes or strokes",
    )  # fmt: skip
    holes.add_argument(
        "--masks", type=Path,
        help="folder (or quoted glob pattern) of hole masks, paired with the photos in sorted "
        "order, or one mask file for every photo",
    )  # fmt: skip
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N photos")
    parser.add_argument("--limit", type=int, help="use only N photos (after --skip)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of random holes")
    parser.add_argument("--grid-rows", type=int, default=6, help="photos shown in grid.png")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    if args.skip < 0 or (args.limit is not None and args.limit < 1):
        parser.error("--skip must be >= 0 and --limit >= 1")
    if args.grid_rows < 1:
        parser.error(f"--grid-rows must be at least 1, got {args.grid_rows}")
    for spec in args.net:
        if "=" not in spec:
            parser.error(f"--net takes NAME=PATH, got {spec!r}")
    if (args.feature2image or args.image2feature) and not args.fast_path:
        parser.error("--feature2image and --image2feature go with --fast-path")
    return args


@main_errors(code=2)
def main(argv=None) -> int:
    """Exit 0 when done; 2 with one line on stderr for a bad flag, network, photo, mask or
    --out; 130 after Ctrl-C (`npsynth.evaluation.cli_errors`)."""
    args = parse_args(argv)
    command = "python -m eval.content " + shlex.join(argv if argv is not None else sys.argv[1:])
    with as_input_error():
        methods, described = content.fillers(args.net)
        if args.fast_path:
            more, more_described = content.fast_path_fillers(args.feature2image, args.image2feature)
            methods, described = {**methods, **more}, described + more_described
    writes = [args.out / name for name in content.OUTPUT_FILES]
    found = checks.list_photos(args.images, skip=writes)
    mask_paths = checks.list_masks(args.masks, skip=writes) if args.masks else None
    chosen = found[args.skip :][: args.limit]
    if not chosen:
        raise InputError(f"no photos to score: {len(found)} in {args.images}, --skip {args.skip}")
    names, paths = [name for name, _ in chosen], [path for _, path in chosen]
    checks.check_output_folder(args.out, writes)
    inputs = {path: "the photo" for path in paths} | {m: "the mask" for m in mask_paths or ()}
    checks.check_not_inputs(writes, inputs, given=args.out)
    rows, grid = content.score(
        paths, methods, names=names, mask_paths=mask_paths, hole=args.hole, seed=args.seed,
        first_index=args.skip, grid_rows=args.grid_rows,
    )  # fmt: skip
    holes = (
        f"masks from {args.masks} (paired in sorted order, resized to {content.SIZE}x{content.SIZE})"
        if args.masks
        else args.hole or DEFAULT_HOLE
    )
    report = content.render_report(
        rows, list(methods), paths=paths, images=args.images, holes=holes, described=described,
        oracles=args.fast_path, command=command,
    )  # fmt: skip
    content.write_results(args.out, rows, grid, report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
