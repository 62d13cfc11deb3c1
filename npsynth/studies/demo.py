"""The built-in example: removing the masts beside scikit-image's rocket (or a generated hole
in its astronaut photo), and a grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npsynth import io as npio
from npsynth import masks, metrics, resize, viz
from npsynth.config.inpaint import PyramidConfig
from npsynth.harness import checks
from npsynth.harness.grids import comparison_grid

DEMO_OUT = Path("out/demo")
# The default demo removes objects, as in the paper's figures: the two lightning masts beside
# scikit-image's rocket photo (640x427), as polygons in its pixel coordinates. With a
# generated hole (`hole=`) the demo cuts it out of the astronaut photo and scores the fill.
ROCKET_MASTS = (
    ((190, 114), (211, 114), (214, 190), (220, 404), (156, 404), (182, 190)),
    ((436, 114), (456, 114), (460, 190), (484, 404), (424, 404), (434, 190)),
)
# Seconds the README command (scales 64, 128, 256) took on the quiet 2-core CPU (2026-12-02):
# with an empty compilation cache, and again with it filled.
EXPECTED_SECONDS = {"cold": 115, "warm": 65}


def demo_photo(side: int) -> np.ndarray:
    """The astronaut photo (512x512) as float32 [side, side, 3] in [0, 1] (at most 512)."""
    from skimage import data as skdata

    image = skdata.astronaut().astype(np.float32) / 255.0
    side = min(side, image.shape[0])
    return resize.resize_image(image, (side, side))


def rocket_scene(side: int) -> tuple[np.ndarray, np.ndarray]:
    """The rocket photo with its longest side `side` (at most 640), and the mask of its two
    lightning masts (`ROCKET_MASTS`, 1 = hole)."""
    from PIL import Image, ImageDraw
    from skimage import data as skdata

    photo = skdata.rocket()
    drawn = Image.new("L", (photo.shape[1], photo.shape[0]), 0)
    for polygon in ROCKET_MASTS:
        ImageDraw.Draw(drawn).polygon(polygon, fill=255)
    image, mask = photo.astype(np.float32) / 255.0, (np.asarray(drawn) > 0)[..., None]
    scale = min(1.0, side / max(photo.shape[:2]))
    size = (round(photo.shape[0] * scale), round(photo.shape[1] * scale))
    if size != photo.shape[:2]:
        image = resize.resize_image(image, size)
        mask = resize.resize_mask(mask.astype(np.float32), size)
    return image.astype(np.float32), (mask > 0).astype(np.float32)


def expected_time(config: PyramidConfig) -> str:
    """What the demo expects to take, in words, for the README's scales (64, 128, 256)."""
    from npsynth import compile_cache

    folder = compile_cache.cache_folder()
    warm = folder is not None and folder.is_dir() and any(folder.iterdir())
    seconds = EXPECTED_SECONDS["warm" if warm else "cold"]
    if config.method != "optimize" or tuple(config.scales) != (64, 128, 256):
        return "(the expected time is measured for --scales 64,128,256 only)"
    state = "compiled programs cached" if warm else "first run: compiling"
    return f"expected: about {seconds} s on a 2-core CPU ({state})"


def run_demo(
    config: PyramidConfig, *, hole: str | None = None, seed: int = 0, out: Path | None = None
) -> Path:
    """Remove the masts beside the rocket (or, with `hole`, fill a hole cut out of the
    astronaut), shown at the config's last scale, and print how it went.

    Args:
      config: the method's config (its `scales` set the photo's size: the last one).
      hole: generated hole kind (`npsynth.masks.make_mask`); default: the rocket's masts.
      seed: of the hole.
      out: folder for output.png and grid.png (input | mask | output | photo, or truth);
        default `DEMO_OUT`. Checked before the fill (`checks.check_output_folder`).

    Returns:
      the grid's path.
    """
    from npsynth.api import inpaint

    out = Path(out or DEMO_OUT)
    checks.check_output_folder(out, [out / "output.png", out / "grid.png"])
    if hole is None:
        image, mask = rocket_scene(config.scales[-1])
        what = "removing the two masts beside the rocket"
    else:
        image = demo_photo(config.scales[-1])
        mask = masks.make_mask(hole, *image.shape[:2], rng=seed)
        what = f"filling a {hole!r} hole in the astronaut photo"
    print(
        f"{what} ({image.shape[1]}x{image.shape[0]}) by {config.method} at scales "
        f"{config.scales}; {expected_time(config)}",
        flush=True,
    )
    result = inpaint(np.where(mask > 0, 0.0, image), mask, config=config, progress=True)
    for scale in result.scales:
        solve = ""  # no losses for translate: nothing is optimised
        if scale.losses is not None and len(scale.losses):
            losses = scale.losses
            solve = f"loss {losses[0]:.4g} -> {losses[-1]:.4g} in {len(losses) - 1} iterations, "
        print(f"  {scale.size[1]}x{scale.size[0]}: {solve}{scale.seconds:.1f} s")
    npio.save_image(out / "output.png", result.image)
    if hole is None:  # object removal: no truth to score, only how the fill fits in
        columns = [("input", viz.masked_input(image, mask)), ("mask", mask),
                   ("output", result.image), ("photo", image)]  # fmt: skip
        npio.save_image(out / "grid.png", viz.grid(columns))
        gap = metrics.colour_gap(result.image, mask)
        print(
            f"colour gap to the ring around the hole {gap:.1f} (Delta E); total {result.seconds:.1f} s"
        )
    else:
        npio.save_image(out / "grid.png", comparison_grid(image, mask, {"output": result.image}))
        scores = metrics.hole_metrics(result.image, image, mask)
        print(
            f"hole PSNR {scores['psnr_hole']:.2f} dB, SSIM {scores['ssim_hole']:.3f}; "
            f"total {result.seconds:.1f} s"
        )
    print(f"wrote {out / 'output.png'} and {out / 'grid.png'} (input | mask | output | photo)")
    return out / "grid.png"
