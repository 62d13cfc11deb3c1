"""Images and masks on disk (NumPy + Pillow, no JAX); files and folders: `npsynth.files`.

Conventions (see also `npsynth.masks`): an image is float32 `[H, W, 3]`, RGB, values in
[0, 1]; a mask is float32 `[H, W, 1]`, 1 = hole. Every file npsynth writes goes through
`atomic_write`: a temporary file in the destination folder that then replaces the path, so
a failed or interrupted write never leaves a half-written or clobbered file.

EXIF orientation: `load_image` and `load_mask` apply a file's own EXIF orientation tag, so
arrays look the way photo viewers show the files. A mask drawn on a rotated photo's *stored*
pixels (by a tool that ignores the tag) has the stored size instead; `load_mask_for` reads a
mask for one photo file and lines the two up (its docstring gives the rule), and a mask that
differs from its photo only by a rotation is an error, never a silent stretch.

Reading a file the user named: every reader opens it once (`open_input`), so a pipe
(`--image <(cat p.png)`) is read once into memory, and what is not a regular file (a FIFO
with no writer, a device, a socket) is refused before anything is read, never waited on.
An image is checked from its header before its pixels are decoded (`check_header`): at
most `MAX_PIXELS` (the one limit of the command lines and the page) and one frame (an
animated GIF or a multi-page TIFF is ambiguous). Float images must hold values in [0, 1]
(and 32-bit integer ones in [0, 65535]): they are refused, never clipped. 16-bit colour
PNGs and TIFFs, which Pillow decodes at 8 bits, are read at their 16 bits (`pypng`,
`tifffile`) and written back at 16 bits (`save_image(like=...)`). Folders and
`**` globs follow symlinked sub-folders but enter each real folder once (`walk`); an
existing path is never read as a glob.
"""

from __future__ import annotations

import dataclasses
import io
import re
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import png  # pypng: 16-bit colour PNGs, which Pillow reads and writes at 8 bits only
from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

from npsynth.files import atomic_write, open_input
from npsynth.masks import check_mask
from npsynth.resize import resize_mask

# File extensions `save_image` writes, and their Pillow formats: those that take an RGB or
# greyscale image of any size (not .ico, at most 256 px; nor .gif, 256 colours).
WRITE_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
    ".tiff": "TIFF", ".webp": "WEBP",
}  # fmt: skip
# The longest side (pixels) of the WRITE_FORMATS that have one: libjpeg's JPEG_MAX_DIMENSION
# and libwebp's limit. PNG, BMP and TIFF hold any image under MAX_PIXELS.
MAX_SIDES = {"JPEG": 65500, "WEBP": 16383}


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


def _rgb16(opened: Image.Image, stream, name: str) -> np.ndarray | None:
    """The stored pixels of a 16-bit colour (RGB or RGBA) PNG or TIFF at their full depth:
    uint16 [H, W, 3], alpha dropped. None for any other file (Pillow reads it in full), and
    for a 16-bit TIFF whose compression tifffile cannot decode here (with a warning: it is
    read at 8 bits). `opened` is the file opened by Pillow from `stream`, checked."""
    if opened.mode not in ("RGB", "RGBA"):
        return None
    if opened.format == "PNG":
        stream.seek(0)
        reader = png.Reader(file=stream)
        reader.preamble()
        if reader.bitdepth != 16:
            return None
        width, height, rows, info = reader.read()
        pixels = np.array([np.frombuffer(row, np.uint16) for row in rows], np.uint16)
        pixels = pixels.reshape(height, width, info["planes"])
    elif opened.format == "TIFF" and _is_tiff_rgb16(opened):
        pixels = _tiff_pixels(stream, name)
        if pixels is None:
            return None
    else:
        return None
    if pixels.shape[:2] != (opened.height, opened.width):
        raise ValueError(f"{pixels.shape[1]}x{pixels.shape[0]} pixels for a {opened.size} header")
    return pixels[..., :3]


def _is_tiff_rgb16(opened: Image.Image) -> bool:
    """Whether a TIFF opened by Pillow holds unsigned 16-bit RGB (or RGBA) samples."""
    tags = opened.tag_v2
    bits = tags.get(258, ())
    return (
        tags.get(262) == 2  # PhotometricInterpretation: RGB
        and tags.get(339, 1) in (1, (1,) * len(bits))  # SampleFormat: unsigned integers
        and len(bits) in (3, 4)
        and all(bit == 16 for bit in bits)
    )


