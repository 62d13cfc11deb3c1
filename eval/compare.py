"""Compare two evaluation runs photo by photo, from their metrics.csv files.

  python -m eval.compare --a out/eval128_network --b out/eval128_harmonic
  python -m eval.compare --a out/run1 --a out/run2 --b out/base1 --b out/base2   # pooled
  python -m eval.compare --a out/content_eval --method-a shipped --b out/content_eval --method-b harmonic

Each --a / --b is a run folder (its metrics.csv) or a CSV file written by `eval.inpaint`
or `eval.content`; repeat them to pool several runs (photo names must not repeat). Rows
are matched by photo name. A mean hides how a change spreads over photos, so for each
metric this prints both means, the mean and median of the per-photo difference (A - B),
on how many photos A is better, and the largest gain and loss. `--out` is checked before
anything is read (writable, not one of the runs' files); a bad input ends with one line.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from npsynth.evaluation.cli_errors import as_input_error, main_errors
from npsynth.files import atomic_write
from npsynth.harness import checks, compare


@main_errors(code=2)
def main(argv=None) -> int:
    """Exit 0 when done; 2 with one line on stderr for a bad run, metric or --out."""
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
    target = None
    if args.out:
        target = checks.check_output_file(args.out, image=False)
        runs = [path / "metrics.csv" if path.is_dir() else path for path in args.a + args.b]
        checks.check_not_inputs([target], dict.fromkeys(runs, "the metrics file"), given=args.out)
    with as_input_error():
        a = compare.read_scores(args.a, args.method_a)
        b = compare.read_scores(args.b, args.method_b)
        text = compare.report(a, b, tuple(m for m in args.metrics.split(",") if m), command)
    if target is not None:
        atomic_write(target, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
