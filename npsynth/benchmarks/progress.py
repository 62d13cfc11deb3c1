"""What per-iteration progress costs in one level's L-BFGS solve (issue 41): chunks of 10
iterations reported after each chunk, against chunks of one iteration (a report after every
iteration) and against chunks of 10 with a host callback (`jax.debug.callback`) after every
iteration inside the compiled chunk.

    python -m eval.bench progress --sizes 256 --iterations 5 --rounds 2
    python -m eval.bench progress --timings

A random photo of each size with a centred square hole of a quarter of its area, the
default `optimize` settings, VGG-19; each variant is compiled once, then run `--rounds`
times in turn with the others.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from npsynth import hub, solver
from npsynth.config.optimize import OptimizeConfig
from npsynth.methods import optimize


def case(size: int, seed: int = 0):
    """A smooth random photo of `size` px, its centred square hole (a quarter of its area)
    and the hole filled with the photo's mean as the guide."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((size // 16, size // 16, 3)).astype(np.float32)
    image = np.kron(coarse, np.ones((16, 16, 1), np.float32))
    image += 0.05 * rng.standard_normal(image.shape).astype(np.float32)
    image = np.clip(image, 0, 1)
    hole = np.zeros((size, size, 1), np.float32)
    hole[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    guide = np.where(hole > 0, image.mean((0, 1)), image).astype(np.float32)
    return image * (1 - hole), hole, guide


def with_callback(advance):
    """`solver.advance` whose every iteration calls back to the host with the iteration and
    the loss (as a per-iteration progress report inside the compiled chunk would)."""

    def advance_with_callback(loss_fn, solve, steps, options, limit=None):
        one = lambda s: advance(loss_fn, s, 1, options, limit)

        def step(s, _):
            s, value = one(s)
            jax.debug.callback(lambda i, v: None, s.lbfgs.iter_num, value[0])
            return s, value[0]

        return jax.lax.scan(step, solve, None, length=steps)

    return advance_with_callback


VARIANTS = (
    ("chunks of 10, report per chunk", 10, False),
    ("chunks of 1, report per iteration", 1, False),
    ("chunks of 10, host callback per iteration", 11, True),
)


def compare(size, iterations, rounds, vgg):
    """Each variant compiled once (the callback's with chunk_iterations 11, its own cache
    entry in `optimize._programs`: the same chunk of up to 10 iterations), then `rounds` rounds of the variants in turn (the machine
    is shared: the least of each variant's times is printed, with the median)."""
    known, hole, guide = case(size)
    base = OptimizeConfig()
    original = solver.advance
    times, losses = {name: [] for name, _, _ in VARIANTS}, {}

    def solve(name, chunk, callback):
        config = dataclasses.replace(
            base, solver=dataclasses.replace(base.solver, chunk_iterations=chunk)
        )
        solver.advance = with_callback(original) if callback else original
        start = time.perf_counter()
        try:
            result = optimize.solve_level(
                known, hole, guide, vgg, config, iterations, report=lambda *a: None
            )
        finally:
            solver.advance = original
        return time.perf_counter() - start, result

    for round_ in range(rounds + 1):
        for name, chunk, callback in VARIANTS:
            seconds, result = solve(name, chunk, callback)
            if round_:
                times[name].append(seconds)
            losses[name] = float(result.losses[-1])
    for name, _, _ in VARIANTS:
        least, middle = min(times[name]), float(np.median(times[name]))
        print(
            f"{size:4d} px  {iterations:3d} it  {name:42s} least {least:7.2f} s  "
            f"median {middle:7.2f} s  ({least / iterations:.3f} s/it)  loss {losses[name]:.6g}",
            flush=True,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProgressBench:
    """What per-iteration progress costs (`python -m eval.bench progress`)."""

    # Photo sizes (px), comma-separated; one level each.
    sizes: tuple[int, ...] = (256, 512)
    # L-BFGS iterations at each size, comma-separated.
    iterations: tuple[int, ...] = (10, 5)
    # Timed rounds of the variants after the compiling one.
    rounds: int = 2
    # Time TIMING_CASES (whole photos through npsynth.inpaint, as the page runs them) instead.
    timings: bool = False

    def __post_init__(self):
        from npsynth.harness import checks

        checks.check_at_least(1, rounds=self.rounds)
        checks.check_at_least(32, sizes=min(self.sizes, default=0))
        checks.check_at_least(1, iterations=min(self.iterations, default=0))
        if len(self.sizes) != len(self.iterations):
            raise ValueError("--iterations: give one number per size of --sizes")

    def run(self) -> None:
        if self.timings:
            return timings()
        vgg = hub.default_vgg()
        print(f"JAX {jax.__version__} on {jax.devices()[0].platform}")
        for size, iterations in zip(self.sizes, self.iterations, strict=True):
            compare(size, iterations, self.rounds, vgg)


# (photo height, width, hole top, bottom, left, right, preset, scales) of `--timings`: the
# photo sizes and holes a page user meets, run one after another in one process as the
# page's worker runs them.
TIMING_CASES = (
    (512, 512, 192, 320, 192, 320, "fast", (128, 256, 512)),
    (512, 512, 128, 384, 160, 400, "fast", (128, 256, 512)),
    (768, 1024, 300, 450, 400, 600, "fast", (128, 256, 512)),
    (256, 256, 64, 192, 64, 192, "default", (64, 128, 256)),
    (256, 256, 32, 112, 120, 220, "default", (64, 128, 256)),
)


def timings(cases=TIMING_CASES):
    """Run each case with `npsynth.inpaint` (the networks loaded first, as the page's server
    does) and print its seconds, those spent compiling
    and, per level, the seconds from its start to its first and to its last iteration."""
    import npsynth
    from npsynth import presets
    from npsynth.serve.estimate import compile_seconds
    from npsynth.serve.jobs import load_networks

    load_networks()  # as the page's server does before its first job

    for height, width, top, bottom, left, right, preset, scales in cases:
        rng = np.random.default_rng(height + width)
        coarse = rng.random((height // 16, width // 16, 3)).astype(np.float32)
        image = np.kron(coarse, np.ones((16, 16, 1), np.float32))
        hole = np.zeros((height, width, 1), np.float32)
        hole[top:bottom, left:right] = 1
        marks = []
        start, compiled = time.perf_counter(), compile_seconds()
        npsynth.inpaint(
            image,
            hole,
            config=presets.config(preset, scales=scales),
            progress=marks.append,
        )
        seconds = time.perf_counter() - start
        compiling = compile_seconds() - compiled
        marks = [(p.level, p.iteration, p.done, p.seconds) for p in marks]
        levels = []
        for level in sorted({m[0] for m in marks}):
            at = [m for m in marks if m[0] == level and not m[2]]
            first = next(m[3] for m in at if m[1] == 0)
            iterations = [m for m in at if m[1] > 0]
            levels.append((round(iterations[0][3] - first, 2), round(iterations[-1][3] - first, 2),
                           iterations[-1][1]))  # fmt: skip
        print((height, width, (top, bottom, left, right), preset, scales, round(seconds, 2),
               round(compiling, 2), levels), flush=True)  # fmt: skip
