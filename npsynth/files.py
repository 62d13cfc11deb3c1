"""Files a user names and the files npsynth owns: opened once, refused when they are not
regular files, listed from folders and globs, written atomically (no NumPy, no Pillow).

Reading a file the user named: every reader opens it once (`open_input`), so a pipe
(`--image <(cat p.png)`) is read once into memory, and what is not a regular file (a FIFO
with no writer, a device, a socket) is refused before anything is read, never waited on.
npsynth's own files in its folders (a run's metrics.csv, a workdir's config.json, the
`.npsynth` marker, an export's side-car) are read and appended only when they are regular
files (`check_regular`, `read_regular`, `append_regular`). Folders and `**` globs follow
symlinked sub-folders but enter each real folder once (`walk`); an existing path is never
read as a glob. Every file npsynth writes goes through `atomic_write`: a temporary file in
the destination folder that then replaces the path, so a failed or interrupted write never
leaves a half-written or clobbered file.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import io
import os
import stat
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

# File extensions that `list_images` picks up (compared in lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# The marker file of a folder npsynth owns (a run folder, a training workdir; `npsynth.folders`).
FOLDER_MARKER = ".npsynth"
# A pipe given as a file (`--image <(cat p.png)`) is read into memory once, up to this size.
MAX_PIPE_BYTES = 1 << 30


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((word for test, word in kinds if test(mode)), "not a file")


class NotRegularFile(ValueError):
    """A path that is not a regular file (a FIFO, a folder, a device, a socket) where npsynth
    reads or writes a file; the message names it."""


def _not_regular(path, what: str, kind: str) -> NotRegularFile:
    return NotRegularFile(
        f"cannot read {what} {str(path)!r}: it is not a regular file ({kind}); pass the file itself"
    )


def check_regular(path, what: str = "file") -> bool:
    """Whether `path` exists, refusing one that is there but is not a regular file (a FIFO,
    a folder, a device, a socket) without opening it: npsynth's own files in its folders
    (a run folder's metrics.csv, a workdir's config.json, a marker, an export's side-car),
    where a FIFO would block a reader or a writer for ever.

    Raises:
      NotRegularFile: naming `path` as `what` and what it is.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode):
        raise _not_own_file(path, what, _kind(mode))
    return True


def _not_own_file(path, what: str, kind: str) -> NotRegularFile:
    return NotRegularFile(
        f"cannot use {what} {str(path)!r}: it is not a regular file ({kind}); "
        "remove it or choose another folder"
    )


def open_regular(path, what: str = "file", flags: int = os.O_RDONLY) -> int:
    """A descriptor of npsynth's own file `path` opened with `flags` (`os.O_RDONLY`, or e.g.
    `os.O_WRONLY | os.O_APPEND | os.O_CREAT`), refusing what is not a regular file before
    opening it (`check_regular`) and once opened, without waiting (a file swapped for a
    FIFO meanwhile); blocking again once checked. The caller closes it.

    Raises:
      NotRegularFile: not a regular file; FileNotFoundError: missing (without `os.O_CREAT`).
    """
    if not check_regular(path, what) and not flags & os.O_CREAT:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as error:
        if error.errno == errno.ENXIO:  # a FIFO opened for writing with no reader
            raise _not_own_file(path, what, "a pipe") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_own_file(path, what, _kind(mode))
    os.set_blocking(fd, True)
    return fd


def read_regular(path, what: str = "file", *, errors: str = "strict") -> str:
    """The UTF-8 text of npsynth's own file `path`, read only if it is a regular file
    (`open_regular`): never waits on a FIFO."""
    with os.fdopen(open_regular(path, what), "rb") as stream:
        return stream.read().decode("utf-8", errors)


