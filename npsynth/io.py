"""Images and masks on disk, and the one atomic write (NumPy + Pillow, no JAX).

Conventions (see also `npsynth.masks`): an image is float32 `[H, W, 3]`, RGB, values in
[0, 1]; a mask is float32 `[H, W, 1]`, 1 = hole. Every file npsynth writes goes through
`atomic_write`: a temporary file in the destination folder that then replaces the path, so
a failed or interrupted write never leaves a half-written or clobbered file.

EXIF orientation: `load_image` and `load_mask` apply a file's own EXIF orientation tag, so
arrays look the way photo viewers show the files. A mask drawn on a rotated photo's *stored*
pixels (by a tool that ignores the tag) has the stored size instead; `load_mask_for` reads a
mask for one photo file and lines the two up (its docstring gives the rule), and a mask that
differs from its photo only by a rotation is an error, never a silent stretch.
"""

from __future__ import annotations

import dataclasses
import glob
import io
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from npsynth.masks import check_mask
from npsynth.resize import check_size, resize_mask

# File extensions that `list_images` picks up (compared in lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# File extensions `save_image` writes, and their Pillow formats: those that take an RGB or
# greyscale image of any size (not .ico, at most 256 px; nor .gif, 256 colours).
WRITE_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
    ".tiff": "TIFF", ".webp": "WEBP",
}  # fmt: skip


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
# What Pillow raises on files it cannot read (corrupt, truncated, not an image, unreadable).
_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


def _check_file(path, what: str) -> Path:
    """`path` as a Path, or FileNotFoundError / ValueError naming it (missing, a folder)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise ValueError(f"cannot read {what} {str(path)!r}: it is a folder; pass an image file")
    return path


def _read_error(path: Path, what: str, error: Exception) -> ValueError:
    return ValueError(
        f"cannot read {what} {str(path)!r}: {error}. "
        "Pass a complete image file that Pillow can open (PNG, JPEG, BMP, WebP, ...)."
    )


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8) of an opened file; 1 (as stored) without a valid tag."""
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    return orientation if orientation in _TRANSPOSES else 1


