"""An object-removal gallery: real photos, masks drawn around objects, no ground truth.

Each case (`Case`, read by `load_cases` from a JSON file such as `eval/gallery/cases.json`)
names a photo below the shared data folder and polygons around the objects to remove.
`case_mask` fills the polygons (Pillow `ImageDraw`) and grows them by the case's `dilate`
pixels, so that the object's edges are in the hole too. `run_gallery` fills every case with
every npsynth method and baseline and writes, in its output folder:

- `<case>.png`: input (hole white) | mask | each fill, labelled with its colour gap;
- `outputs/<method>/<case>.png`: each fill at full size;
- `gallery.csv`: one row per case and method (`CSV_COLUMNS`);
- `report.md`: the colour gap and the seconds of every method on every case;
- `settings.json`: what decides the fills; a resumed run keeps the cases made with them.

There is no truth to compare with, so the measure is the colour gap
(`npsynth.metrics.colour_gap`: Delta E*ab between the mean CIELAB colour of the hole and of
the known pixels within `RING_WIDTH` px of it). A fill that continues its surroundings has a
small gap; a ghost of the removed object, or colours that exist nowhere near the hole, raise
it. The gap of the photo itself (the object) is given for scale.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from npsynth import files as npfiles
from npsynth import io as npio
from npsynth import masks, metrics, viz
from npsynth.config.inpaint import PyramidConfig
from npsynth.errors import InputError, as_input_error
from npsynth.harness import checks, filling, report
from npsynth.harness.filling import Filler, run_one
from npsynth.harness.runs import RunFolder

DILATE = 3  # pixels the polygons grow by, unless a cases file or case says otherwise
RING_WIDTH = metrics.RING_WIDTH  # pixels of known ring that the colour gap compares with
SETTINGS_FILE = "settings.json"
CSV_FILE = "gallery.csv"
# gallery.csv: hole_percent is the hole's share of the photo; photo_gap the colour gap of
# the photo itself (the object) over the same hole.
CSV_COLUMNS = ("case", "photo", "method", "colour_gap", "seconds", "photo_gap", "hole_percent")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Case:
    """One object to remove from one photo."""

    name: str  # names its grid file: letters, digits, "_" and "-"
    photo: str  # path of the photo below the shared data folder
    objects: str  # what is removed, in words
    # Polygons around the objects, each a tuple of (x, y) points in pixel coordinates of the
    # photo (x to the right, y down; pixel centres at integers, as in Pillow's ImageDraw).
    polygons: tuple[tuple[tuple[float, float], ...], ...]
    dilate: int = DILATE  # pixels the polygons grow by (Euclidean distance)


def parse_cases(data: Mapping) -> list[Case]:
    """The cases of a cases file's JSON: `{"dilate": px, "cases": [{"name", "photo",
    "objects", "polygons": [[[x, y], ...], ...], "dilate"?}, ...]}`.

    Raises:
      ValueError: a missing or malformed field, a polygon of fewer than 3 points, a
        repeated name (the message names the case).
    """
    default = data.get("dilate", DILATE)
    cases, seen = [], set()
    for index, item in enumerate(data.get("cases") or ()):
        name = item.get("name", f"number {index + 1}") if isinstance(item, Mapping) else index
        try:
            polygons = tuple(
                tuple((float(x), float(y)) for x, y in polygon) for polygon in item["polygons"]
            )
            case = Case(
                name=str(item["name"]), photo=str(item["photo"]), objects=str(item["objects"]),
                polygons=polygons, dilate=int(item.get("dilate", default)),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"case {name!r}: a missing or malformed field ({error!r})") from None
        if not _NAME.match(case.name) or case.name in seen:
            raise ValueError(
                f"case {case.name!r}: names must be unique and use only letters, digits, _ and -"
            )
        if not polygons or any(len(polygon) < 3 for polygon in polygons):
            raise ValueError(f"case {case.name!r}: every polygon needs at least 3 points")
        if case.dilate < 0:
            raise ValueError(f"case {case.name!r}: dilate must be >= 0, got {case.dilate}")
        seen.add(case.name)
        cases.append(case)
    if not cases:
        raise ValueError("the cases file lists no cases")
    return cases


def load_cases(path) -> list[Case]:
    """`parse_cases` of the JSON file `path` (errors name the file)."""
    try:
        return parse_cases(json.loads(npfiles.read_regular(path, "cases file")))
    except (ValueError, AttributeError) as error:
        raise ValueError(f"cases file {str(path)!r}: {error}") from error


def outside_points(case: Case, size: tuple[int, int]) -> list[tuple[float, float]]:
    """The points of `case`'s polygons outside a photo of `size` (height, width): x must lie
    in [0, width] and y in [0, height]."""
    height, width = size
    return [
        (x, y)
        for polygon in case.polygons
        for x, y in polygon
        if not (0 <= x <= width and 0 <= y <= height)
    ]


def case_mask(case: Case, size: tuple[int, int]) -> np.ndarray:
    """float32 [H, W, 1], 1 = hole: `case`'s polygons filled (outline included), then every
    pixel within `case.dilate` px (Euclidean) of them.

    Raises:
      ValueError: a polygon point outside the photo.
    """
    outside = outside_points(case, size)
    if outside:
        raise ValueError(
            f"case {case.name!r}: points {outside[:3]} lie outside its {size[1]}x{size[0]} photo"
        )
    canvas = Image.new("L", (size[1], size[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in case.polygons:
        draw.polygon(polygon, fill=255, outline=255)
    hole = np.asarray(canvas) > 0
    if case.dilate:
        hole = ndimage.distance_transform_edt(~hole) <= case.dilate
    return hole[..., None].astype(np.float32)


def load_case(case: Case, shared) -> tuple[np.ndarray, np.ndarray]:
    """(photo [H, W, 3], mask [H, W, 1]) of `case`, the photo read from below `shared`.

    Raises:
      InputError: an unreadable photo, a polygon outside it, or a hole that is empty or
        covers the whole photo (the message names the case).
    """
    with as_input_error(f"case {case.name!r}"):
        image = npio.load_image(Path(shared) / case.photo)
        mask = case_mask(case, image.shape[:2])
        masks.check_mask(mask, image.shape)
    return image, mask


def fillers(configs: Mapping[str, PyramidConfig], baselines: Sequence[str]) -> dict[str, Filler]:
    """Method or baseline name -> fn(image with hole blanked, mask) -> filled image."""
    from npsynth.methods import METHODS

    for config in configs.values():
        with as_input_error():
            METHODS[config.method].check_networks(config)
    return filling.fillers(configs, baselines)


def gallery_settings(cases, configs: Mapping[str, PyramidConfig], baselines) -> dict:
    """What decides the gallery's fills: a resumed run keeps the cases whose entry in
    "cases" is unchanged, and refuses one where anything else changed."""
    return {
        "methods": list(configs),
        "baselines": list(baselines),
        "config": {m: report.json_fields(c) for m, c in configs.items()},
        "ring": RING_WIDTH,
        "cases": {c.name: report.json_fields(c) for c in cases},
    }


def run_folder(out: Path) -> RunFolder:
    """The gallery's results in `out`: settings.json and gallery.csv."""
    return RunFolder(
        path=Path(out), settings_file=SETTINGS_FILE, rows_file=CSV_FILE, columns=CSV_COLUMNS,
        numbers=("colour_gap", "seconds", "photo_gap", "hole_percent"), empty_is_nan=(),
        rows_name="the run's rows",
    )  # fmt: skip


def kept_rows(out: Path, settings: dict, resume: bool) -> list[dict]:
    """The rows of out/gallery.csv to keep: with `resume`, those of the cases unchanged.

    Raises:
      InputError: resuming where the settings other than the cases differ, were never
        saved, or the saved files cannot be read.
    """

    def changed(new: dict, old: dict) -> list[str]:  # cases may change: they are run again
        return sorted(k for k in new if k != "cases" and new[k] != old.get(k))

    saved, rows = run_folder(out).resumed_rows(settings, resume, differences=changed)
    same = {n for n, c in settings["cases"].items() if saved.get("cases", {}).get(n) == c}
    return [row for row in rows if row["case"] in same]


def planned_files(out: Path, cases, methods) -> list[Path]:
    """Every file a gallery run in `out` writes."""
    files = [out / SETTINGS_FILE, out / CSV_FILE, out / "report.md"]
    for case in cases:
        files.append(out / f"{case.name}.png")
        files += [out / "outputs" / method / f"{case.name}.png" for method in methods]
    return files


def run_gallery(
    cases: Sequence[Case],
    shared,
    out,
    *,
    configs: Mapping[str, PyramidConfig],
    baselines: Sequence[str] = (),
    resume: bool = False,
    header: Sequence[str] = (),
) -> Path:
    """Fill every case with every method and baseline; write grids, CSV and report to `out`.

    Every photo and mask is read and checked, and `out` checked, before the first fill.
    With `resume`, the cases already done in `out` with the same settings are kept.

    Args:
      cases: the cases (`load_cases`).
      shared: the shared data folder the cases' photos lie below.
      out: the output folder.
      configs: npsynth method -> its config, in grid order; then `baselines` (names of
        `npsynth.harness.baselines.BASELINES`).
      header: report lines (the command, ...) after the title.

    Returns:
      the report's path.
    """
    out = Path(out)
    methods = [*configs, *baselines]
    writes = planned_files(out, cases, methods)
    checks.check_output_folder(out, writes)
    photos = {Path(shared) / c.photo: f"the photo of case {c.name!r}" for c in cases}
    checks.check_not_inputs(writes, photos, given=out)
    loaded = {case.name: load_case(case, shared) for case in cases}
    fns = fillers(configs, baselines)
    settings = gallery_settings(cases, configs, baselines)
    rows = kept_rows(out, settings, resume)
    done = {
        c.name
        for c in cases
        if set(methods) <= {r["method"] for r in rows if r["case"] == c.name}
        and (out / f"{c.name}.png").exists()
    }
    rows = [r for r in rows if r["case"] in done]
    out.mkdir(parents=True, exist_ok=True)
    run_folder(out).write_settings(settings)
    lines = [*header, f"- machine: {report.machine()}", report.config_line(configs)]
    for case in cases:
        if case.name in done:
            print(f"{case.name}: kept from the earlier run")
            continue
        image, mask = loaded[case.name]
        try:
            results = run_one(image, mask, fns)
        except ValueError as error:  # npsynth's own "cannot fill this" messages
            raise InputError(f"case {case.name!r}: {error}") from error
        photo_gap = metrics.colour_gap(image, mask, ring=RING_WIDTH)
        labelled = []
        for method, (filled, seconds, _) in results.items():
            gap = metrics.colour_gap(filled, mask, ring=RING_WIDTH)
            npio.save_image(out / "outputs" / method / f"{case.name}.png", filled)
            labelled.append((f"{method} (gap {gap:.1f})", filled))
            rows.append(
                {"case": case.name, "photo": case.photo, "method": method, "colour_gap": gap,
                 "seconds": seconds, "photo_gap": photo_gap,
                 "hole_percent": 100.0 * float(mask.mean())}
            )  # fmt: skip
        columns = [("input", viz.masked_input(image, mask)), ("mask", mask), *labelled]
        npio.save_image(out / f"{case.name}.png", viz.grid(columns))
        gaps = ", ".join(f"{m} {r['colour_gap']:.1f}" for m, r in _case_rows(rows, case.name))
        print(f"{case.name}: colour gap {gaps} (photo {photo_gap:.1f})")
        _write(out, rows, render_gallery_report(rows, cases, methods, header=lines))
    _write(out, rows, render_gallery_report(rows, cases, methods, header=lines))
    return out / "report.md"


def _case_rows(rows, name: str) -> list[tuple[str, dict]]:
    return [(r["method"], r) for r in rows if r["case"] == name]


def _write(out: Path, rows: Sequence[Mapping], text: str) -> None:
    report.write_csv(out / CSV_FILE, rows, columns=CSV_COLUMNS)
    npfiles.atomic_write(out / "report.md", text)


def render_gallery_report(
    rows: Sequence[Mapping], cases: Sequence[Case], methods: Sequence[str], *, header=()
) -> str:
    """The gallery's Markdown report: colour gaps, then seconds, per case and method.

    Args:
      rows: gallery.csv rows (`CSV_COLUMNS`, numbers as floats).
      cases: the cases, in table order (those without rows are left out).
      methods: the columns, in order.
      header: lines after the title.
    """
    by_key = {(r["case"], r["method"]): r for r in rows}
    shown = [c for c in cases if any((c.name, m) in by_key for m in methods)]
    lines = [
        "# Object-removal gallery",
        "",
        *header,
        "",
        (
            "Colour gap: Delta E*ab between the mean CIELAB colour of the hole and that of the "
            f"known pixels within {RING_WIDTH} px of it (`npsynth.metrics.colour_gap`); lower "
            "= closer to its surroundings. `photo itself`: the gap of the photo as it is (of the "
            "removed object), for scale. Grids: `<case>.png` (input | mask | each fill)."
        ),
        "",
        "| case | objects | hole % | photo itself | " + " | ".join(methods) + " |",
        "|---|---|---:|---:|" + "---:|" * len(methods),
    ]

    def cell(name: str, method: str, key: str, form: str) -> str:
        row = by_key.get((name, method))
        return form.format(row[key]) if row is not None else ""

    for case in shown:
        first = next(by_key[case.name, m] for m in methods if (case.name, m) in by_key)
        cells = [cell(case.name, m, "colour_gap", "{:.1f}") for m in methods]
        lines.append(
            f"| {case.name} | {case.objects} | {first['hole_percent']:.1f} "
            f"| {first['photo_gap']:.1f} | " + " | ".join(cells) + " |"
        )
    means = [[by_key[c.name, m]["colour_gap"] for c in shown if (c.name, m) in by_key]
             for m in methods]  # fmt: skip
    photo_gaps = [
        next(by_key[c.name, m] for m in methods if (c.name, m) in by_key)["photo_gap"]
        for c in shown
    ]
    lines.append(
        "| mean | | | "
        + " | ".join(report.mean_cell(v, "{:.1f}") for v in [photo_gaps, *means])
        + " |"
    )
    if "telea" in methods:
        lines.append(
            "| cases with a gap at most Telea's | | | | "
            + " | ".join(_at_most(by_key, shown, m, "telea") for m in methods)
            + " |"
        )
    lines += [
        "",
        "Seconds per case (the first case of a run includes compilation):",
        "",
        "| case | " + " | ".join(methods) + " |",
        "|---|" + "---:|" * len(methods),
    ]
    for case in shown:
        cells = [cell(case.name, m, "seconds", "{:.2f}") for m in methods]
        lines.append(f"| {case.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _at_most(by_key, cases, method: str, other: str) -> str:
    pairs = [
        (by_key[c.name, method]["colour_gap"], by_key[c.name, other]["colour_gap"])
        for c in cases
        if (c.name, method) in by_key and (c.name, other) in by_key
    ]
    kept = [(a, b) for a, b in pairs if not (math.isnan(a) or math.isnan(b))]
    return f"{sum(a <= b for a, b in kept)} of {len(kept)}" if kept else ""
