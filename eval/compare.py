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

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Annotated

import tyro

from npsynth.cli.errors import main_errors
from npsynth.config import flags
from npsynth.errors import as_input_error
from npsynth.files import atomic_write
from npsynth.harness import checks, compare

PROG = "python -m eval.compare"
Runs = Annotated[tuple[Path, ...], tyro.conf.UseAppendAction]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompareFlags:
    """Two runs (or pools of runs) and what to compare."""

    a: Runs  # run A (repeatable)
    b: Runs  # run B (repeatable)
    method_a: str | None = None  # method of A's rows (needed when a file holds several)
    method_b: str | None = None  # method of B's rows (needed when a file holds several)
    metrics: str = ",".join(compare.METRICS)  # columns to compare
    out: Path | None = None  # also write the table to this markdown file


@main_errors(code=2)
def main(argv=None) -> int:
    """Exit 0 when done; 2 with one line on stderr for a bad run, metric or --out."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = flags.parse(CompareFlags, argv, prog=PROG, description=__doc__.split("\n")[0],
                       one_line_errors=True)  # fmt: skip
    if not (args.a and args.b):
        flags.usage_error("the following arguments are required: --a, --b")
    target = None
    if args.out:
        target = checks.check_output_file(args.out, image=False)
        runs = [path / "metrics.csv" if path.is_dir() else path for path in args.a + args.b]
        checks.check_not_inputs([target], dict.fromkeys(runs, "the metrics file"), given=args.out)
    with as_input_error():
        a = compare.read_scores(list(args.a), args.method_a)
        b = compare.read_scores(list(args.b), args.method_b)
        metrics = tuple(m for m in args.metrics.split(",") if m)
        text = compare.report(a, b, metrics, f"{PROG} {shlex.join(argv)}")
    if target is not None:
        atomic_write(target, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
