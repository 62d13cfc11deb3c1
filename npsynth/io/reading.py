"""Reading photos (NumPy + Pillow, no JAX): the header checks, the pixel limit, EXIF
orientation, and what a photo carries besides its pixels (`PhotoInfo`).

Part of `npsynth.io` (its docstring gives the conventions of images and masks). A file the
user named is opened once (`open_input`), so a pipe (`--image <(cat p.png)`) is read once
into memory, and what is not a regular file (a FIFO with no writer, a device, a socket) is
refused before anything is read, never waited on. An image is checked from its header before
its pixels are decoded (`check_header`): at most `MAX_PIXELS` (the one limit of the command
lines and the page) and one frame (an animated GIF or a multi-page TIFF is ambiguous). Float
images must hold values in [0, 1] (and 32-bit integer ones in [0, 65535]): they are refused,
never clipped. 16-bit colour PNGs and TIFFs are read at their 16 bits
(`npsynth.io.sixteen_bit`).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path

import numpy as np
import png  # pypng: 16-bit colour PNGs, which Pillow reads and writes at 8 bits only
from PIL import Image, ImageOps, UnidentifiedImageError

from npsynth.files import open_input
from npsynth.io.sixteen_bit import _rgb16

# EXIF orientation tag -> the transpose that shows the stored pixels upright (the ones
# `ImageOps.exif_transpose` applies); 5 to 8 swap height and width.
_EXIF_ORIENTATION = 0x0112
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = (5, 6, 7, 8)
# What Pillow (and pypng, tifffile for 16-bit colour) raise on files they cannot read
# (corrupt, truncated, not an image, unreadable); tifffile's errors are ValueErrors.
_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, png.Error)


# The most pixels (width * height) of an image npsynth reads, from a file (photos, masks,
# the photos of a folder) or uploaded to the page (`npsynth.serve.uploads.Limits`): checked
# from the file's header, before any pixel is decoded. 40 megapixels is a 7700 x 5200 photo.
MAX_PIXELS = 40_000_000
# Pillow's own limit says only the pixel count when it refuses an image outright.
_PILLOW_PIXELS = re.compile(r"Image size \((\d+) pixels\)")


def check_pixels(width: int, height: int, name: str, limit: int = MAX_PIXELS) -> None:
    """Raise `TooManyPixels` naming `name` when a `width` x `height` image is over `limit`."""
    if width * height > limit:
        raise TooManyPixels(name, width * height, limit, f"{width}x{height} = ")


class RefusedImage(ValueError):
    """An image file npsynth refuses from its header (`check_header`); the message names it."""


class TooManyPixels(RefusedImage):
    """An image over the pixel limit (`MAX_PIXELS`); the message names it and the limit."""

    def __init__(self, name: str, pixels: int, limit: int, size: str = ""):
        super().__init__(
            f"{name} is {size}{pixels / 1e6:.1f} megapixels; npsynth reads images of at most "
            f"{limit / 1e6:g} megapixels: downsize it first"
        )
        self.pixels, self.limit = pixels, limit


def pillow_bomb(error: Exception, name: str, limit: int = MAX_PIXELS) -> TooManyPixels:
    """Pillow's own refusal of a huge image (`DecompressionBombError`, raised before npsynth
    sees the size) as npsynth's `TooManyPixels`."""
    found = _PILLOW_PIXELS.search(str(error))
    pixels = int(found.group(1)) if found else 2 * (Image.MAX_IMAGE_PIXELS or limit) + 1
    return TooManyPixels(name, max(pixels, limit + 1), limit)


def frames_error(count: int, name: str) -> RefusedImage:
    return RefusedImage(
        f"{name} has {count} frames (an animation or a multi-page file), so which picture to "
        "use is unclear; save the one frame you mean as a PNG"
    )


def check_header(opened: Image.Image, name: str, limit: int = MAX_PIXELS) -> None:
    """The checks on an opened image file before it is decoded: at most `limit` pixels and
    one frame (a JPEG's MPO preview frames do not count: its first frame is the photo)."""
    check_pixels(*opened.size, name, limit)
    frames = getattr(opened, "n_frames", 1)
    if frames > 1 and opened.format != "MPO":
        raise frames_error(frames, name)


