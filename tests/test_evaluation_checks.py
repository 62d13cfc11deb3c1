"""npsynth.harness.checks, npsynth.errors and npsynth.cli.errors: names, overwrite and destination checks, and the
one error path of the command lines, on tiny files in a temporary folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from npsynth import errors, io
from npsynth import files as npfiles
from npsynth.cli import errors as cli_errors
from npsynth.errors import InputError
from npsynth.harness import checks


@pytest.fixture
def photos(tmp_path):
    """a.png, a.jpg, sub/a.png and, in the run's own output folder, run/grids/a.png."""
    folder = tmp_path / "photos"
    for name in ("a.png", "a.jpg", "sub/a.png", "run/grids/a.png"):
        io.save_image(folder / name, np.zeros((4, 4, 3), np.float32))
    return folder


def test_photo_names_are_paths_below_the_folder_suffix_kept(photos, monkeypatch):
    listed = checks.list_photos(photos, skip=[photos / "run" / "grids"])
    assert listed == [(n, photos / n) for n in ("a.jpg", "a.png", "sub/a.png")]
    assert [checks.output_file(n) for n, _ in listed] == ["a.jpg.png", "a.png", "sub/a.png"]
    # A glob pattern's names are below its fixed part; relative paths work the same.
    assert npfiles.glob_root("data/*/img_*.png") == Path("data")
    assert npfiles.glob_root("**/*.png") == Path(".")
    monkeypatch.chdir(photos.parent)
    assert [n for n, _ in checks.list_photos("photos/**/a.png")] == [
        "a.png", "run/grids/a.png", "sub/a.png"
    ]  # fmt: skip
    assert [n for n, _ in checks.list_photos("photos/*.jpg")] == ["a.jpg"]


