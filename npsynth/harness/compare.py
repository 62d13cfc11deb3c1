"""Two evaluation runs photo by photo, from their metrics.csv files.

A mean hides how a change spreads over photos, so for each metric `compare` gives both
means, the mean and median of the per-photo difference (A - B), on how many photos A is
better, and the largest gain and loss.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from npsynth.files import open_input

METRICS = ("psnr_hole", "l1_hole", "ssim_hole")
LOWER_IS_BETTER = ("l1_", "l2_", "seconds")


def read_scores(paths: list[Path], method: str | None) -> dict[str, dict[str, float]]:
    """photo name -> {column: value} for one method, pooled over several metrics.csv files.

    `method` may be None when every file holds a single method."""
    scores: dict[str, dict[str, float]] = {}
    for path in paths:
        csv_path = path / "metrics.csv" if path.is_dir() else path
        if not csv_path.exists():
            raise FileNotFoundError(f"{csv_path}: no such metrics file (is {path} a run folder?)")
        with open_input(csv_path, "metrics file") as stream:  # refuses a FIFO with no writer
            text = stream.read().decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if not rows or "image" not in rows[0] or "method" not in rows[0]:
            raise ValueError(f"{csv_path}: not a metrics.csv of eval.inpaint or eval.content")
        methods = sorted({row["method"] for row in rows})
        chosen = method
        if chosen is None:
            if len(methods) != 1:
                raise ValueError(f"{csv_path} holds methods {methods}; pick one with --method-a/-b")
            chosen = methods[0]
        if chosen not in methods:
            raise ValueError(f"{csv_path} has no method {chosen!r}; it holds {methods}")
        for row in rows:
            if row["method"] != chosen:
                continue
            if row["image"] in scores:
                raise ValueError(f"photo {row['image']} appears twice ({csv_path})")
            scores[row["image"]] = {k: float(v) for k, v in row.items() if is_number(v)}
    return scores


def is_number(text: str) -> bool:
    """Whether a CSV cell holds a number."""
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def compare(a: dict, b: dict, metric: str) -> dict:
    """Per-photo comparison of `metric` over the photos both runs scored.

    Returns a dict: photos, mean_a, mean_b, mean_diff and median_diff (A - B), a_better
    (photos where A is strictly better; lower is better for L1/L2/seconds), best and worst
    (photo, A - B) where A gains and loses the most.
    """
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("the two runs share no photo names")
    missing = [name for name in common if metric not in a[name] or metric not in b[name]]
    if missing:
        raise ValueError(f"no {metric!r} column for photo {missing[0]}")
    sign = -1.0 if metric.startswith(LOWER_IS_BETTER) else 1.0
    diff = np.array([a[name][metric] - b[name][metric] for name in common])
    gain = sign * diff
    return {
        "photos": len(common),
        "mean_a": float(np.mean([a[name][metric] for name in common])),
        "mean_b": float(np.mean([b[name][metric] for name in common])),
        "mean_diff": float(diff.mean()),
        "median_diff": float(np.median(diff)),
        "a_better": int(np.sum(gain > 0)),
        "best": (common[int(np.argmax(gain))], float(diff[np.argmax(gain)])),
        "worst": (common[int(np.argmin(gain))], float(diff[np.argmin(gain)])),
    }


def report(a: dict, b: dict, metrics: tuple[str, ...], command: str) -> str:
    """A markdown table, one row per metric."""
    only = sorted(set(a) ^ set(b))
    lines = [
        "# A against B, photo by photo",
        "",
        f"- command: `{command}`",
        *([f"- photos in one run only (left out): {', '.join(only)}"] if only else []),
        "",
        (
            "| metric | photos | mean A | mean B | mean A - B | median A - B | A better on "
            "| largest gain of A | largest loss of A |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for metric in metrics:
        c = compare(a, b, metric)
        lines.append(
            f"| {metric} | {c['photos']} | {c['mean_a']:.4f} | {c['mean_b']:.4f} "
            f"| {c['mean_diff']:+.4f} | {c['median_diff']:+.4f} | {c['a_better']} of {c['photos']} "
            f"| {c['best'][0]} ({c['best'][1]:+.4f}) | {c['worst'][0]} ({c['worst'][1]:+.4f}) |"
        )
    return "\n".join(lines) + "\n"
