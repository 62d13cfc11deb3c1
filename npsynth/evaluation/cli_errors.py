"""The one error path of the `eval/` command lines.

Expected problems (a bad path or flag, a file that cannot be read or written, Ctrl-C) end
with one line on stderr that names the file or flag, and a non-zero exit code; unexpected
ones (bugs) keep their traceback. `main_errors` wraps a command line's `main` to do that:

- `InputError` (what the checks raise, `npsynth.evaluation.checks`): its message, exit code
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
`int_list`, `hole_kind`: argparse types, "argument --limit: must be at least 1, got '-1'", exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import sys

from npsynth import compile_cache
from npsynth.files import NotRegularFile

INTERRUPTED = 130  # exit code after Ctrl-C: 128 + SIGINT

# `npsynth.files.atomic_write`'s hidden temporary file: ".<name>.<32 hex digits>.tmp".
_TEMPORARY = re.compile(r"(^|/)\.([^/]+)\.[0-9a-f]{32}\.tmp$")


class InputError(ValueError):
    """An expected problem with what the user gave, said in one line that names the file or
    flag. A ValueError, so library callers that catch ValueError keep working."""

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.code = code  # the exit code; None: the command line's (`main_errors`)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with one line saying what was kept (e.g. the photos already scored)."""


@contextlib.contextmanager
def as_input_error(context: str = "", *, code: int | None = None):
    """Turn a ValueError or OSError raised inside into an `InputError` (message prefixed with
    `context`, e.g. "mask m.png for photo a.png"): for checks of the user's inputs, where
    these errors can only mean a bad input."""
    try:
        yield
    except InputError:
        raise
    except (ValueError, OSError) as error:
        text = describe(error) if isinstance(error, OSError) else str(error)
        raise InputError(f"{context}: {text}" if context else text, code=code) from error


def describe(error: BaseException) -> str:
    """One line for an error: an OSError's reason and file (a hidden temporary file of
    `atomic_write` named as the file it was to become), else the message."""
    if isinstance(error, OSError) and error.filename is not None:
        names = [real_name(error.filename)]
        if error.filename2 is not None:
            names.append(real_name(error.filename2))
        reason = error.strerror or type(error).__name__
        return f"{reason}: {' -> '.join(repr(n) for n in names)}"
    return one_line(str(error)) or type(error).__name__


def real_name(filename) -> str:
    """The file a hidden temporary file of `atomic_write` was to become, else `filename`."""
    return _TEMPORARY.sub(r"\1\2", str(filename))


def one_line(text: str) -> str:
    """`text` with its line breaks (and runs of spaces) made single spaces."""
    return " ".join(text.split())


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


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated integers, e.g. 128,256,512."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes comma-separated integers, got {text!r}") from None


def float_or_none(text: str) -> float | None:
    """argparse type: a number, or 'none'."""
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a number or 'none', got {text!r}") from None


def layer_or_none(text: str) -> str | None:
    """argparse type: a VGG-19 layer name (`npsynth.models.vgg.LAYERS`), or 'none'."""
    from npsynth.models.vgg import LAYERS

    if text.strip().lower() == "none":
        return None
    if text not in LAYERS:
        raise argparse.ArgumentTypeError(
            f"takes a VGG-19 layer (e.g. relu4_2; one of {', '.join(LAYERS)}) or 'none', "
            f"got {text!r}"
        )
    return text


def hole_kind(text: str) -> str:
    """argparse type: a generated hole kind of `npsynth.masks.make_mask` (center[:FRACTION],
    boxes, strokes), tried once on a small image."""
    from npsynth import masks

    try:
        masks.make_mask(text, 64, 64, rng=0)
    except ValueError as error:
        raise argparse.ArgumentTypeError(one_line(str(error))) from None
    return text
