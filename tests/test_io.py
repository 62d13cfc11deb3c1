"""Tests for npsynth.io: reading and writing images and masks, listing photos, the atomic write."""

from __future__ import annotations

import ast
import io as bytes_io
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from npsynth import files as npfiles
from npsynth import io, masks, resize


def _write(path, array, **save_options):
    Image.fromarray(array).save(path, **save_options)
    return path


@pytest.mark.parametrize("module", [io, npfiles, masks, resize])
def test_does_not_import_jax(module):
    # Data loading may run in worker processes: these modules import no JAX or Flax.
    # A package (npsynth.io) is checked module by module.
    source = Path(module.__file__)
    sources = sorted(source.parent.glob("*.py")) if source.name == "__init__.py" else [source]
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for path in sources
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    roots = {name.split(".")[0] for name in imported}
    assert not roots & {"jax", "jaxlib", "flax", "optax"}
    local = {name for name in imported if name.startswith("npsynth.")}
    local = {"npsynth.io" if name.startswith("npsynth.io.") else name for name in local}
    # npsynth.conventions (the mask check) imports NumPy only.
    assert local <= {
        "npsynth.resize", "npsynth.masks", "npsynth.io", "npsynth.files", "npsynth.conventions"
    }  # fmt: skip


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
# 16-bit colour photos (Pillow reads and writes colour at 8 bits only)

# 16-bit levels whose low bytes matter (8 bits cannot hold them), black and white included.
LEVELS16 = np.random.default_rng(16).integers(0, 65536, (4, 5, 3)).astype(np.uint16)
LEVELS16[0, 0], LEVELS16[-1, -1] = 0, 65535


def _png16(path, levels, *, chunks=()):
    """A 16-bit RGB (or RGBA) PNG of uint16 `levels` [H, W, 3 or 4], written by pypng, with
    `chunks` ((type, data) pairs) after its IHDR."""
    import png

    height, width, planes = levels.shape
    plain = bytes_io.BytesIO()
    writer = png.Writer(width, height, greyscale=False, alpha=planes == 4, bitdepth=16)
    writer.write(plain, levels.reshape(height, width * planes).tolist())
    parts = list(png.Reader(bytes=plain.getvalue()).chunks())
    with open(path, "wb") as file:
        png.write_chunks(file, parts[:1] + list(chunks) + parts[1:])
    return path


def _png16_levels(path) -> np.ndarray:
    """The uint16 [H, W, 3] levels of a 16-bit RGB PNG, read by pypng (not by npsynth)."""
    import png

    width, height, rows, info = png.Reader(bytes=Path(path).read_bytes()).read()
    assert info["bitdepth"] == 16 and info["planes"] == 3 and not info["greyscale"]
    return np.array([list(row) for row in rows], np.uint16).reshape(height, width, 3)


def _tiff16_levels(path) -> np.ndarray:
    """The uint16 [H, W, 3] samples of an RGB TIFF, read by tifffile (not by npsynth)."""
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        assert page.photometric == tifffile.PHOTOMETRIC.RGB and page.samplesperpixel == 3
        return page.asarray()


def test_a_16_bit_rgb_png_is_read_and_written_at_16_bits(tmp_path):
    rgba = np.concatenate([LEVELS16, np.full((4, 5, 1), 1234, np.uint16)], axis=-1)
    for name, levels in (("rgb.png", LEVELS16), ("rgba.png", rgba)):  # alpha: dropped
        photo = _png16(tmp_path / name, levels)
        image, info = io.load_photo(photo)
        assert image.dtype == np.float32 and info.bits == 16 and not info.grey
        np.testing.assert_array_equal(image, LEVELS16 / np.float32(65535))  # all 65536 levels
        np.testing.assert_array_equal(io.load_image(photo), image)
        np.testing.assert_array_equal(np.round(image * 65535), LEVELS16)  # float32 keeps them
        io.save_image(tmp_path / "out.png", image, like=info)
        np.testing.assert_array_equal(_png16_levels(tmp_path / "out.png"), LEVELS16)
        for suffix in (".tif", ".tiff"):
            io.save_image(tmp_path / f"out{suffix}", image, like=info)
            np.testing.assert_array_equal(_tiff16_levels(tmp_path / f"out{suffix}"), LEVELS16)
            with Image.open(tmp_path / f"out{suffix}") as written:
                assert written.mode == "RGB"  # Pillow reads it too (at 8 bits)
    io.save_image(tmp_path / "out.jpg", image, like=info)  # formats without 16 bits: 8 bits
    io.save_image(tmp_path / "plain.png", image)  # without `like`: 8 bits, as before
    for name in ("out.jpg", "plain.png"):
        with Image.open(tmp_path / name) as written:
            assert written.mode == "RGB" and np.asarray(written).dtype == np.uint8


