"""Tests for npsynth.data: file I/O, masks, generators and resizing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from npsynth import io, masks, resize


def _write(path, array, **save_options):
    Image.fromarray(array).save(path, **save_options)
    return path


# ----------------------------------------------------------------------------------------------
# load_image


def test_data_does_not_import_jax():
    # Load data.py on its own (not through npsynth/__init__.py, which may import jax).
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('data', {data.__file__!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print('jax' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


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
# check_mask


def test_check_mask_accepts_good_masks():
    mask = np.zeros((4, 5, 1), np.float32)
    mask[1, 2] = 1
    masks.check_mask(mask, (4, 5, 3))
    masks.check_mask(np.stack([mask, 1 - mask]), (2, 4, 5, 3))


@pytest.mark.parametrize(
    "mask, shape, message",
    [
        (np.zeros((4, 5), np.float32), (4, 5, 3), r"\[H, W, 1\]"),
        (np.ones((4, 4, 1), np.float32), (4, 5, 3), "4x4 .* 4x5"),
        (np.zeros((4, 5, 1), np.float32), (4, 5, 3), "no hole pixels: nothing to inpaint"),
        (np.ones((4, 5, 1), np.float32), (4, 5, 3), "covers the whole image"),
        (np.full((4, 5, 1), 0.5, np.float32), (4, 5, 3), r"0 \(known\) or 1 \(hole\)"),
    ],
)
def test_check_mask_errors(mask, shape, message):
    with pytest.raises(ValueError, match=message):
        masks.check_mask(mask, shape)


def test_check_mask_checks_every_image_of_a_batch():
    masks = np.zeros((2, 4, 4, 1), np.float32)
    masks[0, 0, 0] = 1
    with pytest.raises(ValueError, match="no hole pixels"):
        masks.check_mask(masks, (2, 4, 4, 3))


# ----------------------------------------------------------------------------------------------
# Mask generators


def test_center_mask_by_hand():
    mask = masks.center_mask(8, 6)
    expected = np.zeros((8, 6), np.float32)
    expected[2:6, 1:4] = 1  # Half of each side (4 x 3), centred.
    np.testing.assert_array_equal(mask[..., 0], expected)
    assert mask.dtype == np.float32 and mask.shape == (8, 6, 1)
    quarter = masks.center_mask(8, 8, fraction=0.25)
    assert quarter.sum() == 4 and quarter[3:5, 3:5].all()
    with pytest.raises(ValueError, match="fraction"):
        masks.center_mask(8, 8, fraction=1.0)


@pytest.mark.parametrize("maker", [masks.random_boxes_mask, masks.free_form_mask])
def test_random_masks_are_seeded_binary_and_partial(maker):
    masks = [maker(48, 40, rng=seed) for seed in range(6)]
    for mask in masks:
        assert mask.dtype == np.float32 and mask.shape == (48, 40, 1)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        masks.check_mask(mask, (48, 40, 3))
    np.testing.assert_array_equal(maker(48, 40, rng=3), masks[3])
    np.testing.assert_array_equal(maker(48, 40, rng=np.random.default_rng(3)), masks[3])
    assert not all(np.array_equal(masks[0], other) for other in masks[1:])
    with pytest.raises(ValueError, match="rng"):
        maker(48, 40, rng=None)


def test_random_boxes_respect_max_fraction():
    for seed in range(10):
        mask = masks.random_boxes_mask(40, 60, rng=seed, count=1, max_fraction=0.25)[..., 0]
        rows, cols = np.nonzero(mask)
        assert rows.max() - rows.min() + 1 <= 10 and cols.max() - cols.min() + 1 <= 15


def test_make_mask_parses_kinds():
    np.testing.assert_array_equal(masks.make_mask("center", 8, 8), masks.center_mask(8, 8))
    np.testing.assert_array_equal(
        masks.make_mask("center:0.25", 8, 8), masks.center_mask(8, 8, fraction=0.25)
    )
    np.testing.assert_array_equal(
        masks.make_mask("boxes", 8, 9, rng=2), masks.random_boxes_mask(8, 9, rng=2)
    )
    np.testing.assert_array_equal(
        masks.make_mask("strokes", 8, 9, rng=2), masks.free_form_mask(8, 9, rng=2)
    )
    for bad, message in [("circle", "unknown hole kind"), ("center:half", "FRACTION")]:
        with pytest.raises(ValueError, match=message):
            masks.make_mask(bad, 8, 8, rng=0)
    with pytest.raises(ValueError, match="rng"):
        masks.make_mask("strokes", 8, 8)


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
# Resizing


def test_resize_image_keeps_linear_ramps():
    # Bicubic interpolation reproduces linear functions exactly away from the borders; a 2x
    # downsizing samples the ramp at the output pixel centres, x_in = 2 * x_out + 0.5.
    columns = np.arange(32, dtype=np.float32)
    image = np.broadcast_to((columns / 64.0)[None, :, None], (6, 32, 3)).copy()
    small = resize.resize_image(image, (3, 16))
    assert small.shape == (3, 16, 3) and small.dtype == np.float32
    expected = (2 * np.arange(16) + 0.5) / 64.0
    np.testing.assert_allclose(small[1, 3:-3, 0], expected[3:-3], atol=1e-5)


def test_resize_image_constant_batched_and_clipped():
    image = np.full((2, 9, 7, 3), 0.25, np.float32)
    out = resize.resize_image(image, (4, 5))
    assert out.shape == (2, 4, 5, 3)
    np.testing.assert_allclose(out, 0.25, atol=1e-6)
    edge = np.zeros((8, 8, 1), np.float32)
    edge[:, 4:] = 1.0  # Bicubic overshoots at a sharp edge: clipping keeps [0, 1].
    assert resize.resize_image(edge, (8, 13)).max() <= 1.0
    assert resize.resize_image(edge, (8, 13)).min() >= 0.0
    assert resize.resize_image(edge, (8, 13), clip=False).max() > 1.0


def test_resize_mask_by_hand():
    mask = np.zeros((4, 4, 1), np.float32)
    mask[1, 2] = 1
    np.testing.assert_array_equal(resize.resize_mask(mask, (2, 2))[..., 0], [[0, 1], [0, 0]])
    # 3 -> 2: output pixel 0 covers source [0, 1.5), pixel 1 covers [1.5, 3); the centre
    # source pixel straddles both, so it marks all four outputs.
    centre = np.zeros((3, 3, 1), np.float32)
    centre[1, 1] = 1
    np.testing.assert_array_equal(resize.resize_mask(centre, (2, 2))[..., 0], np.ones((2, 2)))
    corner = np.zeros((3, 3, 1), np.float32)
    corner[0, 0] = 1
    np.testing.assert_array_equal(resize.resize_mask(corner, (2, 2))[..., 0], [[1, 0], [0, 0]])
    up = resize.resize_mask(np.array([[[1.0], [0.0]]], np.float32), (2, 4))
    np.testing.assert_array_equal(up[..., 0], [[1, 1, 0, 0], [1, 1, 0, 0]])


def test_resize_mask_never_shrinks_the_hole():
    for seed in range(5):
        mask = masks.free_form_mask(37, 29, rng=seed, max_width=3)
        small = resize.resize_mask(mask[None], (10, 7))[0]
        # Every source hole pixel lies in (the footprint of) a small hole pixel.
        rows = (np.arange(37) * 10) // 37
        cols = (np.arange(29) * 7) // 29
        covered = small[rows[:, None], cols[None, :], 0]
        assert np.all(covered[mask[..., 0] > 0] == 1)
        assert small.shape == (10, 7, 1) and set(np.unique(small)) <= {0.0, 1.0}