def _tiff_pixels(stream, name: str) -> np.ndarray | None:
    """The uint16 [H, W, S] samples of a one-page 16-bit RGB TIFF, read by tifffile; None,
    with a warning, when its compression needs a codec that is not installed."""
    import tifffile  # installed with scikit-image; imported only for 16-bit colour TIFFs

    stream.seek(0)
    with tifffile.TiffFile(stream, name=name) as tiff:  # a stream from a descriptor has no name
        page = tiff.pages[0]
        if (
            page.compression not in tifffile.TIFF.DECOMPRESSORS
            or page.predictor not in tifffile.TIFF.PREDICTORS
        ):
            warnings.warn(
                f"{name} is a 16-bit colour TIFF compressed with {page.compression.name}, "
                "which tifffile decodes only with the imagecodecs package: it is read at 8 "
                "bits. Install imagecodecs, or save it uncompressed or with ZIP compression, "
                "to keep its 16 bits.",
                stacklevel=1,  # npsynth's line: the message names the file
            )
            return None
        pixels = page.asarray()
        separate = page.planarconfig == tifffile.PLANARCONFIG.SEPARATE
    return np.moveaxis(pixels, 0, -1) if separate else pixels


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


def save_image(path, image, *, quality: int = 95, like: PhotoInfo | None = None) -> None:
    """Write an image (or a mask) to a PNG/JPEG/... file chosen by the extension, atomically.

    The pixels go to a temporary file in the same folder that then replaces `path`
    (`os.replace`), so a failed write never leaves a half-written or clobbered file.
    Parent folders are created. Values are clipped to [0, 1] and rounded to 8 bits (16 bits
    for a 16-bit photo's PNG or TIFF, `like`).

    Args:
      path: destination; its extension (one of `WRITE_FORMATS`: .png, .jpg, .jpeg, .bmp,
        .tif, .tiff, .webp) picks the format.
      image: float [H, W, 3] RGB, or [H, W, 1] / [H, W] greyscale (e.g. a mask), in [0, 1].
      quality: JPEG/WebP quality (1-100); ignored by lossless formats.
      like: the `PhotoInfo` of the photo this image came from (`load_photo`): its EXIF
        (without orientation) and colour profile are written where the format takes them
        (all but BMP), and a 16-bit photo gives a 16-bit PNG or TIFF: greyscale for a
        greyscale photo, else RGB (a greyscale image [H, W] stays greyscale).
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
    problem = size_problem(path, pixels.shape[1], pixels.shape[0])
    if problem is not None:
        raise ValueError(f"cannot write {str(path)!r}: {problem}")
    values = np.clip(pixels.astype(np.float32), 0.0, 1.0)
    like = like or PhotoInfo()
    options = {"quality": int(quality)} if format_name in ("JPEG", "WEBP") else {}
    if format_name != "BMP":
        options |= {"exif": like.exif, "icc_profile": like.icc_profile}
        options = {key: value for key, value in options.items() if value is not None}
    deep = like.bits == 16 and format_name in ("PNG", "TIFF")  # a 16-bit photo's own depth
    buffer = io.BytesIO()
    try:
        if deep and not like.grey and values.ndim == 3:  # Pillow writes 8-bit colour only
            write_rgb16 = _png_rgb16 if format_name == "PNG" else _tiff_rgb16
            write_rgb16(buffer, np.round(values * 65535.0).astype(np.uint16), like)
        else:
            if deep:
                grey = values.mean(axis=-1) if values.ndim == 3 else values
                picture = Image.fromarray(np.round(grey * 65535.0).astype(np.uint16))  # I;16
            else:
                picture = Image.fromarray(np.round(values * 255.0).astype(np.uint8))  # L, RGB
            picture.save(buffer, format=format_name, **options)
    except (OSError, ValueError, png.Error) as error:  # the encoders' messages name no file
        raise OSError(None, f"cannot encode {format_name}: {error}", str(path)) from error
    atomic_write(path, buffer.getvalue())


def _png_rgb16(out, levels: np.ndarray, like: PhotoInfo) -> None:
    """Write uint16 [H, W, 3] `levels` to `out` as a 16-bit RGB PNG (pypng), with the ICC
    profile (an iCCP chunk) and EXIF (an eXIf chunk) of `like` before the pixels."""
    height, width = levels.shape[:2]
    rows = (row.tobytes() for row in levels.astype(">u2").reshape(height, width * 3))
    plain = io.BytesIO()
    png.Writer(width, height, greyscale=False, bitdepth=16).write_packed(plain, rows)
    chunks = list(png.Reader(bytes=plain.getvalue()).chunks())
    extra = []
    if like.icc_profile:  # name, NUL, compression method 0 (zlib), the compressed profile
        extra.append((b"iCCP", b"ICC Profile\0\0" + zlib.compress(like.icc_profile)))
    if like.exif:  # the TIFF structure, without the "Exif\0\0" of JPEG's APP1
        extra.append((b"eXIf", like.exif.removeprefix(b"Exif\x00\x00")))
    png.write_chunks(out, chunks[:1] + extra + chunks[1:])  # IHDR comes first


# The tags of a TIFF's first IFD that say how its pixels are stored: taken from the image
# written, never from the photo's EXIF (dropped from it).
_TIFF_LAYOUT_TAGS = (
    254, 255, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 284, 317, 322, 323, 324,
    325, 330, 338, 339, 513, 514, 530, 531, 532, 34675,
)  # fmt: skip


def _tiff_rgb16(out, levels: np.ndarray, like: PhotoInfo) -> None:
    """Write uint16 [H, W, 3] `levels` to `out` as an uncompressed 16-bit RGB TIFF: one
    IFD (the photo's EXIF tags, its EXIF and GPS sub-IFDs and ICC profile, serialised by
    Pillow, plus the layout tags) and one strip of pixels after it."""
    height, width = levels.shape[:2]
    tags = Image.Exif()
    if like.exif:
        tags.load(like.exif)
        for tag in _TIFF_LAYOUT_TAGS:
            tags.pop(tag, None)
    layout = {
        256: width, 257: height, 258: (16, 16, 16), 259: 1, 262: 2, 277: 3, 278: height,
        279: levels.nbytes, 284: 1,
        273: 0,  # Pillow adds the end of the IFD and its data: the strip follows them
    }  # fmt: skip
    if like.icc_profile:
        layout[34675] = like.icc_profile
    for tag, value in layout.items():
        tags[tag] = value
    header = tags.tobytes().removeprefix(b"Exif\x00\x00")  # TIFF header and IFD
    written = TiffImagePlugin.ImageFileDirectory_v2(ifh=header[:8])
    stream = io.BytesIO(header)
    stream.seek(written.next)
    written.load(stream)  # the IFD as readers see it, to check the strip offset
    if written[273] != (len(header),):  # the strip starts where the header ends
        raise ValueError(f"the TIFF strip offset {written[273]} is not {len(header)}")
    order = ">" if header.startswith(b"MM") else "<"
    out.write(header)
    out.write(levels.astype(f"{order}u2").tobytes())


def size_problem(path, width: int, height: int) -> str | None:
    """Why the format of `path` (its extension) cannot hold a `width` x `height` image, in
    one clause naming the format, its limit and the size; None where it can."""
    format_name = WRITE_FORMATS.get(Path(path).suffix.lower())
    side = MAX_SIDES.get(format_name)
    if side is None or max(width, height) <= side:
        return None
    return (
        f"{format_name} holds at most {side} px a side, and the image is {width}x{height}; "
        "use .png or .tif"
    )


def write_formats_hint(suffix: str) -> str:
    """What to write instead of a file with `suffix`, e.g. ".ico", in one clause."""
    named = f"{suffix!r} files" if suffix else "files without an extension"
    return f"npsynth does not write {named}; use one of {', '.join(WRITE_FORMATS)}"


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}; 0 means any non-zero")


def layer_or_colours(colour_hole: np.ndarray, painted: np.ndarray) -> np.ndarray:
    """The hole of a mask whose alpha channel is not the same everywhere (bool [H, W]).

    `colour_hole` is where the colours say hole (brightest channel above the threshold),
    `painted` where the alpha does. The alpha is a layer painted over the photo, and the hole
    is `painted`, when the colours say nothing among the painted pixels (all hole or all
    known: one brush colour, black included). When the painted pixels hold both hole and
    known colours, the colours carry the hole (a white-on-black mask with some transparent
    pixels) and the alpha is ignored.
    """
    under = colour_hole[painted]
    return painted if under.all() or not under.any() else colour_hole


def _hole_of(image: Image.Image, path, threshold: float) -> np.ndarray:
    """bool [H, W] hole of a decoded mask file (the rule of `load_mask`)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    try:
        if image.mode in ("1", "L", "F") or image.mode.startswith("I"):
            values = _to_unit_array(image)
        elif image.mode in ("LA", "La"):
            values = _to_unit_array(image.getchannel("L"))
        else:
            values = _to_unit_array(image.convert("RGB")).max(axis=-1)
        colour_hole = values > threshold
        if not has_alpha:
            return colour_hole
        alpha = _to_unit_array(image.convert("RGBA").getchannel("A"))
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot read mask {str(path)!r}: cannot convert mode {image.mode} ({error}). "
            "Save the mask as a greyscale PNG (white = hole) first."
        ) from error
    if alpha.min() == alpha.max():
        return colour_hole
    return layer_or_colours(colour_hole, alpha > threshold)


