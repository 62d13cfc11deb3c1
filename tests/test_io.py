"""Tests for npsynth.io: reading and writing images and masks, listing photos, the atomic write."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from npsynth import io, masks, resize


def _write(path, array, **save_options):
    Image.fromarray(array).save(path, **save_options)
    return path




@pytest.mark.parametrize("module", [io, masks, resize])
def test_does_not_import_jax(module):
    # Data loading may run in worker processes: these modules import no JAX or Flax.
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    roots = {name.split(".")[0] for name in imported}
    assert not roots & {"jax", "jaxlib", "flax", "optax"}
    local = {name for name in imported if name.startswith("npsynth.")}
    assert local <= {"npsynth.resize", "npsynth.masks", "npsynth.io"}


def test_load_image_rgb_png_exact(tmp_path):
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3) * 4
    image = io.load_image(_write(tmp_path / "a.png", pixels))
    assert image.dtype == np.float32 and image.shape == (4, 5, 3)
    np.testing.assert_array_equal(image, pixels.astype(np.float32) / 255.0)


def test_load_image_greyscale_palette_rgba_become_rgb(tmp_path):
    grey = np.array([[0, 51], [102, 255]], np.uint8)
    image = io.load_image(_write(tmp_path / "g.png", grey))
    np.testing.assert_array_equal(image, np.repeat(grey[..., None], 3, -1) / np.float32(255))

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = [[[10, 20, 30], [40, 50, 60]], [[70, 80, 90], [100, 110, 120]]]
    rgba[..., 3] = [[0, 255], [128, 255]]
    image = io.load_image(_write(tmp_path / "rgba.png", rgba))
    np.testing.assert_array_equal(image, rgba[..., :3] / np.float32(255))

    palette = Image.new("P", (3, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    palette.putdata([2, 0, 1])
    palette.save(tmp_path / "p.png")
    expected = np.array([[[0, 0, 1], [1, 0, 0], [0, 1, 0]]], np.float32)
    np.testing.assert_array_equal(io.load_image(tmp_path / "p.png"), expected)


def test_load_image_16_bit_greyscale(tmp_path):
    values = np.array([[0, 1000], [32768, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = io.load_image(tmp_path / "deep.png")
    expected = np.repeat((values.astype(np.float64) / 65535.0)[..., None], 3, -1)
    np.testing.assert_allclose(image, expected, atol=1e-7)


def test_load_image_applies_exif_orientation(tmp_path):
    pixels = np.zeros((2, 3, 3), np.uint8)
    pixels[0, 0] = 255  # Top-left red marker on a 2x3 (H x W) image.
    picture = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: rotate 90 degrees clockwise to display.
    picture.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    image = io.load_image(tmp_path / "rotated.jpg")
    assert image.shape == (3, 2, 3)
    # Rotating clockwise moves the top-left pixel to the top-right corner.
    assert image[0, 1, 0] > 0.8 and image[0, 0, 0] < 0.2


def test_load_image_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        io.load_image(tmp_path / "nope.png")
    (tmp_path / "text.png").write_text("this is not a picture")
    with pytest.raises(ValueError, match="cannot read image .*text.png"):
        io.load_image(tmp_path / "text.png")
    rng = np.random.default_rng(0)
    _write(tmp_path / "full.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    payload = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ValueError, match="cannot read image .*cut.png"):
        io.load_image(tmp_path / "cut.png")
    with pytest.raises(ValueError, match="folder"):
        io.load_image(tmp_path)


# ----------------------------------------------------------------------------------------------
# save_image


def test_save_image_png_round_trip_creates_folders(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (5, 7, 3)).astype(np.float32) / 255.0
    path = tmp_path / "new" / "deeper" / "out.png"
    io.save_image(path, pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(path), np.float32) / 255.0, pixels)
    assert [p.name for p in path.parent.iterdir()] == ["out.png"]  # No temporary left.


def test_save_image_clips_and_rounds_and_saves_masks(tmp_path):
    image = np.array([[[-0.5, 0.5, 1.5]]], np.float32)
    io.save_image(tmp_path / "c.png", image)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c.png")), [[[0, 128, 255]]])
    mask = np.array([[[0.0], [1.0]]], np.float32)
    io.save_image(tmp_path / "m.png", mask)
    np.testing.assert_array_equal(io.load_mask(tmp_path / "m.png"), mask)


def test_save_image_jpeg(tmp_path):
    image = np.full((16, 16, 3), 0.4, np.float32)
    io.save_image(tmp_path / "x.jpg", image)
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    np.testing.assert_allclose(io.load_image(tmp_path / "x.jpg"), image, atol=2 / 255)


def test_save_image_failure_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    io.save_image(path, np.zeros((2, 2, 3), np.float32))
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        io.save_image(path, np.ones((2, 2, 3), np.float32))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


def test_save_image_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        io.save_image(tmp_path / "n.png", np.full((2, 2, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="one image"):
        io.save_image(tmp_path / "b.png", np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="extension"):
        io.save_image(tmp_path / "noext", np.zeros((2, 2, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# load_mask


def test_load_mask_non_zero_is_hole(tmp_path):
    grey = np.array([[0, 1, 255], [0, 128, 0]], np.uint8)
    mask = io.load_mask(_write(tmp_path / "m.png", grey))
    assert mask.dtype == np.float32 and mask.shape == (2, 3, 1)
    np.testing.assert_array_equal(mask[..., 0], [[0, 1, 1], [0, 1, 0]])
    soft = io.load_mask(tmp_path / "m.png", threshold=0.5)
    np.testing.assert_array_equal(soft[..., 0], [[0, 0, 1], [0, 1, 0]])

    rgb = np.zeros((1, 3, 3), np.uint8)
    rgb[0, 1] = [0, 0, 3]  # Dark blue: non-zero, so a hole (luminance would round it to 0).
    rgb[0, 2] = 255
    mask = io.load_mask(_write(tmp_path / "rgb.png", rgb))
    np.testing.assert_array_equal(mask[..., 0], [[0, 1, 1]])


def test_load_mask_alpha_rule(tmp_path):
    layer = np.zeros((1, 3, 4), np.uint8)
    layer[..., :3] = 255  # The colour is white everywhere; only the alpha says where.
    layer[0, :, 3] = [0, 200, 255]
    mask = io.load_mask(_write(tmp_path / "layer.png", layer))
    np.testing.assert_array_equal(mask[..., 0], [[0, 1, 1]])

    opaque = np.zeros((1, 3, 4), np.uint8)
    opaque[..., 3] = 255  # Constant alpha: the colour decides.
    opaque[0, 1, :3] = 255
    mask = io.load_mask(_write(tmp_path / "opaque.png", opaque))
    np.testing.assert_array_equal(mask[..., 0], [[0, 1, 0]])


def test_load_mask_resize_nearest(tmp_path):
    grey = np.zeros((4, 4), np.uint8)
    grey[:2, 2:] = 255
    mask = io.load_mask(_write(tmp_path / "m.png", grey), size=(8, 2))
    assert mask.shape == (8, 2, 1)
    np.testing.assert_array_equal(mask[..., 0], [[0, 1]] * 4 + [[0, 0]] * 4)


def test_load_mask_shared_irregular_mask(shared):
    mask = io.load_mask(shared / "data" / "masks" / "hole10-20_00.png")
    assert mask.shape == (512, 512, 1)
    assert 0.10 <= mask.mean() <= 0.20  # The file name gives the hole area: 10-20 %.
    masks.check_mask(mask, (512, 512, 3))


# ----------------------------------------------------------------------------------------------
# list_images


def test_list_images(tmp_path):
    for name in ["b.PNG", "a.jpg", "sub/c.JpEg", "sub/d.webp", "e.bmp", "notes.txt", ".hidden.png"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    names = [p.relative_to(tmp_path).as_posix() for p in io.list_images(tmp_path)]
    assert names == ["a.jpg", "b.PNG", "e.bmp", "sub/c.JpEg", "sub/d.webp"]
    flat = [p.name for p in io.list_images(tmp_path, recursive=False)]
    assert flat == ["a.jpg", "b.PNG", "e.bmp"]


def test_list_images_glob_pattern(tmp_path):
    for name in ["m10_0.png", "m10_1.PNG", "m20_0.png", "m10_x.txt", ".m10_h.png", "sub/m10_2.png"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert io.is_glob_pattern(tmp_path / "m10_*.png") and not io.is_glob_pattern(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in io.list_images(tmp_path / "m10_*")]
    assert names == ["m10_0.png", "m10_1.PNG"]
    deep = [p.relative_to(tmp_path).as_posix() for p in io.list_images(tmp_path / "**/m10_*")]
    assert deep == ["m10_0.png", "m10_1.PNG", "sub/m10_2.png"]
    with pytest.raises(ValueError, match="match the pattern .*m30_"):
        io.list_images(tmp_path / "m30_*.png")


def test_list_images_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images .*empty"):
        io.list_images(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="missing"):
        io.list_images(tmp_path / "missing")




# ----------------------------------------------------------------------------------------------
# atomic_write


def test_atomic_write_bytes_and_text_create_folders(tmp_path):
    target = tmp_path / "a" / "b" / "file.bin"
    assert io.atomic_write(target, b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"
    io.atomic_write(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_atomic_write_failure_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, error):
    target = tmp_path / "report.md"
    target.write_text("old")

    def failing_replace(src, dst):
        raise error

    monkeypatch.setattr(io.os, "replace", failing_replace)
    with pytest.raises(type(error)):
        io.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
