"""Checks the `eval/` command lines run before the work starts (raising `InputError`).

- Photos of a folder get unique, stable names (`list_photos`): their path below the folder
  (or below a glob pattern's fixed part), suffix kept, e.g. `a.png`, `a.jpg`, `sub/a.png`.
  `output_file` is the PNG file a name's outputs and grid are written to.
- A run's own output folders are never read as its photos (`list_photos(skip=...)`).
- No output replaces an input (`check_not_inputs`): compared by resolved path (relative
  paths, symlinks) and, where the output exists, by device and inode (hard links).
- The destination can be written (`check_output_file`, `check_output_folder`): the nearest
  folder that exists is a folder and takes a test file (created and removed at once);
  nothing is created, so a refused run leaves nothing behind.
- A run folder is npsynth's only when it holds npsynth's marker (`npsynth.folders`), or
  the settings.json of a run from before the marker existed (`check_run_folder`); in any
  other folder a run writes only where nothing is yet, so a user's own files stay as they
  are (`--out` may be the photos' folder).

Messages name the path the user gave, never a temporary file.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from npsynth import files as npfiles
from npsynth import folders
from npsynth import io as npio
from npsynth.errors import InputError, as_input_error

RUN_FOLDER = "evaluation run folder"  # the kind in a run folder's marker
# Keys of every settings.json a folder run writes (`npsynth.harness.runner.run_settings`).
SETTINGS_KEYS = ("images", "masks", "hole", "seed", "methods", "baselines", "config")


def photo_names(paths: Sequence[Path], root) -> list[str]:
    """Each path's name: its path below `root` with "/" between folders, suffix kept (a path
    not below `root` keeps its whole path)."""
    root = Path(os.path.abspath(root))
    names = []
    for path in paths:
        absolute = Path(os.path.abspath(path))
        names.append(
            absolute.relative_to(root).as_posix()
            if absolute.is_relative_to(root)
            else Path(path).as_posix()
        )
    return names


def output_file(name: str) -> str:
    """The PNG file (below a run's `outputs/<method>/` and `grids/`) of the photo `name`:
    the name itself for a PNG photo, else the name with ".png" added (`a.jpg.png`)."""
    return name if name.lower().endswith(".png") else f"{name}.png"


def _under(path: Path, skip: Sequence[Path]) -> Path | None:
    """The entry of `skip` (folders or files, resolved) that `path` is or lies under."""
    resolved = Path(os.path.realpath(path))
    return next((s for s in skip if resolved == s or resolved.is_relative_to(s)), None)


def _resolved(paths: Iterable) -> list[Path]:
    return [Path(os.path.realpath(p)) for p in paths]


def list_photos(images, *, skip: Iterable = (), flag: str = "--images") -> list[tuple[str, Path]]:
    """(name, path) of every photo in the folder or glob pattern `images`, sorted by path.

    Args:
      images: a folder (searched with its sub-folders) or a glob pattern (`npsynth.files.list_images`).
      skip: folders and files that are never read as photos: the run's own outputs. A
        folder `images` inside one of them is refused (the run would rewrite its photos).
      flag: the flag that gave `images`, for messages.

    Raises:
      InputError: no such folder, no photos, `images` inside a skipped folder, a photo
        name that is not UTF-8 (`check_text_name`), or two photos whose outputs would be
        the same file.
    """
    skip = _resolved(skip)
    root = npfiles.glob_root(images) if npfiles.is_glob_pattern(images) else Path(images)
    inside = _under(root, skip)
    if inside is not None and root.exists():
        raise InputError(
            f"{flag} {str(images)!r} lies in {str(inside)!r}, which this run writes; "
            "pass another --out"
        )
    with as_input_error():
        found = npfiles.list_images(images, flag=flag, role="photo")
    paths = [path for path in found if _under(path, skip) is None]
    if not paths:
        raise InputError(
            f"{flag} {str(images)!r} holds no photos besides this run's own outputs "
            f"({', '.join(map(str, skip))})"
        )
    names = photo_names(paths, root)
    for name in names:
        check_text_name(name, flag=flag, given=images)
    by_output: dict[str, str] = {}
    for name in names:
        other = by_output.setdefault(output_file(name), name)
        if other != name:
            raise InputError(
                f"photos {other!r} and {name!r} of {flag} {str(images)!r} would both be "
                f"written as {output_file(name)!r}; rename one"
            )
    return list(zip(names, paths))


def check_text_name(name: str, *, flag: str = "--images", given="") -> None:
    """Refuse a photo name that is not text (bytes of a file name that are not UTF-8, read
    as surrogates by `os.fsdecode`): metrics.csv, report.md and settings.json name photos
    in UTF-8, so such a name could be neither written nor read back.

    Raises:
      InputError: naming the file by its bytes.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        raise InputError(
            f"{flag} {str(given)!r}: the photo name {raw!r} is not UTF-8 text, so the "
            "report and metrics.csv cannot name it; rename the file"
        ) from None


def list_masks(masks, *, skip: Iterable = (), flag: str = "--masks") -> list[Path]:
    """The mask files of a folder or glob pattern (sorted), or the one mask file `masks`.

    Raises:
      InputError: no such file or folder, no masks, or a mask among the run's own outputs
        (`skip`: they are rewritten as it goes).
    """
    with as_input_error():
        # A path that exists and is no folder is one mask file (read and checked as one,
        # so a pipe or a FIFO is named as such), else a folder or a glob pattern.
        one = os.path.exists(masks) and not os.path.isdir(masks)
        paths = [Path(masks)] if one else npfiles.list_images(masks, flag=flag, role="mask")
    skip = _resolved(skip)
    for path in paths:
        inside = _under(path, skip)
        if inside is not None:
            raise InputError(
                f"{flag} {str(masks)!r}: the mask {str(path)!r} lies in {str(inside)!r}, "
                "which this run writes; pass another --out"
            )
    return paths


def same_file(a, b) -> bool:
    """Whether paths `a` and `b` name one file: the same resolved path (relative parts and
    symlinks followed), or for existing files the same device and inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_not_inputs(
    outputs: Iterable, inputs: Mapping[Path, str], *, flag: str = "--out", given=None
) -> None:
    """Refuse to write any of `outputs` where it would replace one of `inputs`.

    Args:
      outputs: the files the run will write.
      inputs: input file -> what it is, for the message (e.g. "the photo (--image)").
      flag, given: the flag and the path the user gave, for the message.

    Raises:
      InputError: an output is one of the inputs (same resolved path, or same device and inode).
    """
    by_path: dict[str, Path] = {}
    by_inode: dict[tuple[int, int], Path] = {}
    for path in inputs:
        by_path[os.path.realpath(path)] = Path(path)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        by_inode[stat.st_dev, stat.st_ino] = Path(path)
    for output in outputs:
        clash = by_path.get(os.path.realpath(output))
        if clash is None and os.path.exists(output):
            stat = os.stat(output)
            clash = by_inode.get((stat.st_dev, stat.st_ino))
        if clash is not None:
            named = str(given if given is not None else output)
            where = "" if given is None or Path(given) == Path(output) else f" (its {output})"
            raise InputError(
                f"{flag} {named!r}{where} would replace {inputs[clash]} {str(clash)!r}; "
                "write the output somewhere else"
            )


def _nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _check_can_create_in(folder: Path, *, flag: str, given) -> None:
    """`folder`, or the nearest of its parents that exists, is a folder that takes a file."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise InputError(
            f"cannot write {flag} {str(given)!r}: {str(existing)!r} is a file, not a folder"
        )
    probe = existing / f".npsynth-write-check-{uuid.uuid4().hex}"
    try:
        with open(probe, "xb"):
            pass
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        raise InputError(
            f"cannot write {flag} {str(given)!r}: {reason} in folder {str(existing)!r}"
        ) from error
    probe.unlink(missing_ok=True)


