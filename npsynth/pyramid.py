"""The one coarse-to-fine driver shared by every method (Yang et al. 2017, Sec. 3.3, Algorithm 1).

Photos larger than the last scale are worked on in a context window around the hole. The
window is downsized to the first scale, where the caller's first reference (for
`npsynth.inpaint`, `npsynth.reference`) is the guide; each later scale is guided by the
previous result, upsampled. At every scale
the known pixels are downsized without any hole pixel leaking into them, all arrays are
padded to a multiple of `PAD_MULTIPLE`, and the method's per-level step fills the hole.
The last result is pasted into the photo's hole; known pixels stay exactly as given.

A method is a `LevelStep`: a callable that takes a `Level` and returns a `LevelResult`
(`npsynth.methods.optimize`, `npsynth.methods.translate`). A new method is a new step.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from npsynth import resize
from npsynth.config.pyramid import MIN_LEVEL_SIZE, PyramidConfig

# Levels whose longest side falls below MIN_LEVEL_SIZE (32, `npsynth.config.pyramid`) are
# skipped: VGG-19 relu4_1 would have too few cells for any 3x3 patch.
# Working sizes are padded (by reflection, as known pixels) to a multiple of this, the
# downsampling factor of relu4_1, so every pixel is seen by every texture layer.
PAD_MULTIPLE = 8


@dataclasses.dataclass(frozen=True)
class Level:
    """One level of the pyramid, as a method's step sees it (arrays padded)."""

    index: int  # 0 = the coarsest level worked at
    count: int  # levels worked at (levels under MIN_LEVEL_SIZE are skipped)
    size: tuple[int, int]  # (height, width) before padding
    known: np.ndarray  # [h', w', 3] the known pixels at this scale (hole pixels: a guess)
    hole: np.ndarray  # [h', w', 1] 1 = hole; 0 in the padding
    guide: np.ndarray  # [h', w', 3] the first reference (first level) or upsampled previous
    # result, known pixels from `known`: the initial value and E_c's reference (Eq. 2)
    # Called by long steps between chunks of work: report(iteration, iterations, loss,
    # evaluations, image), image the level's current result [h', w', 3] (or None).
    report: Callable[..., None] = lambda *args: None
    # This level's scale in the schedule (`config.scales[scale]`), counted from its end: -1
    # is the finest scale. A small photo skips the first scales, and `PyramidConfig.levels`
    # may stop before the last. None (a level built by hand): the last `count` scales.
    scale: int | None = None
    # [h0, w0, 1] the photo's hole at its first level, the one its first reference was made
    # for (unpadded); None: not given.
    first_hole: np.ndarray | None = None

    def __post_init__(self):
        if self.scale is None:
            object.__setattr__(self, "scale", self.index - self.count)

    @property
    def is_last_scale(self) -> bool:
        """Whether this is the schedule's finest scale (not just the last one worked at)."""
        return self.scale == -1


@dataclasses.dataclass(frozen=True)
class LevelResult:
    """What a step returns: the padded level filled, and what it wants reported."""

    image: np.ndarray  # [h', w', 3]
    losses: np.ndarray | None = None  # optimize: the joint loss after each iteration
    layers: tuple[str, ...] = ()  # the VGG-19 layers the step used
    evaluations: int | None = None  # optimize: loss value+gradient evaluations


LevelStep = Callable[[Level], LevelResult]
# The caller's first reference: (known pixels [h, w, 3], hole [h, w, 1]) at the first level ->
# (reference [h, w, 3], a word saying what made it, reported as `InpaintResult.source`).
FirstReference = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, str]]


