"""Where the time of one photo goes (`python -m eval.bench profile`), cold and warm.

One photo (a scikit-image sample by default, its centred square at `--size`) with a centred
square hole is filled by `npsynth.inpaint` twice in a fresh Python process whose JAX
compilation cache is an empty folder: the first call is the cold run (start-up, imports,
weights and compiling included), the second the warm one (as the page or a folder run makes
it). Each run reads the photo, fills it and writes the result.

The stages are measured by wrapping the library's functions for the length of the profile
(`_WRAPPED`); the maths is untouched and the fill is the same. Every instant of a run goes to
one stage, the innermost that is running (`STAGES` is that order, compiling first), and what
no stage covers (resizes, padding, Python between chunks) is "other", so the stages add up
to the total. Compiling is the union of JAX's tracing, lowering and XLA compilation (or
compilation-cache read) time spans (`jax.monitoring`). The solver's time is split after the
run: its loss evaluations (the count jaxopt reports times one evaluation of the same compiled
loss, timed alone at that level) and the rest, L-BFGS and its line search.

The unit is one VGG-19 forward up to relu4_1 plus the input gradient at `unit_size` px (the
unit of issue 39), timed in the same process after the runs (one evaluation is timed right
after each run); every stage is also given as a multiple of it. Where the machine's load changes,
the evaluations can come out longer than the solver's time: they are then capped at it. Peak memory is the process's peak resident set size so far (it only grows).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Stages, innermost first: an instant where several run goes to the first of them.
STAGES = (
    "compiling",
    "PatchMatch",
    "nearest-neighbour searches",
    "solver",
    "content reference",
    "weights (VGG-19 load)",
    "paste",
    "reading",
    "writing",
)
# The solver's time, split after the run; the table's rows in order.
ROWS = (
    "start-up (interpreter)",
    "imports",
    "weights (VGG-19 load)",
    "compiling",
    "content reference",
    "PatchMatch",
    "nearest-neighbour searches",
    "loss evaluations",
    "L-BFGS and line search",
    "paste",
    "reading",
    "writing",
    "other",
)
# The stage -> (module, function) wrapped to time it.
_WRAPPED = {
    "weights (VGG-19 load)": ("npsynth.hub", "default_vgg"),
    "content reference": ("npsynth.reference", "reference_and_source"),
    "PatchMatch": ("npsynth.reference", "patchmatch_fill"),
    "nearest-neighbour searches": ("npsynth.methods.optimize", "_matches"),
    "paste": ("npsynth.pyramid", "paste_hole"),
    "reading": ("npsynth.io", "load_image"),
    "writing": ("npsynth.io", "save_image"),
}
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
UNIT_LAYERS = ("relu3_1", "relu4_1")
_CHILD = "import time, sys; t0 = time.time(); from npsynth.benchmarks.profile import child; child(t0, sys.argv[1])"


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def exclusive_times(spans: dict[str, list[tuple[float, float]]], start: float, end: float) -> dict:
    """Seconds of [start, end] given to each stage of `spans` (stage -> (begin, end) spans),
    an instant going to the first stage of `STAGES` running then; stages are disjoint."""
    cuts = sorted({start, end} | {t for s in spans.values() for b, e in s for t in (b, e)
                                  if start < t < end})  # fmt: skip
    times = dict.fromkeys(STAGES, 0.0)
    for low, high in itertools.pairwise(cuts):
        middle = (low + high) / 2
        for stage in STAGES:
            if any(b <= middle < e for b, e in spans.get(stage, ())):
                times[stage] += high - low
                break
    return times


class _Recorder:
    """Time spans of the wrapped functions, the solver's programs and JAX's compiling."""

    def __init__(self):
        self.spans = {stage: [] for stage in STAGES}
        self.calls = dict.fromkeys(STAGES, 0)
        self.peaks = {}
        # Per solve of the run: [(_programs' args, kwargs), its last (problem, fixed, state,
        # limit)]
        self.levels = []

    def timed(self, stage, fn):
        import jax

        def wrapper(*args, **kwargs):
            begin = time.time()
            try:
                return jax.block_until_ready(fn(*args, **kwargs))
            finally:
                self.spans[stage].append((begin, time.time()))
                self.calls[stage] += 1
                self.peaks[stage] = peak_rss_mib()

        return wrapper

    def programs(self, original):
        """`optimize._programs` whose programs are timed as "solver", their inputs kept."""

        def wrapper(*args, **kwargs):
            begin, advance = original(*args, **kwargs)

            def begin_kept(problem, init):
                self.levels.append([(args, kwargs), None])
                return begin(problem, init)

            def advance_kept(problem, fixed, state, limit):
                self.levels[-1][1] = (problem, fixed, state, limit)
                return advance(problem, fixed, state, limit)

            return self.timed("solver", begin_kept), self.timed("solver", advance_kept)

        return wrapper

    def compiled(self, event, begin, end, **_):
        if event in _COMPILE_EVENTS:
            self.spans["compiling"].append((begin, end))
            self.calls["compiling"] += event == _COMPILE_EVENTS[-1]  # XLA compiles (or cache reads)


def _patch(recorder: _Recorder, random_weights: bool) -> None:
    """Wrap the library's functions for this process (the profile's child only)."""
    import functools
    import importlib

    import jax

    from npsynth.methods import optimize

    if random_weights:  # tests: the timings, not the fill
        hub = importlib.import_module("npsynth.hub")
        hub.default_vgg = functools.cache(_random_vgg)
    for stage, (module_name, name) in _WRAPPED.items():
        module = importlib.import_module(module_name)
        setattr(module, name, recorder.timed(stage, getattr(module, name)))
    optimize._programs = recorder.programs(optimize._programs)
    jax.monitoring.register_event_time_span_listener(recorder.compiled)


def _random_vgg():
    """VGG-19 with random He-scaled weights (`--random-weights`, for tests)."""
    import numpy as np

    from npsynth.models.vgg import CONVS, vgg19_from_weights

    rng = np.random.default_rng(0)
    return vgg19_from_weights({
        name: (rng.normal(0, np.sqrt(2 / (9 * c_in)), (3, 3, c_in, c_out)).astype(np.float32),
               rng.normal(0, 0.01, c_out).astype(np.float32))
        for name, c_in, c_out in CONVS
    })  # fmt: skip


def _median_seconds(fn, *args, repeats: int = 3) -> float:
    """Median wall time of fn(*args) after one warm-up call."""
    import jax

    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def evaluation_program(program_args, program_kwargs=None):
    """One loss value+gradient of a level's solve, as its own jitted program of (problem,
    fixed, state, limit) -> (value, gradient) at the iterate `state.x`: the level's `advance`
    (`optimize._solver_functions` with the arguments `optimize._programs` got, its last
    positional one, `batched`, left out)
    traced with `solver.advance` replaced by one `jax.value_and_grad` of the same loss (same
    window, matches and weights)."""
    import jax

    from npsynth import solver
    from npsynth.methods import optimize

    _, advance = optimize._solver_functions(*program_args[:-1], **(program_kwargs or {}))
    traced = jax.jit(advance)

    def evaluate(*args):
        original = solver.advance
        solver.advance = lambda loss_fn, solve, *_, **__: jax.value_and_grad(loss_fn)(solve.x)
        try:  # traced (at the first call) while replaced
            return traced(*args)
        finally:
            solver.advance = original

    return evaluate


def one_evaluation_seconds(program, problem, fixed, state, limit) -> float:
    """Median time of one loss value+gradient of a level's solve (`evaluation_program` of
    `program`, the (args, kwargs) `optimize._programs` got)."""
    return _median_seconds(evaluation_program(*program), problem, fixed, state, limit)


def unit_seconds(vgg, size: int) -> float:
    """One VGG-19 forward up to relu4_1 plus its input gradient at size x size px."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    x = jnp.asarray(np.random.default_rng(0).random((1, size, size, 3), np.float32))

    def total(x):
        return sum(jnp.mean(f) for f in vgg(x, UNIT_LAYERS).values())

    return _median_seconds(jax.jit(jax.value_and_grad(total)), x)


