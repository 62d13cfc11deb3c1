"""Inpaint a photo, a folder of photos, or the built-in demo, and report how good it is.

  python -m eval.inpaint --demo                                   # built-in photo
  python -m eval.inpaint --image photo.jpg --mask mask.png --out filled.png
  python -m eval.inpaint --images DIR [--masks DIR | --hole center:0.5] --out DIR [--compare]
  python -m eval.inpaint --images DIR --out DIR --method optimize,translate --feature2image F2I.npz

`--method` picks npsynth's methods (folder mode runs each, the other modes the first); each
setting of their configs is a flag (`--scales 64,128,256`, `--levels 1`). Folder runs,
`--resume`, `--shard` and `--merge`: npsynth/cli/inpaint.py.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Annotated

from npsynth.cli import inpaint as modes
from npsynth.cli import values
from npsynth.cli.errors import main_errors
from npsynth.cli.settings import given_settings, method_configs, preset_method, settings_flags
from npsynth.config import flags
from npsynth.errors import as_input_error

PROG = "python -m eval.inpaint"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunFlags:
    """What to inpaint, where to write it, and how."""

    demo: bool = False  # inpaint a built-in photo (the default)
    image: Path | None = None  # one photo to inpaint (with --mask and --out)
    images: Path | None = None  # a folder of photos to evaluate on, or a quoted glob pattern
    # hole mask file for --image (white/non-zero = hole); with --images, one for every photo
    mask: Path | None = None
    # folder (or quoted glob pattern, e.g. 'masks/hole20-30_*.png') of masks for --images
    masks: Path | None = None
    # generated hole for --images/--demo: center[:FRACTION], boxes, strokes (None: center:0.5)
    hole: Annotated[str | None, values.HOLE] = None
    # output file (--image; a symlink is written through) or folder (--images, --demo)
    out: Path | None = None
    limit: Annotated[int | None, values.COUNT] = None  # use only the first N photos of --images
    # downsize each photo of --images so its longest side is N px first
    resize: Annotated[int | None, values.COUNT] = None
    # npsynth method(s): optimize, translate, or both as optimize,translate (None: the
    # preset's method, else optimize)
    method: str | None = None
    # named settings to start from: default, fast, paper, authors, tiny, translate (npsynth.presets)
    preset: str | None = None
    seed: Annotated[int, values.SEED] = 0  # seed of generated holes
    compare: bool = False  # also run the classical baselines
    # folder mode: keep what is already scored in --out (same settings) and do the rest
    resume: bool = False
    baselines: str | None = None  # baselines for --compare, comma-separated (None: all)
    # folder mode: fill only every N-th photo from the K-th on (K/N, or auto)
    shard: Annotated[tuple[int, int] | None, values.SHARD] = None
    # folder mode: fill up to N photos of one size at once (jax.vmap over the devices)
    batch: Annotated[int | None, values.COUNT] = None
    # merge the folder runs DIR... (e.g. one per --shard) into --out: one report
    merge: tuple[Path, ...] | None = None


def parse_args(argv=None) -> modes.Args:
    """The command line's flags; a bad one exits 2 with one line naming it."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = dataclasses.make_dataclass(
        "Command", [("run", RunFlags), ("settings", settings_flags())], frozen=True
    )
    parsed = flags.parse(command, argv, prog=PROG, description=__doc__.split("\n")[0],
                         one_line_errors=True, flag_pairs=False)  # fmt: skip
    modes.check_flags(parsed.run)
    methods = modes.methods_of(parsed.run.method or preset_method(parsed.run.preset))
    return modes.Args(parsed.run, methods, given_settings(parsed.settings, argv))


def configs_from(args: modes.Args) -> dict:
    """Each method given, with its own config (the preset's, changed by the flags given)."""
    return method_configs(args.methods, args.run.preset, args.settings)


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done; 2 for a bad flag or setting, 1 for a bad photo, mask or destination,
    130 after Ctrl-C, each with one line on stderr (`npsynth.cli.errors`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = f"{PROG} {shlex.join(argv)}"
    if args.run.merge is not None:
        return modes.merge(args.run, command)
    with as_input_error(code=2):
        configs = configs_from(args)
    return modes.run(args.run, configs, command)


if __name__ == "__main__":
    sys.exit(main())