def _read_hole(path, threshold: float) -> tuple[np.ndarray, int]:
    """(bool [H, W] hole of a mask file, its own EXIF orientation tag), the tag applied."""
    image, orientation = _open_image(path, "mask")
    return _hole_of(image, path, threshold), orientation


def _hw(size) -> str:
    return f"{size[0]}x{size[1]}"


def _check_mask_size(size) -> tuple[int, int]:
    """`size` as (height, width): a pair of positive whole numbers, else TypeError or ValueError
    (a string such as "64" is not read as the pair ("6", "4"))."""
    whole = (int, np.integer)
    if (
        isinstance(size, (str, bytes))
        or not isinstance(size, (Sequence, np.ndarray))
        or len(size) != 2
        or not all(isinstance(n, whole) and not isinstance(n, bool) for n in size)
    ):
        raise TypeError(f"size must be (height, width), two whole numbers; got {size!r}")
    if min(size) < 1:
        raise ValueError(f"size must be (height, width) of at least 1 each; got {size!r}")
    return int(size[0]), int(size[1])


def load_mask(path, *, size: tuple[int, int] | None = None, threshold: float = 0.0) -> np.ndarray:
    """Read a hole mask from an image file.

    Which pixels are holes:

    - A pixel is a hole where its brightest colour channel is > `threshold`, i.e. with the
      default `threshold=0` white or any non-zero value is a hole and only pure black is
      known. For JPEG masks or anti-aliased brush edges pass e.g. `threshold=0.5`.
    - Except for a layer painted over the photo in an image editor: if the file has an alpha
      channel (RGBA, LA, or a palette with transparency) that is not the same everywhere,
      and the colours of the pixels with alpha > `threshold` are all hole or all known (one
      brush colour, black included), the hole is where alpha > `threshold`. Painted pixels
      of both kinds mean the colours carry the hole (a white-on-black mask with a few
      transparent pixels): the alpha is then ignored (`layer_or_colours`).

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
      TypeError: `size` is not a pair of whole numbers.
      ValueError: an unreadable file, or a mask that differs from `size` by a rotation; the
        message names the file.
    """
    _check_threshold(threshold)
    if size is not None:
        _check_mask_size(size)
    hole, _ = _read_hole(path, threshold)
    mask = hole.astype(np.float32)[..., None]
    return mask if size is None else fit_mask(mask, size, path=path)


