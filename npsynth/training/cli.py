"""The command line of the training jobs (`python -m train.content`, `train.image2feature`,
`train.feature2image`): the run flags, the config flags, and the exit codes.

The config flags come from the job's config dataclass (`npsynth.config.flags`); their
defaults are a preset: the config saved in the workdir with `--resume`, else `tiny()` with
`--tiny`, else the class defaults. Only the flags given change it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path
from typing import Literal

import tyro

from npsynth import compile_cache
from npsynth.config import flags
from npsynth.export import ExportPathError, check_export_path
from npsynth.files import NotRegularFile
from npsynth.training import loop
from npsynth.training.data import DatasetError
from npsynth.training.trainers import Trainer
from npsynth.training.workdir import (
    ConfigMismatchError,
    check_workdir,
    config_from_dict,
    read_config,
)


def _help(text: str) -> dict:
    return {"help": text}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunFlags:
    """What to do in the workdir."""

    workdir: Path = dataclasses.field(metadata=_help("folder for checkpoints and logs"))
    resume: bool = dataclasses.field(
        default=False, metadata=_help("continue from the newest checkpoint, with its config")
    )
    tiny: bool = dataclasses.field(
        default=False, metadata=_help("start from the tiny test preset (seconds per run)")
    )
    progress: bool = dataclasses.field(default=True, metadata=_help("show a progress bar"))
    export: bool = dataclasses.field(
        default=False, metadata=_help("export the newest checkpoint's network and exit")
    )
    export_to: Path | None = dataclasses.field(
        default=None, metadata=_help("export path; None: the network's .npz in WORKDIR")
    )
    export_dtype: Literal["float16", "float32", "int8"] = dataclasses.field(
        default="float16", metadata=_help("precision of the exported weights")
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Preset:
    """The run flags that choose the config preset, read before the others."""

    workdir: Path | None = None
    resume: bool = False
    tiny: bool = False


@functools.cache
def command_class(config_cls: type) -> type:
    """A dataclass with the run flags and the config: everything one command line sets."""
    return dataclasses.make_dataclass(
        "Command", [("run", RunFlags), ("config", config_cls)], frozen=True, kw_only=True
    )


def preset(trainer: Trainer, argv) -> object:
    """The config the flags start from: saved (`--resume`), `tiny()` (`--tiny`) or default."""
    chosen, _ = flags.parse(Preset, argv, known_only=True, add_help=False)
    saved = read_config(chosen.workdir) if chosen.resume and chosen.workdir else None
    if saved is not None:
        base = config_from_dict(trainer.config_cls, saved)
    elif chosen.tiny:
        base = trainer.config_cls.tiny()
    else:
        base = trainer.config_cls()
    # One photo source: --images replaces a saved or default TFDS source, and --tfds a folder.
    given = {arg.partition("=")[0] for arg in argv if arg.startswith("--")}
    for flag, other in (("--images", "tfds"), ("--tfds", "images")):
        if flag in given and f"--{other}" not in given:
            base = dataclasses.replace(base, data=dataclasses.replace(base.data, **{other: None}))
    return base


def parse_args(trainer: Trainer, argv, *, prog: str, description: str) -> tuple[RunFlags, object]:
    """(the run flags, the config) of a command line; exits with a message on bad flags."""
    argv = list(argv)
    command = command_class(trainer.config_cls)
    default = command(run=RunFlags(workdir=tyro.MISSING), config=preset(trainer, argv))
    parsed = flags.parse(command, argv, default=default, prog=prog, description=description)
    return parsed.run, parsed.config


def main(trainer: Trainer, argv=None, *, prog: str, description: str) -> int:
    """Train or export as the command line says. Returns the exit code: 0 done, 2 a bad
    dataset, workdir (not npsynth's, in use, or holding a FIFO), checkpoint or export path (the message on
    stderr; a refused run writes nothing), 130 stopped (Ctrl-C/SIGTERM)."""
    argv = sys.argv[1:] if argv is None else argv
    compile_cache.enable()
    try:
        run, cfg = parse_args(trainer, argv, prog=prog, description=description)
        check_workdir(run.workdir)
        if run.export_to is not None:
            check_export_path(run.export_to)
        if run.export:
            path = loop.export(trainer, run.workdir, run.export_to, dtype=run.export_dtype)
            size = path.stat().st_size / 1e6
            print(f"wrote {path} ({size:.1f} MB) and {path.with_suffix('.json')}")
            return 0
        result = loop.run(trainer, cfg, run.workdir, resume=run.resume, progress=run.progress)
    except (
        ExportPathError,
        DatasetError,
        ConfigMismatchError,
        FileExistsError,
        FileNotFoundError,
        NotADirectoryError,
        NotRegularFile,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 130 if result["stopped"] else 0


def entry_points(trainer: Trainer, *, prog: str, description: str):
    """(run, export, parse_args, main) of one training command (`python -m train.*`), bound
    to `trainer`; each `train/<network>.py` only names its trainer, program and description."""

    def run(cfg, workdir, **kwargs) -> dict:
        """`npsynth.training.loop.run` for this network (see there for the arguments)."""
        return loop.run(trainer, cfg, workdir, **kwargs)

    def export(workdir, out=None, *, dtype: str = "float16"):
        """The newest checkpoint's generator in `workdir` as .npz (`loop.export`)."""
        return loop.export(trainer, workdir, out, dtype=dtype)

    def parse(argv=None):
        """(run flags, config) of a command line (`parse_args`)."""
        argv = sys.argv[1:] if argv is None else argv
        return parse_args(trainer, argv, prog=prog, description=description)

    def entry(argv=None) -> int:
        """Train or export as the command line says; returns the exit code (`main`)."""
        return main(trainer, argv, prog=prog, description=description)

    return run, export, parse, entry