def _shown_size(stored: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(height, width) of stored pixels of size `stored` once `orientation` is applied."""
    return (stored[1], stored[0]) if orientation in _SWAPS_AXES else stored


def _open_image(path, what: str = "image") -> tuple[Image.Image, int]:
    """Open and fully decode `path` with Pillow, EXIF orientation applied; also return the
    orientation tag it had (1 when none). Errors name the file as the `what` it is."""
    path = _check_file(path, what)
    try:
        with Image.open(path) as opened:
            opened.load()  # Decode now, so truncated files fail here and not later.
            orientation = _orientation(opened)
            image = ImageOps.exif_transpose(opened)
            image.load()
    except _READ_ERRORS as error:
        raise _read_error(path, what, error) from error
    return image, orientation


def _stored_size(path, what: str) -> tuple[tuple[int, int], int]:
    """((height, width) of the stored pixels, EXIF orientation) from the file's header."""
    path = _check_file(path, what)
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            orientation = _orientation(opened)
    except _READ_ERRORS as error:
        raise _read_error(path, what, error) from error
    return (height, width), orientation


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
    dropped (the colour stored under transparent pixels is kept). The EXIF orientation tag
    is applied, so the array looks the way photo viewers show the file.

    Args:
      path: any file Pillow can read.

    Returns:
      float32 [H, W, 3], RGB in [0, 1].

    Raises:
      FileNotFoundError: the file does not exist.
      ValueError: the file is not a readable image (corrupt, truncated, not an image); the
        message names it.
    """
    image, _ = _open_image(path)
    return _rgb(image, path)


def load_photo(path) -> tuple[np.ndarray, PhotoInfo]:
    """`load_image(path)` and what the file carries besides its pixels (`photo_info`), from
    one read of the file: `save_image(..., like=info)` keeps it on the way out."""
    image, _ = _open_image(path)
    return _rgb(image, path), photo_info(image)


@dataclasses.dataclass(frozen=True)
class PhotoInfo:
    """What a photo file carries besides its pixels, kept by `save_image(like=...)`."""

    exif: bytes | None = None  # its EXIF, without the orientation tag (applied on reading)
    icc_profile: bytes | None = None  # its colour profile
    bits: int = 8  # bits per channel: 16 for a 16-bit greyscale file (PNG, TIFF)


def photo_info(image: Image.Image) -> PhotoInfo:
    """The `PhotoInfo` of an opened file (`_open_image`'s image, orientation applied)."""
    exif = None
    if image.info.get("exif"):
        tags = Image.Exif()
        tags.load(image.info["exif"])
        tags.pop(_EXIF_ORIENTATION, None)  # applied to the pixels: never rotate them again
        exif = tags.tobytes() if len(tags) else None
    bits = 16 if image.mode.startswith("I;16") else 8
    return PhotoInfo(exif=exif, icc_profile=image.info.get("icc_profile") or None, bits=bits)


def _rgb(image: Image.Image, path) -> np.ndarray:
    """`load_image`'s array of an opened file."""
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


def save_image(path, image, *, quality: int = 95, like: PhotoInfo | None = None) -> None:
    """Write an image (or a mask) to a PNG/JPEG/... file chosen by the extension, atomically.

    The pixels go to a temporary file in the same folder that then replaces `path`
    (`os.replace`), so a failed write never leaves a half-written or clobbered file.
    Parent folders are created. Values are clipped to [0, 1] and rounded to 8 bits.

    Args:
      path: destination; its extension (one of `WRITE_FORMATS`: .png, .jpg, .jpeg, .bmp,
        .tif, .tiff, .webp) picks the format.
      image: float [H, W, 3] RGB, or [H, W, 1] / [H, W] greyscale (e.g. a mask), in [0, 1].
      quality: JPEG/WebP quality (1-100); ignored by lossless formats.
      like: the `PhotoInfo` of the photo this image came from (`load_photo`): its EXIF
        (without orientation) and colour profile are written where the format takes them
        (all but BMP), and a 16-bit greyscale photo gives a 16-bit greyscale PNG or TIFF.
    """
    path = Path(path)
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[-1] == 3)):
        raise ValueError(
            f"save_image expects one image [H, W, 3] or a mask [H, W, 1]; got shape "
            f"{pixels.shape}. Save batched arrays one image at a time (images[i])."
        )
    if not np.all(np.isfinite(pixels)):
        raise ValueError(
            f"image for {str(path)!r} contains NaN or infinite values; fix the computation "
            "that produced it (or np.nan_to_num it) before saving."
        )
    format_name = WRITE_FORMATS.get(path.suffix.lower())
    if format_name is None:
        raise ValueError(f"cannot write {str(path)!r}: {write_formats_hint(path.suffix)}")
    values = np.clip(pixels.astype(np.float32), 0.0, 1.0)
    like = like or PhotoInfo()
    options = {"quality": int(quality)} if format_name in ("JPEG", "WEBP") else {}
    if format_name != "BMP":
        options |= {"exif": like.exif, "icc_profile": like.icc_profile}
        options = {key: value for key, value in options.items() if value is not None}
    if like.bits == 16 and format_name in ("PNG", "TIFF"):  # a greyscale photo's own depth
        grey = values.mean(axis=-1) if values.ndim == 3 else values
        picture = Image.fromarray(np.round(grey * 65535.0).astype(np.uint16))  # mode I;16
    else:
        picture = Image.fromarray(np.round(values * 255.0).astype(np.uint8))  # L or RGB

    buffer = io.BytesIO()
    picture.save(buffer, format=format_name, **options)
    atomic_write(path, buffer.getvalue())


def write_formats_hint(suffix: str) -> str:
    """What to write instead of a file with `suffix`, e.g. ".ico", in one clause."""
    named = f"{suffix!r} files" if suffix else "files without an extension"
    return f"npsynth does not write {named}; use one of {', '.join(WRITE_FORMATS)}"


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}; 0 means any non-zero")


def _read_hole(path, threshold: float) -> tuple[np.ndarray, int]:
    """(bool [H, W] hole of a mask file, its own EXIF orientation tag), the tag applied."""
    image, orientation = _open_image(path, "mask")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    try:
        if has_alpha:
            alpha = _to_unit_array(image.convert("RGBA").getchannel("A"))
            if alpha.min() != alpha.max():
                return alpha > threshold, orientation
        if image.mode in ("1", "L", "F") or image.mode.startswith("I"):
            values = _to_unit_array(image)
        elif image.mode in ("LA", "La"):
            values = _to_unit_array(image.getchannel("L"))
        else:
            values = _to_unit_array(image.convert("RGB")).max(axis=-1)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot read mask {str(path)!r}: cannot convert mode {image.mode} ({error}). "
            "Save the mask as a greyscale PNG (white = hole) first."
        ) from error
    return values > threshold, orientation


