"""Image and mask I/O, mask generators and host-side resizing (NumPy + Pillow, no JAX).

Conventions used everywhere in npsynth (written down here once):

- An image is float32 `[H, W, 3]` (batched: `[N, H, W, 3]`), RGB, values in [0, 1].
- A mask is float32 `[H, W, 1]` (batched: `[N, H, W, 1]`) with values in {0, 1}:
  **1 = hole** (pixels to synthesise), **0 = known** (pixels kept and used as texture source).
- Sizes are given as `(height, width)`, in that order (Pillow's own calls take
  `(width, height)`; this module converts).
- Random masks take `rng`: an int seed or a `numpy.random.Generator`, so every mask can be
  reproduced from the config.

This module does not import JAX, so data loading can run in worker processes.
"""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

# File extensions that `list_images` picks up (compared in lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# Kinds accepted by `make_mask` (and by the CLI flag `--hole`).
MASK_KINDS = ("center", "center:FRACTION", "boxes", "strokes")


# ----------------------------------------------------------------------------------------------
# Reading and writing files


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

    path.parent.mkdir(parents=True, exist_ok=True)
    # A hidden, unique name in the destination folder, so os.replace stays on one file system;
    # opened with "x" so the file gets the usual permissions (umask) and never clobbers another.
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "xb") as stream:
            picture.save(stream, format=format_name, **options)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


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
        height, width = _check_size(size)
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


# ----------------------------------------------------------------------------------------------
# Validation


def check_mask(mask, image_shape: Sequence[int]) -> None:
    """Raise ValueError unless `mask` is a usable hole mask for an image of `image_shape`.

    Args:
      mask: [H, W, 1] or [N, H, W, 1] (NumPy or JAX array), values in {0, 1}, 1 = hole.
      image_shape: shape of the image(s), [H, W, 3] or [N, H, W, 3] (or just (H, W)).
    """
    mask = np.asarray(mask)
    if mask.ndim not in (3, 4) or mask.shape[-1] != 1:
        raise ValueError(
            f"mask must have shape [H, W, 1] or [N, H, W, 1]; got {mask.shape}. "
            "Add the channel axis with mask[..., None]."
        )
    image_shape = tuple(int(n) for n in image_shape)
    image_hw = image_shape[:2] if len(image_shape) == 2 else image_shape[-3:-1]
    if mask.shape[-3:-1] != image_hw:
        raise ValueError(
            f"mask size {mask.shape[-3]}x{mask.shape[-2]} (HxW) does not match the image size "
            f"{image_hw[0]}x{image_hw[1]}; resize the mask with load_mask(path, size=(H, W)) or "
            "resize_mask."
        )
    if mask.ndim == 4 and len(image_shape) == 4 and mask.shape[0] != image_shape[0]:
        raise ValueError(
            f"{mask.shape[0]} masks for {image_shape[0]} images; pass one mask per image."
        )
    if not np.all((mask == 0) | (mask == 1)):
        bad = np.unique(mask[(mask != 0) & (mask != 1)])[:5]
        raise ValueError(
            f"mask values must be 0 (known) or 1 (hole); found e.g. {bad.tolist()}. "
            "Binarise it, e.g. (mask > 0.5).astype(np.float32)."
        )
    per_image = mask.reshape(-1 if mask.ndim == 4 else 1, image_hw[0] * image_hw[1])
    holes = per_image.sum(axis=1)
    if np.any(holes == 0):
        raise ValueError(
            "mask has no hole pixels: nothing to inpaint. Mark the region to fill with 1 "
            "(white in a mask file)."
        )
    if np.any(holes == per_image.shape[1]):
        raise ValueError(
            "mask covers the whole image: neural patch synthesis needs known pixels to copy "
            "texture from. Leave part of the image unmasked (0, black in a mask file)."
        )