def test_a_16_bit_rgb_tiff_is_read_and_written_at_16_bits(tmp_path):
    import tifffile

    rgba = np.concatenate([LEVELS16, np.full((4, 5, 1), 1234, np.uint16)], axis=-1)
    kinds = {
        "plain": (LEVELS16, {}),
        "zip": (LEVELS16, {"compression": "zlib", "predictor": True}),
        "planes": (np.moveaxis(LEVELS16, -1, 0), {"planarconfig": "separate"}),
        "big-endian": (LEVELS16, {"byteorder": ">"}),
        "rgba": (rgba, {"extrasamples": ["unassalpha"]}),
    }
    for kind, (samples, options) in kinds.items():
        photo = tmp_path / f"{kind}.tif"
        tifffile.imwrite(photo, samples, photometric="rgb", **options)
        image, info = io.load_photo(photo)
        assert info.bits == 16 and not info.grey, kind
        np.testing.assert_array_equal(image, LEVELS16 / np.float32(65535), err_msg=kind)
        io.save_image(tmp_path / "out.tif", image, like=info)
        np.testing.assert_array_equal(_tiff16_levels(tmp_path / "out.tif"), LEVELS16)
        io.save_image(tmp_path / "out.png", image, like=info)
        np.testing.assert_array_equal(_png16_levels(tmp_path / "out.png"), LEVELS16)


def test_a_16_bit_rgb_photo_keeps_its_exif_icc_profile_and_orientation(tmp_path):
    from PIL import ImageCms, ImageOps

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc = (b"iCCP", b"sRGB\0\0" + zlib.compress(profile))
    for orientation in range(1, 9):
        tags = Image.Exif()
        tags[0x010F] = "npsynth camera"  # Make
        tags[0x0112] = orientation
        exif = (b"eXIf", tags.tobytes()[len(b"Exif\0\0") :])
        photo = _png16(tmp_path / f"o{orientation}.png", LEVELS16, chunks=[icc, exif])
        image, info = io.load_photo(photo)
        levels = np.round(image * 65535).astype(np.uint16)
        # Turned as Pillow turns the file's 8-bit view (the high bytes of the levels).
        with Image.open(photo) as pillow:
            shown = np.asarray(ImageOps.exif_transpose(pillow).convert("RGB"))
        np.testing.assert_array_equal(levels >> 8, shown, err_msg=f"orientation {orientation}")
        if orientation == 6:  # a quarter turn clockwise, by hand: stored (r, c) -> (c, H-1-r)
            np.testing.assert_array_equal(levels, np.rot90(LEVELS16, k=-1))
        for suffix, read in ((".png", _png16_levels), (".tif", _tiff16_levels)):
            out = tmp_path / f"out{suffix}"
            io.save_image(out, image, like=info)
            np.testing.assert_array_equal(read(out), levels)  # turned once, on reading
            with Image.open(out) as written:
                assert written.info.get("icc_profile") == profile, suffix
                assert written.getexif().get(0x010F) == "npsynth camera", suffix
                assert 0x0112 not in written.getexif(), suffix


def test_a_16_bit_tiff_that_tifffile_cannot_decode_is_read_at_8_bits_with_a_warning(tmp_path):
    cv2 = pytest.importorskip("cv2")  # writes LZW TIFFs (tifffile needs imagecodecs for it)
    import tifffile

    photo = tmp_path / "lzw.tif"
    cv2.imwrite(str(photo), LEVELS16[..., ::-1])  # BGR; OpenCV's TIFFs are LZW-compressed
    with tifffile.TiffFile(photo) as tiff:
        compression = tiff.pages[0].compression
    if compression in tifffile.TIFF.DECOMPRESSORS:
        pytest.skip("tifffile decodes LZW here (imagecodecs is installed)")
    with pytest.warns(UserWarning, match=r"lzw.tif' is a 16-bit colour TIFF .*LZW.*8 bits"):
        image, info = io.load_photo(photo)
    assert info.bits == 8
    np.testing.assert_array_equal(image, (LEVELS16 >> 8) / np.float32(255))  # Pillow's view


