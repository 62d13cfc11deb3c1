"""Folders npsynth owns: the marker file that says so, and the lock a run holds there.

A training workdir and an evaluation run folder are npsynth's only when they hold the
marker file `.npsynth` (`MARKER`), a small JSON object naming the kind of folder. npsynth
writes it when it creates a folder, or first writes into a new or empty one (`claimed`);
each kind's own rules decide what else may be written where there is none
(`npsynth.training.workdir.check_workdir_owned`, `npsynth.harness.checks.check_run_folder`).

While a run writes in a folder it holds an exclusive `fcntl.flock` on the marker, so a
second run into the same folder is refused (`FolderInUseError`) instead of mixing its files
with the first's. The lock belongs to the open file: it goes when the run ends or its
process dies, so a killed run never blocks the next one. The marker is never replaced
(a replaced file would carry no lock), only written once, in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from npsynth.files import FOLDER_MARKER, NotRegularFile, open_regular, read_regular

MARKER = FOLDER_MARKER


class FolderInUseError(FileExistsError):
    """Another npsynth run holds the folder's lock."""


def marker_kind(folder) -> str | None:
    """The kind of npsynth folder `folder` is, from its marker; None without a readable one.

    Raises:
      NotRegularFile: the marker is not a regular file (a FIFO would never be read).
    """
    try:
        data = json.loads(read_regular(Path(folder) / MARKER, "the npsynth marker"))
    except NotRegularFile:
        raise
    except (OSError, ValueError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


@contextlib.contextmanager
def claimed(folder, kind: str, *, flag: str) -> Iterator[Path]:
    """Hold `folder` (created when missing) for one run: its marker written, its lock held.

    Args:
      folder: the folder; the caller has checked it may be written (its own rules).
      kind: the marker's kind, e.g. "training workdir".
      flag: the flag that named the folder, for the message.

    Raises:
      FolderInUseError: another run holds it; the message names the folder and the flag.
      NotRegularFile: the marker is not a regular file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = open_regular(folder / MARKER, "the npsynth marker", os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUseError(
                f"{flag} {str(folder)!r} is in use by another npsynth run (it holds the lock "
                f"on {MARKER}); wait for that run to end, or choose another {flag}"
            ) from None
        if os.fstat(descriptor).st_size == 0:
            os.write(descriptor, (json.dumps({"kind": kind, "by": "npsynth"}) + "\n").encode())
        yield folder
    finally:
        os.close(descriptor)  # releases the lock
