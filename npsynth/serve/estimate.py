"""How long a job will take: seconds per unit of work, measured from the last job.

A job's work is its method's cost model (`npsynth.methods.Method.work`: for `optimize` the
megapixels of each level worked at times its L-BFGS iterations, for `translate` the
megapixels). The estimate is that work times a rate per kind of job (`rate_key`: the method,
and for a job at its first levels only, how many). Before the first job of a kind the rate is
the method's `seconds_per_work`, or one of `LEVEL_RATES`, measured on this project's 2-core CPU machine with eval.inpaint on the
centred 512 px hole, photos 1-20 (docs/archive/results-rounds.md, "Headline tables with today's defaults"
and "The fast choice": `optimize` at 128, 256, 512 px with 15 iterations 150 s per photo,
`--levels 1` 14.7 s; `translate` at 256, 512 px 4.6 s); after each finished job it is that
job's seconds over its work, so later estimates follow this machine (first-job compilation
included, so the second estimate can run high).
"""

from __future__ import annotations

import threading

from npsynth import pyramid
from npsynth.config.inpaint import PyramidConfig
from npsynth.methods import METHODS

# Seconds per unit of work of jobs at their first levels only, before any has run here: the
# first level alone costs more per unit (the content reference, VGG set-up and the paste are
# a larger share). Other kinds take their method's `seconds_per_work`.
LEVEL_RATES = {"optimize levels=1": 60.0}


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


def work_units(config: PyramidConfig, sizes: list[tuple[int, int]]) -> float:
    """The work of running `config` at levels of `sizes` (its method's `work`).

    `sizes` are all the pyramid's levels (`level_plan`); only the first `config.levels` are
    worked at (the paste of the last one's fill is not counted). The hole is not known when
    the page asks (`hole_fraction` None).
    """
    return sum(METHODS[config.method].work(config, sizes, None))


class TimeModel:
    """The rate per kind of job: the default until one finishes, then the last one's."""

    def __init__(self, rates: dict[str, float] | None = None):
        self._rates = dict(default_rates() if rates is None else rates)
        self._measured: set[str] = set()
        self._lock = threading.Lock()

    def estimate(self, config: PyramidConfig, size: tuple[int, int]) -> dict:
        """{"seconds": the estimate, "basis": "default" or "measured"} for a photo of `size`."""
        units = work_units(config, level_plan(size, config.scales))
        key = rate_key(config)
        with self._lock:
            # Other levels: the method's rate; a method registered since: its own default.
            rate = self._rates.get(key, self._rates.get(config.method))
            rate = METHODS[config.method].seconds_per_work if rate is None else rate
            measured = key in self._measured
        return {"seconds": rate * units, "basis": "measured" if measured else "default"}

    def record(self, config: PyramidConfig, size: tuple[int, int], seconds: float) -> None:
        """Take the rate of `config`'s kind from a job on a photo of `size` that took `seconds`."""
        units = work_units(config, level_plan(size, config.scales))
        if units > 0 and seconds > 0:
            with self._lock:
                self._rates[rate_key(config)] = seconds / units
                self._measured.add(rate_key(config))
