"""16-bit colour PNGs and TIFFs (NumPy, pypng, tifffile; no JAX): Pillow reads and
writes these at 8 bits, so npsynth decodes them at their 16 bits (`_rgb16`, for
`npsynth.io.reading`) and encodes 16-bit RGB PNGs and TIFFs with a photo's EXIF and ICC
profile (`_png_rgb16`, `_tiff_rgb16`, for `npsynth.io.writing.save_image(like=...)`).
"""

from __future__ import annotations

import io
import warnings
import zlib
from typing import TYPE_CHECKING

import numpy as np
import png  # pypng: 16-bit colour PNGs, which Pillow reads and writes at 8 bits only
from PIL import Image, TiffImagePlugin

if TYPE_CHECKING:
    from npsynth.io.reading import PhotoInfo


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
