"""Running methods on photos: one photo at a time, or groups of photos at once.

`fillers` names what fills a photo (npsynth's methods, each with its config, and the
classical baselines); `run_group` gives every method the photos with their holes blanked and times it; `groups`
cuts a folder's photos into the runs one `npsynth.inpaint_batch` call can take.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from npsynth.config.inpaint import PyramidConfig
from npsynth.errors import as_input_error
from npsynth.harness import baselines as baseline_fns

Filler = Callable[[np.ndarray, np.ndarray], object]  # (blanked image, mask) -> filled


def fillers(
    configs: Mapping[str, PyramidConfig], baselines: Sequence[str] = ()
) -> dict[str, Filler]:
    """Method or baseline name -> fn(image with hole blanked, mask) -> filled image: each
    npsynth method `npsynth.inpaint` with its config, in order, then the `baselines`.

    Raises:
      InputError: an unknown baseline, or one whose optional package is missing.
    """
    from npsynth.api import inpaint

    chosen: dict[str, Filler] = {
        method: functools.partial(inpaint, config=config) for method, config in configs.items()
    }
    for name in baselines:
        with as_input_error():
            chosen[name] = baseline_fns.get_baseline(name)
    return chosen


def run_one(
    image: np.ndarray, mask: np.ndarray, fns: Mapping[str, Filler]
) -> dict[str, tuple[np.ndarray, float, str]]:
    """Every method on one photo; the hole's pixels are blanked before any method sees them.

    Returns:
      method -> (filled image, seconds, per-scale seconds as "64x64:1.20 128x128:3.40", or ""
      for a method that returns a plain array rather than an `InpaintResult`).
    """
    return run_group([image], [mask], fns)[0]


def run_group(
    images, masks, fns: Mapping[str, Filler], batch_fns: Mapping[str, Callable] | None = None
) -> list[dict[str, tuple[np.ndarray, float, str]]]:
    """`run_one` for several photos: a method in `batch_fns` (fn(images, masks) -> results)
    fills them all at once, and each photo is given the batch's time over its size; the
    others fill them one by one."""
    blanked = [np.where(m > 0, 0.0, im).astype(np.float32) for im, m in zip(images, masks)]
    results: list[dict] = [{} for _ in images]
    for name, fn in fns.items():
        batch_fn = (batch_fns or {}).get(name)
        if batch_fn is not None and len(images) > 1:
            start = time.perf_counter()
            outs = batch_fn(blanked, list(masks))
            seconds = [(time.perf_counter() - start) / len(images)] * len(images)
        else:
            outs, seconds = [], []
            for one, mask in zip(blanked, masks):
                start = time.perf_counter()
                outs.append(fn(one, mask))
                seconds.append(time.perf_counter() - start)
        for result, out, took in zip(results, outs, seconds):
            scales = ""
            if hasattr(out, "scales"):  # an InpaintResult
                scales = " ".join(f"{s.size[0]}x{s.size[1]}:{s.seconds:.2f}" for s in out.scales)
                out = out.image
            result[name] = (np.asarray(out, np.float32), took, scales)
    return results


def groups(items, size: int, configs: Mapping[str, PyramidConfig]) -> list[list]:
    """`items` ((name, image, mask), in order) cut into runs of at most `size` consecutive
    photos that one `inpaint_batch` call can take: one size, and one worked region
    (`npsynth.pyramid.context_window`) for every method's config."""
    from npsynth.pyramid import context_window

    def key(item):
        _, image, mask = item
        windows = tuple(
            context_window(mask[..., 0], c.scales[-1], c.context) for c in configs.values()
        )
        return image.shape, windows

    runs: list[list] = []
    for item in items:
        if runs and len(runs[-1]) < size and key(runs[-1][0]) == key(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