def check_output_file(path, *, flag: str = "--out", image: bool = True) -> Path:
    """Check that the file `path` can be written, before the work starts; returns the file
    to write: `path` with symlinks followed (a link is written through, to its target).

    Args:
      path: the output file the user gave.
      image: the file is an image, so its extension must be one `npsynth.io.save_image`
        writes at any size (`npsynth.io.WRITE_FORMATS`).

    Raises:
      InputError: `path` is a folder, sits under a file, cannot be created (permissions, a
        read-only file system), or has no image extension npsynth writes.
    """
    given = Path(path)
    target = Path(os.path.realpath(given))
    if target.is_dir():
        raise InputError(
            f"{flag} {str(path)!r} is a folder; give a file name"
            + (", e.g. filled.png" if image else "")
        )
    if image and target.suffix.lower() not in npio.WRITE_FORMATS:
        raise InputError(f"{flag} {str(path)!r}: {npio.write_formats_hint(target.suffix)}")
    _check_can_create_in(target.parent, flag=flag, given=path)
    return target


def check_output_size(path, width: int, height: int, *, flag: str = "--out", given=None) -> None:
    """Check that the format of the image file `path` holds a `width` x `height` image
    (`npsynth.io.MAX_SIDES`: JPEG, WebP), before the work starts; `given`: the name the
    user gave (default `path`).

    Raises:
      InputError: naming `flag`, the format, its limit and the size.
    """
    problem = npio.size_problem(path, width, height)
    if problem is not None:
        raise InputError(f"{flag} {str(given if given is not None else path)!r}: {problem}")


