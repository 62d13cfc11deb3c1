"""Windowed means of a training run's logged losses (the figures docs/training.md quotes).

  python -m train.curve out/train/fsk                  # hole L2 per 1,000 steps
  python -m train.curve out/train/fsk --window 500 --key g_loss

Each record of metrics.jsonl is the mean over the `log_every` steps ending at its step; a
window (a, a + W] averages the records whose step falls in it. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npsynth.training.report import read_metrics, windowed_means
from npsynth.training.workdir import METRICS_FILE


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="a training workdir (holds metrics.jsonl)")
    parser.add_argument("--window", type=int, default=1000, help="steps per window")
    parser.add_argument("--key", default="l2", help="logged value to average (e.g. l2, g_loss)")
    args = parser.parse_args(argv)
    if args.window < 1:
        parser.error("--window must be >= 1")
    rows = windowed_means(read_metrics(args.workdir / METRICS_FILE), args.key, args.window)
    if not rows:
        print(f"error: no '{args.key}' in {args.workdir / METRICS_FILE}", file=sys.stderr)
        return 2
    print(f"| steps | records | mean {args.key} |\n|---|---:|---:|")
    for first, last, count, mean in rows:
        print(f"| {first:,}–{last:,} | {count} | {mean:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
