"""`npsynth.inpaint`: check the inputs, pick the method, run the pyramid."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from npsynth import compile_cache, hub, masks, presets, pyramid, reference
from npsynth.config.inpaint import PyramidConfig, with_settings
from npsynth.methods import METHODS
from npsynth.models.vgg import VGG19


def inpaint(
    image,
    mask,
    *,
    preset: str | None = None,
    method: str | None = None,
    config: PyramidConfig | None = None,
    vgg: VGG19 | None = None,
    progress: bool | Callable[[pyramid.Progress], None] = False,
    **overrides,
) -> pyramid.InpaintResult:
    """Fill the hole of `image` by multi-scale neural patch synthesis (or a faster variant).

    `method="optimize"` (default) minimises the joint loss (Eq. 1) with L-BFGS at every
    scale (Yang et al. 2017); `method="translate"` runs Image2Feature -> patch-swap ->
    Feature2Image at every scale (Song et al. 2018), orders of magnitude faster. A preset
    names a method and its settings (`npsynth.presets.PRESETS`: "default", "fast",
    "paper", "tiny", "translate").

    Args:
      image: `[H, W, 3]` RGB, float in [0, 1] or uint8; any size.
      mask: `[H, W, 1]` or `[H, W]`, 1 (or non-zero) = hole.
      preset: a name of `npsynth.presets.PRESETS`; default "default" (or `config`).
      method: a name of `npsynth.methods.METHODS`; default: the preset's or config's method.
        With a preset of another method, that preset's settings this method has apply.
      config: an `OptimizeConfig` or `TranslateConfig` instead of a preset.
      vgg: the texture network; defaults to the pretrained VGG-19 (`npsynth.load_vgg19`).
      progress: True shows a progress bar (iterations and loss at each scale); a callable
        gets a `npsynth.pyramid.Progress` at each scale's start, during it and at its end,
        and may raise to stop the run.
      overrides: settings replacing the preset's or config's, by flat name
        (`scales=(128, 256)`, `iterations=50`, `content="harmonic"`, `maxls=5`) or as a
        record (`solver={"maxls": 5}`, merged into the preset's; `npsynth.config.with_settings`).

    Returns:
      An `InpaintResult`; `.image` is the filled photo with the known pixels exactly as given.
    """
    config = resolve_config(preset=preset, method=method, config=config, **overrides)
    image, mask = check_inputs(image, mask)
    return _run([image], [mask], config, vgg, progress)[0]


def inpaint_batch(
    images, masks, *, preset: str | None = None, method: str | None = None,
    config: PyramidConfig | None = None, vgg: VGG19 | None = None, progress=False, **overrides,
) -> list[pyramid.InpaintResult]:  # fmt: skip
    """`inpaint` for several photos of one size at once: optimize runs one L-BFGS per photo
    side by side (`jax.vmap`, the batch split over the local devices), translate photo by
    photo. Holes may differ but must give the same worked region (true for photos no
    larger than the last scale). Arguments as `inpaint`; `images` and `masks` are sequences.
    """
    config = resolve_config(preset=preset, method=method, config=config, **overrides)
    pairs = [check_inputs(image, mask) for image, mask in zip(images, masks, strict=True)]
    if not pairs:
        return []
    images, masks = zip(*pairs)
    return _run(images, masks, config, vgg, progress)


def resolve_config(
    *, preset: str | None = None, method: str | None = None,
    config: PyramidConfig | None = None, **overrides,
) -> PyramidConfig:  # fmt: skip
    """The config `inpaint` runs: `config`, else preset `preset` (default "default") for
    `method`, with `overrides`; a ValueError where they disagree or a setting is wrong."""
    if config is None:
        return presets.config(preset or "default", method=method, **overrides)
    if preset is not None:
        raise ValueError(f"preset={preset!r} and a config given; pass one or the other")
    if method is not None and method != config.method:
        raise ValueError(
            f"method={method!r} but config is a {type(config).__name__} "
            f"(method {config.method!r}); pass one or the other"
        )
    return with_settings(config, **overrides)


def _run(images, masks, config: PyramidConfig, vgg, progress) -> list[pyramid.InpaintResult]:
    """The registered method's step over the pyramid, for photos already checked."""
    method = METHODS[config.method]
    method.check_networks(config)
    compile_cache.enable()
    vgg = vgg if vgg is not None else hub.default_vgg()
    step = method.make_step(config, vgg)
    first = reference.first_reference(config)  # the first level's guide (`npsynth.reference`)
    if len(images) == 1:
        return [
            pyramid.run(images[0], masks[0], config=config, step=step, first_reference=first,
                        progress=progress)
        ]  # fmt: skip
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
