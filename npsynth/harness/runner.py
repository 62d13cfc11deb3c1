"""Evaluate inpainting on a folder of photos, each its own ground truth.

The hole is cut out of every photo (the methods never see its pixels), filled by each of
npsynth's methods (one config per method) and by the classical baselines, and compared with
the original over the hole and over the whole image. The output folder gets
`outputs/<method>/`, `grids/` (input | mask | outputs | truth), `metrics.csv` (one row per
photo and method) and `report.md`, both rewritten after every photo, and `settings.json`:
what decides the scores, so that a resumed run (`resume=True`) keeps only results made with
the same settings.

Photos are named by their path below the folder, suffix kept (`a.png`, `a.jpg`,
`sub/a.png`; `npsynth.harness.checks.list_photos`): the name in metrics.csv, the report
and `--resume`, and, as a PNG file (`checks.output_file`), of the outputs and grids. Every
photo and mask is read and checked, and the output folder checked, before the first photo
is filled; the run's own `outputs/` and `grids/` are never read as photos.

The output folder is npsynth's run folder once it holds npsynth's marker (`npsynth.folders`,
written by the first run there); a folder without it that already holds one of the files or
folders a run writes is refused, so a user's own files are never replaced
(`checks.check_run_folder`). A run holds the folder's lock while it writes: a second run
into the same folder is refused, not merged. A fresh run (no `resume`) replaces the
earlier run's results: its rows and its images in `outputs/` and `grids/` go first, so none
is left that the new report does not list.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from npsynth import files as npfiles
from npsynth import folders, masks, metrics, resize
from npsynth import io as npio
from npsynth import methods as registry
from npsynth.config.inpaint import PyramidConfig, config_for, setting_paths
from npsynth.errors import InputError, Interrupted, as_input_error
from npsynth.harness import checks, filling, report
from npsynth.harness.filling import Filler, groups, run_group
from npsynth.harness.grids import comparison_grid
from npsynth.harness.runs import RunFolder

DEFAULT_HOLE = "center:0.5"  # without masks or a hole kind: the paper's centred hole
SETTINGS_FILE = "settings.json"  # the settings behind metrics.csv, checked on resume
METHODS = tuple(registry.METHODS)  # npsynth's methods: "optimize", "translate"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Photos:
    """Which photos are evaluated and what holes they get."""

    images: Path | str  # a folder of photos, or a glob pattern
    # A folder or glob pattern of masks, paired with the photos in sorted order (photo i gets
    # mask i modulo their count), or one mask file for every photo; each resized to its
    # photo. None: generated holes.
    masks: Path | str | None = None
    hole: str | None = None  # generated hole kind (`npsynth.masks.make_mask`); None: DEFAULT_HOLE
    limit: int | None = None  # only the first N photos
    resize: int | None = None  # downsize each photo so its longest side is N px first
    seed: int = 0  # of the generated holes
    # (K, N): only every N-th photo from the K-th on (1-based), so N hosts split a folder;
    # each photo keeps the hole it gets in the whole run. `npsynth.harness.shards` merges.
    shard: tuple[int, int] | None = None

    @property
    def holes(self) -> str:
        """The holes, in words: the masks' folder or pattern, or the generated kind."""
        return str(self.masks) if self.masks else self.hole or DEFAULT_HOLE


def input_files(photos: Photos, *, skip=()) -> tuple[list[tuple[str, Path]], list[Path] | None]:
    """The photos as (name, path) (`checks.list_photos`; only the first `photos.limit`) and
    the mask files (None: generated holes), never reading `skip` (a run's own outputs).

    Raises:
      InputError: no photos or masks there, or a name clash (the message says which).
    """
    listed = checks.list_photos(photos.images, skip=skip)[: photos.limit]
    mask_paths = checks.list_masks(photos.masks, skip=skip) if photos.masks else None
    return listed, mask_paths


