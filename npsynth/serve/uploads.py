"""Uploaded photos and masks: decoded only as images (Pillow), within limits; and PNG out.

Pure functions on bytes and arrays; the web app (`npsynth.serve.app`) reads the request body
and calls them. A photo is kept as uint8 `[H, W, 3]` RGB, a mask as bool `[H, W]` (True =
hole), both with the file's EXIF orientation applied, as browsers show the file.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import threading
import uuid
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from npsynth import io as npio

# The only decoders Pillow may use on an upload: the formats the page accepts.
FORMATS = ("JPEG", "PNG", "WEBP")
# A mask pixel counts as hole above this brightness (0-255) when the mask has no painted
# alpha; halfway, so JPEG noise and anti-aliased edges do not turn black into hole.
MASK_THRESHOLD = 127


class UploadError(ValueError):
    """An upload the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limits:
    """What one upload may be."""

    max_bytes: int = 50 * 1024 * 1024  # size of the file as sent
    max_pixels: int = npio.MAX_PIXELS  # width * height, npsynth's one limit (CLI and page)


def file_size(size: int) -> str:
    """`size` bytes in words: "820 KiB", "12.5 MiB"."""
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{max(1, round(size / 1024))} KiB"


def check_length(length: int, limits: Limits) -> None:
    """Raise an UploadError (413) when `length` bytes exceed the limit."""
    if length > limits.max_bytes:
        raise UploadError(
            f"the file is {file_size(length)} or more; this server takes at most "
            f"{file_size(limits.max_bytes)} per file",
            status=413,
        )


def _open(data: bytes, what: str, limits: Limits) -> Image.Image:
    """Decode `data` as a JPEG, PNG or WebP within `limits`, EXIF orientation applied."""
    check_length(len(data), limits)
    if not data:
        raise UploadError(f"the {what} file is empty")
    try:
        with warnings.catch_warnings():  # npsynth's own limit, checked from the header
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as opened:
                npio.check_header(opened, f"the {what}", limits.max_pixels)
                opened.load()  # decode now, so a truncated file fails here
                image = ImageOps.exif_transpose(opened)
                image.load()
    except Image.DecompressionBombError as error:  # over Pillow's hard limit, before ours
        too_many = npio.pillow_bomb(error, f"the {what}", limits.max_pixels)
        raise UploadError(str(too_many), status=413) from None
    except npio.TooManyPixels as error:
        raise UploadError(str(error), status=413) from None
    except npio.RefusedImage as error:
        raise UploadError(str(error)) from None
    except UnidentifiedImageError as error:  # Pillow's message names an internal buffer
        raise UploadError(f"cannot read the {what}: it is not a JPEG, PNG or WebP image") from error
    except (OSError, SyntaxError, ValueError, Warning) as error:
        raise UploadError(
            f"cannot read the {what}: it is not a complete JPEG, PNG or WebP image ({error})"
        ) from error
    return image


def decode_image(data: bytes, limits: Limits) -> np.ndarray:
    """The photo in `data` as uint8 [H, W, 3] RGB (alpha dropped), or an UploadError."""
    image = _open(data, "photo", limits)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        grey = np.asarray(image, np.float64)
        grey = grey / 65535.0 if image.mode.startswith("I") else grey
        values = np.round(np.clip(grey, 0.0, 1.0) * 255).astype(np.uint8)
        return np.repeat(values[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"), np.uint8)


def decode_mask(data: bytes, limits: Limits) -> np.ndarray:
    """The hole of the mask in `data` as bool [H, W], or an UploadError.

    The hole is where the brightest channel is above `MASK_THRESHOLD` (white = hole), except
    in a painted layer (as the page sends it: alpha not the same everywhere, and the painted
    pixels, alpha > 0, all of one kind), whose hole is where alpha > 0 (the rule of
    `npsynth.io.load_mask`, `npsynth.io.layer_or_colours`).
    """
    image = _open(data, "mask", limits)
    rgba = np.asarray(image.convert("RGBA"), np.uint8)
    alpha, colour_hole = rgba[..., 3], rgba[..., :3].max(axis=-1) > MASK_THRESHOLD
    if alpha.min() != alpha.max():
        return npio.layer_or_colours(colour_hole, alpha > 0)
    return colour_hole


def check_pair(image: np.ndarray, hole: np.ndarray) -> None:
    """Raise an UploadError unless `hole` fits `image` and has both hole and known pixels."""
    if hole.shape != image.shape[:2]:
        raise UploadError(
            f"the mask is {hole.shape[1]}x{hole.shape[0]} but the photo is "
            f"{image.shape[1]}x{image.shape[0]}; paint the mask on this photo"
        )
    if not hole.any():
        raise UploadError("the mask is empty: paint over what should be removed first")
    if hole.all():
        raise UploadError("the mask covers the whole photo: leave some of it unpainted")


def encode_png(image: np.ndarray) -> bytes:
    """A float [H, W, 3] image in [0, 1] (or uint8) as PNG bytes, rounded to 8 bits."""
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = np.round(np.clip(pixels.astype(np.float32), 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class UploadStore:
    """The last `keep` decoded uploads used, by random id (thread-safe; memory only)."""

    def __init__(self, keep: int = 8):
        self.keep = keep
        self._items: collections.OrderedDict[str, tuple[str, np.ndarray]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def add(self, kind: str, array: np.ndarray) -> str:
        """Keep `array` (a "photo" or a "mask"); returns its id."""
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._items[upload_id] = (kind, array)
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
        return upload_id

    def get(self, kind: str, upload_id: str) -> np.ndarray:
        """The upload of `kind` with `upload_id`, or an UploadError (404)."""
        with self._lock:
            found = self._items.get(upload_id)
            if found is not None:  # in use: kept over older ones (estimates upload masks)
                self._items.move_to_end(upload_id)
        if found is None or found[0] != kind:
            raise UploadError(
                f"no {kind} with this id here (the server may have restarted); "
                f"open the {kind} again",
                status=404,
            )
        return found[1]
