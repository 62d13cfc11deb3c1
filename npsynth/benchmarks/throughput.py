"""Photos per minute: a batch solved side by side against one photo at a time
(`python -m eval.bench batch`).

Both runs fill the same photos with the same holes and config in one process; each is run
twice and the second time is reported, so neither pays for compilation.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import jax
import numpy as np

from npsynth.harness import checks, report
from npsynth.harness.runner import Photos, load_pairs


def bench_batch(images, masks, config, *, vgg=None, out=sys.stdout) -> dict:
    """Time `npsynth.inpaint` photo by photo against `npsynth.inpaint_batch`; print a table.

    Returns:
      {"photos", "size", "devices", "one_s", "batch_s", "one_per_min", "batch_per_min",
       "max_difference"}: seconds for all photos, and the largest pixel difference.
    """
    from npsynth.api import inpaint, inpaint_batch

    def one_by_one():
        return [inpaint(i, m, config=config, vgg=vgg).image for i, m in zip(images, masks)]

    def batched():
        return [r.image for r in inpaint_batch(images, masks, config=config, vgg=vgg)]

    timings = {}
    for name, run in (("one", one_by_one), ("batch", batched)):
        run()  # compiles
        start = time.perf_counter()
        timings[name] = (run(), time.perf_counter() - start)
    difference = max(
        float(np.abs(a - b).max()) for a, b in zip(timings["one"][0], timings["batch"][0])
    )
    n = len(images)
    row = {
        "photos": n,
        "size": f"{images[0].shape[0]}x{images[0].shape[1]}",
        "devices": f"{jax.local_device_count()} x {jax.devices()[0].platform}",
        "one_s": timings["one"][1],
        "batch_s": timings["batch"][1],
        "one_per_min": 60 * n / timings["one"][1],
        "batch_per_min": 60 * n / timings["batch"][1],
        "max_difference": difference,
    }
    print("photos | size | devices | one at a time s | batch s | photos/min one | photos/min batch"
          " | speed-up | max |diff|", file=out)  # fmt: skip
    print(f"{row['photos']} | {row['size']} | {row['devices']} | {row['one_s']:.1f} | "
          f"{row['batch_s']:.1f} | {row['one_per_min']:.2f} | {row['batch_per_min']:.2f} | "
          f"{row['one_s'] / row['batch_s']:.2f}x | {difference:.4f}", file=out)  # fmt: skip
    print(f"\nscales {config.scales}, iterations {config.iterations}; {report.machine()}", file=out)
    return row


@dataclasses.dataclass(frozen=True, kw_only=True)
class BatchBench:
    """Photos per minute: a batch against one at a time (`python -m eval.bench batch`)."""

    # Folder of photos.
    images: str = "../shared/data/eval512"
    # How many.
    photos: int = 4
    # Photo side, px.
    size: int = 128
    # Pyramid scales (default: size/4, size/2, size).
    scales: tuple[int, ...] | None = None

    def __post_init__(self):
        checks.check_at_least(1, photos=self.photos)
        checks.check_at_least(32, size=self.size, scales=self.scales)

    def run(self) -> dict:
        from npsynth.config import OptimizeConfig

        photos = Photos(images=self.images, hole="center:0.5", limit=self.photos,
                        resize=self.size)  # fmt: skip
        pairs = load_pairs(photos)
        scales = tuple(self.scales or (self.size // 4, self.size // 2, self.size))
        blanked = [np.where(m > 0, 0.0, i).astype(np.float32) for _, i, m in pairs]
        return bench_batch(blanked, [m for *_, m in pairs], OptimizeConfig(scales=scales))