def child(t0: float, arguments: str) -> None:
    """The profile's fresh process: two runs, then the evaluations and the unit, as JSON."""
    settings = json.loads(arguments)
    import jax
    import numpy as np

    import npsynth
    from npsynth import hub, io

    imported = time.time() - t0
    recorder = _Recorder()
    _patch(recorder, settings["random_weights"])
    runs = []
    for index in range(2):
        recorder.levels.clear()
        recorder.calls = dict.fromkeys(STAGES, 0)
        begin = time.time()
        image = io.load_image(settings["photo"])
        mask = np.zeros(image.shape[:2] + (1,), np.float32)
        side = max(1, round(min(image.shape[:2]) * settings["hole"]))
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        mask[top : top + side, left : left + side] = 1
        result = npsynth.inpaint(image, mask, preset=settings["preset"])
        io.save_image(Path(settings["out"]) / f"filled-{index}.png", result.image)
        end = time.time()
        runs.append({
            "begin": begin, "end": end, "peak_mib": peak_rss_mib(),
            "stages": exclusive_times(recorder.spans, begin, end),
            "calls": dict(recorder.calls), "peaks": dict(recorder.peaks),
            "evaluations": [s.evaluations or 0 for s in result.scales],
            "sizes": [list(s.size) for s in result.scales],
        })  # fmt: skip
        # Timed right after the run, so that a machine whose load changes meanwhile gives
        # each run its own (the same loss, so no higher peak memory than the run's).
        runs[-1]["per_evaluation"] = [one_evaluation_seconds(key, *kept) if kept else 0.0
                                      for key, kept in recorder.levels]  # fmt: skip
    unit = unit_seconds(hub.default_vgg(), settings["unit_size"])  # last: the whole image's peak
    device = jax.devices()[0]
    report = {
        "t0": t0, "imports": imported, "runs": runs, "unit": unit, "unit_peak_mib": peak_rss_mib(),
        "device": f"{device.platform}:{device.device_kind}", "cores": os.cpu_count(),
        "jax": jax.__version__,
    }  # fmt: skip
    (Path(settings["out"]) / "profile.json").write_text(json.dumps(report, indent=1))