def load_pairs(photos: Photos, *, skip=(), files=None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image [H, W, 3], mask [H, W, 1]) for every photo, masks loaded or generated
    (`read_pairs`; each photo downsized to `photos.resize`, only `photos.shard`'s photos).

    Args:
      photos: which photos and holes.
      skip: folders and files never read as photos (a run's own outputs).
      files: `input_files(photos, skip=skip)` when the caller has it already.

    Raises:
      InputError: an unreadable photo or mask, or a hole that is empty or covers the whole
        photo; the message names the photo and the mask.
    """
    listed, mask_paths = files if files is not None else input_files(photos, skip=skip)
    shard = photos.shard
    return read_pairs(
        listed, mask_paths, hole=photos.hole, seed=photos.seed,
        shape=functools.partial(_resized, longest=photos.resize),
        mine=None if shard is None else lambda index: index % shard[1] == shard[0] - 1,
    )  # fmt: skip


def read_pairs(
    listed: Sequence[tuple[str, Path]],
    mask_paths: Sequence[Path] | None,
    *,
    hole: str | None = None,
    seed: int = 0,
    shape: Callable[[tuple[int, int]], tuple[int, int]] | None = None,
    mine: Callable[[int], bool] | None = None,
    first_index: int = 0,
    at: str = "",
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image [H, W, 3], mask [H, W, 1]) for the photos `listed` as (name, path):
    the one reading of photos and their holes.

    Photo i (counted from `first_index`) gets mask i modulo their count, each mask file read
    once and fitted to each photo (`npsynth.io.fit_mask`), or a generated `hole` (default
    DEFAULT_HOLE; seeded with `seed`, in the photos' order). Every photo and mask is decoded
    and every pair checked (`npsynth.masks.check_mask`) here, before any is filled.

    Args:
      shape: (height, width) of a photo -> the size it is resized to (default: kept).
      mine: whether photo i is read; another's gets only its generated hole, so each photo
        keeps the hole it gets when all are read (default: all are).
      at: said after the photo when a hole is refused (" at 128 px").

    Raises:
      InputError: an unreadable photo or mask, or a hole that is empty or covers the whole
        photo; the message names the photo and the mask.
    """
    rng = np.random.default_rng(seed)
    kind = hole or DEFAULT_HOLE
    out, read = [], {}
    for index, (name, path) in enumerate(listed, start=first_index):
        if mine is not None and not mine(index):  # only its generated hole: rng kept in step
            if not mask_paths:
                with as_input_error():
                    size = npio.image_size(path)
                    size = shape(size) if shape else size
                masks.make_mask(kind, *size, rng=rng)
            continue
        with as_input_error():  # npsynth.io's messages name the file
            image = npio.load_image(path)
        size = shape(image.shape[:2]) if shape else image.shape[:2]
        if tuple(size) != image.shape[:2]:
            image = resize.resize_image(image, size)
        if mask_paths:
            mask_path = mask_paths[index % len(mask_paths)]
            with as_input_error():  # each mask file read once, fitted to each photo
                if mask_path not in read:
                    read[mask_path] = npio.load_mask(mask_path)
                mask = npio.fit_mask(read[mask_path], image.shape[:2], path=mask_path)
            which = f"the mask {str(mask_path)!r}"
        else:
            which = f"the generated hole {kind!r}"
            with as_input_error(f"{which} for photo {name!r}"):
                mask = masks.make_mask(kind, *image.shape[:2], rng=rng)
        with as_input_error(f"{which} for photo {name!r}{at}"):
            masks.check_mask(mask, image.shape)
        out.append((name, image, mask))
    return out


def _resized(shape, longest: int | None) -> tuple[int, int]:
    """(height, width) after downsizing so the longest side is at most `longest`."""
    height, width = int(shape[0]), int(shape[1])
    if not longest or max(height, width) <= longest:
        return height, width
    scale = longest / max(height, width)
    return round(height * scale), round(width * scale)


def configs_for(methods, **fields) -> dict[str, PyramidConfig]:
    """Each method's own config from one set of settings (`npsynth.config.config_for`).

    A method's config gets the fields it has (every method: `scales`, `content`, ...; only
    optimize: `iterations`, `alpha`, ...; only translate: `feature2image_checkpoint`, ...),
    so no config holds a setting that means nothing to its method. A field no method has
    is a ValueError.
    """
    known = {name for m in registry.METHODS.values() for name in setting_paths(m.config)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown settings {', '.join(map(repr, unknown))}")
    configs = {}
    for method in methods:
        if method not in registry.METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        names = setting_paths(registry.METHODS[method].config)
        configs[method] = config_for(method, **{k: v for k, v in fields.items() if k in names})
    return configs


@dataclasses.dataclass(frozen=True, kw_only=True)
class Evaluation:
    """A folder evaluation: the photos, npsynth's methods and the baselines to run."""

    photos: Photos
    configs: Mapping[str, PyramidConfig]  # npsynth method -> its config, in report order
    baselines: tuple[str, ...] = ()  # names of `npsynth.harness.baselines.BASELINES`
    command: str = ""  # the command line, for the report
    # Photos filled at once by each npsynth method (`npsynth.inpaint_batch`: one L-BFGS per
    # photo side by side, split over the local devices); consecutive photos of one size and
    # worked region go together. 1: one at a time. Scores may differ in the last digits
    # (another order of float sums); seconds are the batch's over its photos.
    batch: int = 1


def fillers(evaluation: Evaluation) -> dict[str, Filler]:
    """Method or baseline name -> fn(image with hole blanked, mask) -> filled image
    (`filling.fillers`)."""
    return filling.fillers(evaluation.configs, evaluation.baselines)


def batch_fillers(evaluation: Evaluation) -> dict[str, Callable]:
    """npsynth method -> fn(blanked images, masks) -> `InpaintResult`s (`inpaint_batch`)."""
    from npsynth.api import inpaint_batch

    return {
        method: functools.partial(inpaint_batch, config=config)
        for method, config in evaluation.configs.items()
    }


def score_outputs(outputs: Mapping[str, np.ndarray], truth, mask) -> dict[str, dict[str, float]]:
    """Method -> every measure of metrics.csv (`report.METRIC_NAMES`) for its output:
    `npsynth.metrics.report_metrics` with the pretrained VGG-19 (loaded once per process)."""
    from npsynth import hub

    return metrics.report_metrics(outputs, truth, mask, vgg=hub.default_vgg())


def run_settings(evaluation: Evaluation) -> dict:
    """What decides a folder run's scores (not the photo limit): a resumed run must match.

    `config` maps each npsynth method to its config's fields (as JSON would give them back).
    """
    photos = evaluation.photos
    return {
        "images": str(photos.images),
        "masks": str(photos.masks) if photos.masks else None,
        "hole": None if photos.masks else photos.hole or DEFAULT_HOLE,
        "resize": photos.resize,
        "seed": photos.seed,
        "methods": list(evaluation.configs),
        "baselines": list(evaluation.baselines),
        "config": {
            method: report.json_fields(config) for method, config in evaluation.configs.items()
        },
    }


def run_folder(out: Path) -> RunFolder:
    """The folder run's results in `out`: settings.json (`checks.SETTINGS_KEYS`) and
    metrics.csv (`report.read_csv`)."""
    return RunFolder(path=Path(out), settings_file=SETTINGS_FILE, required=checks.SETTINGS_KEYS)


def changed_settings(settings: dict, saved: dict) -> list[str]:
    """What differs between a folder run's settings and the saved ones, in words: the photos
    and holes, and the config of each method both runs have (a resumed run may add or drop
    methods and baselines)."""
    shared = set(settings["methods"] + settings["baselines"]) & set(
        saved.get("methods", []) + saved.get("baselines", [])
    )
    changed = sorted(
        k
        for k in settings.keys() | saved.keys()
        if k not in ("methods", "baselines", "config") and settings.get(k) != saved.get(k)
    )
    return changed + [
        f"config of {m}"
        for m in sorted(shared & set(settings["config"]))
        if settings["config"][m] != saved.get("config", {}).get(m)
    ]


def earlier_rows(out: Path, settings: dict, resume: bool) -> list[dict]:
    """The rows of out/metrics.csv that may be kept when resuming a run with `settings`
    (`RunFolder.resumed_rows` with `changed_settings`; `evaluate` keeps the rows of the
    methods and baselines both runs have).

    Raises:
      InputError: resuming where the saved settings differ (photos, holes, or the config of
        a method both runs have), were never saved, or the saved files cannot be read.
    """
    return run_folder(out).resumed_rows(settings, resume, differences=changed_settings)[1]


def clear_outputs(out: Path) -> None:
    """Remove the images an earlier run wrote in `out`'s `outputs/` and `grids/` (PNG files;
    folders left empty go too), so a fresh run leaves none that its report does not list."""
    for folder in own_outputs(out):
        if not folder.is_dir():
            continue
        for file in folder.rglob("*.png"):
            if file.is_file() and not file.is_symlink():
                file.unlink()
        for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
            if not any(sub.iterdir()):
                sub.rmdir()


def report_header(evaluation: Evaluation, rows: list[dict]) -> list[str]:
    """The report's lines on the command, the data, the methods, the machine and the configs."""
    photos, count = evaluation.photos, len({r["image"] for r in rows})
    baselines_text = (
        f"; baselines: {', '.join(evaluation.baselines)}" if evaluation.baselines else ""
    )
    lines = [
        f"- command: `{evaluation.command}`",
        f"- data: {count} photo{'' if count == 1 else 's'} from `{photos.images}`"
        + (f", downsized to {photos.resize} px" if photos.resize else "")
        + f", holes: {photos.holes}",
        f"- methods: {', '.join(evaluation.configs) or 'none'}{baselines_text}",
        f"- machine: {report.machine()}",
        report.config_line(evaluation.configs),
    ]
    if evaluation.batch > 1:
        lines.append(
            f"- batch: up to {evaluation.batch} photos at once per method (seconds: the "
            "batch's time over its photos)"
        )
    return lines


def own_outputs(out: Path) -> tuple[Path, Path]:
    """The folders of `out` that a folder run writes images to: never read as its photos."""
    return out / "outputs", out / "grids"


def planned_files(out: Path, names, methods) -> list[Path]:
    """Every file a folder run in `out` writes, for photos `names` and `methods`."""
    files = [out / SETTINGS_FILE, out / "metrics.csv", out / "report.md"]
    for name in names:
        image = checks.output_file(name)
        files += [out / "outputs" / method / image for method in methods]
        files.append(out / "grids" / image)
    return files


def evaluate(evaluation: Evaluation, out: Path, *, resume: bool = False) -> Path:
    """Run every method and baseline on every photo; write the results under `out`.

    With `resume`, the scores and outputs already in `out` from the same `run_settings` are
    kept and only the missing photos, methods and baselines are run (so a baseline can be
    added to a finished run). Returns the report's path.

    Before the first photo is filled, every photo and mask is read and checked, and `out`
    is checked (writable, no output replacing an input); `out`'s own `outputs/` and
    `grids/` are never read as photos (so `out` may be the photos' folder).

    Raises:
      InputError: a bad photo, mask or output folder, settings that differ on resume, or a
        method that cannot fill a photo (the message names the photo).
      Interrupted: Ctrl-C; the photos scored so far are kept (its message says so).
      FolderInUseError: another run is writing in `out` (`npsynth.folders`).
    """
    out = Path(out)
    files = input_files(evaluation.photos, skip=own_outputs(out))
    methods = [*evaluation.configs, *evaluation.baselines]
    writes = planned_files(out, [name for name, _ in files[0]], methods)
    checks.check_output_folder(out, writes)
    checks.check_run_folder(out, writes)
    inputs = {path: f"the photo {name!r} of --images" for name, path in files[0]}
    inputs |= {path: "the mask" for path in files[1] or ()}
    checks.check_not_inputs(writes, inputs, given=out)
    items = load_pairs(evaluation.photos, files=files)
    settings = run_settings(evaluation)
    rows = earlier_rows(out, settings, resume)
    fns = fillers(evaluation)
    with folders.claimed(out, checks.RUN_FOLDER, flag="--out"):  # one run at a time
        return _fill(evaluation, out, items, settings, rows, fns, resume=resume)


def _fill(evaluation: Evaluation, out: Path, items, settings, rows, fns, *, resume) -> Path:
    """`evaluate`'s work once everything is checked and `out` is held."""
    from tqdm.auto import tqdm

    if not resume and (out / "metrics.csv").exists():  # The earlier run's images go too.
        print(f"note: replacing the results in {out} (--resume keeps them)", file=sys.stderr)
        clear_outputs(out)
    (out / "outputs").mkdir(parents=True, exist_ok=True)
    (out / "grids").mkdir(exist_ok=True)
    report_path = out / "report.md"
    if not resume:  # Old rows must not outlive the settings they were made with.
        report.write_csv(out / "metrics.csv", rows)
    run_folder(out).write_settings(settings)

    def kept_methods(name):  # those that scored `name` before and whose output is still there
        file = checks.output_file(name)
        scored = {r["method"] for r in rows if r["image"] == name}
        return {m for m in scored & set(fns) if (out / "outputs" / m / file).is_file()}

    missing = {name: set(fns) - kept_methods(name) for name, *_ in items}
    rows = [
        r for r in rows
        if r["image"] in missing and r["method"] in fns and r["method"] not in missing[r["image"]]
    ]  # fmt: skip
    done = [name for name in missing if not missing[name]]
    if rows:
        partial = sorted({m for n in missing if missing[n] != set(fns) for m in missing[n]})
        more = f"; running {', '.join(partial)} where they are missing" if partial else ""
        print(f"resuming: {len(done)} of {len(items)} photos already scored in {out}{more}")
    todo = [item for item in items if missing[item[0]]]

    def write_report():
        text = report.render_report(rows, header=report_header(evaluation, rows))
        npfiles.atomic_write(report_path, text)

    try:
        batch_fns = batch_fillers(evaluation) if evaluation.batch > 1 else None
        with tqdm(total=len(todo), desc="images", unit="img") as progress:
            for group in groups(todo, evaluation.batch, evaluation.configs):
                names = ", ".join(repr(name) for name, *_ in group)
                names = f"photo{'s' if len(group) > 1 else ''} {names}"
                needed = set().union(*(missing[name] for name, *_ in group))
                group_fns = {m: fn for m, fn in fns.items() if m in needed}
                try:
                    results = run_group(
                        [g[1] for g in group], [g[2] for g in group], group_fns, batch_fns
                    )
                except ValueError as error:  # npsynth's own "cannot fill this" messages
                    raise InputError(f"{names}: {error}") from error
                for (name, image, mask), result in zip(group, results):
                    rows = [r for r in rows if not (r["image"] == name and r["method"] in needed)]
                    outputs = {m: r[0] for m, r in result.items()}
                    scores = score_outputs(outputs, image, mask)
                    for method, (filled, seconds, scales) in result.items():
                        file = out / "outputs" / method / checks.output_file(name)
                        npio.save_image(file, filled)
                        rows.append(
                            {"image": name, "method": method, **scores[method],
                             "seconds": seconds, "scale_seconds": scales}
                        )  # fmt: skip
                    file = checks.output_file(name)
                    every = {  # in the run's order, kept outputs read back
                        m: outputs[m] if m in outputs else npio.load_image(out / "outputs" / m / file)
                        for m in fns
                    }  # fmt: skip
                    npio.save_image(out / "grids" / file, comparison_grid(image, mask, every))
                report.write_csv(out / "metrics.csv", rows)  # after every group: nothing lost
                write_report()
                progress.update(len(group))
    except KeyboardInterrupt as stop:
        count = len({r["image"] for r in rows})
        kept = f"{count} photo done is" if count == 1 else f"{count} photos done are"
        raise Interrupted(
            f"interrupted; {kept} kept in {out}; rerun with --resume to continue"
        ) from stop
    if not todo:  # Every photo was scored before: the report still names this command (and
        report.write_csv(out / "metrics.csv", rows)  # the rows of dropped methods go)
        write_report()
    print(f"wrote {report_path}\n")
    # A folder name not in UTF-8 is shown as U+FFFD.
    print(npfiles.read_regular(report_path, "the run's report", errors="replace"))
    return report_path


def inpaint_file(image_path, mask_path, out, config: PyramidConfig):
    """Fill one photo file's hole (from a mask file) and save it to `out`.

    Everything is checked before the fill: the photo and the mask are read (the mask lined
    up with the photo by `npsynth.io.load_mask_for`), the mask has a hole and known pixels,
    `out` can be written and is neither input (by path, through symlinks, or by inode). A
    symlink `out` is written through, to its target. The output keeps the photo's EXIF
    (its orientation applied to the pixels, the tag dropped), colour profile and 16-bit
    greyscale depth where its format allows (`npsynth.io.save_image(like=...)`).

    Returns:
      the `InpaintResult`.

    Raises:
      InputError: any of the above, or a photo the method cannot fill; the message names
        the file or flag.
    """
    from npsynth.api import inpaint

    target = checks.check_output_file(out)
    inputs = {Path(image_path): "the photo (--image)", Path(mask_path): "the mask (--mask)"}
    checks.check_not_inputs([target], inputs, given=out)
    with as_input_error():  # npsynth.io's messages name the files
        # The photo (with its EXIF, ICC profile and bit depth), and the mask drawn for it
        # (EXIF orientation rules, resized, checked), each file opened once (a photo may be a
        # pipe: --image <(cat p.png)).
        image, mask, info = npio.load_photo_and_mask(image_path, mask_path)
    checks.check_output_size(target, image.shape[1], image.shape[0], given=out)
    try:
        result = inpaint(image, mask, config=config, progress=True)
    except ValueError as error:  # npsynth's own "cannot fill this" messages
        raise InputError(f"{str(image_path)!r}: {error}") from error
    npio.save_image(target, result.image, like=info)  # as the photo: EXIF, profile, depth
    return result
