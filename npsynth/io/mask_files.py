"""Reading hole masks (NumPy + Pillow, no JAX): which pixels of a mask file are holes
(`load_mask`), fitting a mask to a size (`fit_mask`), and lining a mask up with its photo,
EXIF orientation included (`load_mask_for`, `load_photo_and_mask`). Part of `npsynth.io`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from npsynth.io.reading import (
    _SWAPS_AXES,
    _TRANSPOSES,
    _as_rgb,
    _open_file,
    _open_image,
    _shown_size,
    _stored_size,
    _to_unit_array,
    photo_info,
)
from npsynth.masks import check_mask
from npsynth.resize import resize_mask


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