def stage_table(report: dict, spawned: float) -> list[dict]:
    """Rows (stage, cold and warm seconds, calls) from the child's report; the last row is
    the total. Cold's total runs from the spawn to the end of its writing."""
    columns = []
    for index, run in enumerate(report["runs"]):
        stages, calls = dict(run["stages"]), dict(run["calls"])
        solver = stages.pop("solver")
        evaluations = sum(run["evaluations"])
        spent = sum(n * s for n, s in zip(run["evaluations"], run["per_evaluation"]))
        spent = min(spent, solver)
        stages["loss evaluations"], calls["loss evaluations"] = spent, evaluations
        stages["L-BFGS and line search"] = solver - spent
        calls["L-BFGS and line search"] = calls["solver"]
        cold = index == 0
        stages["start-up (interpreter)"] = report["t0"] - spawned if cold else 0.0
        stages["imports"] = report["imports"] if cold else 0.0
        total = run["end"] - (spawned if cold else run["begin"])
        stages["other"] = total - sum(stages.values())
        columns.append((stages, calls, total))
    rows = [
        {"stage": name, **{f"{key}_s": c[0][name] for key, c in zip(("cold", "warm"), columns)},
         **{f"{key}_calls": c[1].get(name, "") for key, c in zip(("cold", "warm"), columns)},
         "peak_mib": report["runs"][0]["peaks"].get(name)}
        for name in ROWS
    ]  # fmt: skip
    rows.append({"stage": "total", "cold_s": columns[0][2], "warm_s": columns[1][2],
                 "cold_calls": "", "warm_calls": "",
                 "peak_mib": report["runs"][0]["peak_mib"]})  # fmt: skip
    for row in rows:
        row["cold_units"] = row["cold_s"] / report["unit"]
        row["warm_units"] = row["warm_s"] / report["unit"]
    return rows


