"""Writing images (NumPy + Pillow, no JAX): the formats npsynth writes, their size limits,
and `save_image`, atomic (`npsynth.files.atomic_write`). Part of `npsynth.io`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import png  # pypng: 16-bit colour PNGs, which Pillow reads and writes at 8 bits only
from PIL import Image

from npsynth.files import atomic_write
from npsynth.io.reading import PhotoInfo
from npsynth.io.sixteen_bit import _png_rgb16, _tiff_rgb16

# File extensions `save_image` writes, and their Pillow formats: those that take an RGB or
# greyscale image of any size (not .ico, at most 256 px; nor .gif, 256 colours).
WRITE_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
    ".tiff": "TIFF", ".webp": "WEBP",
}  # fmt: skip
# The longest side (pixels) of the WRITE_FORMATS that have one: libjpeg's JPEG_MAX_DIMENSION
# and libwebp's limit. PNG, BMP and TIFF hold any image under MAX_PIXELS.
MAX_SIDES = {"JPEG": 65500, "WEBP": 16383}


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
