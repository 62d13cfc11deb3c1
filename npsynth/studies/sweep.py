"""Choose the joint loss weights: hole PSNR/SSIM over a grid of alpha (texture) and beta (TV).

The weights are traced arguments of the per-scale solve, so the grid compiles once.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from npsynth import files as npfiles
from npsynth import metrics
from npsynth.config.inpaint import config_for
from npsynth.errors import InputError, as_input_error
from npsynth.harness import checks, report
from npsynth.harness.runner import Photos, load_pairs

SCORES = ("psnr_hole", "ssim_hole", "l1_hole")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepRun:
    """A weight sweep (`python -m eval.sweep`): the photos, the grid, the output folder."""

    # Folder (or quoted glob pattern) of photos.
    images: Path
    # Only the first N photos.
    limit: int = 10
    # Longest side of the photos (px).
    resize: int = 128
    # Pyramid scales (px).
    scales: tuple[int, ...] = (64, 128)
    # L-BFGS iterations per scale.
    iterations: int = 50
    # Texture weights to try.
    alphas: tuple[float, ...] = (0.0, 1e-8, 1e-7, 1e-6, 1e-5)
    # TV weights to try.
    betas: tuple[float, ...] = (0.0, 0.1, 1.0)
    # Generated hole, e.g. center:0.5 (the default) or boxes.
    hole: str | None = None
    # Folder or quoted glob pattern of masks, or one mask file (instead of --hole).
    masks: Path | None = None
    # The first scale's content reference.
    content: str = "harmonic"
    # Output folder (sweep.md).
    out: Path = Path("out/sweep")

    def __post_init__(self):
        checks.check_at_least(1, limit=self.limit, resize=self.resize, iterations=self.iterations)
        checks.check_at_least(0, alphas=self.alphas, betas=self.betas)
        checks.check_hole_kind(self.hole)
        checks.check_not_both(masks=self.masks, hole=self.hole)

    @property
    def photos(self) -> Photos:
        return Photos(images=self.images, masks=self.masks, hole=self.hole, limit=self.limit,
                      resize=self.resize)  # fmt: skip


def run_sweep(run: SweepRun, *, command: str) -> str:
    """Check the settings, photos and --out, sweep, write out/sweep.md; returns its text.

    Raises:
      InputError: settings the fills cannot use (exit 2), or a bad photo, mask or --out.
    """
    fields = {"scales": run.scales, "iterations": run.iterations, "content": run.content}
    with as_input_error(code=2):  # the settings every point of the grid shares
        config_for("optimize", **fields)
    checks.check_output_folder(run.out, [run.out / "sweep.md"])
    rows = sweep(run.photos, run.alphas, run.betas, **fields)
    header = [
        f"- command: `{command}`",
        (
            f"- data: first {run.limit} photos of `{run.images}` downsized to {run.resize} px, "
            f"holes {run.photos.holes}"
        ),
        (
            f"- scales {','.join(map(str, run.scales))}, {run.iterations} L-BFGS iterations "
            f"per scale, content {run.content}"
        ),
    ]
    text = render(rows, header=header)
    npfiles.atomic_write(run.out / "sweep.md", text)
    return text


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
