"""Expected problems with what the user gave, as the library raises them.

`InputError` is a bad path, file or value, said in one line that names the file or flag;
`Interrupted` is a Ctrl-C that says what was kept. The command lines turn both into one line
on stderr and an exit code (`npsynth.cli.errors.main_errors`).
"""

from __future__ import annotations

import contextlib
import re

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