def test_photo_lists_that_cannot_be_named_or_read_are_refused(photos, tmp_path):
    io.save_image(photos / "a.jpg.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError, match=r"'a.jpg' and 'a.jpg.png' .* both be written as"):
        checks.list_photos(photos)
    with pytest.raises(InputError, match="lies in .*which this run writes"):
        checks.list_photos(photos / "run" / "grids", skip=[photos / "run" / "grids"])
    with pytest.raises(InputError, match="does not exist"):
        checks.list_photos(tmp_path / "nowhere")
    only_outputs = tmp_path / "only"
    io.save_image(only_outputs / "grids" / "x.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError, match="no photos besides this run's own outputs"):
        checks.list_photos(only_outputs, skip=[only_outputs / "grids"])


def test_masks_are_a_folder_a_pattern_or_one_file(photos):
    assert checks.list_masks(photos / "a.png") == [photos / "a.png"]
    assert checks.list_masks(photos / "sub") == [photos / "sub" / "a.png"]
    with pytest.raises(InputError, match="lies in .*which this run writes"):
        checks.list_masks(photos / "run", skip=[photos / "run" / "grids"])


def test_same_file_through_relative_paths_symlinks_and_hard_links(tmp_path):
    photo, other = tmp_path / "photo.png", tmp_path / "other.png"
    photo.write_bytes(b"1")
    other.write_bytes(b"1")
    (tmp_path / "link.png").symlink_to(photo)
    os.link(photo, tmp_path / "hard.png")
    (tmp_path / "d").mkdir()
    for same in ("photo.png", "d/../photo.png", "link.png", "hard.png"):
        assert checks.same_file(tmp_path / same, photo), same
    assert not checks.same_file(other, photo)
    assert not checks.same_file(tmp_path / "new.png", photo)
    inputs = {photo: "the photo (--image)"}
    with pytest.raises(InputError) as caught:
        checks.check_not_inputs([tmp_path / "hard.png"], inputs, given=tmp_path / "hard.png")
    assert str(caught.value) == (
        f"--out '{tmp_path / 'hard.png'}' would replace the photo (--image) '{photo}'; "
        "write the output somewhere else"
    )
    checks.check_not_inputs([other, tmp_path / "new.png"], inputs)  # neither is the photo


def test_output_file_checks_and_symlinks(tmp_path):
    target = tmp_path / "results" / "filled.png"
    (tmp_path / "link.png").symlink_to(target)  # dangling; its folder is created on write
    assert checks.check_output_file(tmp_path / "link.png") == target
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = {
        tmp_path: "is a folder; give a file name, e.g. filled.png",
        blocker / "x.png": f"'{blocker}' is a file, not a folder",
        tmp_path / "x.txt": "npsynth does not write '.txt' files; use one of .png, .jpg",
    }
    for out, message in cases.items():
        with pytest.raises(InputError, match=message):
            checks.check_output_file(out)
    assert checks.check_output_file(tmp_path / "table.md", image=False) == tmp_path / "table.md"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "link.png"]  # no probe left


def test_output_folder_checks_create_nothing(tmp_path):
    deep = tmp_path / "a" / "b" / "run"
    checks.check_output_folder(deep, [deep / "outputs" / "m" / "x.png", deep / "report.md"])
    assert list(tmp_path.iterdir()) == []  # nothing made, no probe file left
    run = tmp_path / "run"
    (run / "report.md").mkdir(parents=True)
    (run / "grids").write_text("x")
    with pytest.raises(InputError, match="report.md' is a folder where this run writes a file"):
        checks.check_output_folder(run, [run / "report.md"])
    with pytest.raises(InputError, match="grids' is a file where this run needs a folder"):
        checks.check_output_folder(run, [run / "grids" / "a.png"])
    with pytest.raises(InputError, match="is a file; give a folder"):
        checks.check_output_folder(run / "grids")


def test_main_errors_one_line_exit_codes_and_tracebacks_kept(capsys):
    def main_raising(error):
        @cli_errors.main_errors
        def main():
            raise error

        return main

    assert main_raising(InputError("bad\nthing"))() == 1
    assert capsys.readouterr().err == "error: bad thing\n"
    assert main_raising(InputError("a flag", code=2))() == 2
    assert cli_errors.main_errors(code=2)(main_raising(InputError("x")).__wrapped__)() == 2
    capsys.readouterr()
    hidden = "/out/.filled.png.0123456789abcdef0123456789abcdef.tmp"
    assert main_raising(PermissionError(13, "Permission denied", hidden))() == 1
    assert capsys.readouterr().err == "error: Permission denied: '/out/filled.png'\n"
    assert main_raising(KeyboardInterrupt())() == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert main_raising(errors.Interrupted("interrupted; 2 photos done are kept"))() == 130
    assert capsys.readouterr().err == "interrupted; 2 photos done are kept\n"
    for unexpected in (ValueError("a bug"), RuntimeError("a bug")):
        with pytest.raises(type(unexpected), match="a bug"):
            main_raising(unexpected)()


def test_as_input_error_names_what_was_being_read():
    expected = pytest.raises(InputError, match="^the mask 'm.png': no hole$")
    with expected as caught, errors.as_input_error("the mask 'm.png'", code=2):
        raise ValueError("no hole")
    assert caught.value.code == 2 and isinstance(caught.value, ValueError)
    expected = pytest.raises(InputError, match="^No such file or directory: 'x.png'$")
    with expected, errors.as_input_error():
        raise FileNotFoundError(2, "No such file or directory", "x.png")
    with pytest.raises(TypeError), errors.as_input_error():  # not an input problem
        raise TypeError("a bug")


def _odd_entry(path: Path, kind: str, target: Path) -> None:
    """Make `path` a FIFO, a symlink to the FIFO `target`, or a dangling symlink."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link to a fifo":
        os.mkfifo(target)
        path.symlink_to(target)
    else:
        path.symlink_to(target)  # `target` does not exist


@pytest.mark.parametrize(
    ("kind", "words"),
    [("fifo", "a pipe"), ("link to a fifo", "a pipe"), ("dangling link", "a broken symbolic link")],
)
@pytest.mark.parametrize("pattern", [False, True])
def test_a_photo_entry_that_is_not_a_regular_file_is_refused_naming_it(
    tmp_path, kind, words, pattern
):
    folder = tmp_path / "ifo"
    io.save_image(folder / "a.png", np.zeros((4, 4, 3), np.float32))
    _odd_entry(folder / "b.png", kind, tmp_path / "elsewhere.png")
    images = f"{folder}/*.png" if pattern else folder
    where = "pattern" if pattern else "folder"
    with pytest.raises(
        InputError,
        match=rf"^the --images {where} '{re.escape(str(images))}' (holds|matches) '.*b.png', which is "
        rf"not a regular file \({words}\); remove it or put the photo file itself there$",
    ):
        checks.list_photos(images)


def test_a_mask_entry_that_is_not_a_regular_file_names_the_mask_folder(tmp_path):
    masks_dir = tmp_path / "mf"
    io.save_image(masks_dir / "a.png", np.ones((4, 4, 1), np.float32))
    os.mkfifo(masks_dir / "b.png")
    message = (
        f"the --masks folder '{masks_dir}' holds '{masks_dir / 'b.png'}', which is not a regular "
        "file (a pipe); remove it or put the mask file itself there"
    )
    with pytest.raises(InputError) as caught:
        checks.list_masks(masks_dir)
    assert str(caught.value) == message
    (masks_dir / "a.png").unlink()  # a FIFO alone is named, not "no images"
    with pytest.raises(InputError) as caught:
        checks.list_masks(masks_dir)
    assert str(caught.value) == message
    (masks_dir / "b.png").unlink()
    with pytest.raises(InputError) as caught:
        checks.list_masks(masks_dir)
    assert str(caught.value) == (
        f"no images (.jpg, .jpeg, .png, .bmp, .webp) found in the --masks folder '{masks_dir}' "
        "or its sub-folders; point to a folder that holds masks"
    )


def test_a_run_folders_own_results_below_the_photos_are_not_photos(tmp_path):
    images = tmp_path / "imgs"
    flat = np.zeros((4, 4, 3), np.float32)
    for name in (
        "a.png", "b.png", "outputs/optimize/a.png", "grids/a.png",  # imgs is a run folder
        "old/outputs/optimize/c.png", "old/grids/c.png",  # a run folder below it
        "mine/outputs/d.png",  # a user's own outputs/ (no marker): photos
    ):  # fmt: skip
        io.save_image(images / name, flat)
    (images / ".npsynth").write_text('{"kind": "evaluation run folder"}\n')
    (images / "old" / ".npsynth").write_text('{"kind": "evaluation run folder"}\n')
    expected = ["a.png", "b.png", "mine/outputs/d.png"]
    assert [name for name, _ in checks.list_photos(images)] == expected
    assert [name for name, _ in checks.list_photos(f"{images}/**/*.png")] == expected
    with pytest.raises(InputError, match="no images .* found in the --images folder"):
        checks.list_photos(images / "old")  # only its results