@dataclasses.dataclass(frozen=True)
class ScaleResult:
    """One level of the pyramid."""

    size: tuple[int, int]  # (height, width) worked at, before padding
    image: np.ndarray  # [h, w, 3] result at this scale (of the worked region)
    losses: np.ndarray | None  # joint loss after each L-BFGS iteration (losses[0] at the
    # start); None for methods without a loss (translate)
    layers: tuple[str, ...]  # VGG-19 layers used (texture layers with no source patch are skipped)
    seconds: float  # wall time of this scale, compilation included (a batch's: its share)
    evaluations: int | None = None  # loss value+gradient evaluations (optimize), else None


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a `progress` callable of `run` (and `npsynth.inpaint`) receives: at the start
    of each level, after each chunk of a long level (`optimize`: every L-BFGS iteration by
    default, `SolverOptions.chunk_iterations`), and when the level is done."""

    level: int  # 0 = the coarsest level worked at
    levels: int
    size: tuple[int, int]  # (height, width) of this level
    iteration: int  # iterations done at this level (0 at its start)
    iterations: int  # iterations planned at this level (0 for a method without any)
    loss: float | None  # the loss now, where the method has one
    evaluations: int | None  # loss evaluations at this level so far, where counted
    done: bool  # this level is finished
    seconds: float  # since the run started
    image: np.ndarray | None = None  # [h, w, 3] this level's current result, where given


@dataclasses.dataclass(frozen=True)
class InpaintResult:
    """Output of `npsynth.inpaint`."""

    image: np.ndarray  # [H, W, 3] the input with its hole filled; known pixels unchanged
    scales: list[ScaleResult]
    reference: np.ndarray  # [h0, w0, 3] the content reference at the first scale
    region: tuple[int, int, int, int]  # (top, bottom, left, right) of the worked window
    seconds: float
    source: str = ""  # what made the reference, as the first reference said


def run(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    config: PyramidConfig,
    step: LevelStep,
    first_reference: FirstReference,
    progress: bool | Callable[[Progress], None] = False,
) -> InpaintResult:
    """Fill the hole of `image` coarse to fine at `config.scales` with `step` at each level.

    Args:
      image: [H, W, 3] float32 in [0, 1]; mask: [H, W, 1], 1 = hole (checked by the caller).
      config: the pyramid's settings (scales, context window, paste).
      step: the method's per-level step.
      first_reference: makes the first level's guide from its known pixels and hole
        (`FirstReference`; `npsynth.inpaint` passes `npsynth.reference.first_reference`).
      progress: True shows a progress bar (levels, iterations and loss); a callable gets a
        `Progress` at each level's start, between chunks of a long level and at its end. An
        exception it raises stops the run (a way to cancel).
    """
    return run_batch(
        [image], [mask], config=config, step=step, first_reference=first_reference,
        progress=progress,
    )[0]  # fmt: skip


def run_batch(
    images, masks, *, config: PyramidConfig, step: LevelStep, first_reference: FirstReference,
    progress=False,
) -> list[InpaintResult]:  # fmt: skip
    """`run` for several photos of one size whose holes give the same worked region (for
    example photos no larger than the last scale): each level is solved for all of them at
    once by the step's `batch` method where it has one, else photo by photo.

    Raises:
      ValueError: photos of different sizes or worked regions.
    """
    start = time.perf_counter()
    regions = [context_window(m[..., 0], config.scales[-1], config.context) for m in masks]
    if len({im.shape for im in images}) > 1 or len(set(regions)) > 1:
        raise ValueError(
            "a batch needs photos of one size whose holes give the same worked region; "
            "fill the others one by one"
        )
    region = regions[0]
    top, bottom, left, right = region
    crops = [
        (im[top:bottom, left:right], m[top:bottom, left:right]) for im, m in zip(images, masks)
    ]
    all_sizes = level_sizes(crops[0][0].shape[:2], config.scales)
    sizes = all_sizes[: config.levels]
    count = len(images)
    results, references, previous = [[] for _ in images], [None] * count, [None] * count
    sources = [""] * count  # what made each photo's first reference
    first_holes = [None] * count
    notify = progress if callable(progress) else _ProgressBar(bool(progress))
    for index, size in enumerate(sizes):

        def report(iteration, iterations, loss=None, evaluations=None, image=None, done=False,
                   index=index, size=size):  # fmt: skip
            if image is not None:
                image = image[: size[0], : size[1]]
            notify(Progress(
                index, len(sizes), size, int(iteration), int(iterations),
                None if loss is None else float(loss), evaluations, done,
                time.perf_counter() - start, image,
            ))  # fmt: skip

        report(0, 0)
        level_start = time.perf_counter()
        levels = []
        for i, (region_image, region_mask) in enumerate(crops):
            known = known_at(region_image, region_mask, size)
            hole = resize.resize_mask(region_mask, size)
            if previous[i] is None:
                references[i], sources[i] = first_reference(known, hole)
                guide, first_holes[i] = references[i], hole
            else:
                guide = np.where(hole > 0, resize.resize_image(previous[i], size), known)
            levels.append(Level(
                index, len(sizes), size, pad(known, "symmetric"), pad(hole, "constant"),
                pad(guide, "symmetric"), report, index - len(all_sizes), first_holes[i],
            ))  # fmt: skip
        batch = getattr(step, "batch", None)
        outs = batch(levels) if batch is not None and count > 1 else [step(lv) for lv in levels]
        seconds = (time.perf_counter() - level_start) / count
        for i, out in enumerate(outs):
            previous[i] = out.image[: size[0], : size[1]]
            results[i].append(
                ScaleResult(size, previous[i], out.losses, out.layers, seconds, out.evaluations)
            )
        out = outs[0]
        done = 0 if out.losses is None else len(out.losses) - 1
        loss = None if out.losses is None or not len(out.losses) else out.losses[-1]
        report(done, done, loss, out.evaluations, out.image, done=True)
    if not callable(progress):
        notify.close()
    seconds = (time.perf_counter() - start) / count
    paste = {
        "offset_span": config.paste.paste_offset_span,
        "exact_reach": config.paste.paste_exact_reach,
    }
    return [
        InpaintResult(paste_hole(im, m, region, prev, **paste), res, ref, region, seconds, src)
        for im, m, prev, res, ref, src in zip(images, masks, previous, results, references, sources)
    ]


def context_window(hole: np.ndarray, last_scale: int, context: float) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the part of the photo to work on.

    The whole photo when it fits in the last scale; otherwise the hole's bounding box grown by
    `context` times its size on each side, and at least to the last scale where the photo
    allows, so the finest level works at full resolution whenever the hole is small enough.
    """
    height, width = hole.shape
    if max(height, width) <= last_scale:
        return 0, height, 0, width
    ys, xs = np.nonzero(hole)
    box = [(ys.min(), ys.max() + 1, height), (xs.min(), xs.max() + 1, width)]
    spans = []
    for low, high, limit in box:
        extent = high - low
        want = max(round(extent * (1 + 2 * context)), min(last_scale, limit))
        low = max(0, min((low + high - want) // 2, limit - want))
        spans += [low, min(limit, low + want)]
    return tuple(int(v) for v in spans)


def paste_hole(
    image: np.ndarray, mask: np.ndarray, region, filled: np.ndarray, *,
    offset_span: float = 0.0, exact_reach: float = 0.0,
) -> np.ndarray:  # fmt: skip
    """A copy of `image` whose hole pixels inside `region` come from `filled`, the worked
    region's result.

    A result worked at a smaller size is upsampled to the region and pasted in the gradient
    domain (`fill.poisson_paste`, Perez et al. 2003): its detail is kept while the
    difference between its upsampled known pixels and the photo's, at the hole's border,
    is spread smoothly over the hole, so the fill meets the full-resolution border. With
    `offset_span` k > 0 that difference is first averaged over a Gaussian of k times the
    upsampling factor in pixels (`PasteOptions.paste_offset_span`), and with `exact_reach`
    r > 0 the exact difference still holds near the border, with weight exp(-d / (r times the
    factor)) at d pixels from the nearest known pixel (`PasteOptions.paste_exact_reach`).
    In a black-and-white photo (every known pixel grey) the fill is made grey too: the
    texture term can leave faint colour speckles that exist nowhere in such a photo.
    """
    top, bottom, left, right = region
    hole_px = mask[top:bottom, left:right, 0] > 0
    if filled.shape[:2] != (bottom - top, right - left):
        from npsynth import fill  # jax: imported only when a fill is upsampled

        factor = max((bottom - top) / filled.shape[0], (right - left) / filled.shape[1])
        filled = resize.resize_image(filled, (bottom - top, right - left))
        known = image[top:bottom, left:right]
        weight = None
        if offset_span > 0 and exact_reach > 0:
            from scipy import ndimage

            depth = ndimage.distance_transform_edt(hole_px)[..., None]
            weight = np.exp(-depth / (exact_reach * factor)).astype(np.float32)
        pasted = fill.poisson_paste(
            filled, known, hole_px[..., None].astype(np.float32),
            offset_sigma=offset_span * factor, exact_weight=weight,
        )  # fmt: skip
        filled = np.clip(np.asarray(pasted), 0.0, 1.0).astype(image.dtype)
    if is_grey(image[mask[..., 0] <= 0]):
        filled = np.repeat(filled.mean(axis=-1, keepdims=True), filled.shape[-1], axis=-1)
    output = image.copy()
    output[top:bottom, left:right][hole_px] = filled[hole_px]
    return output


def is_grey(pixels: np.ndarray, tolerance: float = 1.5 / 255) -> bool:
    """Whether every pixel of `pixels` ([..., C] in [0, 1]) has equal channels, to within
    `tolerance` (a black-and-white photo saved as RGB, JPEG rounding included)."""
    if pixels.shape[-1] < 2 or not pixels.size:
        return False
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    return bool(spread.max() <= tolerance)


def level_sizes(shape: tuple[int, int], scales: tuple[int, ...]) -> list[tuple[int, int]]:
    """(height, width) per scale: the region fit into the last scale, then scaled by s / s_last."""
    height, width = shape
    fit = min(1.0, scales[-1] / max(height, width))
    sizes = []
    for scale in scales:
        factor = fit * scale / scales[-1]
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        if max(size) >= MIN_LEVEL_SIZE or scale == scales[-1]:
            sizes.append(size)
    if max(sizes[-1]) < MIN_LEVEL_SIZE:
        raise ValueError(
            f"the image is {height}x{width}: too small for neural patch synthesis "
            f"(needs at least {MIN_LEVEL_SIZE} px on its longest side)"
        )
    return sizes


def known_at(image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The known pixels downsized to `size` without any hole pixel leaking into them.

    A normalised (masked) resize: resize(image * known) / resize(known).
    """
    known = 1.0 - mask
    weight = resize.resize_image(np.repeat(known, 3, axis=-1), size, clip=False)
    values = resize.resize_image(image * known, size, clip=False)
    return np.clip(values / np.maximum(weight, 1e-6), 0.0, 1.0).astype(np.float32)


def pad(array: np.ndarray, mode: str) -> np.ndarray:
    """`array` ([h, w, C]) padded at the bottom and right to multiples of `PAD_MULTIPLE`."""
    height, width = array.shape[:2]
    widths = [(0, -height % PAD_MULTIPLE), (0, -width % PAD_MULTIPLE), (0, 0)]
    return np.pad(array, widths, mode=mode)


class _ProgressBar:
    """A tqdm bar per level: iterations done and the loss (a `Progress` callable)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def __call__(self, event: Progress) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        if self.bar is None or event.iteration == 0 and not event.done:
            self.close()
            name = f"scale {event.level + 1}/{event.levels} {event.size[0]}x{event.size[1]}"
            self.bar = tqdm(total=event.iterations or None, desc=name, unit="it", leave=False)
        if event.iterations and self.bar.total != event.iterations:
            self.bar.total = event.iterations
        self.bar.update(event.iteration - self.bar.n)
        if event.loss is not None:
            self.bar.set_postfix(loss=f"{event.loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
