"""The command lines' flags: derived with tyro from a frozen dataclass of the library
(`npsynth.config.flags`: flat dashed names, comma-separated tuples), a bad flag reported as
argparse reports it: one line on stderr naming the flag, exit 2.

tyro draws its errors as a box of several lines; `parse` keeps its message only
("python -m eval.sweep: error: argument --limit: must be at least 1, got '-1'"). A field's
check (`__post_init__`) names its flag as "--flag: what is wrong".
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Sequence

from npsynth.config import flags


def parse(cls, argv: Sequence[str] | None, *, prog: str, description: str = "", default=None):
    """`cls` from the command line `argv` (default sys.argv[1:]); `--help` prints the flags.
    `default`: as `npsynth.config.flags.parse`'s (`tyro.MISSING` for a required subcommand).

    Raises:
      SystemExit: `--help` (0), or a bad flag or value (2, one line on stderr).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:
        return flags.parse(cls, argv, prog=prog, description=description, default=default)
    errors, columns = io.StringIO(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100000"  # one box line per message line
    try:
        with contextlib.redirect_stderr(errors):
            parsed = flags.parse(cls, argv, prog=prog, description=description, default=default)
    except SystemExit as stop:
        print(f"{prog}: error: {message(errors.getvalue())}", file=sys.stderr)
        raise SystemExit(2) from stop
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    if parsed is None:  # a command with subcommands, none given
        print(f"{prog}: error: name a command (see {prog} --help)", file=sys.stderr)
        raise SystemExit(2)
    return parsed


def message(box: str) -> str:
    """The message of tyro's error box (drawn with Unicode or, off a terminal, ASCII lines),
    in one line, worded as argparse words it."""
    lines = box.strip().splitlines()
    title = re.sub(r"^[\s╭+─-]*|[\s╮+─-]*$", "", lines[0]) if lines else ""
    body = []
    for line in lines[1:]:
        inner = re.sub(r"^\s*[│|]\s?|\s*[│|]\s*$", "", line).strip()
        if set(inner) <= set("─-+╰╯ ") and body:  # a rule: the message ends
            break
        if inner and not set(inner) <= set("─-+╰╯ "):
            body.append(inner)
    if "Required options" in title:
        missing = [line.split()[0] for line in body if line.startswith("-")]
        return f"the following arguments are required: {', '.join(missing)}"
    text = " ".join(body) or title or "bad flags"
    text = re.sub(r"^Unrecognized options:", "unrecognized arguments:", text)
    found = re.match(r"Error parsing (\S+): (.*)", text)
    if found:
        text = found[2] if not found[1].startswith("-") else f"{found[1]}: {found[2]}"
    return re.sub(r"^(--[\w-]+): ", r"argument \1: ", text)
