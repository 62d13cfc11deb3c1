"""How long a job will take: seconds per unit of work, measured from the last job.

A job's work is its method's cost model (`npsynth.methods.Method.work`) at the levels it works
at around this hole (`hole_plan`: the window `npsynth.inpaint` works in): for `optimize` the
megapixels VGG-19 sees at each level (the texture window around the hole) times its L-BFGS
iterations, for `translate` the levels' megapixels. The estimate is that work times a rate per
kind of job (`rate_key`: the method, and for a job at its first levels only, how many). Before
the first job of a kind the rate is the method's `seconds_per_work`, or one of `LEVEL_RATES`,
measured on this project's 2-core CPU machine with eval.inpaint on the centred 512 px hole,
photos 1-20 (docs/archive/results-rounds.md, "Headline tables with today's defaults" and "The
fast choice": `optimize` at 128, 256, 512 px with 15 iterations 150 s per photo, `--levels 1`
14.7 s; `translate` at 256, 512 px 4.6 s). After each finished job it is that job's seconds,
less those JAX spent compiling (`compile_seconds`), over its work, so later estimates follow
this machine; a job at sizes not seen before still compiles, and takes that much longer.
"""

from __future__ import annotations

import threading

import numpy as np

from npsynth import pyramid
from npsynth.config.inpaint import PyramidConfig
from npsynth.methods import METHODS

# Seconds per unit of work of jobs at their first levels only, before any has run here: the
# first level alone costs more per unit (the content reference, VGG set-up and the paste are
# a larger share). Other kinds take their method's `seconds_per_work`.
LEVEL_RATES = {"optimize levels=1": 60.0}
# The hole's share of the worked region before the page knows the mask: the centred hole of
# the runs behind the default rates.
ASSUMED_HOLE_FRACTION = 0.25


_compiling = {"seconds": 0.0, "listening": False}
_compiling_lock = threading.Lock()


def _on_duration(name: str, seconds: float, **_) -> None:
    if name.startswith("/jax/core/compile/"):
        with _compiling_lock:
            _compiling["seconds"] += seconds


def compile_seconds() -> float:
    """Seconds JAX has spent tracing, lowering and compiling in this process since the first
    call (`jax.monitoring`'s compile durations): a job's share is taken off its time before
    its rate is kept, since the next job at the same sizes reuses the compiled programs."""
    import jax.monitoring

    with _compiling_lock:
        if not _compiling["listening"]:
            jax.monitoring.register_event_duration_secs_listener(_on_duration)
            _compiling["listening"] = True
        return _compiling["seconds"]


def default_rates() -> dict[str, float]:
    """Seconds per unit of work per kind of job before any has run here."""
    return {name: method.seconds_per_work for name, method in METHODS.items()} | LEVEL_RATES


def rate_key(config: PyramidConfig) -> str:
    """The kind of job whose rate `config` takes: its method, and its levels when it has them."""
    return config.method if config.levels is None else f"{config.method} levels={config.levels}"


def level_plan(size: tuple[int, int], scales: tuple[int, ...]) -> list[tuple[int, int]]:
    """(height, width) of each level a photo of `size` is worked at, before the mask is known.

    A photo larger than the last scale is worked on in a window around the hole at least as
    large as the last scale (`pyramid.context_window`); that minimum is assumed here.
    """
    height, width = size
    region = (min(height, scales[-1]), min(width, scales[-1]))
    return pyramid.level_sizes(region, scales)


def hole_plan(config: PyramidConfig, hole: np.ndarray) -> tuple[list[tuple[int, int]], float]:
    """(the levels' (height, width), the hole's share of the worked region) for `hole`
    (bool [H, W]): the window `npsynth.inpaint` works in around it (`pyramid.context_window`)."""
    top, bottom, left, right = pyramid.context_window(hole, config.scales[-1], config.context)
    sizes = pyramid.level_sizes((bottom - top, right - left), config.scales)
    return sizes, float(np.mean(hole[top:bottom, left:right]))


def work_units(
    config: PyramidConfig, sizes: list[tuple[int, int]], hole_fraction: float | None = None
) -> float:
    """The work of running `config` at levels of `sizes` (its method's `work`).

    `sizes` are all the pyramid's levels (`level_plan`, `hole_plan`); only the first
    `config.levels` are worked at (the paste of the last one's fill is not counted).
    `hole_fraction`: the hole's share of them, None where the page does not know it yet.
    """
    return sum(METHODS[config.method].work(config, sizes, hole_fraction))


def job_work(config: PyramidConfig, size: tuple[int, int], hole: np.ndarray | None) -> float:
    """`work_units` of a photo of `size` with `hole` (bool [H, W]; None: not known yet, taken
    as the smallest window, `level_plan`, a quarter of it hole: `ASSUMED_HOLE_FRACTION`)."""
    if hole is None or not hole.any():
        return work_units(config, level_plan(size, config.scales), ASSUMED_HOLE_FRACTION)
    return work_units(config, *hole_plan(config, hole))


class TimeModel:
    """The rate per kind of job: the default until one finishes, then the last one's
    (compilation left out)."""

    def __init__(self, rates: dict[str, float] | None = None):
        self._rates = dict(default_rates() if rates is None else rates)
        self._measured: set[str] = set()
        self._lock = threading.Lock()

    def estimate(self, config: PyramidConfig, size: tuple[int, int], hole=None) -> dict:
        """{"seconds": the estimate, "basis": "default" or "measured"} for a photo of `size`
        with `hole` (bool [H, W]; None: not known yet)."""
        units = job_work(config, size, hole)
        key = rate_key(config)
        with self._lock:
            # Other levels: the method's rate; a method registered since: its own default.
            rate = self._rates.get(key, self._rates.get(config.method))
            rate = METHODS[config.method].seconds_per_work if rate is None else rate
            measured = key in self._measured
        return {"seconds": rate * units, "basis": "measured" if measured else "default"}

    def record(
        self, config: PyramidConfig, size: tuple[int, int], seconds: float, hole=None,
        compiling: float = 0.0,
    ):  # fmt: skip
        """Take the rate of `config`'s kind from a job on a photo of `size` with `hole` (bool
        [H, W]; None: not known) that took `seconds`, `compiling` of them compiling
        (`compile_seconds`; not counted: the next job at these sizes does not compile)."""
        units = job_work(config, size, hole)
        seconds = seconds - compiling
        if units > 0 and seconds > 0:
            with self._lock:
                self._rates[rate_key(config)] = seconds / units
                self._measured.add(rate_key(config))
