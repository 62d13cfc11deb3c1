"""What a training run reports: notes (stdout and log.txt), metrics (metrics.jsonl), a
progress bar, steps per second, and the loss curves (loss.png; Pillow only, no matplotlib).

Metrics and notes are appended a line at a time, so a run that is killed loses at most a
half-written last line, which `read_metrics` skips; every other file is written whole
with `npsynth.files.atomic_write`.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from npsynth.files import append_regular, atomic_write, read_regular
from npsynth.training.devices import is_main_process
from npsynth.training.workdir import LOG_FILE, METRICS_FILE


class Reporter:
    """Notes (stdout and log.txt), metrics (metrics.jsonl) and a progress bar; quiet on
    processes other than 0.

    Args:
      workdir: where log.txt and metrics.jsonl go.
      total, initial: steps for the progress bar.
      progress: show the bar.
    """

    def __init__(self, workdir, *, total: int, initial: int = 0, progress: bool = True):
        from tqdm.auto import tqdm

        self.enabled = is_main_process()
        self.workdir = Path(workdir)
        self.metrics_path = self.workdir / METRICS_FILE
        self.bar = tqdm(
            total=total, initial=initial, unit="step", dynamic_ncols=True,
            disable=not (progress and self.enabled), file=sys.stderr,
        )  # fmt: skip

    def note(self, message: str) -> None:
        if not self.enabled:
            return
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self.bar.write(message)
        append_regular(self.workdir / LOG_FILE, f"{stamp} {message}\n", "the training log")

    def truncate_metrics(self, after_step: int) -> None:
        """Drop metrics of steps > `after_step` (logged after the checkpoint a run resumes)."""
        if not self.enabled or not self.metrics_path.exists():
            return
        kept = [r for r in read_metrics(self.metrics_path) if r.get("step", 0) <= after_step]
        atomic_write(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def metrics(self, record: dict) -> None:
        if not self.enabled:
            return
        append_regular(self.metrics_path, json.dumps(record) + "\n", "the training metrics")

    def progress(self, steps: int, postfix: dict | None = None) -> None:
        self.bar.update(steps)
        if postfix:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)

    def close(self) -> None:
        self.bar.close()


def read_metrics(path) -> list[dict]:
    """The records of a metrics.jsonl (a half-written last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in read_regular(path, "the training metrics", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def mean_metrics(history: list[dict]) -> dict[str, float]:
    """Per-key means of a list of metric dicts of scalars (fetched from devices at once)."""
    history = jax.device_get(history)
    keys = history[0].keys()
    return {k: float(np.mean([float(h[k]) for h in history])) for k in keys}


def windowed_means(records: list[dict], key: str, window: int) -> list[tuple[int, int, int, float]]:
    """(first step, last step, records, mean of `key`) for each window (a, a + window].

    Each record of metrics.jsonl is the mean over the `log_every` steps ending at its step;
    a window averages the records whose step falls in it (`python -m train.curve`).
    """
    steps = np.array([r["step"] for r in records if key in r])
    values = np.array([r[key] for r in records if key in r], np.float64)
    rows = []
    for start in range(0, int(steps.max(initial=0)), window):
        inside = (steps > start) & (steps <= start + window)
        if inside.any():
            rows.append(
                (start + 1, int(steps[inside].max()), int(inside.sum()), values[inside].mean())
            )
    return rows


class RateMeter:
    """Steps per second between calls to `rate`."""

    def __init__(self, step: int):
        self.reset(step)

    def reset(self, step: int) -> None:
        self.step, self.time = step, time.perf_counter()

    def rate(self, step: int) -> float:
        now = time.perf_counter()
        value = (step - self.step) / max(now - self.time, 1e-9)
        self.step, self.time = step, now
        return value


# ----------------------------------------------------------------------------------------------
# The loss curves


def plot_curves(records: list[dict], keys: Sequence[str], path, *, width: int = 640) -> None:
    """Draw one panel per metric key (value against step) and save a PNG.

    Each panel shows the logged values (light) and their running mean over about a twentieth
    of the points (dark). Keys that no record has (e.g. the adversarial terms of an L2-only
    run) get no panel once any metric has been logged.

    Args:
      records: metric dicts with "step" and the keys (missing or non-finite values skipped).
      keys: metrics to draw, top to bottom.
      path: the PNG to write.
      width: image width in pixels.
    """
    from PIL import Image, ImageDraw

    keys = [k for k in keys if any(k in r for r in records)] or list(keys)
    panel_h, margin_l, margin_r, margin_t, margin_b = 150, 70, 15, 22, 24
    canvas = Image.new("RGB", (width, panel_h * len(keys)), "white")
    draw = ImageDraw.Draw(canvas)
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
    for panel, key in enumerate(keys):
        top = panel * panel_h
        points = [
            (float(r["step"]), float(r[key]))
            for r in records
            if key in r and "step" in r and math.isfinite(float(r[key]))
        ]
        x0, x1 = margin_l, width - margin_r
        y0, y1 = top + margin_t, top + panel_h - margin_b
        draw.rectangle((x0, y0, x1, y1), outline="black")
        draw.text((x0, top + 5), key, fill="black")
        if not points:
            draw.text((x0 + 10, y0 + 10), "no data yet", fill="gray")
            continue
        steps, values = np.array(points).T
        lo_s, hi_s = steps.min(), max(steps.max(), steps.min() + 1)
        lo_v, hi_v = values.min(), values.max()
        if hi_v - lo_v < 1e-12:
            lo_v, hi_v = lo_v - 0.5 * abs(lo_v or 1), hi_v + 0.5 * abs(hi_v or 1)
        xs = x0 + (steps - lo_s) / (hi_s - lo_s) * (x1 - x0)
        ys = y1 - (values - lo_v) / (hi_v - lo_v) * (y1 - y0)
        line = list(zip(xs.tolist(), ys.tolist()))
        colour = colours[panel % len(colours)]
        if len(line) > 1:
            draw.line(line, fill=tint(colour), width=1)
            window = max(1, len(values) // 20)
            smooth = running_mean(ys, window)
            draw.line(list(zip(xs[window - 1 :].tolist(), smooth.tolist())), fill=colour, width=2)
        else:
            draw.ellipse(
                (line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2), fill=colour
            )
        draw.text((4, y0), f"{hi_v:.4g}", fill="black")
        draw.text((4, y1 - 10), f"{lo_v:.4g}", fill="black")
        draw.text((x0, y1 + 4), f"step {int(lo_s)}", fill="black")
        label = f"step {int(steps.max())}"
        draw.text((x1 - 6 * len(label), y1 + 4), label, fill="black")
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    atomic_write(path, buffer.getvalue())


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Means of every `window` consecutive values (len(values) - window + 1 of them)."""
    sums = np.cumsum(np.concatenate([[0.0], np.asarray(values, np.float64)]))
    return (sums[window:] - sums[:-window]) / window


def tint(colour: str, amount: float = 0.65) -> str:
    """`colour` ("#rrggbb") mixed with white: the light line under the running mean."""
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in channels)
