"""A training workdir's layout, its config.json, and the checks before a run resumes there.

WORKDIR/config.json          the run's config (`config_to_dict`), rewritten at each start
WORKDIR/checkpoints/<step>/  Orbax checkpoints (`npsynth.training.checkpoints`)
WORKDIR/metrics.jsonl        one JSON record per logged step (`npsynth.training.report`)
WORKDIR/log.txt              notes, time-stamped
WORKDIR/samples/, loss.png   sample grids and the loss curves
WORKDIR/.npsynth             the marker: the folder is npsynth's (`npsynth.folders`); a run
                             holds its lock, so a second run into the workdir is refused
WORKDIR/unreadable-checkpoints/<step>/  checkpoints that could not be restored, set aside
                             by a run that resumed from an older one

A training run writes only in a workdir that is npsynth's (`check_workdir_owned`): a new or
empty folder, one with the marker, or one laid out by a run from before the marker existed
(checkpoints/ beside npsynth's config.json); a run there adds the marker.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path

from npsynth import folders
from npsynth.files import NotRegularFile, atomic_write, check_regular, read_regular

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "log.txt"
CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
LOSS_PLOT = "loss.png"
UNREADABLE_DIR = "unreadable-checkpoints"
WORKDIR_KIND = "training workdir"  # the kind in the workdir's marker

# Differences from the saved config that a resume may carry without a warning.
RESUMABLE_CHANGES = (
    "train.steps", "train.save_every", "train.keep", "train.log_every", "train.sample_every",
    "train.distributed", "data.workers",
)  # fmt: skip


class ConfigMismatchError(ValueError):
    """The saved config of a workdir does not fit the one asked for."""


class ForeignWorkdirError(FileExistsError):
    """A --workdir that holds files npsynth did not write."""


def config_to_dict(config) -> dict:
    """A (nested) config dataclass as JSON-ready dicts (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def unwrap_optional(hint):
    """(inner type, optional?) for `X | None`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def config_from_dict(cls, values: dict):
    """Rebuild a (nested) config dataclass from `config_to_dict` output.

    Raises:
      ConfigMismatchError: `values` has fields `cls` does not know (another code version).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigMismatchError(
            f"config has fields {sorted(unknown)} that {cls.__name__} does not know; it was "
            "written by another version of the code"
        )
    kwargs = {}
    for name, value in values.items():
        hint, _ = unwrap_optional(hints[name])
        if dataclasses.is_dataclass(hint):
            value = config_from_dict(hint, value)
        elif typing.get_origin(hint) is tuple and value is not None:
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def flatten(values: dict, prefix: str = "") -> dict[str, object]:
    """Nested dicts as one dict with "section.field" keys."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def compare_configs(
    saved: dict, current: dict, *, must_match: Sequence[str], ignore: Iterable[str] = ()
) -> list[str]:
    """Differences between two config dicts, as "key: saved -> current" strings.

    Raises:
      ConfigMismatchError: a key under one of the `must_match` prefixes (e.g. "model", the
        architecture a checkpoint can only be restored into) differs.

    Returns:
      the other differences, minus keys under `ignore` prefixes (e.g. "train.steps").
    """
    old, new = flatten(saved), flatten(current)
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k, "<missing>") != new.get(k, "<missing>")]

    def under(key, prefixes):
        return any(key == p or key.startswith(p + ".") for p in prefixes)

    def describe(key):
        return f"{key}: {old.get(key, '<missing>')} -> {new.get(key, '<missing>')}"

    fatal = [k for k in changed if under(k, must_match)]
    if fatal:
        raise ConfigMismatchError(
            f"the checkpoints were written with another architecture "
            f"({'; '.join(map(describe, fatal))}). Resume with the saved settings (see "
            "config.json in the workdir), or train into a new --workdir."
        )
    return [describe(k) for k in changed if not under(k, ignore)]


def check_workdir(workdir) -> Path:
    """`workdir` as a Path, once it is known to be a folder or creatable as one.

    Nothing is created; the training loop makes the folder (and its parents) when missing.

    Raises:
      NotADirectoryError: `workdir`, or a folder above it, is a file; the message names it
        and the `--workdir` flag.
    """
    workdir = Path(workdir)
    for path in (workdir, *workdir.parents):
        if path.is_dir():
            break
        if path.exists():
            culprit = "" if path == workdir else f": {path}"
            raise NotADirectoryError(
                f"--workdir {workdir}{culprit} is a file, not a folder: give a folder (it is "
                "created if missing)"
            )
    return workdir


def _older_workdir(workdir: Path) -> bool:
    """Whether `workdir` is laid out as a run from before the marker left it: checkpoints/
    beside a config.json holding a training config (its model, data and train sections)."""
    try:
        saved = json.loads(read_regular(workdir / CONFIG_FILE, "the workdir's config"))
    except NotRegularFile:
        raise
    except (OSError, ValueError):
        return False
    sections = isinstance(saved, dict) and all(
        isinstance(saved.get(k), dict) for k in ("model", "data", "train")
    )
    return sections and (workdir / CHECKPOINT_DIR).is_dir()


def check_workdir_owned(workdir) -> None:
    """Refuse a `workdir` that is not npsynth's: training there would replace a user's files.

    npsynth's: missing, empty, holding the marker (`npsynth.folders`), or laid out by a run
    from before the marker existed (`_older_workdir`). Nothing is read but its listing and
    those two files, nothing written.

    Raises:
      ForeignWorkdirError: another non-empty folder; the message names a few of its files.
      NotRegularFile: one of npsynth's files there (the marker, config.json, metrics.jsonl,
        log.txt) is not a regular file (a FIFO would block the run).
    """
    workdir = Path(workdir)
    if not workdir.is_dir():
        return
    for name in (folders.MARKER, CONFIG_FILE, METRICS_FILE, LOG_FILE):
        check_regular(workdir / name, "the workdir's file")
    kind = folders.marker_kind(workdir)
    if kind == WORKDIR_KIND or (kind is None and _older_workdir(workdir)):
        return
    if kind is not None:
        raise ForeignWorkdirError(
            f"--workdir {str(workdir)!r} is an npsynth {kind}, not a training workdir; "
            "choose another --workdir"
        )
    entries = sorted(p.name for p in workdir.iterdir())
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ForeignWorkdirError(
            f"--workdir {str(workdir)!r} holds files npsynth did not write ({shown}; no "
            f"{folders.MARKER} marker); train into a new or empty folder, or move them"
        )


def set_aside(workdir, step: int) -> Path:
    """Move the checkpoint of `step` to WORKDIR/unreadable-checkpoints/<step> (kept for a look,
    out of the way of the run that saves that step again); returns where it went."""
    source = Path(workdir) / CHECKPOINT_DIR / str(step)
    target = Path(workdir) / UNREADABLE_DIR / str(step)
    suffix = 1
    while target.exists():
        target = target.with_name(f"{step}.{suffix}")
        suffix += 1
    target.parent.mkdir(exist_ok=True)
    source.rename(target)
    return target


def read_config(workdir) -> dict | None:
    """The saved config.json of `workdir` as dicts, or None when there is none."""
    path = Path(workdir) / CONFIG_FILE
    if not path.exists():
        return None
    return json.loads(read_regular(path, "the workdir's config"))


def write_config(workdir, config) -> Path:
    """Save `config` as `workdir`/config.json (atomically)."""
    text = json.dumps(config_to_dict(config), indent=2) + "\n"
    return atomic_write(Path(workdir) / CONFIG_FILE, text)


def start_step(config, workdir, latest: int | None, *, resume: bool, warn: bool = True) -> int:
    """The step a run in `workdir` starts at: 0, or the newest checkpoint's when resuming.

    Args:
      config: the run's config.
      workdir: the training folder.
      latest: its newest checkpoint step (None: no checkpoint).
      resume: continuing was asked for.
      warn: print the resumable differences from the saved config to stderr.

    Raises:
      FileExistsError: there are checkpoints and `resume` is False.
      ConfigMismatchError: no config.json beside the checkpoints, or another architecture.
    """
    if latest is None:
        return 0
    if not resume:
        raise FileExistsError(
            f"{workdir} already holds checkpoints up to step {latest}; pass --resume to continue "
            "that run, or choose a new --workdir"
        )
    saved = read_config(workdir)
    if saved is None:
        raise ConfigMismatchError(
            f"{workdir} has checkpoints but no {CONFIG_FILE}, so they cannot be checked "
            "against the current settings; train into a new --workdir"
        )
    changes = compare_configs(
        saved, config_to_dict(config), must_match=("model",), ignore=RESUMABLE_CHANGES
    )
    if changes and warn:
        print(
            "warning: resuming with changed settings, so the run will not repeat an "
            f"uninterrupted one: {'; '.join(changes)}",
            file=sys.stderr,
        )
    return latest