def print_table(rows, report, settings, out=sys.stdout) -> None:
    """The table in Markdown, then the shape, device, unit and peak memory."""
    print("| stage | cold s | cold x unit | cold calls | warm s | warm x unit | warm calls | "
          "peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|", file=out)  # fmt: skip
    for r in rows:
        peak = "" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        print(f"| {r['stage']} | {r['cold_s']:.2f} | {r['cold_units']:.2f} | {r['cold_calls']} | "
              f"{r['warm_s']:.2f} | {r['warm_units']:.2f} | {r['warm_calls']} | {peak} |",
              file=out)  # fmt: skip
    cold, warm = report["runs"]
    sizes = " -> ".join("x".join(map(str, s)) for s in cold["sizes"])
    print(f"\nphoto {settings['size']}x{settings['size']}, centred hole {settings['hole']} of the "
          f"side, preset {settings['preset']}, levels {sizes}, evaluations {cold['evaluations']}; "
          f"one evaluation (s per level) cold {_seconds(cold['per_evaluation'])}, warm "
          f"{_seconds(warm['per_evaluation'])}; unit (VGG-19 to relu4_1 forward+input gradient "
          f"at {settings['unit_size']} px, after the runs) {report['unit']:.3f} s; peak RSS cold "
          f"{cold['peak_mib']:.0f} MiB, after warm {warm['peak_mib']:.0f} MiB, after the unit "
          f"{report['unit_peak_mib']:.0f} MiB; {report['device']}, {report['cores']} cores, "
          f"jax {report['jax']}", file=out)  # fmt: skip


def _seconds(values) -> str:
    return ", ".join(f"{v:.3f}" for v in values) or "-"


def default_photo() -> Path:
    """scikit-image's astronaut, shipped inside its wheel (no download)."""
    import skimage

    return Path(skimage.__file__).parent / "data" / "astronaut.png"


def profile(settings: dict, out=sys.stdout) -> tuple[list[dict], dict]:
    """Run the child on the photo's centred square at `settings["size"]`; print the table."""
    from PIL import Image

    folder = Path(settings.get("out") or tempfile.mkdtemp(prefix="npsynth-profile-"))
    folder.mkdir(parents=True, exist_ok=True)
    image = Image.open(settings.get("photo") or default_photo()).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    size = settings["size"]
    image.resize((size, size), Image.Resampling.BICUBIC).save(folder / "photo.png")
    cache = tempfile.mkdtemp(prefix="jax-cache-", dir=folder)  # empty: a cold start
    child_settings = dict(settings, photo=str(folder / "photo.png"), out=str(folder))
    env = dict(os.environ, NPSYNTH_COMPILATION_CACHE=cache)
    spawned = time.time()
    subprocess.run([sys.executable, "-c", _CHILD, json.dumps(child_settings)], env=env,
                   check=True)  # fmt: skip
    report = json.loads((folder / "profile.json").read_text())
    rows = stage_table(report, spawned)
    print_table(rows, report, child_settings, out=out)
    return rows, report


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProfileBench:
    """Where one photo's time goes, cold and warm (`python -m eval.bench profile`)."""

    # Photo side, px (its centred square is resized to it).
    size: int = 512
    # Preset (`npsynth.presets`): default, fast, paper, tiny, ...
    preset: str = "default"
    # The photo; default scikit-image's astronaut (shipped with it).
    photo: str | None = None
    # Side of the centred square hole as a fraction of the photo side.
    hole: float = 0.5
    # Side (px) of the unit: one VGG-19 forward+input gradient.
    unit_size: int = 512
    # Folder for the photo, the results and profile.json (default: a temporary folder).
    out: str | None = None
    # VGG-19 with random weights (tests: the timings, not the fill).
    random_weights: bool = False

    def __post_init__(self):
        from npsynth import presets
        from npsynth.harness import checks

        checks.check_at_least(32, size=self.size, unit_size=self.unit_size)
        if not 0 < self.hole < 1:
            raise ValueError(f"--hole: must lie between 0 and 1, got {self.hole}")
        if self.preset not in presets.PRESETS:
            raise ValueError(f"--preset: one of {', '.join(presets.PRESETS)}, got {self.preset!r}")
        if self.photo is not None and not Path(self.photo).is_file():
            raise ValueError(f"--photo: no such file {self.photo}")

    def run(self) -> tuple[list[dict], dict]:
        return profile(dataclasses.asdict(self))
