"""How long a job will take: seconds per unit of work, measured from the last job.

A job's work is the sum over its pyramid levels of the level's megapixels, times the
L-BFGS iterations at that level for `optimize` (1 for `translate`). The estimate is that
work times the method's rate. Before the first job of a method the rate is the default
below, measured on this project's 2-core CPU machine (README: `optimize` at 128, 256, 512 px
with 100 iterations took about 660 s per 512 px photo, `translate` at 256, 512 px 4.6 s);
after each finished job it is that job's seconds over its work, so later estimates follow
this machine (first-job compilation included, so the second estimate can run high).
"""

from __future__ import annotations

import threading

from npsynth import pyramid
from npsynth.config.inpaint import OptimizeConfig, PyramidConfig

# Seconds per unit of work before any job of the method has run here.
DEFAULT_RATES = {"optimize": 19.0, "translate": 14.0}


def level_plan(size: tuple[int, int], scales: tuple[int, ...]) -> list[tuple[int, int]]:
    """(height, width) of each level a photo of `size` is worked at, before the mask is known.

    A photo larger than the last scale is worked on in a window around the hole at least as
    large as the last scale (`pyramid.context_window`); that minimum is assumed here.
    """
    height, width = size
    region = (min(height, scales[-1]), min(width, scales[-1]))
    return pyramid.level_sizes(region, scales)


def work_units(config: PyramidConfig, sizes: list[tuple[int, int]]) -> float:
    """The work of running `config` at levels of `sizes` (megapixels x iterations)."""
    if isinstance(config, OptimizeConfig):
        iterations = pyramid.per_level(config.iterations, len(config.scales), "iterations")
        iterations = iterations[len(config.scales) - len(sizes) :]  # skipped coarse levels
    else:
        iterations = [1] * len(sizes)
    return sum(h * w / 1e6 * n for (h, w), n in zip(sizes, iterations, strict=True))


class TimeModel:
    """The rate per method: the default until a job finishes, then the last job's."""

    def __init__(self, rates: dict[str, float] | None = None):
        self._rates = dict(DEFAULT_RATES if rates is None else rates)
        self._measured: set[str] = set()
        self._lock = threading.Lock()

    def estimate(self, config: PyramidConfig, size: tuple[int, int]) -> dict:
        """{"seconds": the estimate, "basis": "default" or "measured"} for a photo of `size`."""
        units = work_units(config, level_plan(size, config.scales))
        with self._lock:
            rate, measured = self._rates[config.method], config.method in self._measured
        return {"seconds": rate * units, "basis": "measured" if measured else "default"}

    def record(self, config: PyramidConfig, size: tuple[int, int], seconds: float) -> None:
        """Take the rate of `config.method` from a job on a photo of `size` that took `seconds`."""
        units = work_units(config, level_plan(size, config.scales))
        if units > 0 and seconds > 0:
            with self._lock:
                self._rates[config.method] = seconds / units
                self._measured.add(config.method)
