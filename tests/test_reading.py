"""Reading user-named inputs (issue 38): each file opened once, what is not a regular file
refused before reading (a FIFO with no writer never hangs), one pixel limit, no silently
misread photo or mask, folders and globs walked once per real folder."""

from __future__ import annotations

import io as bytes_io
import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from npsynth import files as npfiles
from npsynth import io
from npsynth.errors import InputError
from npsynth.harness import checks, runner

GUARD_S = 5.0  # a reader that has not returned by then hangs


def within(call, *, unblock=None, seconds=GUARD_S):
    """`call()`'s result (or its exception), run in a thread; the test fails, instead of
    hanging, when it has not returned after `seconds` (`unblock()` then lets it end)."""
    done: dict = {}

    def run():
        try:
            done["value"] = call()
        except BaseException as error:  # noqa: BLE001 (handed to the test)
            done["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if unblock is not None:
            unblock()
        pytest.fail(f"still reading after {seconds} s: it hangs")
    if "error" in done:
        raise done["error"]
    return done["value"]


def release(fifo: Path):
    """Let a reader blocked on opening `fifo` go on: open it for writing, then close it."""

    def unblock():
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass

    return unblock


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = bytes_io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG file that declares `width` x `height` greyscale pixels (and holds none)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


PIXELS = (np.arange(4 * 6 * 3).reshape(4, 6, 3) * 3).astype(np.uint8)


# ---------------------------------------------------------------------------------------
# Not a regular file: refused at once; a pipe with a writer read once


@pytest.mark.parametrize(
    "read", [io.load_image, io.image_size, io.load_mask, lambda p: npfiles.open_input(p, "file")]
)
def test_a_fifo_without_a_writer_is_refused_at_once(read, tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"photo.png.*not a regular file \(a pipe with no writer"):
        within(lambda: read(fifo), unblock=release(fifo))


def test_a_device_is_refused_without_being_read(tmp_path):
    with pytest.raises(ValueError, match=r"'/dev/zero'.*not a regular file \(a character device"):
        within(lambda: io.load_image("/dev/zero"))


def test_a_fifo_with_a_writer_is_read_once(tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    data = png_bytes(PIXELS)

    def write():
        with open(fifo, "wb") as stream:  # waits for the reader
            stream.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    image = within(lambda: io.load_image(fifo), unblock=release(fifo))
    writer.join(GUARD_S)
    np.testing.assert_array_equal(image, PIXELS / np.float32(255))


def pipe_path(data: bytes) -> tuple[str, int]:
    """A path to the read end of a pipe that a thread fills with `data`, as a shell's process
    substitution `<(cat p.png)` gives one; and the end's descriptor, for closing."""
    read_end, write_end = os.pipe()

    def write():
        with os.fdopen(write_end, "wb") as stream:
            stream.write(data)

    threading.Thread(target=write, daemon=True).start()
    return f"/dev/fd/{read_end}", read_end


def test_a_photo_and_its_mask_from_pipes_are_each_read_once(tmp_path):
    hole = np.zeros((4, 6), np.uint8)
    hole[1:3, 2:4] = 255
    photo, photo_end = pipe_path(png_bytes(PIXELS))
    mask, mask_end = pipe_path(png_bytes(hole))
    try:
        image, mask_array = within(lambda: io.load_image_and_mask(photo, mask))
    finally:
        os.close(photo_end)
        os.close(mask_end)
    np.testing.assert_array_equal(image, PIXELS / np.float32(255))
    np.testing.assert_array_equal(mask_array[..., 0], hole / 255)


def test_cli_image_from_a_process_substitution_pipe(monkeypatch, tmp_path, capsys, fake_inpaint):
    from test_eval_inpaint import FAST

    from eval import inpaint as cli

    calls = fake_inpaint
    hole = np.zeros((4, 6, 1), np.float32)
    hole[1:3, 2:4] = 1
    io.save_image(tmp_path / "m.png", hole)
    photo, end = pipe_path(png_bytes(PIXELS))
    out = tmp_path / "filled.png"
    try:
        argv = ["--image", photo, "--mask", str(tmp_path / "m.png"), "--out", str(out), *FAST]
        assert within(lambda: cli.main(argv)) == 0
    finally:
        os.close(end)
    assert len(calls) == 1 and out.is_file()
    np.testing.assert_array_equal(calls[0][0], PIXELS / np.float32(255))


def test_cli_keeps_a_16_bit_rgb_photos_depth_and_known_pixels(tmp_path, fake_inpaint):
    from test_eval_inpaint import FAST
    from test_io import LEVELS16, _png16, _png16_levels, _tiff16_levels

    from eval import inpaint as cli

    photo = _png16(tmp_path / "deep.png", LEVELS16)
    hole = np.zeros((4, 5, 1), np.float32)
    hole[1:3, 1:4] = 1
    io.save_image(tmp_path / "m.png", hole)
    known = hole[..., 0] == 0
    for suffix, read in ((".png", _png16_levels), (".tif", _tiff16_levels)):
        out = tmp_path / f"filled{suffix}"
        argv = ["--image", str(photo), "--mask", str(tmp_path / "m.png"), "--out", str(out)]
        assert cli.main([*argv, *FAST]) == 0
        np.testing.assert_array_equal(fake_inpaint[-1][0], LEVELS16 / np.float32(65535))
        written = read(out)  # 16-bit RGB, read by pypng or tifffile
        np.testing.assert_array_equal(written[known], LEVELS16[known])  # every level kept
        assert np.all(written[~known] == 32768)  # the fake fill, 0.5: round(0.5 * 65535)


def test_cli_image_that_is_a_fifo_without_a_writer_is_one_line(tmp_path, capsys):
    from eval import inpaint as cli

    fifo = tmp_path / "p.png"
    os.mkfifo(fifo)
    io.save_image(tmp_path / "m.png", np.ones((4, 4, 1), np.float32))
    argv = [
        "--image",
        str(fifo),
        "--mask",
        str(tmp_path / "m.png"),
        "--out",
        str(tmp_path / "o.png"),
    ]
    assert within(lambda: cli.main(argv), unblock=release(fifo)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "p.png" in err[0] and "not a regular file" in err[0]


# ---------------------------------------------------------------------------------------
# One pixel limit, from the header, before decoding


@pytest.mark.parametrize(
    "width, height, words",
    [
        (30000, 30000, "900.0 megapixels"),  # over Pillow's own hard limit: it refuses first
        (10000, 10000, "10000x10000 = 100.0 megapixels"),  # Pillow only warns
        (7000, 7000, "7000x7000 = 49.0 megapixels"),  # Pillow says nothing
    ],
)
def test_a_huge_declared_size_is_refused_naming_file_and_limit(tmp_path, width, height, words):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header(width, height))
    assert path.stat().st_size < 120
    for read in (io.load_image, io.load_mask, io.image_size):
        with pytest.raises(io.TooManyPixels, match=f"'.*bomb.png' is {words}; .* at most 40 "):
            read(path)


def test_a_huge_photo_in_a_folder_or_as_a_mask_is_one_input_error(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(PIXELS).save(photos / "a.png")
    (photos / "b.png").write_bytes(png_header(30000, 30000))
    with pytest.raises(InputError, match=r"image '.*b.png' is 900.0 megapixels"):
        runner.load_pairs(runner.Photos(images=photos))
    (photos / "b.png").unlink()
    (tmp_path / "m.png").write_bytes(png_header(30000, 30000))
    with pytest.raises(InputError, match=r"mask '.*m.png' is 900.0 megapixels"):
        runner.load_pairs(runner.Photos(images=photos, masks=tmp_path / "m.png"))


def test_the_page_refuses_huge_uploads_with_its_megapixel_limit():
    from npsynth.serve.uploads import Limits, UploadError, decode_image, decode_mask

    assert Limits().max_pixels == io.MAX_PIXELS
    for width, height in ((30000, 30000), (12000, 12000)):  # a 500, "not a complete image"
        for decode in (decode_image, decode_mask):
            with pytest.raises(UploadError, match=r"megapixels; .*at most 40 megapixels") as error:
                decode(png_header(width, height), Limits())
            assert error.value.status == 413


# ---------------------------------------------------------------------------------------
# Photos and masks that were read wrongly without a word


def test_a_white_on_black_rgba_mask_with_one_transparent_pixel_is_read_from_its_colours(
    tmp_path,
):
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[2:4, 3:6, :3] = 255  # the hole: white
    rgba[0, 0, 3] = 0  # one transparent (black) pixel
    Image.fromarray(rgba).save(tmp_path / "m.png")
    expected = np.zeros((6, 8), np.float32)
    expected[2:4, 3:6] = 1
    np.testing.assert_array_equal(io.load_mask(tmp_path / "m.png")[..., 0], expected)


def test_a_layer_painted_with_a_black_brush_is_read_from_its_alpha(tmp_path):
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., :3] = 255  # white under the transparent pixels
    rgba[1:3, 2:5] = (0, 0, 0, 255)  # painted black, opaque
    Image.fromarray(rgba).save(tmp_path / "m.png")
    expected = np.zeros((6, 8), np.float32)
    expected[1:3, 2:5] = 1
    np.testing.assert_array_equal(io.load_mask(tmp_path / "m.png")[..., 0], expected)


def test_the_layer_rule_on_its_own():
    colour = np.array([[True, False, True, False]])
    painted = np.array([[True, True, False, False]])
    # painted pixels of both kinds: the colours carry the hole
    np.testing.assert_array_equal(io.layer_or_colours(colour, painted), colour)
    # painted pixels all hole (or all known): the alpha is the painting
    np.testing.assert_array_equal(io.layer_or_colours(colour, colour & painted), colour & painted)
    black = np.zeros_like(colour)
    np.testing.assert_array_equal(io.layer_or_colours(black, painted), painted)


@pytest.mark.parametrize("kind", ["GIF", "TIFF"])
def test_a_photo_with_several_frames_is_refused_naming_the_count(tmp_path, kind):
    frames = [Image.fromarray(PIXELS // k) for k in (1, 2, 3)]
    path = tmp_path / f"anim.{kind.lower()}"
    frames[0].save(path, format=kind, save_all=True, append_images=frames[1:])
    for read in (io.load_image, io.load_mask, io.image_size):
        with pytest.raises(ValueError, match=r"'.*anim\.\w+' has 3 frames"):
            read(path)


def test_a_float_tiff_outside_0_1_is_refused_naming_the_range(tmp_path):
    values = np.array([[0.0, 0.5], [1.0, 2.5]], np.float32)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    with pytest.raises(ValueError, match=r"'.*f.tif' holds values from 0 to 2.5 .*\[0, 1\]"):
        io.load_image(tmp_path / "f.tif")
    inside = np.array([[0.0, 0.25], [0.75, 1.0]], np.float32)
    Image.fromarray(inside, mode="F").save(tmp_path / "g.tif")
    np.testing.assert_array_equal(io.load_image(tmp_path / "g.tif")[..., 0], inside)


@pytest.mark.parametrize("size", ["64", (6.5, 4), (True, 4), 64, (4, 4, 4)])
def test_load_mask_size_must_be_two_whole_numbers(tmp_path, size):
    io.save_image(tmp_path / "m.png", np.ones((4, 4, 1), np.float32))
    with pytest.raises(TypeError, match="size must be \\(height, width\\)"):
        io.load_mask(tmp_path / "m.png", size=size)


def test_load_mask_size_accepts_pairs_and_refuses_zero(tmp_path):
    io.save_image(tmp_path / "m.png", np.ones((4, 4, 1), np.float32))
    assert io.load_mask(tmp_path / "m.png", size=np.array([8, 2])).shape == (8, 2, 1)
    assert io.load_mask(tmp_path / "m.png", size=[2, 8]).shape == (2, 8, 1)
    with pytest.raises(ValueError, match="at least 1"):
        io.load_mask(tmp_path / "m.png", size=(0, 4))


# ---------------------------------------------------------------------------------------
# Folders and globs


def _photos_with_loops(root: Path, loops: int) -> Path:
    ph = root / "ph"
    (ph / "sub").mkdir(parents=True)
    Image.fromarray(PIXELS).save(ph / "a.png")
    Image.fromarray(PIXELS).save(ph / "sub" / "b.png")
    (ph / "loop").symlink_to(ph)
    if loops > 1:
        (ph / "sub" / "back").symlink_to(ph)
    return ph


@pytest.mark.parametrize("loops", [1, 2])
def test_a_recursive_glob_over_symlink_loops_lists_each_photo_once(tmp_path, loops):
    ph = _photos_with_loops(tmp_path, loops)
    found = within(lambda: npfiles.list_images(str(ph / "**" / "*.png")))
    assert found == [ph / "a.png", ph / "sub" / "b.png"]
    assert within(lambda: npfiles.list_images(ph)) == [ph / "a.png", ph / "sub" / "b.png"]


def test_a_symlinked_sub_folder_is_followed_once(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.fromarray(PIXELS).save(elsewhere / "c.png")
    ph = tmp_path / "ph"
    ph.mkdir()
    Image.fromarray(PIXELS).save(ph / "a.png")
    (ph / "more").symlink_to(elsewhere)
    (ph / "again").symlink_to(elsewhere)  # the same real folder: read once, at its first path
    names = [name for name, _ in checks.list_photos(ph)]
    assert names == ["a.png", "again/c.png"]
    assert npfiles.list_images(str(ph / "**" / "*.png")) == [ph / "a.png", ph / "again" / "c.png"]


def test_a_glob_keeps_its_meaning(tmp_path):
    ph = tmp_path / "ph"
    (ph / "s" / ".hidden").mkdir(parents=True)
    for name in ("a.png", "s/b.png", "s/.c.png", "s/.hidden/d.png", "s/e.jpg"):
        Image.fromarray(PIXELS).save(ph / name)
    assert npfiles.list_images(str(ph / "*" / "*.png")) == [ph / "s" / "b.png"]
    assert npfiles.list_images(str(ph / "**" / "*.png")) == [ph / "a.png", ph / "s" / "b.png"]
    assert npfiles.list_images(str(ph / "s" / "[be].*")) == [ph / "s" / "b.png", ph / "s" / "e.jpg"]
    assert npfiles.list_images(str(ph / "?.png")) == [ph / "a.png"]


def test_an_existing_folder_with_glob_characters_is_a_folder(tmp_path):
    folder = tmp_path / "ph [1]"
    folder.mkdir()
    Image.fromarray(PIXELS).save(folder / "a.png")
    (tmp_path / "ph 1").mkdir()  # what the glob "ph [1]" would match instead
    Image.fromarray(PIXELS).save(tmp_path / "ph 1" / "other.png")
    assert npfiles.list_images(folder) == [folder / "a.png"]
    assert checks.list_photos(folder) == [("a.png", folder / "a.png")]
    assert npfiles.is_glob_pattern(tmp_path / "ph [1]" / "*.png")


# ---------------------------------------------------------------------------------------
# Network and weights files


def _network_files(tmp_path: Path) -> dict[str, Path]:
    """A truncated .npz, a text file and a FIFO with no writer, each posing as a network."""
    whole = bytes_io.BytesIO()
    np.savez(whole, __config__=np.asarray("{}"), w=np.zeros((64, 64), np.float32))
    files = {"truncated": tmp_path / "cut.npz", "text": tmp_path / "notes.npz"}
    files["truncated"].write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    files["text"].write_text("these are my notes, not a network\n")
    files["fifo"] = tmp_path / "pipe.npz"
    os.mkfifo(files["fifo"])
    return files


NETWORK_ERRORS = {
    "truncated": r"'.*cut.npz' is not a complete exported .* \(truncated or damaged",
    "text": r"'.*notes.npz' is not an exported .*: not an npsynth network file",
    "fifo": r"'.*pipe.npz': it is not a regular file \(a pipe with no writer",
}


@pytest.mark.parametrize("kind", list(NETWORK_ERRORS))
def test_every_network_loader_names_a_bad_file_in_one_line(tmp_path, kind):
    from npsynth import export, hub

    path = _network_files(tmp_path)[kind]
    loaders = [
        export.load_content_net,
        export.load_feature2image,
        export.load_image2feature,
        export.read_header,
        lambda p: hub.load("content_net", p),
    ]
    for load in loaders:
        with pytest.raises(ValueError, match=NETWORK_ERRORS[kind]) as error:
            within(lambda load=load: load(path), unblock=release(path))
        assert "allow_pickle" not in str(error.value) and "\n" not in str(error.value)


def test_a_fifo_as_vgg19_weights_is_refused_at_once(tmp_path, monkeypatch, capsys):
    from npsynth import weights
    from npsynth.weights import cli as weights_cli

    fifo = tmp_path / "vgg19.h5"
    os.mkfifo(fifo)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(weights.ENV_VAR, str(fifo))
    with pytest.raises(weights.WeightsError, match=r"vgg19.h5.*not a regular file"):
        within(lambda: weights.load(cache=tmp_path / "cache"), unblock=release(fifo))
    monkeypatch.delenv(weights.ENV_VAR)
    assert within(lambda: weights_cli.main(["--source", str(fifo)]), unblock=release(fifo)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vgg19.h5" in err[0] and "not a regular file" in err[0]


@pytest.mark.parametrize("kind", list(NETWORK_ERRORS))
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_cli_names_a_bad_content_network_not_the_photo_before_any_fill(
    tmp_path, monkeypatch, capsys, kind, how, fake_inpaint
):
    from eval import inpaint as cli

    calls = fake_inpaint
    path = _network_files(tmp_path)[kind]
    Image.fromarray(PIXELS).save(tmp_path / "photo.png")
    hole = np.zeros((4, 6, 1), np.float32)
    hole[1:3, 2:4] = 1
    io.save_image(tmp_path / "m.png", hole)
    argv = ["--image", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "m.png")]
    argv += ["--out", str(tmp_path / "o.png"), "--content", "network"]
    if how == "flag":
        argv += ["--content-checkpoint", str(path)]
    else:
        monkeypatch.setenv("NPSYNTH_CONTENT_NET", str(path))
    assert within(lambda: cli.main(argv), unblock=release(path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "photo.png" not in err[0], err
    assert err[0].startswith("error: ") and path.name in err[0]
    assert not calls and not (tmp_path / "o.png").exists()


def test_a_training_folder_reads_its_photos_with_the_same_checks(tmp_path):
    from npsynth.training.data import FolderSource

    Image.fromarray(PIXELS).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(png_header(30000, 30000))
    source = FolderSource(tmp_path)
    np.testing.assert_array_equal(np.asarray(source[0]), PIXELS)
    with pytest.raises(io.TooManyPixels, match=r"'.*b.png' is 900.0 megapixels"):
        source[1]


def test_one_mask_for_a_folder_given_as_a_fifo_is_named_as_one(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(PIXELS).save(photos / "a.png")
    fifo = tmp_path / "hole.png"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"'.*hole.png': it is not a regular file \(a pipe"):
        within(
            lambda: runner.load_pairs(runner.Photos(images=photos, masks=fifo)),
            unblock=release(fifo),
        )
