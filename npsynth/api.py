"""`npsynth.inpaint`: check the inputs, pick the method, run the pyramid."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from npsynth import compile_cache, hub, masks, pyramid, reference
from npsynth.config.inpaint import PyramidConfig, config_for
from npsynth.methods import optimize, translate
from npsynth.models.vgg import VGG19

# Each method makes its per-level step from its config and VGG-19 (`pyramid.LevelStep`).
METHODS = {
    "optimize": lambda config, vgg: optimize.OptimizeStep(config, vgg),
    "translate": translate.make_step,
}


def inpaint(
    image,
    mask,
    *,
    method: str | None = None,
    config: PyramidConfig | None = None,
    vgg: VGG19 | None = None,
    progress: bool | Callable[[pyramid.Progress], None] = False,
    **overrides,
) -> pyramid.InpaintResult:
    """Fill the hole of `image` by multi-scale neural patch synthesis (or its fast variant).

    `method="optimize"` (default) minimises the joint loss (Eq. 1) with L-BFGS at every
    scale (Yang et al. 2017); `method="translate"` runs Image2Feature -> patch-swap ->
    Feature2Image at every scale (Song et al. 2018), orders of magnitude faster.

    Args:
      image: `[H, W, 3]` RGB, float in [0, 1] or uint8; any size.
      mask: `[H, W, 1]` or `[H, W]`, 1 (or non-zero) = hole.
      method: "optimize" or "translate"; default: the config's method, else "optimize".
      config: an `OptimizeConfig` or `TranslateConfig`; keyword `overrides` replace its
        fields (for example `scales=(128, 256)`, `iterations=50`, `content="harmonic"`).
      vgg: the texture network; defaults to the pretrained VGG-19 (`npsynth.load_vgg19`).
      progress: True shows a progress bar (iterations and loss at each scale); a callable
        gets a `npsynth.pyramid.Progress` at each scale's start, during it and at its end,
        and may raise to stop the run.

    Returns:
      An `InpaintResult`; `.image` is the filled photo with the known pixels exactly as given.
    """
    if config is None:
        config = config_for(method or "optimize", **overrides)
    else:
        if method is not None and method != config.method:
            raise ValueError(
                f"method={method!r} but config is a {type(config).__name__} "
                f"(method {config.method!r}); pass one or the other"
            )
        config = config_for(config.method, **(dataclasses.asdict(config) | overrides))
    image, mask = check_inputs(image, mask)
    compile_cache.enable()
    vgg = vgg if vgg is not None else hub.default_vgg()
    step = METHODS[config.method](config, vgg)
    first = reference.first_reference(config)
    return pyramid.run(
        image, mask, config=config, step=step, first_reference=first, progress=progress
    )


def inpaint_batch(
    images, masks, *, method: str | None = None, config: PyramidConfig | None = None,
    vgg: VGG19 | None = None, progress=False, **overrides,
) -> list[pyramid.InpaintResult]:  # fmt: skip
    """`inpaint` for several photos of one size at once: optimize runs one L-BFGS per photo
    side by side (`jax.vmap`, the batch split over the local devices), translate photo by
    photo. Holes may differ but must give the same worked region (true for photos no
    larger than the last scale). Arguments as `inpaint`; `images` and `masks` are sequences.
    """
    if config is None:
        config = config_for(method or "optimize", **overrides)
    else:
        config = config_for(config.method, **(dataclasses.asdict(config) | overrides))
    pairs = [check_inputs(image, mask) for image, mask in zip(images, masks, strict=True)]
    if not pairs:
        return []
    compile_cache.enable()
    vgg = vgg if vgg is not None else hub.default_vgg()
    step = METHODS[config.method](config, vgg)
    images, masks = zip(*pairs)
    first = reference.first_reference(config)
    return pyramid.run_batch(
        images, masks, config=config, step=step, first_reference=first, progress=progress
    )


def check_inputs(image, mask) -> tuple[np.ndarray, np.ndarray]:
    """`image` as float32 [H, W, 3] in [0, 1] and `mask` as float32 [H, W, 1] in {0, 1},
    or a ValueError that says what is wrong (one image: no batch axis on either)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(
            f"image must be [H, W, 3] RGB, got shape {image.shape}; for a batch call inpaint per image"
        )
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    image = np.asarray(image[..., :3], np.float32)
    if not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")
    if image.min() < 0.0 or image.max() > 1.0:
        raise ValueError(
            f"image values must lie in [0, 1] (got {image.min():.3g}..{image.max():.3g}); "
            "divide 8-bit images by 255"
        )
    mask = np.asarray(mask, np.float32)
    if mask.ndim not in (2, 3) or (mask.ndim == 3 and mask.shape[-1] != 1):
        raise ValueError(
            f"mask must be [H, W] or [H, W, 1] for one image, got shape {mask.shape}; for a "
            "batch call inpaint per image (mask[i]), and take one channel of a colour mask"
        )
    if mask.ndim == 2:
        mask = mask[..., None]
    mask = (mask != 0).astype(np.float32)
    masks.check_mask(mask, image.shape)
    return image, mask
