"""The built-in example: scikit-image's astronaut photo, a generated hole, and a grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npsynth import io as npio
from npsynth import masks, metrics, resize
from npsynth.config.inpaint import PyramidConfig
from npsynth.evaluation import checks
from npsynth.evaluation.grids import comparison_grid

DEMO_OUT = Path("out/demo")
DEMO_HOLE = "strokes"


def demo_photo(side: int) -> np.ndarray:
    """The astronaut photo (512x512) as float32 [side, side, 3] in [0, 1] (at most 512)."""
    from skimage import data as skdata

    image = skdata.astronaut().astype(np.float32) / 255.0
    side = min(side, image.shape[0])
    return resize.resize_image(image, (side, side))


def run_demo(
    config: PyramidConfig, *, hole: str | None = None, seed: int = 0, out: Path | None = None
) -> Path:
    """Inpaint the astronaut, shown at the config's last scale, and print how it went.

    Args:
      config: the method's config (its `scales` set the photo's size: the last one).
      hole: generated hole kind (`npsynth.masks.make_mask`); default free-form strokes.
      seed: of the hole.
      out: folder for output.png and grid.png (input | mask | output | truth); default
        `DEMO_OUT`. Checked before the fill (`npsynth.evaluation.checks.check_output_folder`).

    Returns:
      the grid's path.
    """
    from npsynth.api import inpaint

    out = Path(out or DEMO_OUT)
    checks.check_output_folder(out, [out / "output.png", out / "grid.png"])
    image = demo_photo(config.scales[-1])
    mask = masks.make_mask(hole or DEMO_HOLE, *image.shape[:2], rng=seed)
    print(
        f"inpainting the built-in photo ({image.shape[1]}x{image.shape[0]}) by {config.method} "
        f"at scales {config.scales}"
    )
    result = inpaint(np.where(mask > 0, 0.0, image), mask, config=config, progress=True)
    for scale in result.scales:
        solve = ""  # no losses for translate: nothing is optimised
        if scale.losses is not None and len(scale.losses):
            losses = scale.losses
            solve = f"loss {losses[0]:.4g} -> {losses[-1]:.4g} in {len(losses) - 1} iterations, "
        print(f"  {scale.size[1]}x{scale.size[0]}: {solve}{scale.seconds:.1f} s")
    npio.save_image(out / "output.png", result.image)
    npio.save_image(out / "grid.png", comparison_grid(image, mask, {"output": result.image}))
    scores = metrics.hole_metrics(result.image, image, mask)
    print(
        f"hole PSNR {scores['psnr_hole']:.2f} dB, SSIM {scores['ssim_hole']:.3f}; "
        f"total {result.seconds:.1f} s"
    )
    print(f"wrote {out / 'output.png'} and {out / 'grid.png'} (input | mask | output | truth)")
    return out / "grid.png"