def _read_error(path: Path, what: str, error: Exception) -> ValueError:
    reason = "not an image Pillow can open" if isinstance(error, UnidentifiedImageError) else error
    return ValueError(
        f"cannot read {what} {str(path)!r}: {reason}. "
        "Pass a complete image file that Pillow can open (PNG, JPEG, BMP, WebP, ...)."
    )


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8) of an opened file; 1 (as stored) without a valid tag."""
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    return orientation if orientation in _TRANSPOSES else 1


def _shown_size(stored: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(height, width) of stored pixels of size `stored` once `orientation` is applied."""
    return (stored[1], stored[0]) if orientation in _SWAPS_AXES else stored


# The value range of the pixels of Pillow modes that are not 8-bit: taken to mean [0, 1].
_RANGES = {"F": 1.0, "I": 65535.0}


def _check_range(image: Image.Image, name: str) -> None:
    """Refuse a float image outside [0, 1] or a 32-bit integer one outside [0, 65535]: npsynth
    reads these as [0, 1], and clipping would change the picture without a word."""
    top = _RANGES.get(image.mode)
    if top is None:
        return
    values = np.asarray(image)
    if values.size and not (
        np.isfinite(values).all() and values.min() >= 0 and values.max() <= top
    ):
        low, high = np.nanmin(values), np.nanmax(values)
        raise ValueError(
            f"{name} holds values from {low:g} to {high:g} (mode {image.mode}), outside "
            f"[0, {top:g}], the range npsynth reads as black to white; scale the file to "
            f"[0, {top:g}] first"
        )


def _open_file(
    path, what: str, *, decode: bool, deep: bool = False
) -> tuple[Image.Image | None, tuple, int, np.ndarray | None]:
    """Open `path` once (`open_input`), check its header (`check_header`) and, with
    `decode`, decode it with its EXIF orientation applied. Returns (the decoded image or
    None, (height, width) as stored, orientation tag, and with `deep` the uint16 [H, W, 3]
    pixels of a 16-bit colour PNG or TIFF, orientation applied (`_rgb16`), else None);
    errors name the file as `what`."""
    name = f"{what} {str(path)!r}"
    pixels16 = None
    with open_input(path, what) as stream:
        try:
            with warnings.catch_warnings():  # npsynth's own limit, checked from the header
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(stream) as opened:
                    check_header(opened, name)
                    width, height = opened.size
                    orientation = _orientation(opened)
                    if not decode:
                        return None, (height, width), orientation, None
                    opened.load()  # Decode now, so truncated files fail here and not later.
                    image = ImageOps.exif_transpose(opened)
                    image.load()
                    if deep:
                        pixels16 = _rgb16(opened, stream, name)
        except Image.DecompressionBombError as error:
            raise pillow_bomb(error, name) from None
        except RefusedImage:
            raise
        except _READ_ERRORS as error:
            raise _read_error(Path(path), what, error) from error
    _check_range(image, name)
    if pixels16 is not None:
        pixels16 = _turn(pixels16, orientation)
    return image, (height, width), orientation, pixels16