def fit_mask(mask, size, *, path) -> np.ndarray:
    """A mask [h, w, 1] read from the file `path`, brought to `size` (height, width) as
    `load_mask(path, size=size)` does: resized by `resize_mask`, or refused (ValueError
    naming the file) where it is the size turned a quarter. For one mask file used at
    several sizes: read it once, fit it to each."""
    height, width = _check_mask_size(size)
    shape = tuple(np.shape(mask)[:2])
    if shape == (height, width):
        return np.asarray(mask, np.float32)
    if shape == (width, height):
        raise ValueError(
            f"mask {str(path)!r} is {_hw(shape)} (HxW) but the size asked for is "
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
    hole, own = _read_hole(mask_path, threshold)
    return _line_up(hole, own, stored, orientation, mask_path, image_path)


def load_image_and_mask(image_path, mask_path, *, threshold: float = 0.0):
    """`(load_image(image_path), load_mask_for(mask_path, image_path))`, each file opened
    once (so a photo given as a pipe, `--image <(cat p.png)`, can be read).

    Raises:
      what `load_image` and `load_mask_for` raise.
    """
    image, mask, _ = load_photo_and_mask(image_path, mask_path, threshold=threshold)
    return image, mask


def load_photo_and_mask(image_path, mask_path, *, threshold: float = 0.0):
    """`load_image_and_mask` and the photo's `PhotoInfo` (as `load_photo`), each file opened
    once: (image, mask, info)."""
    _check_threshold(threshold)
    photo, stored, orientation, pixels16 = _open_file(image_path, "image", decode=True, deep=True)
    image = _as_rgb(photo, image_path, pixels16)
    hole, own = _read_hole(mask_path, threshold)
    mask = _line_up(hole, own, stored, orientation, mask_path, image_path)
    return image, mask, photo_info(photo, pixels16)


def _line_up(hole, own: int, stored, orientation: int, mask_path, image_path) -> np.ndarray:
    """The mask of `load_mask_for` from a mask file's hole and own orientation `own`, and its
    photo's stored (height, width) and orientation."""
    shown = _shown_size(stored, orientation)
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
