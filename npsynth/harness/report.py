"""What an evaluation writes for people: metrics.csv, the Markdown report, the machine line.

The CSV has one row per photo and method (`CSV_COLUMNS`); the report gives the means per
method, npsynth's time at each scale and each photo's hole PSNR (`render_report`). The
measures are those of `npsynth.metrics.report_metrics`: PSNR, SSIM, L1 and L2, then the
sharpness ratio, the VGG-19 feature distance and the colour gap (`TEXTURE_NAMES`), which
rows written before those existed lack: `read_csv` gives them NaN, and means leave NaN out.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import platform
from collections.abc import Mapping, Sequence

import numpy as np

from npsynth.files import atomic_write, read_regular
from npsynth.metrics import RING_WIDTH

# Texture and colour measures (`npsynth.metrics`): optional in a metrics.csv, read as NaN.
TEXTURE_NAMES = ("sharpness_ratio", "feature_distance", "colour_gap")
METRIC_NAMES = (
    "l1_hole",
    "l2_hole",
    "psnr_hole",
    "ssim_hole",
    "l1_all",
    "l2_all",
    "psnr_all",
    "ssim_all",
    *TEXTURE_NAMES,
)
# metrics.csv of `npsynth.harness.runner`: scale_seconds is "32x32:1.20 64x64:3.40" for
# npsynth's methods (height x width: seconds at each scale) and "" for the baselines.
CSV_COLUMNS = ("image", "method", *METRIC_NAMES, "seconds", "scale_seconds")
# Formats of the means table's columns (METRIC_NAMES, then seconds per photo).
MEAN_FORMATS = (
    "{:.4f}", "{:.5f}", "{:.2f}", "{:.4f}", "{:.4f}", "{:.5f}", "{:.2f}", "{:.4f}",
    "{:.3f}", "{:.4f}", "{:.2f}", "{:.2f}",
)  # fmt: skip
# The means table's header cells, in the order of MEAN_FORMATS.
MEAN_HEADERS = (
    "L1 hole", "L2 hole", "PSNR hole", "SSIM hole", "L1 all", "L2 all", "PSNR all", "SSIM all",
    "sharpness hole", "VGG dist hole", "colour gap", "s/photo",
)  # fmt: skip


def machine() -> str:
    """One line naming the device JAX runs on, the CPU cores and the architecture."""
    import jax

    device = jax.devices()[0]
    return f"{device.platform.upper()} ({device.device_kind}), {os.cpu_count()} cores, {platform.machine()}"


def write_csv(path, rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> None:
    """Write `rows` as CSV with a header, atomically (`npsynth.files.atomic_write`).

    Args:
      path: the file to (re)write.
      rows: dicts holding every column.
      columns: the header; default `CSV_COLUMNS`.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns or CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buffer.getvalue())


def read_csv(
    path,
    *,
    columns: Sequence[str] | None = None,
    numbers: Sequence[str] | None = None,
    empty_is_nan: Sequence[str] = TEXTURE_NAMES,
    what: str = "the run's metrics",
) -> list[dict]:
    """The rows of a CSV file written by `write_csv`, the `numbers` columns as floats.

    Defaults: a metrics.csv written with `CSV_COLUMNS`, metrics and seconds as floats, a
    `TEXTURE_NAMES` column that is missing (a file from before it existed) or empty NaN.

    Args:
      columns: the columns the file must have (default `CSV_COLUMNS` less "scale_seconds").
      numbers: the columns read as floats (default the metrics and seconds).
      empty_is_nan: number columns that may be missing or empty (NaN).
      what: the file, in words, for a message about a file that is not regular.

    Raises:
      ValueError: another column is missing, a row has fewer or more fields than the header
        (cut short, or edited), or a number is not a number; the message names the file
        and the line. `npsynth.files.NotRegularFile`: the file is not a regular file (a FIFO
        is never read).
    """
    numbers = (*METRIC_NAMES, "seconds") if numbers is None else tuple(numbers)
    columns = ("image", "method", *METRIC_NAMES, "seconds") if columns is None else columns
    text = read_regular(path, what)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    numbered = [(reader.line_num, row) for row in reader]
    header = reader.fieldnames or []
    lacking = [k for k in columns if k not in empty_is_nan and k not in header]
    if lacking:
        raise ValueError(f"{path} lacks the column{'s' * (len(lacking) > 1)} {', '.join(lacking)}")
    for line, row in numbered:
        if None in row or None in row.values():
            fields = len(header) + len(row.get(None, ())) - list(row.values()).count(None)
            raise ValueError(
                f"{path}, line {line}: {fields} fields where the header has {len(header)} "
                "(a row cut short or edited)"
            )
        for key in numbers:
            if key in empty_is_nan and not row.get(key):
                row[key] = math.nan
                continue
            try:
                row[key] = float(row[key])
            except ValueError:
                raise ValueError(
                    f"{path}, line {line}: {key} is {row[key]!r}, not a number"
                ) from None
    return [row for _, row in numbered]


