"""The speed/quality frontier of L-BFGS schedules (`python -m eval.bench frontier`).

Every schedule (a set of `OptimizeConfig` fields: iterations per scale, line search,
early stop, history) inpaints the same photos with the same holes, photo by photo, so a
busy machine slows all schedules alike. A row gives the mean hole PSNR, SSIM and L1, the
loss evaluations per scale and the wall time per photo, compilation included (the first
photo of a run compiles, unless JAX's persistent compilation cache has the programs).

A schedule may also be scored at `stops`: iterations of its last scale at which the run is
cut short. The solver reports after every chunk of iterations and its iterates do not
depend on where the scale would end, so the image and the time at iteration k of the last
scale are those of the same schedule with k iterations there (`name@k` rows): one run
measures several schedules.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from npsynth import files as npfiles
from npsynth import metrics, pyramid
from npsynth.config.inpaint import OptimizeConfig
from npsynth.harness import checks, report
from npsynth.harness.runner import Photos, load_pairs
from npsynth.harness.runs import RunFolder

MEASURES = ("psnr_hole", "ssim_hole", "l1_hole")
COLUMNS = ("photo", "schedule", "seconds", "evaluations", "iterations", *MEASURES)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A named set of `OptimizeConfig` fields, scored at its end and at `stops`."""

    name: str
    fields: Mapping[str, object]
    stops: tuple[int, ...] = ()  # last-scale iterations also scored (multiples of the chunk)


# The paper's schedule (100 L-BFGS iterations at every scale, zoom line search growing the
# last step), the default, the fast choice, and the ones the frontier explores around it.
# All but the default and the fast choice pin the matches of the scale's start, the chunk
# and the one TV weight at every scale they were measured with (docs/benchmarks.md,
# "Speed/quality frontier"), whatever the default becomes.
FIXED = {"nn_update": "per_scale", "chunk_iterations": 10, "beta_last": None}
SCHEDULES = {
    s.name: s
    for s in (
        Schedule("paper", FIXED | {"iterations": 100}, stops=(10, 20, 30, 50)),
        Schedule("default", {}, stops=(10,)),
        Schedule("fast", {"levels": 1}),  # the fast choice: the first level only, upsampled
        Schedule("full-step", FIXED | {"iterations": (100, 100, 50), "linesearch_init": "max"},
                 stops=(10, 20, 30)),
        Schedule("full-step-light", FIXED | {"iterations": (50, 50, 50),
                                             "linesearch_init": "max"}, stops=(10, 20, 30)),
        Schedule("full-step-reltol", FIXED | {"iterations": 100, "linesearch_init": "max",
                                              "rel_tol": 1e-3}),
        Schedule("full-step-history5", FIXED | {"iterations": (100, 100, 30),
                                                "linesearch_init": "max", "history_size": 5}),
        Schedule("paper-maxls5", FIXED | {"iterations": (100, 100, 30), "maxls": 5}),
    )
}  # fmt: skip


