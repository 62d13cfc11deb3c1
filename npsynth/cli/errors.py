"""The one error path of the command lines (`eval/`, `train/`).

Expected problems (a bad path or flag, a file that cannot be read or written, Ctrl-C) end
with one line on stderr that names the file or flag, and a non-zero exit code; unexpected
ones (bugs) keep their traceback. `main_errors` wraps a command line's `main` to do that:

- `InputError` (`npsynth.errors`: what the checks raise): its message, exit code
  `InputError.code` where the raiser set one (2 for flags, as argparse's own), else the
  command line's (`main_errors(code=...)`, default 1). The same for `NotRegularFile`
  (`npsynth.io`: a FIFO or other non-regular file where a file is read or written).
- `OSError` (a permission, a full disk, a file that vanished): its reason and file, exit 1.
- `KeyboardInterrupt`: its message (an `Interrupted` says what was kept) or "interrupted",
  exit 130 (128 + SIGINT, what shells report for a Ctrl-C).

Any other exception, a plain `ValueError` included, propagates with its traceback: inputs
are checked before the work starts, so a ValueError that escapes the checks is not one the
user can fix from the message alone.

Flags are checked by the parser, so the message names the flag (`positive_int`, `seed_int`,
`hole_kind`: value checks, "argument --limit: must be at least 1, got '-1'", exit 2).
"""

from __future__ import annotations

import argparse
import functools
import sys

from npsynth import compile_cache
from npsynth.errors import InputError, describe, one_line
from npsynth.files import NotRegularFile

INTERRUPTED = 130  # exit code after Ctrl-C: 128 + SIGINT


def main_errors(main=None, *, code: int = 1):
    """Decorate a command line's `main(argv) -> int` (as `@main_errors` or
    `@main_errors(code=2)`): expected problems become one line on stderr and an exit code
    (`code` for an `InputError` that sets none; see the module docstring); the rest keep
    their traceback. It also turns on JAX's persistent compilation cache
    (`npsynth.compile_cache`), so every command compiles once per machine."""
    if main is None:
        return functools.partial(main_errors, code=code)

    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        compile_cache.enable()
        try:
            return main(*args, **kwargs)
        except KeyboardInterrupt as stop:
            print(one_line(str(stop)) or "interrupted", file=sys.stderr)
            return INTERRUPTED
        except (InputError, NotRegularFile) as error:
            print(f"error: {one_line(str(error))}", file=sys.stderr)
            own = getattr(error, "code", None)
            return code if own is None else own
        except OSError as error:
            print(f"error: {describe(error)}", file=sys.stderr)
            return 1

    return wrapped


def _whole_number_from(text: str, low: int, too_low: str) -> int:
    """`text` as an integer >= low, else argparse's error (`too_low` when below it)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{too_low}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _whole_number_from(text, 1, "must be at least 1")


def seed_int(text: str) -> int:
    """argparse type: a seed, a whole number >= 0 (what NumPy's generators take)."""
    return _whole_number_from(text, 0, "must be 0 or more")


def hole_kind(text: str) -> str:
    """argparse type: a generated hole kind of `npsynth.masks.make_mask` (center[:FRACTION],
    boxes, strokes), tried once on a small image."""
    from npsynth import masks

    try:
        masks.make_mask(text, 64, 64, rng=0)
    except ValueError as error:
        raise argparse.ArgumentTypeError(one_line(str(error))) from None
    return text