def mean_cell(values: Sequence[float], form: str) -> str:
    """`form` of the mean of `values` without their NaNs (inf stays inf); "n/a" if all NaN."""
    kept = [v for v in values if not math.isnan(v)]
    return form.format(float(np.mean(kept))) if kept else "n/a"


def json_fields(instance) -> dict:
    """A dataclass's fields as JSON gives them back (tuples as lists, other values as str)."""
    return json.loads(json.dumps(dataclasses.asdict(instance), default=str))


# Settings that issue 36 removed, with the one value that meant what npsynth does now, and
# translate's `paste` ("poisson" or "direct") that it renamed `level_paste`.
REMOVED_SETTINGS = {"alpha_scaling": "none", "content_scales": "auto"}
RENAMED_SETTINGS = {"translate": {"paste": "level_paste"}}


# Settings that change how a run is computed, not what it computes: a resumed run may differ
# in them (`comparable`). Chunks of L-BFGS iterations only set how often progress is reported.
EXECUTION_SETTINGS = frozenset({"chunk_iterations"})


def comparable(settings: dict) -> dict:
    """Run settings without the `EXECUTION_SETTINGS` of their configs, for comparing a new
    run's with a saved one's."""

    def strip(fields):
        if not isinstance(fields, dict):
            return fields
        return {k: strip(v) for k, v in fields.items() if k not in EXECUTION_SETTINGS}

    configs = settings.get("config")
    if not isinstance(configs, dict):
        return settings
    return settings | {"config": {method: strip(fields) for method, fields in configs.items()}}


def with_new_config_fields(saved: dict) -> dict:
    """Saved run settings whose "config" (method -> fields) reads as today's: fields saved
    flat before the settings were nested in records (issue 36) go to their records, a removed
    setting at the value that meant today's behaviour is dropped (another value stays, so the
    run is refused), and the config fields added to npsynth since come at their defaults
    (which keep the behaviour from before them, e.g. `levels=None`). So runs saved before a
    field existed, or before the nesting, still resume."""
    from npsynth.config.inpaint import setting_paths
    from npsynth.methods import METHODS

    configs = saved.get("config")
    if not isinstance(configs, dict):
        return saved
    filled = {}
    for method, fields in configs.items():
        if method in METHODS and isinstance(fields, dict):
            cls = METHODS[method].config
            fields = _nested(fields, setting_paths(cls), RENAMED_SETTINGS.get(method, {}))
            filled[method] = _merged(json_fields(cls()), fields)
        else:
            filled[method] = fields
    return saved | {"config": filled}


def _nested(fields: dict, paths: Mapping[str, tuple[str, ...]], renamed: Mapping) -> dict:
    """Saved `fields` with each flat setting moved to its record (`paths`: flat name ->
    path), renamed settings renamed, and removed settings at today's value dropped."""
    nested: dict = {}
    for name, value in fields.items():
        if name in renamed and not isinstance(value, dict):
            name = renamed[name]
        if REMOVED_SETTINGS.get(name, object()) == value:
            continue
        path = paths.get(name, (name,))
        if len(path) == 1:
            nested[name] = _merged(nested[name], value) if name in nested else value
        else:
            nested.setdefault(path[0], {})[path[1]] = value
    return nested


def _merged(defaults, saved):
    """`saved` over `defaults`, record by record (dicts merged, other values replaced)."""
    if isinstance(defaults, dict) and isinstance(saved, dict):
        return defaults | {k: _merged(defaults.get(k), v) for k, v in saved.items()}
    return saved


def config_line(configs: Mapping[str, object]) -> str:
    """The report's config line: each method's settings (its config's fields)."""
    fields = {method: dataclasses.asdict(config) for method, config in configs.items()}
    if not fields:
        return "- config: none (no npsynth method)"
    if len(fields) == 1:
        return f"- config: {next(iter(fields.values()))}"
    return "- config: " + "; ".join(f"{method} {values}" for method, values in fields.items())