def append_regular(path, text: str, what: str = "file") -> None:
    """Append `text` (UTF-8) to npsynth's own file `path`, created when missing, only if it
    is a regular file (`open_regular`): never waits on a FIFO."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    with os.fdopen(open_regular(path, what, flags), "ab") as stream:
        stream.write(text.encode("utf-8"))


def open_input(path, what: str = "file") -> BinaryIO:
    """Open a file the user named for reading, once, refusing what is not a regular file
    before reading it; the caller closes the stream.

    - A regular file is opened as it is.
    - A pipe with a writer (`--image <(cat p.png)`, a FIFO a program writes to) is read to
      its end into memory (at most `MAX_PIPE_BYTES`), so the caller reads it once, seekable.
    - A FIFO with no writer (nothing would ever come: reading it would wait for ever), a
      folder, a device or a socket is refused at once: a FIFO is opened without waiting
      (`O_NONBLOCK`) and one read tells a writer that has not written yet (EAGAIN) from
      none (end of file); the others are never opened.

    Args:
      path: the file.
      what: what it is, for messages ("image", "mask", "VGG-19 weights", ...).

    Raises:
      FileNotFoundError: no such file (the message names it).
      ValueError: not a regular file, or a pipe with nothing in it or too much.
      OSError: the file cannot be opened (permissions), as the system says.
    """
    path = Path(path)
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{what} file {str(path)!r} does not exist; check the path"
        ) from None
    if stat.S_ISDIR(before.st_mode):
        raise ValueError(f"cannot read {what} {str(path)!r}: it is a folder; pass a file")
    pipe = stat.S_ISFIFO(before.st_mode)
    if not (pipe or stat.S_ISREG(before.st_mode)):
        raise _not_regular(path, what, _kind(before.st_mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino, stat.S_IFMT(opened.st_mode)) != (
            before.st_dev,
            before.st_ino,
            stat.S_IFMT(before.st_mode),
        ):
            raise ValueError(f"cannot read {what} {str(path)!r}: it changed while being opened")
        if not pipe:
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        return io.BytesIO(_read_pipe(fd, path, what))
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def _read_pipe(fd: int, path: Path, what: str) -> bytes:
    """Everything a pipe opened with O_NONBLOCK holds until its writer closes it (`open_input`)."""
    try:
        first = os.read(fd, 1 << 16)
    except BlockingIOError:  # a writer that has not written yet
        first = None
    if first == b"":  # end of file at once: no writer (or one that wrote nothing)
        raise _not_regular(path, what, "a pipe with no writer, or nothing in it")
    os.set_blocking(fd, True)
    chunks, size = [first or b""], len(first or b"")
    while chunk := os.read(fd, 1 << 20):
        size += len(chunk)
        if size > MAX_PIPE_BYTES:
            raise ValueError(
                f"cannot read {what} {str(path)!r}: the pipe holds more than "
                f"{MAX_PIPE_BYTES >> 20} MiB; pass a regular file"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def list_images(
    folder, *, recursive: bool = True, flag: str | None = None, role: str = "image",
    strict: bool = True,
) -> list[Path]:  # fmt: skip
    """Image files in a folder, or matching a glob pattern, sorted by path.

    Files with the extensions in `IMAGE_EXTENSIONS` (any letter case) count; hidden files
    and folders (names starting with ".", e.g. macOS "._x.jpg" files) are skipped, and so
    are the `outputs/` and `grids/` of an npsynth run folder below `folder` (one holding
    the `.npsynth` marker: its results, never photos). Sub-folders that are symlinks are
    followed, but each real folder is searched once (`walk`), so a symlink loop neither
    hangs nor lists a photo twice. An entry with an image extension that is not a regular
    file (a FIFO, a device, a symlink to one or a dangling symlink) is never dropped
    silently: refused (`strict`), or listed for its reader to refuse.

    Args:
      folder: the folder to search, or a glob pattern such as "masks/hole20-30_*.png"
        (a path that does not exist and holds `*`, `?` or `[`; `**` matches any number of
        sub-folders). A path that exists is taken as it is, so a folder "ph [1]" is a folder.
      recursive: also search sub-folders (folders only).
      flag: the flag that named `folder` (e.g. "--masks"), for messages.
      role: what the files are ("photo", "mask"), for messages.
      strict: refuse an entry that is not a regular file (ValueError naming it); False
        lists it (a training run skips unreadable photos with a warning naming them).

    Returns:
      sorted list of `pathlib.Path`.

    Raises:
      FileNotFoundError: no such folder. ValueError: not a folder, no images, or (`strict`)
        an entry that is not a regular file; each message names the folder (and `flag`).
    """
    if is_glob_pattern(folder):
        root, where, verb = glob_root(folder), "the pattern", "matches"
        found = _glob(str(folder))
    else:
        root, where, verb = Path(folder), "folder", "holds"
        if not root.exists():
            raise FileNotFoundError(
                f"{role} folder {str(root)!r}{f' ({flag})' if flag else ''} does not exist; "
                "check the path"
            )
        if not root.is_dir():
            raise ValueError(
                f"{str(root)!r}{f' ({flag})' if flag else ''} is a file, not a folder; pass the "
                f"folder holding {role}s"
            )
        found = [
            path
            for path in walk(root, depth=None if recursive else 1)
            if _is_image_entry(path, hidden_parts=path.relative_to(root).parts)
        ]
    where = f"the {flag} {where.removeprefix('the ')}" if flag else where
    found = [path for path in found if not _in_run_results(path, root)]
    if not found:
        if is_glob_pattern(folder):
            raise ValueError(
                f"no images ({', '.join(IMAGE_EXTENSIONS)}) match {where} {str(folder)!r}; "
                "check the pattern (quote it so the shell does not expand it)"
            )
        below = " or its sub-folders" if recursive else ""
        raise ValueError(
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {where} {str(root)!r}"
            f"{below}; point to a folder that holds {role}s"
        )
    odd = next((path for path in found if not path.is_file()), None)
    if strict and odd is not None:
        raise ValueError(
            f"{where} {str(folder)!r} {verb} {str(odd)!r}, which is not a regular file "
            f"({_entry_kind(odd)}); remove it or put the {role} file itself there"
        )
    return sorted(found, key=lambda path: path.as_posix())


def _entry_kind(path: Path) -> str:
    """What a listed entry that is not a regular file is, in words."""
    try:
        return _kind(os.stat(path).st_mode)
    except OSError:
        return "a broken symbolic link" if os.path.islink(path) else "unreadable"


def _in_run_results(path: Path, root: Path) -> bool:
    """Whether `path` lies in the `outputs/` or `grids/` of an npsynth run folder below (or
    at) `root`: a folder holding the marker (`FOLDER_MARKER`)."""
    parts = path.relative_to(root).parts
    return any(
        part in ("outputs", "grids") and os.path.lexists(root.joinpath(*parts[:i], FOLDER_MARKER))
        for i, part in enumerate(parts[:-1])
    )


def walk(root, *, depth: int | None = None) -> Iterator[Path]:
    """Every path below the folder `root` (files and folders), each folder's entries in name
    order, down to `depth` levels (None: all).

    Symlinked folders are followed, but a real folder (device and inode) is entered once
    only, at the first path that reaches it (a loop back to a folder above ends there);
    folders that cannot be read are passed over.
    """
    seen: set[tuple[int, int]] = set()
    stack = [(Path(root), 0)]
    while stack:
        folder, level = stack.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            continue
        below = []
        for entry in entries:
            path = folder / entry.name
            yield path
            with contextlib.suppress(OSError):
                if (depth is None or level + 1 < depth) and entry.is_dir():
                    below.append((path, level + 1))
        stack.extend(reversed(below))


def glob_root(pattern) -> Path:
    """The fixed folder a glob pattern starts in: "data/*/img_*.png" -> "data"; "*.png" -> "."."""
    fixed = []
    for part in Path(pattern).parts:
        if has_glob_chars(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _glob(pattern: str) -> list[Path]:
    """The image files matching `pattern` (`list_images`), found by `walk`ing its fixed folder,
    so symlinked folders are followed once each; `*`, `?` and `[...]` match within a name
    (not a leading "."), `**` any number of folders."""
    root = glob_root(pattern)
    parts = Path(pattern).parts[len(root.parts) if str(root) != "." else 0 :]
    depth = None if "**" in parts else len(parts)
    if not root.is_dir():
        return []
    found = []
    for path in walk(root, depth=depth):
        below = path.relative_to(root).parts
        if _matches(below, tuple(parts)) and _is_image_entry(path, hidden_parts=(path.name,)):
            found.append(path)
    return found


def _matches(names: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Whether the path `names` (below a pattern's root) matches the pattern's `parts`."""
    if not parts:
        return not names
    if parts[0] == "**":
        return any(
            _matches(names[skip:], parts[1:])
            for skip in range(len(names) + 1)
            if not any(name.startswith(".") for name in names[:skip])
        )
    if not names or (names[0].startswith(".") and not parts[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], parts[0]) and _matches(names[1:], parts[1:])