def test_a_16_bit_rgb_photo_keeps_its_known_pixels_from_reading_to_writing(tmp_path):
    from npsynth import pyramid

    hole = np.zeros((4, 5), np.uint8)
    hole[1:3, 1:4] = 255
    mask_file = _write(tmp_path / "mask.png", hole)
    photo = _png16(tmp_path / "deep.png", LEVELS16)
    image, mask, info = io.load_photo_and_mask(photo, mask_file)
    # The pipeline's last step, with a grey fill of the hole: known pixels are the photo's.
    filled = pyramid.paste_hole(image, mask, (0, 4, 0, 5), np.full_like(image, 0.5))
    known = hole == 0
    for suffix, read in ((".png", _png16_levels), (".tif", _tiff16_levels)):
        io.save_image(tmp_path / f"out{suffix}", filled, like=info)
        written = read(tmp_path / f"out{suffix}")
        np.testing.assert_array_equal(written[known], LEVELS16[known])  # bit-exact, 16 bits
        assert np.all(written[~known] == 32768)  # round(0.5 * 65535)


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


def test_load_mask_la_with_constant_alpha_reads_its_luminance_white_as_hole(tmp_path):
    """Guards the LA mask path against reading its luminance inverted (black as hole)."""
    for alpha in (255, 128):  # opaque, or half transparent everywhere: the luminance decides
        la = np.zeros((2, 3, 2), np.uint8)
        la[..., 1] = alpha
        la[0, 1, 0], la[1, 2, 0] = 255, 200
        path = _write(tmp_path / f"la{alpha}.png", la)
        assert Image.open(path).mode == "LA"
        mask = io.load_mask(path)
        np.testing.assert_array_equal(mask[..., 0], [[0, 1, 0], [0, 0, 1]])
        soft = io.load_mask(path, threshold=0.9)  # 200 / 255 is under 0.9
        np.testing.assert_array_equal(soft[..., 0], [[0, 1, 0], [0, 0, 0]])


def test_load_mask_resize_nearest(tmp_path):
    grey = np.zeros((4, 4), np.uint8)
    grey[:2, 2:] = 255
    mask = io.load_mask(_write(tmp_path / "m.png", grey), size=(8, 2))
    assert mask.shape == (8, 2, 1)
    np.testing.assert_array_equal(mask[..., 0], [[0, 1]] * 4 + [[0, 0]] * 4)


def test_load_mask_resize_never_loses_a_thin_hole(tmp_path):
    # 1 px lines in a 64x64 mask loaded at 16x16 (a factor of 4). Nearest neighbour samples
    # source rows/columns 4i+2 only, so it drops row 29 and column 33 (the whole hole).
    grey = np.zeros((64, 64), np.uint8)
    grey[29, 8:56] = 255  # row 29 -> output row 29 // 4 = 7; columns 8..55 -> 2..13
    grey[40:64, 33] = 255  # column 33 -> output column 8; rows 40..63 -> 10..15
    mask = io.load_mask(_write(tmp_path / "thin.png", grey), size=(16, 16))
    expected = np.zeros((16, 16), np.float32)
    expected[7, 2:14] = 1
    expected[10:16, 8] = 1
    np.testing.assert_array_equal(mask[..., 0], expected)
    masks.check_mask(mask, (16, 16, 3))  # still has a hole


def test_load_mask_errors_name_the_mask_file(tmp_path):
    rng = np.random.default_rng(0)
    _write(tmp_path / "full.png", rng.integers(0, 256, (64, 64), dtype=np.uint8))
    payload = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ValueError, match="cannot read mask .*cut.png"):
        io.load_mask(tmp_path / "cut.png")
    with pytest.raises(FileNotFoundError, match="mask file .*nope.png"):
        io.load_mask(tmp_path / "nope.png")


# ----------------------------------------------------------------------------------------------
# EXIF orientation: photo and mask read with the same rule (load_mask_for)


def _rotated_photo(tmp_path):
    """A JPEG whose stored pixels are 16x32 (HxW), grey with a red 8x8 top-left corner (one
    JPEG block, no chroma subsampling, so the colours stay clean), and EXIF orientation 6
    (rotate 90 degrees clockwise to show): it is shown 32x16, the red corner top-right."""
    pixels = np.full((16, 32, 3), 128, np.uint8)
    pixels[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif, quality=95, subsampling=0)
    return tmp_path / "photo.jpg"


# Where the red corner (stored rows 0..7, columns 0..7) is shown: a clockwise turn of 16x32
# stored pixels takes stored (r, c) to shown (c, 16 - 1 - r): rows 0..7, columns 8..15.
SHOWN_CORNER = np.zeros((32, 16), np.float32)
SHOWN_CORNER[:8, 8:] = 1