def _turn(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels [H, W, C] shown as EXIF `orientation` says, by Pillow's own transposes
    (those of `ImageOps.exif_transpose`, one 16-bit channel at a time)."""
    if orientation not in _TRANSPOSES:
        return pixels
    turn = _TRANSPOSES[orientation]
    channels = [Image.fromarray(np.ascontiguousarray(c)).transpose(turn) for c in
                np.moveaxis(pixels, -1, 0)]  # fmt: skip
    return np.stack([np.asarray(channel) for channel in channels], axis=-1)


def open_image(path, what: str = "image") -> Image.Image:
    """The decoded Pillow image of the file `path`, EXIF orientation applied, after the
    checks of `load_image` (opened once, a regular file or a pipe, at most `MAX_PIXELS`,
    one frame, float values in [0, 1])."""
    return _open_image(path, what)[0]


def _open_image(path, what: str = "image") -> tuple[Image.Image, int]:
    """Open and fully decode `path` with Pillow, EXIF orientation applied; also return the
    orientation tag it had (1 when none). Errors name the file as the `what` it is."""
    image, _, orientation, _ = _open_file(path, what, decode=True)
    return image, orientation


def _stored_size(path, what: str) -> tuple[tuple[int, int], int]:
    """((height, width) of the stored pixels, EXIF orientation) from the file's header."""
    _, stored, orientation, _ = _open_file(path, what, decode=False)
    return stored, orientation


def image_size(path) -> tuple[int, int]:
    """(height, width) of the array `load_image(path)` returns (EXIF orientation applied),
    read from the file's header without decoding the pixels.

    Raises:
      FileNotFoundError: the file does not exist.
      ValueError: the file is not a readable image; the message names it.
    """
    return _shown_size(*_stored_size(path, "image"))


def _to_unit_array(image: Image.Image) -> np.ndarray:
    """Pixel values of a single-band or multi-band Pillow image as float32 in [0, 1]."""
    if image.mode == "1":
        return np.asarray(image, np.float32)
    if image.mode.startswith("I"):  # 16-bit greyscale ("I;16", "I;16B") or 32-bit int "I".
        values = np.asarray(image).astype(np.float32)
        return np.clip(values / 65535.0, 0.0, 1.0)
    if image.mode == "F":  # Float TIFFs: taken to be in [0, 1] already.
        return np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    return np.asarray(image, np.float32) / 255.0


def load_image(path) -> np.ndarray:
    """Read an image file as RGB.

    Greyscale, palette, CMYK and 16-bit files are converted to RGB; an alpha channel is
    dropped (the colour stored under transparent pixels is kept). 16-bit files keep their
    65536 levels (values / 65535), 16-bit colour PNGs and TIFFs included. The EXIF
    orientation tag is applied, so the array looks the way photo viewers show the file.

    Args:
      path: any file Pillow can read.

    Returns:
      float32 [H, W, 3], RGB in [0, 1].

    Raises:
      FileNotFoundError: the file does not exist.
      ValueError: the file is not a readable image (corrupt, truncated, not an image), not a
        regular file (`open_input`), over `MAX_PIXELS` (`TooManyPixels`, from the header),
        has several frames (an animated GIF, a multi-page TIFF), or holds float values
        outside [0, 1]; the message names it.
    """
    return load_photo(path)[0]


def load_photo(path) -> tuple[np.ndarray, PhotoInfo]:
    """`load_image(path)` and what the file carries besides its pixels (`photo_info`), from
    one read of the file: `save_image(..., like=info)` keeps it on the way out."""
    image, _, _, pixels16 = _open_file(path, "image", decode=True, deep=True)
    return _as_rgb(image, path, pixels16), photo_info(image, pixels16)


@dataclasses.dataclass(frozen=True)
class PhotoInfo:
    """What a photo file carries besides its pixels, kept by `save_image(like=...)`."""

    exif: bytes | None = None  # its EXIF, without the orientation tag (applied on reading)
    icc_profile: bytes | None = None  # its colour profile
    bits: int = 8  # bits per channel: 16 for a 16-bit file (PNG, TIFF), grey or colour
    grey: bool = False  # a greyscale file: with bits=16, written back as 16-bit greyscale


def photo_info(image: Image.Image, pixels16: np.ndarray | None = None) -> PhotoInfo:
    """The `PhotoInfo` of an opened file (`_open_image`'s image, orientation applied), with
    `pixels16` its 16-bit colour pixels where it has them (`_rgb16`)."""
    exif = None
    if image.info.get("exif"):
        tags = Image.Exif()
        tags.load(image.info["exif"])
        tags.pop(_EXIF_ORIENTATION, None)  # applied to the pixels: never rotate them again
        exif = tags.tobytes() if len(tags) else None
    grey = image.mode.startswith("I;16")
    bits = 16 if grey or pixels16 is not None else 8
    icc_profile = image.info.get("icc_profile") or None
    return PhotoInfo(exif=exif, icc_profile=icc_profile, bits=bits, grey=grey)


def _as_rgb(image: Image.Image, path, pixels16: np.ndarray | None = None) -> np.ndarray:
    """A decoded photo as float32 [H, W, 3] RGB in [0, 1] (`load_image`); `pixels16`, the
    16-bit colour pixels of the file where it has them (`_rgb16`), are used instead."""
    if pixels16 is not None:  # v / 65535 in float32: round(x * 65535) gives v back exactly
        return pixels16.astype(np.float32) / np.float32(65535.0)
    if image.mode.startswith("I") or image.mode == "F":
        grey = _to_unit_array(image)
        return np.repeat(grey[..., None], 3, axis=-1)
    try:
        rgb = image.convert("RGB")
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot read image {str(path)!r}: cannot convert mode {image.mode} to RGB ({error}). "
            "Convert the file to an RGB PNG or JPEG first."
        ) from error
    return np.asarray(rgb, np.float32) / 255.0
