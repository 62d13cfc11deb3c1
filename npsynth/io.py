"""Images and masks on disk, and the one atomic write (NumPy + Pillow, no JAX).

Conventions (see also `npsynth.masks`): an image is float32 `[H, W, 3]`, RGB, values in
[0, 1]; a mask is float32 `[H, W, 1]`, 1 = hole. Every file npsynth writes goes through
`atomic_write`: a temporary file in the destination folder that then replaces the path, so
a failed or interrupted write never leaves a half-written or clobbered file.
"""

from __future__ import annotations

import glob
import io
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from npsynth.resize import check_size

# File extensions that `list_images` picks up (compared in lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _open_image(path) -> Image.Image:
    """Open and fully decode `path` with Pillow, EXIF orientation applied."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise ValueError(f"cannot read image {str(path)!r}: it is a folder; pass an image file")
    try:
        with Image.open(path) as opened:
            opened.load()  # Decode now, so truncated files fail here and not later.
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(
            f"cannot read image {str(path)!r}: {error}. "
            "Pass a complete image file that Pillow can open (PNG, JPEG, BMP, WebP, ...)."
        ) from error
    return image


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
      ValueError: the file is not a readable image (corrupt, truncated, not an image).
    """
    image = _open_image(path)
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


def save_image(path, image, *, quality: int = 95) -> None:
    """Write an image (or a mask) to a PNG/JPEG/... file chosen by the extension, atomically.

    The pixels go to a temporary file in the same folder that then replaces `path`
    (`os.replace`), so a failed write never leaves a half-written or clobbered file.
    Parent folders are created. Values are clipped to [0, 1] and rounded to 8 bits.

    Args:
      path: destination; the extension (.png, .jpg, .jpeg, .bmp, .webp, ...) picks the format.
      image: float [H, W, 3] RGB, or [H, W, 1] / [H, W] greyscale (e.g. a mask), in [0, 1].
      quality: JPEG/WebP quality (1-100); ignored by lossless formats.
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
    format_name = Image.registered_extensions().get(path.suffix.lower())
    if format_name is None:
        raise ValueError(
            f"cannot tell the image format of {str(path)!r} from its extension; "
            "use .png (lossless) or .jpg."
        )
    as_uint8 = np.round(np.clip(pixels.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    picture = Image.fromarray(as_uint8, mode="L" if as_uint8.ndim == 2 else "RGB")
    options = {"quality": int(quality)} if format_name in ("JPEG", "WEBP") else {}

    buffer = io.BytesIO()
    picture.save(buffer, format=format_name, **options)
    atomic_write(path, buffer.getvalue())


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
    EXIF orientation tag is applied, as in `load_image`, so masks line up with their photos.

    Args:
      path: any file Pillow can read.
      size: optional (height, width) to resize the mask to (nearest neighbour), e.g. the
        size of its image. `resize_mask` is the alternative that never shrinks the hole.
      threshold: values above it are holes, in [0, 1).

    Returns:
      float32 [H, W, 1] (or [height, width, 1]) with 1 = hole, 0 = known.
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}; 0 means any non-zero")
    image = _open_image(path)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    hole = None
    if has_alpha:
        alpha = _to_unit_array(image.convert("RGBA").getchannel("A"))
        if alpha.min() != alpha.max():
            hole = alpha > threshold
    if hole is None:
        if image.mode in ("1", "L", "F") or image.mode.startswith("I"):
            values = _to_unit_array(image)
        elif image.mode in ("LA", "La"):
            values = _to_unit_array(image.getchannel("L"))
        else:
            values = _to_unit_array(image.convert("RGB")).max(axis=-1)
        hole = values > threshold
    mask = hole.astype(np.float32)[..., None]
    if size is not None:
        height, width = check_size(size)
        if (height, width) != mask.shape[:2]:
            resized = Image.fromarray(hole.astype(np.uint8) * 255).resize(
                (width, height), Image.Resampling.NEAREST
            )
            mask = (np.asarray(resized) > 0).astype(np.float32)[..., None]
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
    are created.
    """
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "xb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