def test_load_mask_for_turns_a_mask_drawn_on_the_stored_pixels(tmp_path):
    photo_path = _rotated_photo(tmp_path)
    photo = io.load_image(photo_path)
    assert photo.shape == (32, 16, 3) and io.image_size(photo_path) == (32, 16)
    stored = np.zeros((16, 32), np.uint8)
    stored[:8, :8] = 255  # the red corner, marked on the stored (unrotated) pixels
    mask = io.load_mask_for(_write(tmp_path / "stored.png", stored), photo_path)
    np.testing.assert_array_equal(mask[..., 0], SHOWN_CORNER)
    hole = mask[..., 0] > 0
    np.testing.assert_allclose(photo[hole], np.broadcast_to([1.0, 0, 0], (64, 3)), atol=0.05)
    np.testing.assert_allclose(photo[~hole], 128 / 255, atol=0.05)

    # At half the stored resolution: turned the same way, then resized (2x) to the photo.
    half = np.zeros((8, 16), np.uint8)
    half[:4, :4] = 255
    mask = io.load_mask_for(_write(tmp_path / "half.png", half), photo_path)
    np.testing.assert_array_equal(mask[..., 0], SHOWN_CORNER)
    # Drawn over the photo as a viewer shows it: used as it is.
    shown = (SHOWN_CORNER * 255).astype(np.uint8)
    mask = io.load_mask_for(_write(tmp_path / "shown.png", shown), photo_path)
    np.testing.assert_array_equal(mask[..., 0], SHOWN_CORNER)
    # A mask file with its own EXIF orientation 6 is turned by its own tag, as load_image does.
    exif = Image.Exif()
    exif[0x0112] = 6
    tagged = _write(tmp_path / "tagged.png", stored, exif=exif)
    np.testing.assert_array_equal(io.load_mask(tagged)[..., 0], SHOWN_CORNER)
    np.testing.assert_array_equal(io.load_mask_for(tagged, photo_path)[..., 0], SHOWN_CORNER)


