"""A blind side-by-side study of two methods' fills: make the pair sheets, then score answers.

  python -m eval.study make --a RUN_A/outputs/optimize --b RUN_B --photos DIR --masks DIR --out STUDY
  python -m eval.serve --study STUDY          # judges answer in the page (or by hand)
  python -m eval.study score STUDY [ANSWERS.csv ...]   # default: STUDY/answers/*.csv

`--photos` and `--masks`/`--hole`/`--hole-seed`/`--resize` mean what eval.inpaint's
`--images`, `--masks`, `--hole`, `--seed` and `--resize` do (masks paired with the photos in
sorted order), so the holes are those the fills were made for. `--a`/`--b`: folders of fills
named like eval.inpaint's outputs (`a.png`, `a.jpg.png`) or like the photos, or a run folder
with one method. docs/study.md says how a study runs and what the numbers mean.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npsynth.evaluation.cli_errors import (
    as_input_error,
    hole_kind,
    main_errors,
    positive_int,
    seed_int,
)
from npsynth.harness.runner import Photos
from npsynth.studies import study


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.study", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make", help="write the pair sheets and the sealed key")
    make.add_argument("--a", type=Path, required=True, help="method A's fills (or its run)")
    make.add_argument("--b", type=Path, required=True, help="method B's fills (or its run)")
    make.add_argument(
        "--photos", type=Path, required=True, help="the photos (eval.inpaint's --images)"
    )
    holes = make.add_mutually_exclusive_group()
    holes.add_argument("--masks", type=Path, help="mask folder or file (paired in sorted order)")
    holes.add_argument("--hole", type=hole_kind, help="generated hole, as eval.inpaint's --hole")
    make.add_argument("--hole-seed", type=seed_int, default=0, help="eval.inpaint's --seed")
    make.add_argument("--resize", type=positive_int, help="eval.inpaint's --resize")
    make.add_argument("--out", type=Path, required=True, help="the study folder to write")
    make.add_argument("--seed", type=seed_int, default=0, help="seed of the order and sides")
    make.add_argument(
        "--crop-margin", type=seed_int, default=32, help="px around the hole's box (default 32)"
    )
    make.add_argument("--limit", type=positive_int, help="only the first N photos with both fills")
    score = commands.add_parser("score", help="score judges' answers")
    score.add_argument("study", type=Path, help="the study folder")
    score.add_argument(
        "answers", type=Path, nargs="*", help="answer CSVs (pair,answer), one a judge"
    )
    return parser.parse_args(argv)


@main_errors(code=2)
def main(argv=None) -> int:
    """Exit 0 when done; 2 with one line on stderr for a bad input or answer file."""
    args = parse_args(argv)
    if args.command == "make":
        photos = Photos(
            images=args.photos, masks=args.masks, hole=args.hole, seed=args.hole_seed,
            resize=args.resize,
        )  # fmt: skip
        with as_input_error():
            count = study.make_study(
                args.a, args.b, photos, args.out, seed=args.seed, margin=args.crop_margin,
                limit=args.limit,
            )  # fmt: skip
        print(f"{count} pair sheets in {args.out / 'sheets'}; judges read {args.out / 'README.md'}")
        return 0
    answers = args.answers or sorted((args.study / "answers").glob("*.csv"))
    if not answers:
        print(f"error: no answer files given and none in {args.study / 'answers'}", file=sys.stderr)
        return 2
    with as_input_error():
        print(study.score_study(args.study, answers), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