def _check_size(size) -> tuple[int, int]:
    """(height, width) as positive ints, or ValueError."""
    try:
        height, width = (int(n) for n in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive (height, width), got {size!r}")
    return height, width


# ----------------------------------------------------------------------------------------------
# Mask generators


def _as_generator(rng) -> np.random.Generator:
    """A NumPy Generator from an int seed or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"rng must be an int seed or a numpy.random.Generator, got {rng!r}; "
        "pass e.g. rng=0 so the mask can be reproduced"
    )


def _as_range(value, name: str, *, low: int) -> tuple[int, int]:
    """An inclusive (min, max) int range from an int or a pair."""
    lo, hi = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if not low <= lo <= hi:
        raise ValueError(
            f"{name} must be an int or (min, max) with {low} <= min <= max, got {value}"
        )
    return int(lo), int(hi)


def center_mask(height: int, width: int, *, fraction: float = 0.5) -> np.ndarray:
    """A centred rectangular hole whose sides are `fraction` of the image sides.

    The paper's default hole (Yang et al. 2017, Sec. 4) is a centred square of half the side.

    Args:
      height, width: mask size.
      fraction: hole side / image side, in (0, 1).

    Returns:
      float32 [height, width, 1], 1 = hole.
    """
    height, width = _check_size((height, width))
    if not 0.0 < fraction < 1.0:
        raise ValueError(
            f"center hole fraction must be in (0, 1), got {fraction}; 0.5 is the paper's hole"
        )
    hole_h = min(height, max(1, round(fraction * height)))
    hole_w = min(width, max(1, round(fraction * width)))
    top, left = (height - hole_h) // 2, (width - hole_w) // 2
    mask = np.zeros((height, width, 1), np.float32)
    mask[top : top + hole_h, left : left + hole_w] = 1.0
    return mask


def random_boxes_mask(
    height: int, width: int, *, rng, count=(1, 4), max_fraction: float = 0.4
) -> np.ndarray:
    """Random axis-aligned rectangular holes (they may overlap).

    Each box side is drawn uniformly between a quarter of and the whole `max_fraction` of
    the image side; its position is uniform inside the image.

    Args:
      height, width: mask size.
      rng: int seed or numpy.random.Generator.
      count: number of boxes, an int or an inclusive (min, max) range.
      max_fraction: largest box side / image side, in (0, 1).

    Returns:
      float32 [height, width, 1], 1 = hole.
    """
    height, width = _check_size((height, width))
    rng = _as_generator(rng)
    lo, hi = _as_range(count, "count", low=1)
    if not 0.0 < max_fraction < 1.0:
        raise ValueError(f"max_fraction must be in (0, 1), got {max_fraction}")
    mask = np.zeros((height, width, 1), np.float32)
    for _ in range(rng.integers(lo, hi + 1)):
        sides = []
        for side in (height, width):
            largest = max(1, int(max_fraction * side))
            sides.append(int(rng.integers(max(1, largest // 4), largest + 1)))
        box_h, box_w = sides
        top = int(rng.integers(0, height - box_h + 1))
        left = int(rng.integers(0, width - box_w + 1))
        mask[top : top + box_h, left : left + box_w] = 1.0
    return mask


def free_form_mask(
    height: int,
    width: int,
    *,
    rng,
    strokes=(1, 5),
    vertices=(4, 12),
    max_width: int | None = None,
    max_length: int | None = None,
) -> np.ndarray:
    """Random brush strokes, like the free-form masks of DeepFill v2 (Yu et al. 2019).

    Each stroke starts at a random point and walks through `vertices` random segments; each
    segment turns by up to 90 degrees from the previous one, has a random length up to
    `max_length`, and is drawn as a line of the stroke's random width with round joints.

    Args:
      height, width: mask size.
      rng: int seed or numpy.random.Generator.
      strokes: number of strokes, an int or an inclusive (min, max) range.
      vertices: segments per stroke, an int or an inclusive (min, max) range.
      max_width: widest brush in pixels; default 8% of the shorter side (at least 2).
      max_length: longest segment in pixels; default 25% of the shorter side (at least 2).

    Returns:
      float32 [height, width, 1], 1 = hole. Tiny masks may be covered whole; `check_mask`
      catches that.
    """
    height, width = _check_size((height, width))
    rng = _as_generator(rng)
    stroke_lo, stroke_hi = _as_range(strokes, "strokes", low=1)
    vertex_lo, vertex_hi = _as_range(vertices, "vertices", low=1)
    shorter = min(height, width)
    max_width = max(2, round(0.08 * shorter)) if max_width is None else int(max_width)
    max_length = max(2, round(0.25 * shorter)) if max_length is None else int(max_length)
    if max_width < 1 or max_length < 1:
        raise ValueError(f"max_width and max_length must be >= 1, got {max_width}, {max_length}")

    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(stroke_lo, stroke_hi + 1)):
        brush = int(rng.integers(max(1, max_width // 3), max_width + 1))
        radius = brush / 2.0
        heading = rng.uniform(0.0, 2.0 * np.pi)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        points = [(x, y)]
        for _ in range(rng.integers(vertex_lo, vertex_hi + 1)):
            heading += rng.uniform(-np.pi / 2, np.pi / 2)  # A meandering walk.
            length = rng.uniform(max(1.0, max_length / 4), max_length)
            x = float(np.clip(x + length * np.cos(heading), 0, width - 1))
            y = float(np.clip(y + length * np.sin(heading), 0, height - 1))
            points.append((x, y))
        draw.line(points, fill=255, width=brush)
        for px, py in points:  # Round caps and joints.
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return (np.asarray(canvas) > 0).astype(np.float32)[..., None]


def make_mask(kind: str, height: int, width: int, *, rng=None) -> np.ndarray:
    """The mask named by a CLI-style string.

    Args:
      kind: "center" (half-side centred square), "center:FRACTION" (e.g. "center:0.25"),
        "boxes" (`random_boxes_mask`) or "strokes" (`free_form_mask`).
      height, width: mask size.
      rng: int seed or numpy.random.Generator; needed by the random kinds.

    Returns:
      float32 [height, width, 1], 1 = hole.
    """
    name, _, argument = str(kind).strip().lower().partition(":")
    if name == "center":
        if not argument:
            return center_mask(height, width)
        try:
            fraction = float(argument)
        except ValueError:
            raise ValueError(
                f"bad hole {kind!r}: FRACTION in center:FRACTION must be a number, e.g. center:0.25"
            ) from None
        return center_mask(height, width, fraction=fraction)
    if name in ("boxes", "strokes") and not argument:
        if rng is None:
            raise ValueError(f"hole kind {kind!r} is random: pass rng (an int seed or a Generator)")
        maker = random_boxes_mask if name == "boxes" else free_form_mask
        return maker(height, width, rng=rng)
    raise ValueError(f"unknown hole kind {kind!r}; choose one of {', '.join(MASK_KINDS)}")


# ----------------------------------------------------------------------------------------------
# Resizing (host side, for the multi-scale pyramid)


def resize_image(image, size: tuple[int, int], *, clip: bool = True) -> np.ndarray:
    """Resize with Pillow's antialiased bicubic filter, in float32, channel by channel.

    Args:
      image: float [H, W, C] or [N, H, W, C] (any C, e.g. RGB in [0, 1]).
      size: (height, width) of the result.
      clip: clip the result to [0, 1] (bicubic overshoots a little at sharp edges).

    Returns:
      float32 [height, width, C] or [N, height, width, C].
    """
    height, width = _check_size(size)
    image = np.asarray(image, np.float32)
    if image.ndim not in (3, 4):
        raise ValueError(
            f"resize_image expects [H, W, C] or [N, H, W, C]; got shape {image.shape}. "
            "Add a channel axis with image[..., None] for greyscale."
        )
    flat = image.reshape((-1,) + image.shape[-3:]) if image.ndim == 4 else image[None]
    out = np.empty((flat.shape[0], height, width, flat.shape[-1]), np.float32)
    for n in range(flat.shape[0]):
        for c in range(flat.shape[-1]):
            band = Image.fromarray(np.ascontiguousarray(flat[n, ..., c]), mode="F")
            out[n, ..., c] = np.asarray(band.resize((width, height), Image.Resampling.BICUBIC))
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out if image.ndim == 4 else out[0]


def _any_over_spans(hole: np.ndarray, axis: int, new_size: int) -> np.ndarray:
    """Resize boolean `hole` along `axis`: an output cell is True if any source cell it
    overlaps is True (output cell i covers source [i*n/new, (i+1)*n/new))."""
    size = hole.shape[axis]
    index = np.arange(new_size)
    starts = (index * size) // new_size
    stops = -((-(index + 1) * size) // new_size)  # Ceiling division.
    counts = np.cumsum(hole, axis=axis, dtype=np.int64)
    counts = np.concatenate([np.zeros_like(np.take(counts, [0], axis=axis)), counts], axis=axis)
    return (np.take(counts, stops, axis=axis) - np.take(counts, starts, axis=axis)) > 0


def resize_mask(mask, size: tuple[int, int]) -> np.ndarray:
    """Resize a mask without ever losing hole area.

    A pixel of the result is a hole if any source pixel its footprint overlaps is a hole,
    so a downsized hole still covers everything the original covered (it may grow by up to
    one output pixel at its border); upsizing by an integer factor is nearest neighbour.

    Args:
      mask: [H, W, 1] or [N, H, W, 1], 1 = hole (values > 0.5 count as hole).
      size: (height, width) of the result.

    Returns:
      float32 [height, width, 1] or [N, height, width, 1] in {0, 1}.
    """
    height, width = _check_size(size)
    mask = np.asarray(mask)
    if mask.ndim not in (3, 4) or mask.shape[-1] != 1:
        raise ValueError(
            f"mask must have shape [H, W, 1] or [N, H, W, 1]; got {mask.shape}. "
            "Add the channel axis with mask[..., None]."
        )
    hole = mask > 0.5
    hole = _any_over_spans(hole, mask.ndim - 3, height)
    hole = _any_over_spans(hole, mask.ndim - 2, width)
    return hole.astype(np.float32)