def test_a_mask_that_differs_from_its_photo_by_a_rotation_is_an_error(tmp_path):
    stored = np.zeros((8, 16), np.uint8)
    stored[:4, :4] = 255
    stored_path = _write(tmp_path / "stored.png", stored)
    # load_mask(size=the size turned) would stretch 8x16 onto 16x8: refused, and says why.
    with pytest.raises(ValueError, match=r"'.*stored.png' is 8x16 .* 16x8.* rotation"):
        io.load_mask(stored_path, size=(16, 8))
    # A photo without an EXIF orientation and a mask turned a quarter: no stretch either.
    plain = _write(tmp_path / "plain.png", np.zeros((16, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"mask '.*stored.png' is 8x16 .*'.*plain.png' is 16x8"):
        io.load_mask_for(stored_path, plain)
    # The other checks of the pair name both files too.
    empty = _write(tmp_path / "empty.png", np.zeros((16, 8), np.uint8))
    with pytest.raises(ValueError, match=r"mask '.*empty.png' for '.*plain.png': .*no hole"):
        io.load_mask_for(empty, plain)
    with pytest.raises(FileNotFoundError, match="image file .*absent.jpg"):
        io.load_mask_for(stored_path, tmp_path / "absent.jpg")


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
    names = [p.relative_to(tmp_path).as_posix() for p in npfiles.list_images(tmp_path)]
    assert names == ["a.jpg", "b.PNG", "e.bmp", "sub/c.JpEg", "sub/d.webp"]
    flat = [p.name for p in npfiles.list_images(tmp_path, recursive=False)]
    assert flat == ["a.jpg", "b.PNG", "e.bmp"]


def test_list_images_glob_pattern(tmp_path):
    for name in ["m10_0.png", "m10_1.PNG", "m20_0.png", "m10_x.txt", ".m10_h.png", "sub/m10_2.png"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert npfiles.is_glob_pattern(tmp_path / "m10_*.png") and not npfiles.is_glob_pattern(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in npfiles.list_images(tmp_path / "m10_*")]
    assert names == ["m10_0.png", "m10_1.PNG"]
    deep = [p.relative_to(tmp_path).as_posix() for p in npfiles.list_images(tmp_path / "**/m10_*")]
    assert deep == ["m10_0.png", "m10_1.PNG", "sub/m10_2.png"]
    with pytest.raises(ValueError, match="match the pattern .*m30_"):
        npfiles.list_images(tmp_path / "m30_*.png")


def test_list_images_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images .*empty"):
        npfiles.list_images(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="missing"):
        npfiles.list_images(tmp_path / "missing")


# ----------------------------------------------------------------------------------------------
# atomic_write


def test_atomic_write_bytes_and_text_create_folders(tmp_path):
    target = tmp_path / "a" / "b" / "file.bin"
    assert npfiles.atomic_write(target, b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"
    npfiles.atomic_write(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_atomic_write_failure_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, error):
    target = tmp_path / "report.md"
    target.write_text("old")

    def failing_replace(src, dst):
        raise error

    monkeypatch.setattr(npfiles.os, "replace", failing_replace)
    with pytest.raises(type(error)):
        npfiles.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_atomic_write_makes_its_temporary_file_in_the_destination_folder(tmp_path, monkeypatch):
    """Guards atomic_write against a temporary file outside the destination's folder (a
    rename across file systems fails)."""
    target = tmp_path / "out" / "report.md"
    renames = []
    real_replace = npfiles.os.replace

    def spying_replace(src, dst):
        renames.append((Path(src), Path(dst), Path(src).read_bytes()))
        return real_replace(src, dst)

    monkeypatch.setattr(npfiles.os, "replace", spying_replace)
    npfiles.atomic_write(target, "new")
    ((src, dst, data),) = renames
    assert dst == target and src.parent == target.parent and src != target
    assert data == b"new" and target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_atomic_write_on_a_full_disk_names_the_file(tmp_path, monkeypatch):
    import builtins

    def full_disk(file, mode="r", *args, **kwargs):  # what a full disk does to every write
        return builtins.open("/dev/full", "wb")

    monkeypatch.setattr(npfiles, "open", full_disk, raising=False)
    with pytest.raises(OSError) as caught:
        npfiles.atomic_write(tmp_path / "report.md", "text")
    assert (caught.value.errno, caught.value.filename) == (28, str(tmp_path / "report.md"))
    assert list(tmp_path.iterdir()) == []


def test_save_image_writes_only_formats_that_take_any_size(tmp_path):
    for suffix in (".ico", ".gif", ".h5"):
        with pytest.raises(ValueError, match=f"npsynth does not write '{suffix}' files; use"):
            io.save_image(tmp_path / f"x{suffix}", np.zeros((300, 300, 3), np.float32))
    for suffix in io.WRITE_FORMATS:
        io.save_image(tmp_path / f"x{suffix}", np.zeros((300, 300, 3), np.float32))
        assert Image.open(tmp_path / f"x{suffix}").size == (300, 300)


def test_npsynths_own_files_are_read_and_appended_only_when_regular(tmp_path):
    import os
    import stat

    from test_reading import release, within

    own = tmp_path / "metrics.jsonl"
    assert not npfiles.check_regular(own, "metrics")
    npfiles.append_regular(own, "one\n", "metrics")  # created
    npfiles.append_regular(own, "two\n", "metrics")
    assert npfiles.check_regular(own) and npfiles.read_regular(own) == "one\ntwo\n"
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    message = rf"^cannot use metrics '{fifo}': it is not a regular file \(a pipe\); remove it"
    calls = (
        lambda: npfiles.check_regular(fifo, "metrics"),
        lambda: npfiles.read_regular(fifo, "metrics"),
        lambda: npfiles.append_regular(fifo, "x", "metrics"),
    )
    for call in calls:
        with pytest.raises(npfiles.NotRegularFile, match=message):
            within(call, unblock=release(fifo))
    with pytest.raises(npfiles.NotRegularFile, match=r"it is not a regular file \(a folder\)"):
        npfiles.read_regular(tmp_path, "metrics")
    with pytest.raises(FileNotFoundError):
        npfiles.read_regular(tmp_path / "missing.json", "metrics")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # never replaced


def test_save_image_names_the_file_past_a_formats_size_limit_or_on_an_encoder_error(
    tmp_path, monkeypatch
):
    wide = np.zeros((2, 65501, 3), np.float32)
    with pytest.raises(ValueError, match=r"cannot write '.*w\.jpg': JPEG holds at most 65500 px"):
        io.save_image(tmp_path / "w.jpg", wide)
    assert (
        io.size_problem("a.JPEG", 65500, 3) is None and io.size_problem("a.png", 10**6, 1) is None
    )
    # The encoder's own error ("broken data stream", no file named) is an OSError of the file.
    monkeypatch.setattr(io.writing, "MAX_SIDES", {})  # the module that reads it
    with pytest.raises(OSError, match="cannot encode JPEG: broken data stream") as raised:
        io.save_image(tmp_path / "w.jpg", wide)
    assert raised.value.filename == str(tmp_path / "w.jpg")
    assert list(tmp_path.iterdir()) == []
