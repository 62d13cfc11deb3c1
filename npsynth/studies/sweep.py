"""Choose the joint loss weights: hole PSNR/SSIM over a grid of alpha (texture) and beta (TV).

The weights are traced arguments of the per-scale solve, so the grid compiles once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from npsynth import metrics
from npsynth.config.inpaint import config_for
from npsynth.evaluation.cli_errors import InputError
from npsynth.harness import report
from npsynth.harness.runner import Photos, load_pairs

SCORES = ("psnr_hole", "ssim_hole", "l1_hole")


def sweep(
    photos: Photos,
    alphas: Sequence[float],
    betas: Sequence[float],
    *,
    progress: bool = True,
    **fields,
) -> list[dict]:
    """Fill every photo with `method="optimize"` at every (alpha, beta).

    Args:
      photos: the photos and their holes (`npsynth.harness.runner.Photos`).
      alphas, betas: the weights of the texture and TV terms (Eq. 1) to try.
      progress: show a progress bar over the settings.
      fields: the other `OptimizeConfig` fields (scales, iterations, content, ...).

    Returns:
      one row per (alpha, beta), alpha-major: {alpha, beta, psnr_hole, ssim_hole, l1_hole},
      the scores the means over the photos.

    Raises:
      InputError: a bad photo or mask (found before the first fill, `load_pairs`), or a
        photo the method cannot fill.
    """
    from tqdm.auto import tqdm

    from npsynth.api import inpaint

    items = load_pairs(photos)
    grid = list(itertools.product(map(float, alphas), map(float, betas)))
    rows = []
    for alpha, beta in tqdm(grid, desc="settings", disable=not progress):
        # beta at every scale, the last one included, unless `fields` sets beta_last.
        config = config_for("optimize", alpha=alpha, beta=beta, **({"beta_last": None} | fields))
        scores = []
        for name, image, mask in items:
            try:
                filled = inpaint(np.where(mask > 0, 0.0, image), mask, config=config).image
            except ValueError as error:  # npsynth's own "cannot fill this" messages
                raise InputError(f"photo {name!r}: {error}") from error
            scores.append(metrics.hole_metrics(filled, image, mask))
        means = {k: float(np.mean([s[k] for s in scores])) for k in SCORES}
        rows.append({"alpha": alpha, "beta": beta} | means)
    return rows


def render(rows: Sequence[dict], *, header: Sequence[str]) -> str:
    """The Markdown table of `sweep`'s rows, the best hole PSNR marked **best**.

    Args:
      rows: `sweep`'s rows.
      header: lines under the title (command, data, settings); the machine line follows.
    """
    best = max(rows, key=lambda r: r["psnr_hole"])
    lines = [
        "# Joint-loss weight sweep",
        "",
        *header,
        f"- machine: {report.machine()}",
        "",
        "| alpha | beta | PSNR hole | SSIM hole | L1 hole |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = " **best**" if r is best else ""
        lines.append(
            f"| {r['alpha']:g} | {r['beta']:g} | {r['psnr_hole']:.2f}{mark} "
            f"| {r['ssim_hole']:.4f} | {r['l1_hole']:.4f} |"
        )
    return "\n".join(lines) + "\n"
