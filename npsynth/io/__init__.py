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

The parts: `reading` (photos: header checks, the pixel limit, EXIF, `PhotoInfo`),
`mask_files` (masks: holes, fitting, lining up with a photo), `sixteen_bit` (16-bit colour
PNG and TIFF decoding and encoding) and `writing` (formats, size limits, `save_image`).
This package re-exports the names the rest of npsynth uses; a test that patches a module
global (e.g. `MAX_SIDES`) patches the submodule that reads it.
"""

from npsynth.io.mask_files import (
    fit_mask,
    layer_or_colours,
    load_image_and_mask,
    load_mask,
    load_mask_for,
    load_photo_and_mask,
)
from npsynth.io.reading import (
    MAX_PIXELS,
    PhotoInfo,
    RefusedImage,
    TooManyPixels,
    check_header,
    image_size,
    load_image,
    load_photo,
    open_image,
    pillow_bomb,
)
from npsynth.io.writing import (
    MAX_SIDES,
    WRITE_FORMATS,
    save_image,
    size_problem,
    write_formats_hint,
)

__all__ = [
    "MAX_PIXELS",
    "MAX_SIDES",
    "WRITE_FORMATS",
    "PhotoInfo",
    "RefusedImage",
    "TooManyPixels",
    "check_header",
    "fit_mask",
    "image_size",
    "layer_or_colours",
    "load_image",
    "load_image_and_mask",
    "load_mask",
    "load_mask_for",
    "load_photo",
    "load_photo_and_mask",
    "open_image",
    "pillow_bomb",
    "save_image",
    "size_problem",
    "write_formats_hint",
]