def _hw(size) -> str:
    return f"{size[0]}x{size[1]}"


def load_mask(path, *, size: tuple[int, int] | None = None, threshold: float = 0.0) -> np.ndarray:
    """Read a hole mask from an image file.

    Which pixels are holes:

    - If the file has an alpha channel (RGBA, LA, or a palette with transparency) and the
      alpha is not the same everywhere, the hole is where alpha > `threshold`: the mask is a
      layer painted over the photo in an image editor.
    - Otherwise a pixel is a hole where its brightest colour channel is > `threshold`, i.e.
      with the default `threshold=0` white or any non-zero value is a hole and only pure
      black is known. For JPEG masks or anti-aliased brush edges pass e.g. `threshold=0.5`.

    Values are compared on a [0, 1] scale (8-bit values / 255, 16-bit values / 65535). The
    mask file's own EXIF orientation tag is applied, as in `load_image`. To read the mask of
    one photo file, `load_mask_for(mask_path, image_path)` also handles a mask drawn on the
    stored pixels of a photo with an EXIF rotation.

    Args:
      path: any file Pillow can read.
      size: optional (height, width) to resize the mask to, e.g. the size of its image,
        with `resize_mask`: an output pixel is a hole if any mask pixel under it is, so no
        hole pixel is lost (a 1 px line stays a line when downsized). A mask that is the
        size turned a quarter (e.g. 40x60 for 60x40) is refused: that is a rotation mix-up,
        and stretching it would fill the wrong region.
      threshold: values above it are holes, in [0, 1).

    Returns:
      float32 [H, W, 1] (or [height, width, 1]) with 1 = hole, 0 = known.

    Raises:
      FileNotFoundError: the file does not exist.
      ValueError: an unreadable file, or a mask that differs from `size` by a rotation; the
        message names the file.
    """
    _check_threshold(threshold)
    hole, _ = _read_hole(path, threshold)
    mask = hole.astype(np.float32)[..., None]
    if size is None:
        return mask
    height, width = check_size(size)
    if hole.shape == (height, width):
        return mask
    if hole.shape == (width, height):
        raise ValueError(
            f"mask {str(path)!r} is {_hw(hole.shape)} (HxW) but the size asked for is "
            f"{height}x{width}: they differ only by a rotation, and stretching the mask would "
            "fill the wrong region. If the photo has an EXIF orientation, the mask was drawn "
            "on its unrotated pixels: load it with npsynth.io.load_mask_for(mask_path, "
            "photo_path), which turns it the way the photo is turned; otherwise rotate the "
            "mask file to match the photo (or stretch on purpose with resize_mask)."
        )
    return resize_mask(mask, (height, width))


def _proportional(a: Sequence[int], b: Sequence[int]) -> bool:
    """Whether sizes `a` and `b` (height, width) have one aspect ratio, up to rounding one of
    them to whole pixels (a = s * b + e with |e| < 1 gives |a_h b_w - a_w b_h| < b_h + b_w)."""
    return abs(a[0] * b[1] - a[1] * b[0]) < max(a[0] + a[1], b[0] + b[1])


def _turned(size: Sequence[int], other: Sequence[int]) -> bool:
    """Whether `size` has the aspect ratio of `other` turned a quarter, and not its own."""
    return _proportional(size, (other[1], other[0])) and not _proportional(size, other)