def parse_schedules(text: str) -> list[Schedule]:
    """Comma-separated names of `SCHEDULES`."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCHEDULES]
    if unknown or not names:
        raise ValueError(f"unknown schedule(s) {unknown}; choose from {', '.join(SCHEDULES)}")
    return [SCHEDULES[n] for n in names]


def run_schedule(image, mask, schedule: Schedule, *, base: Mapping, vgg=None) -> list[dict]:
    """One photo with one schedule: a row for its end and one per stop.

    Args:
      image: [H, W, 3] the photo (its truth); mask: [H, W, 1], 1 = hole.
      base: fields shared by every schedule (scales, content, ...).
    """
    from npsynth.api import inpaint

    fields = dict(base) | dict(schedule.fields)
    scales = fields.get("scales", OptimizeConfig.scales)
    if isinstance(fields.get("iterations"), tuple):  # per scale: the last ones for fewer scales
        fields["iterations"] = fields["iterations"][-len(scales) :]
        fields["iterations"] = (fields["iterations"][0],) * (
            len(scales) - len(fields["iterations"])
        ) + fields["iterations"]
    config = OptimizeConfig(**fields)
    region = pyramid.context_window(mask[..., 0], config.scales[-1], config.context)
    blanked = np.where(mask > 0, 0.0, image).astype(np.float32)
    stops, cut = set(schedule.stops), {}

    def at_stop(event: pyramid.Progress) -> None:
        last = event.level == event.levels - 1
        if last and not event.done and event.iteration in stops and event.image is not None:
            cut[event.iteration] = (event.seconds, event.evaluations, event.image)

    result = inpaint(blanked, mask, config=config, vgg=vgg, progress=at_stop)
    earlier = [s.evaluations or 0 for s in result.scales[:-1]]
    rows = [_row(schedule.name, result.image, image, mask, result.seconds,
                 [*earlier, result.scales[-1].evaluations or 0], config.iterations)]  # fmt: skip
    for k in sorted(cut):
        seconds, evaluations, level_image = cut[k]
        filled = pyramid.paste_hole(blanked, mask, region, level_image)
        iterations = [*pyramid.per_level(config.iterations, len(result.scales), "iterations")]
        iterations[-1] = k
        rows.append(_row(f"{schedule.name}@{k}", filled, image, mask, seconds,
                         [*earlier, evaluations], tuple(iterations)))  # fmt: skip
    return rows


def _row(name, output, truth, mask, seconds, evaluations, iterations) -> dict:
    scores = metrics.hole_metrics(np.round(output * 255) / 255, truth, mask)
    counts = iterations if isinstance(iterations, tuple) else (iterations,)
    return {
        "schedule": name,
        "seconds": float(seconds),
        "evaluations": "/".join(str(int(e)) for e in evaluations),
        "iterations": "/".join(str(int(n)) for n in counts),
        **{m: scores[m] for m in MEASURES},
    }


def run_frontier(
    photos: Photos,
    schedules: Sequence[Schedule],
    out: Path,
    *,
    base: Mapping,
    resume: bool = False,
    stream=sys.stdout,
) -> list[dict]:
    """Every schedule on every photo; frontier.csv, frontier.md and frontier.png in `out`
    rewritten after every photo. With `resume`, (photo, schedule) pairs already in
    frontier.csv with the same settings are kept."""
    out.mkdir(parents=True, exist_ok=True)
    settings = {"images": str(photos.images), "hole": photos.holes, "limit": photos.limit,
                "resize": photos.resize, "base": {k: list(v) if isinstance(v, tuple) else v
                                                  for k, v in base.items()}}  # fmt: skip
    folder = RunFolder(path=out, settings_file="frontier.json", rows_file="frontier.csv",
                       columns=COLUMNS, numbers=(), rows_name="the run's rows")  # fmt: skip
    rows = folder.resumed_rows(settings, resume)[1]
    folder.write_settings(settings)
    csv_file = out / "frontier.csv"
    done = {(r["photo"], r["schedule"]) for r in rows}
    pairs = load_pairs(photos)
    for name, image, mask in pairs:
        for schedule in schedules:
            if (name, schedule.name) in done:
                continue
            new = [{"photo": name, **r} for r in run_schedule(image, mask, schedule, base=base)]
            rows += new
            for r in new:
                print(f"{name} {r['schedule']}: {r['seconds']:.1f} s, PSNR {r['psnr_hole']:.2f} "
                      f"dB, SSIM {r['ssim_hole']:.3f}, evaluations {r['evaluations']}",
                      file=stream, flush=True)  # fmt: skip
            report.write_csv(csv_file, rows, COLUMNS)
            table = summary(rows)
            text = frontier_markdown(table, settings, len({r["photo"] for r in rows}))
            npfiles.atomic_write(out / "frontier.md", text)
            plot(table, out / "frontier.png")
    print(frontier_markdown(summary(rows), settings, len(pairs)), file=stream)
    return rows


def summary(rows: Sequence[Mapping]) -> list[dict]:
    """Per schedule, over the photos every schedule has: the mean measures and seconds,
    the mean evaluations per scale, and the time relative to "paper" when it is there."""
    by_schedule: dict[str, list[Mapping]] = {}
    for r in rows:
        by_schedule.setdefault(r["schedule"], []).append(r)
    common = set.intersection(*({r["photo"] for r in v} for v in by_schedule.values()))
    table = []
    for name, chosen in by_schedule.items():
        chosen = [r for r in chosen if r["photo"] in common]
        evals = np.mean([[float(e) for e in str(r["evaluations"]).split("/")] for r in chosen], 0)
        table.append({
            "schedule": name,
            "photos": len(chosen),
            "iterations": chosen[0]["iterations"],
            "evaluations": "/".join(f"{e:.0f}" for e in np.atleast_1d(evals)),
            "seconds": float(np.mean([float(r["seconds"]) for r in chosen])),
            **{m: float(np.mean([float(r[m]) for r in chosen])) for m in MEASURES},
        })  # fmt: skip
    paper = next((t for t in table if t["schedule"] == "paper"), None)
    for t in table:
        t["speedup"] = paper["seconds"] / t["seconds"] if paper else math.nan
        t["d_psnr"] = t["psnr_hole"] - paper["psnr_hole"] if paper else math.nan
        t["d_ssim"] = t["ssim_hole"] - paper["ssim_hole"] if paper else math.nan
    return sorted(table, key=lambda t: t["seconds"])


def frontier_markdown(table: Sequence[Mapping], settings: Mapping, photos: int) -> str:
    lines = [
        "# Speed/quality frontier",
        "",
        (
            f"Photos: {settings['images']} (first {settings['limit'] or 'all'}, resized to "
            f"{settings['resize'] or 'full size'}), hole {settings['hole']}; shared settings "
            f"{json.dumps(settings['base'])}; {photos} photo(s) done. Machine: {report.machine()}."
        ),
        (
            "Means over the photos every schedule has; seconds per photo, compilation included; "
            "`name@k` = the schedule cut at k iterations of its last scale; x paper = speed-up, "
            "dPSNR/dSSIM = difference to the paper schedule."
        ),
        "",
        (
            "| schedule | iterations | evaluations | s/photo | x paper | PSNR hole | dPSNR | "
            "SSIM hole | dSSIM | L1 hole |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in table:
        lines.append(
            f"| {t['schedule']} | {t['iterations']} | {t['evaluations']} | {t['seconds']:.1f} | "
            f"{t['speedup']:.2f} | {t['psnr_hole']:.2f} | {t['d_psnr']:+.2f} | "
            f"{t['ssim_hole']:.4f} | {t['d_ssim']:+.4f} | {t['l1_hole']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def plot(table: Sequence[Mapping], path: Path, *, size=(720, 480)) -> None:
    """Mean hole PSNR against seconds per photo (log scale), one labelled dot per schedule."""
    from PIL import Image, ImageDraw

    width, height = size
    margin = 60
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    seconds = np.log10([max(t["seconds"], 1e-3) for t in table])
    psnr = np.asarray([t["psnr_hole"] for t in table])
    lo_x, hi_x = seconds.min() - 0.1, seconds.max() + 0.1
    lo_y, hi_y = psnr.min() - 0.1, psnr.max() + 0.1

    def xy(s, p):
        return (margin + (s - lo_x) / (hi_x - lo_x) * (width - 2 * margin),
                height - margin - (p - lo_y) / (hi_y - lo_y) * (height - 2 * margin))  # fmt: skip

    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for s, p, t in zip(seconds, psnr, table):
        x, y = xy(s, p)
        colour = "red" if t["schedule"].split("@")[0] == "paper" else "blue"
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        draw.text((x + 6, y - 6), t["schedule"], fill="black")
    for value in np.linspace(lo_x, hi_x, 5):
        draw.text((xy(value, lo_y)[0] - 10, height - margin + 8), f"{10**value:.0f}", fill="black")
    for value in np.linspace(lo_y, hi_y, 5):
        draw.text((8, xy(lo_x, value)[1] - 6), f"{value:.2f}", fill="black")
    draw.text((width // 2 - 80, height - 24), "seconds per photo (log)", fill="black")
    draw.text((8, 16), "mean hole PSNR (dB)", fill="black")
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    npfiles.atomic_write(path, buffer.getvalue())


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrontierRun:
    """L-BFGS schedules: time against quality (`python -m eval.bench frontier`)."""

    # Folder of photos.
    images: str = "../shared/data/eval512"
    # The first N photos.
    limit: int = 8
    # Longest side first, px.
    resize: int | None = None
    # Generated hole (or --masks).
    hole: str = "center:0.5"
    # Folder or glob of masks instead.
    masks: str | None = None
    # Pyramid scales (default: the config's 128,256,512).
    scales: tuple[int, ...] | None = None
    # Comma-separated, from: paper, default, fast, full-step, ... (`SCHEDULES`).
    schedules: str = "paper,default"
    # Output folder.
    out: str = "out/frontier"
    # Keep photos already done.
    resume: bool = False

    def __post_init__(self):
        checks.check_at_least(1, limit=self.limit, resize=self.resize)
        checks.check_at_least(32, scales=self.scales)
        try:
            parse_schedules(self.schedules)
        except ValueError as error:
            raise ValueError(f"--schedules: {error}") from None

    def run(self) -> list[dict]:
        photos = Photos(images=self.images, masks=self.masks,
                        hole=None if self.masks else self.hole, limit=self.limit,
                        resize=self.resize)  # fmt: skip
        base = {"scales": tuple(self.scales)} if self.scales else {}
        schedules = parse_schedules(self.schedules)
        return run_frontier(photos, schedules, Path(self.out), base=base, resume=self.resume)