def has_glob_chars(text) -> bool:
    """Whether `text` holds a glob character: `*`, `?` or `[`."""
    return any(char in str(text) for char in "*?[")


def is_glob_pattern(path) -> bool:
    """Whether a path given on the command line is a glob pattern rather than a folder or
    file: it holds `*`, `?` or `[` and does not exist (an existing "ph [1]" is a folder)."""
    return has_glob_chars(path) and not os.path.lexists(path)


def _is_image_entry(path: Path, *, hidden_parts: Sequence[str]) -> bool:
    """An entry `list_images` picks up: a known extension, not a folder, and none of
    `hidden_parts` (the path's names below where the search started) starting with "."
    (a FIFO, a device or a dangling symlink counts: `list_images` does not drop it)."""
    return (
        path.suffix.lower() in IMAGE_EXTENSIONS
        and not path.is_dir()
        and not any(part.startswith(".") for part in hidden_parts)
    )


def atomic_write(path, content: bytes | str) -> Path:
    """Write `content` (bytes, or text as UTF-8) to `path` atomically; returns the path.

    The bytes go to a hidden, unique temporary file in the destination folder (so
    `os.replace` stays on one file system), opened with "x" so it gets the usual permissions
    and never clobbers another file; it then replaces `path`. On any failure, Ctrl-C
    included, the temporary file is removed and `path` is left as it was. Parent folders
    are created. An OSError that names no file (a full disk) is raised naming `path`.
    """
    path = Path(path)
    # surrogateescape: a file name that is not UTF-8 (read by `os.fsdecode`), e.g. in the
    # command line of a report, is written back as the bytes it was.
    data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
    data = bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "xb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # e.g. a full disk
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise
    return path