def load_mask_for(mask_path, image_path, *, threshold: float = 0.0) -> np.ndarray:
    """Read the hole mask of one photo file, lined up with `load_image(image_path)`, checked.

    The photo is read as `load_image` reads it: with its EXIF orientation applied, as image
    viewers show it. The mask is read by `load_mask` (its own EXIF orientation applied), and:

    1. A mask of the photo's shown size is used as it is: it was drawn over the photo as a
       viewer shows it (or carries the same orientation tag as the photo).
    2. A mask without an orientation tag whose aspect ratio is that of the photo's *stored*
       pixels, where these differ from the shown ones (EXIF orientations 5 to 8 on a
       non-square photo), was drawn on the stored pixels by a tool that ignores the tag: it
       gets the photo's EXIF transpose, so the hole lands on the photo pixels it was drawn
       over.
    3. A mask of another size is resized to the photo with `resize_mask` (no hole pixel is
       lost), unless its aspect ratio is the photo's turned a quarter: that is a rotation
       mix-up (ValueError), never a silent stretch onto the wrong pixels.

    Sizes cannot tell flips and half turns (orientations 2 to 4), or any orientation of a
    square photo, from no orientation: such masks are taken as drawn on the shown photo.

    Call it for each photo and mask pair before the work starts: it raises the errors a
    mask file can have, each naming the files.

    Args:
      mask_path: the mask file (white or opaque = hole, see `load_mask`).
      image_path: the photo file the mask belongs to.
      threshold: mask values above it are holes, in [0, 1).

    Returns:
      float32 [H, W, 1], 1 = hole, with [H, W] the shape of `load_image(image_path)`.

    Raises:
      FileNotFoundError: the mask or the photo does not exist.
      ValueError: an unreadable mask or photo; a mask that is the photo turned a quarter; a
        mask without a hole pixel or without a known pixel (`npsynth.masks.check_mask`).
        Each message names the files.
    """
    _check_threshold(threshold)
    stored, orientation = _stored_size(image_path, "image")
    shown = _shown_size(stored, orientation)
    hole, own = _read_hole(mask_path, threshold)
    # Rule 2 (for orientations 5 to 8 the stored size is the shown one turned a quarter).
    if own == 1 and orientation in _SWAPS_AXES and _turned(hole.shape, shown):
        hole = np.asarray(Image.fromarray(hole).transpose(_TRANSPOSES[orientation]), bool)
    mask = hole.astype(np.float32)[..., None]
    if hole.shape != shown:
        if _turned(hole.shape, shown):
            mask_is = f"mask {str(mask_path)!r}" + (
                f", after its own EXIF orientation ({own})," if own != 1 else ""
            )
            photo_is = f"the photo {str(image_path)!r}" + (
                f", after its EXIF orientation ({orientation})," if orientation != 1 else ""
            )
            raise ValueError(
                f"{mask_is} is {_hw(hole.shape)} (HxW) but {photo_is} is {_hw(shown)}: they "
                "differ by a rotation, and stretching the mask would fill the wrong region; "
                "rotate the mask file to match the photo as an image viewer shows it"
            )
        mask = resize_mask(mask, shown)
    try:
        check_mask(mask, shown)
    except ValueError as error:
        raise ValueError(f"mask {str(mask_path)!r} for {str(image_path)!r}: {error}") from None
    return mask


def list_images(folder, *, recursive: bool = True) -> list[Path]:
    """Image files in a folder, or matching a glob pattern, sorted by path.

    Files with the extensions in `IMAGE_EXTENSIONS` (any letter case) count; hidden files
    and folders (names starting with ".", e.g. macOS "._x.jpg" files) are skipped.

    Args:
      folder: the folder to search, or a glob pattern such as "masks/hole20-30_*.png"
        (any path holding `*`, `?` or `[`; `**` matches sub-folders).
      recursive: also search sub-folders (folders only).

    Returns:
      sorted list of `pathlib.Path`.
    """
    if is_glob_pattern(folder):
        pattern = str(folder)
        found = [
            path
            for path in map(Path, glob.glob(pattern, recursive=True))
            if _is_image_file(path, hidden_parts=(path.name,))
        ]
        if not found:
            raise ValueError(
                f"no images ({', '.join(IMAGE_EXTENSIONS)}) match the pattern {pattern!r}; "
                "check the pattern (quote it so the shell does not expand it)"
            )
        return sorted(found, key=lambda path: path.as_posix())
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist; check the path")
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is a file, not a folder; pass the folder holding images")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    found = [
        path
        for path in candidates
        if _is_image_file(path, hidden_parts=path.relative_to(folder).parts)
    ]
    if not found:
        where = "or its sub-folders " if recursive else ""
        raise ValueError(
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in folder {str(folder)!r} {where}"
            "; point to a folder that holds photos"
        )
    return sorted(found, key=lambda path: path.as_posix())


def is_glob_pattern(path) -> bool:
    """Whether a path given on the command line is a glob pattern rather than a folder."""
    return any(char in str(path) for char in "*?[")


def _is_image_file(path: Path, *, hidden_parts: Sequence[str]) -> bool:
    """An image file `list_images` picks up: a known extension, and none of `hidden_parts`
    (the path's names below where the search started) starting with "."."""
    return (
        path.suffix.lower() in IMAGE_EXTENSIONS
        and path.is_file()
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
