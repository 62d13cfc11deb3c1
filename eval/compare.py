"""Compare two evaluation runs photo by photo, from their metrics.csv files.

  python -m eval.compare --a out/eval128_network --b out/eval128_harmonic
  python -m eval.compare --a out/run1 --a out/run2 --b out/base1 --b out/base2   # pooled
  python -m eval.compare --a out/content_eval --method-a shipped --b out/content_eval --method-b harmonic

Each --a / --b is a run folder (its metrics.csv) or a CSV file written by `eval.inpaint`
or `eval.content`; repeat them to pool several runs (photo names must not repeat). Rows
are matched by photo name. A mean hides how a change spreads over photos, so for each
metric this prints both means, the mean and median of the per-photo difference (A - B),
on how many photos A is better, and the largest gain and loss.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from npsynth.evaluation import compare
from npsynth.io import atomic_write


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--a", type=Path, action="append", required=True, help="run A (repeatable)")
    parser.add_argument("--b", type=Path, action="append", required=True, help="run B (repeatable)")
    parser.add_argument("--method-a", help="method of A's rows (needed when a file holds several)")
    parser.add_argument("--method-b", help="method of B's rows (needed when a file holds several)")
    parser.add_argument(
        "--metrics", default=",".join(compare.METRICS),
        help=f"columns to compare (default {','.join(compare.METRICS)})",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    command = "python -m eval.compare " + shlex.join(argv if argv is not None else sys.argv[1:])
    try:
        a = compare.read_scores(args.a, args.method_a)
        b = compare.read_scores(args.b, args.method_b)
        text = compare.report(a, b, tuple(m for m in args.metrics.split(",") if m), command)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out:
        atomic_write(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