def check_output_folder(folder, files: Iterable = (), *, flag: str = "--out") -> None:
    """Check that the folder `folder` and the `files` a run writes in it can be written,
    before the work starts (nothing is created).

    Raises:
      InputError: `folder` is a file or sits under one; one of `files` is a folder or needs
        a folder where a file is; or a folder cannot take new files.
    """
    folder = Path(folder)
    if os.path.lexists(folder) and not folder.is_dir():
        raise InputError(f"{flag} {str(folder)!r} is a file; give a folder for the results")
    _check_can_create_in(folder, flag=flag, given=folder)
    checked = {folder}
    for file in map(Path, files):
        if file.is_dir():
            raise InputError(
                f"cannot write {flag} {str(folder)!r}: {str(file)!r} is a folder where this "
                "run writes a file"
            )
        parent = _nearest_existing(file.parent)
        if parent in checked:
            continue
        checked.add(parent)
        if not parent.is_dir():
            raise InputError(
                f"cannot write {flag} {str(folder)!r}: {str(parent)!r} is a file where this "
                "run needs a folder"
            )
        _check_can_create_in(parent, flag=flag, given=folder)


def is_settings(value) -> bool:
    """Whether `value` (a settings.json's contents) is the settings of an npsynth folder run."""
    return isinstance(value, dict) and all(key in value for key in SETTINGS_KEYS)


def _older_run(folder: Path) -> bool:
    """Whether `folder` holds a run written before the marker existed: its settings.json."""
    try:
        return is_settings(json.loads(npfiles.read_regular(folder / "settings.json", "settings")))
    except npfiles.NotRegularFile:
        raise
    except (OSError, ValueError):
        return False


def check_run_folder(out, files: Iterable = (), *, flag: str = "--out") -> None:
    """Refuse to write a run into `out` where it would replace files npsynth did not write.

    `out` is npsynth's run folder when it holds the marker (or an older run's settings.json);
    a run there may replace what an earlier run wrote. Any other folder keeps what it holds:
    a run is refused when one of the entries it writes directly in `out` (`files`' first
    parts below `out`: settings.json, metrics.csv, report.md, outputs, grids) is there.

    Raises:
      InputError: such a clash (the message names the entries), or `out` is another kind of
        npsynth folder (a training workdir).
    """
    out = Path(out)
    if not out.is_dir():
        return
    kind = folders.marker_kind(out)
    if kind == RUN_FOLDER:
        return
    if kind is not None:
        raise InputError(f"{flag} {str(out)!r} is an npsynth {kind}; choose another {flag}")
    if _older_run(out):
        return
    entries = dict.fromkeys(Path(f).relative_to(out).parts[0] for f in files)
    there = [name for name in entries if os.path.lexists(out / name)]
    if there:
        raise InputError(
            f"{flag} {str(out)!r} already holds {', '.join(there)}, not written by npsynth "
            f"(no {folders.MARKER} marker there); choose a new or empty {flag}, or move them"
        )


# Checks of a command's settings (run in its dataclass's `__post_init__`): each message names
# the flag ("--limit: must be at least 1, got -1"), as the command line reports it.


def check_at_least(low: int, **values) -> None:
    """Refuse a value below `low` (None: not set); `values` are by field name.

    Raises:
      ValueError: "--name: must be at least LOW, got 'VALUE'" for the first one below (the
        words of the argparse types in `npsynth.cli.errors`).
    """
    for name, value in values.items():
        for item in value if isinstance(value, tuple) else (value,):
            if item is not None and item < low:
                words = "must be 0 or more" if low == 0 else f"must be at least {low}"
                got = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
                raise ValueError(f"{flag_name(name)}: {words}, got {got!r}")


def check_hole_kind(hole: str | None, *, name: str = "hole") -> None:
    """Refuse a generated hole kind that `npsynth.masks.make_mask` does not make (tried once
    on a small image); None: not set."""
    from npsynth import masks

    if hole is None:
        return
    try:
        masks.make_mask(hole, 64, 64, rng=0)
    except ValueError as error:
        raise ValueError(f"{flag_name(name)}: {' '.join(str(error).split())}") from None


def check_not_both(**values) -> None:
    """Refuse two settings given together that exclude each other (None or False: not set)."""
    given = [name for name, value in values.items() if value not in (None, False)]
    if len(given) > 1:
        first, second = map(flag_name, given[:2])
        raise ValueError(f"{second}: not allowed with argument {first}")


def flag_name(field: str) -> str:
    """The command-line flag of a settings field: "grid_rows" -> "--grid-rows"."""
    return "--" + field.replace("_", "-")