def render_report(rows: Sequence[Mapping], *, header: Sequence[str]) -> str:
    """The Markdown report of a folder evaluation.

    Args:
      rows: metrics.csv rows (`CSV_COLUMNS`, metrics and seconds as floats).
      header: the lines between the title and the tables (command, data, methods, ...).

    Returns:
      the title, `header`, the means per method (in the order the rows name them), a table
      of npsynth's mean seconds at each scale per method that has them, and `per_photo_table`.
    """
    method_names = list(dict.fromkeys(r["method"] for r in rows))
    lines = [
        "# Inpainting report",
        "",
        *header,
        "",
        (
            "Means over the photos (hole = over the hole pixels only; all = whole image). "
            "PSNR in dB on [0, 1]; L1/L2 per pixel and channel; sharpness = the hole's mean "
            "luminance gradient over the photo's (1 = as sharp as the photo); VGG dist = "
            "VGG-19 feature distance over the hole (1 - cosine of relu3_1 and relu4_1 "
            "features, 0 = the photo's; not LPIPS); colour gap = Delta E*ab between the mean "
            "CIELAB colours of the hole and of the known pixels within "
            f"{RING_WIDTH} px of it (`npsynth.metrics`); time per photo in seconds. n/a: "
            "not measured (rows from before the measure existed) or undefined (a flat hole)."
        ),
        "",
        "| method | " + " | ".join(MEAN_HEADERS) + " |",
        "|---|" + "---:|" * len(MEAN_HEADERS),
    ]
    for method in method_names:
        chosen = [r for r in rows if r["method"] == method]
        cells = " | ".join(
            mean_cell([r[k] for r in chosen], form)
            for k, form in zip((*METRIC_NAMES, "seconds"), MEAN_FORMATS)
        )
        lines.append(f"| {table_cell(method)} | {cells} |")
    for method in method_names:
        per_scale = scale_seconds(rows, method)
        if per_scale:
            lines += [
                "",
                (
                    f"npsynth {method} time per photo at each scale "
                    "(seconds, mean; the first photo of each run or resume includes compilation):"
                ),
                "",
                "| scale | " + " | ".join(per_scale) + " |",
                "|---|" + "---:|" * len(per_scale),
                "| s/photo | " + " | ".join(f"{np.mean(v):.2f}" for v in per_scale.values()) + " |",
            ]
    return "\n".join(lines + per_photo_table(rows, method_names)) + "\n"


# Characters a Markdown table cell shows as themselves only when backslash-escaped: the
# cell's "|", a code span's "`", emphasis "*" and "~", a link's "[" "]", HTML's "<" and "&"
# (a backslash itself is escaped first). "_" inside a word is literal and left as it is.
_MARKDOWN_SPECIAL = "`|*~[]<&"


def table_cell(text) -> str:
    """`text` as one Markdown table cell that renders as `text`: a backslash and the
    characters of `_MARKDOWN_SPECIAL` backslash-escaped, line breaks written as \\n and \\r
    (a photo named "a|b.png", "x\\.png", "b`q`.png" or with a newline keeps its row and
    its name)."""
    cell = str(text).replace("\\", "\\\\")
    for char in _MARKDOWN_SPECIAL:
        cell = cell.replace(char, "\\" + char)
    return cell.replace("\n", "\\n").replace("\r", "\\r")


def scale_seconds(rows: Sequence[Mapping], method: str) -> dict[str, list[float]]:
    """Scale ("32x32") -> the seconds `method` spent there on each photo (scale_seconds)."""
    per_scale: dict[str, list[float]] = {}
    for row in rows:
        if row["method"] == method:
            for item in row.get("scale_seconds", "").split():
                size, seconds = item.split(":")
                per_scale.setdefault(size, []).append(float(seconds))
    return per_scale


def per_photo_table(rows: Sequence[Mapping], method_names: Sequence[str]) -> list[str]:
    """Report lines: each photo's hole PSNR per method and npsynth's seconds at each scale."""
    timed = [
        m for m in method_names if any(r.get("scale_seconds") for r in rows if r["method"] == m)
    ]
    by_key = {(r["image"], r["method"]): r for r in rows}
    lines = [
        "",
        "Per photo: hole PSNR (dB) of every method, and npsynth's seconds at each scale:",
        "",
        "| photo | "
        + " | ".join(table_cell(m) for m in [*method_names, *(f"{m} s per scale" for m in timed)])
        + " |",
        "|---|" + "---:|" * (len(method_names) + len(timed)),
    ]
    for image in sorted({r["image"] for r in rows}):
        cells = [
            f"{by_key[image, m]['psnr_hole']:.2f}" if (image, m) in by_key else ""
            for m in method_names
        ]
        for method in timed:
            items = by_key.get((image, method), {}).get("scale_seconds", "").split()
            cells.append(" / ".join(item.partition(":")[2] for item in items))
        lines.append(f"| {table_cell(image)} | " + " | ".join(cells) + " |")
    return lines
