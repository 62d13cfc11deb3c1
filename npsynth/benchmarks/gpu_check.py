"""One prepared check for a machine with a GPU: benchmarks, one 512 px photo, one table.

    pip install -e ".[cuda]"                  # JAX for NVIDIA GPUs (CUDA 12 wheels), once
    NPSYNTH_VGG19=../shared/weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 \\
        python -m eval.gpu_check                # at most 8 minutes, install included

Steps, each a subprocess with its own time limit, all within `--budget` (480 s):
- `install` (only with `--install`): `pip install -e ".[cuda]"`;
- `devices`: JAX's devices; fails when JAX sees no GPU (unless `--allow-cpu`);
- `bench loss`: `python -m eval.bench loss --sizes 256,512`; `bench layers`: `eval.bench layers`;
- `inpaint default`, `inpaint paper`, `translate`: `python -m eval.inpaint` on one 512 px
  photo of eval512 (`--photos`, default `$NPSYNTH_EVAL512` or `../shared/data/eval512`) with
  the paper's centred hole of half the side: the default schedule, `--iterations 100` (the
  paper's), and `--method translate`;
- `bench batch`: `python -m eval.bench batch --photos 4 --size 512`, photos per minute of
  `npsynth.inpaint_batch` (one L-BFGS per photo, sharded over the devices) against one at a time;
- `batch`: photos per minute of a folder run with `--batch N`, where `eval.inpaint` has that
  option ("not available" otherwise).
It prints one table (step, seconds, status, note: the step's last line of output) and exits
1 if a step failed, timed out or was skipped for lack of time. Every step's output is kept
in `--out` (default a new temporary folder). `--tiny` runs the same steps at CPU-sized
settings (64 px, a few iterations) to check the script itself; `--dry-run` prints the plan.

The flags are `GpuCheck`'s fields; `run_check` runs it. This process never starts JAX on a
device (npsynth is imported, JAX's backends are not), which leaves the GPU to the steps.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "eval512"
BUDGET_S = 480.0  # the whole check, install included: 8 minutes
MIN_STEP_S = 5.0  # a step left less time than this is skipped
BATCH_PHOTOS = 4
OK, NOT_AVAILABLE = "ok", "not available"
PYTHON = sys.executable
INSTALL_COMMAND = (PYTHON, "-m", "pip", "install", "-e", ".[cuda]")

DEVICES = (
    "import sys, jax; devices = jax.devices(); "
    "print(f'jax {jax.__version__}:', ', '.join(f'{d.platform}:{d.device_kind}' for d in devices)); "
    "sys.exit(0 if ALLOW_CPU or devices[0].platform == 'gpu' else 1)"
)


@dataclasses.dataclass(frozen=True)
class Step:
    """One command of the check; `argv` None: not available here (`note` says why)."""

    name: str
    argv: tuple[str, ...] | None
    limit_s: float
    note: str = ""
    photos: int = 0  # photos the step fills, for a photos-per-minute note


INSTALL = Step("install", INSTALL_COMMAND, 240)  # only with --install, before anything else


@dataclasses.dataclass(frozen=True)
class Result:
    name: str
    seconds: float
    status: str  # "ok", "exit N", "timed out", "skipped (time budget)", "not available"
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status not in (OK, NOT_AVAILABLE)


def run_command(argv: Sequence[str], *, limit_s: float, log: Path) -> tuple[int | None, str]:
    """Run `argv` in the repository with output to `log`; (exit code or None on timeout,
    output). On timeout the command's whole process group is killed."""
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            list(argv), cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    return code, log.read_text(errors="replace")


def last_line(output: str, width: int = 70) -> str:
    """The last non-empty line of `output`, cut to `width` characters."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def run_steps(
    steps: Sequence[Step],
    *,
    budget_s: float,
    log_dir: Path,
    run: Callable = run_command,
    clock: Callable[[], float] = time.monotonic,
    start: float | None = None,
) -> list[Result]:
    """Run `steps` in order, each within its limit and what is left of `budget_s` since
    `start` (default now); a step that would get under MIN_STEP_S is skipped."""
    start = clock() if start is None else start
    results = []
    for step in steps:
        if step.argv is None:
            results.append(Result(step.name, 0.0, NOT_AVAILABLE, step.note))
            continue
        limit = min(step.limit_s, budget_s - (clock() - start))
        if limit < MIN_STEP_S:
            results.append(Result(step.name, 0.0, "skipped (time budget)", f"{limit:.0f} s left"))
            continue
        began = clock()
        log = log_dir / (re.sub(r"\W+", "_", step.name) + ".log")
        code, output = run(step.argv, limit_s=limit, log=log)
        seconds = clock() - began
        note = last_line(output)
        if code is None:
            status, note = "timed out", f"after {limit:.0f} s; {note}"
        else:
            status = OK if code == 0 else f"exit {code}"
        if status == OK and step.photos:
            note = f"{60 * step.photos / seconds:.2f} photos/min; {note}"
        results.append(Result(step.name, seconds, status, note))
    return results


def format_table(results: Sequence[Result]) -> str:
    """The check's one table: step, seconds, status, note; then the total."""
    lines = [f"{'step':<16} | {'seconds':>7} | {'status':<21} | note", "-" * 80]
    for r in results:
        lines.append(f"{r.name:<16} | {r.seconds:7.1f} | {r.status:<21} | {r.note}".rstrip())
    failed = [r.name for r in results if r.failed]
    total = sum(r.seconds for r in results)
    verdict = f"FAILED: {', '.join(failed)}" if failed else "all steps passed"
    lines.append(f"{'total':<16} | {total:7.1f} | {verdict}")
    return "\n".join(lines)


def batch_flag(help_text: str) -> str | None:
    """The batch option `python -m eval.inpaint --help` offers (`--batch` or `--batch-size`)."""
    found = re.search(r"(--batch(?:-size)?)\b(?![-\w])", help_text)
    return found.group(1) if found else None


def first_photo(photos: Path) -> Path:
    """The first PNG or JPEG photo of the folder `photos`, by name."""
    found = sorted(p for p in photos.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not found:
        raise FileNotFoundError(
            f"no photo in {photos}; pass --photos DIR (eval512) or set $NPSYNTH_EVAL512"
        )
    return found[0]


def write_inputs(photo: Path, out: Path, *, size: int, hole: float) -> tuple[Path, Path]:
    """`photo` at `size` px and its centred square hole of `hole` x the side, in `out`."""
    # Imported here, after `--install`. Neither npsynth nor JAX is imported by this process,
    # which leaves the GPU's memory to the steps.
    import numpy as np
    from PIL import Image

    image = Image.open(photo).convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    image_path, mask_path = out / f"photo_{size}.png", out / f"hole_{size}.png"
    image.save(image_path)
    side = round(size * hole)
    first = (size - side) // 2
    mask = np.zeros((size, size), np.uint8)
    mask[first : first + side, first : first + side] = 255  # white = hole
    Image.fromarray(mask).save(mask_path)
    return image_path, mask_path


def plan(
    *, image: Path, mask: Path, photos: Path, out: Path, tiny: bool, allow_cpu: bool, batch
) -> list[Step]:
    """The steps of the check, in order (`tiny`: CPU-sized settings). `batch`: the batch
    option of `eval.inpaint` (`batch_flag`), or None where it has none."""
    inpaint = (PYTHON, "-m", "eval.inpaint")
    one = (*inpaint, "--image", str(image), "--mask", str(mask))
    if tiny:  # 64 px, a hole of a quarter of the side, a few iterations
        loss = ("--sizes", "64", "--hole", "0.25", "--repeats", "1")
        layers = ("--batch", "1", "--repeats", "1")
        small, default, paper = ("--scales", "32,64"), ("--iterations", "2"), ("--iterations", "3")
        folder = ("--resize", "64", "--hole", "center:0.25", *small, *default)
    else:  # the paper's centred hole of half the side (eval.inpaint's default for folders)
        loss, layers = ("--sizes", "256,512", "--repeats", "3"), ()
        small, default, paper, folder = (), (), ("--iterations", "100"), ()
    devices = DEVICES.replace("ALLOW_CPU", str(allow_cpu or tiny))
    steps = [
        Step("devices", (PYTHON, "-c", devices), 60),
        Step("bench loss", (PYTHON, "-m", "eval.bench", "loss", *loss), 120),
        Step("bench layers", (PYTHON, "-m", "eval.bench", "layers", *layers), 60),
        Step("inpaint default", (*one, *small, *default, "--out", str(out / "default.png")), 90),
        Step("inpaint paper", (*one, *small, *paper, "--out", str(out / "paper.png")), 120),
        Step("translate", (*one, *small, "--method", "translate", "--out", str(out / "t.png")), 60),
        # One L-BFGS per photo side by side (npsynth.inpaint_batch) against one at a time.
        Step(
            "bench batch",
            (
                PYTHON,
                "-m",
                "eval.bench",
                "batch",
                *(
                    ("--photos", "2", "--size", "64")
                    if tiny
                    else ("--photos", "4", "--size", "512")
                ),
            ),
            150,
        ),
    ]
    if batch is None:
        steps.append(Step("batch", None, 0, "python -m eval.inpaint has no --batch option"))
    else:
        count = str(BATCH_PHOTOS)
        folder = (*inpaint, "--images", str(photos), "--limit", count, batch, count, *folder)
        steps.append(Step("batch", (*folder, "--out", str(out / "batch")), 90, photos=BATCH_PHOTOS))
    return steps


def _default_photos() -> Path:
    return Path(os.environ.get("NPSYNTH_EVAL512", str(DEFAULT_PHOTOS)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class GpuCheck:
    """One prepared check for a machine with a GPU (`python -m eval.gpu_check`)."""

    # Folder of 512 px photos; the first one is used (default: $NPSYNTH_EVAL512 or eval512).
    photos: Path = dataclasses.field(default_factory=_default_photos)
    # Folder for the logs and outputs (default: new temp).
    out: Path | None = None
    # Seconds for the whole check.
    budget: float = BUDGET_S
    # First pip install -e ".[cuda]".
    install: bool = False
    # Do not fail when JAX sees no GPU.
    allow_cpu: bool = False
    # CPU-sized settings, to test the script.
    tiny: bool = False
    # Print the steps, run none of them.
    dry_run: bool = False

    def __post_init__(self):
        if self.budget < MIN_STEP_S:
            raise ValueError(f"--budget must be at least {MIN_STEP_S:.0f} s")
        if not self.photos.is_dir():
            raise ValueError(
                f"--photos {self.photos} is not a folder of photos (set $NPSYNTH_EVAL512)"
            )


def run_check(check: GpuCheck, *, run: Callable = run_command, start: float | None = None) -> int:
    """Run (or with `dry_run` print) the check's steps and print its table; returns the exit
    code: 0 when every step passed (or is not available), 1 otherwise, 2 without a photo.
    `start`: when the check began (default now), for the time budget."""
    start = time.monotonic() if start is None else start
    out = check.out or Path(tempfile.mkdtemp(prefix="npsynth-gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    if check.install and not check.dry_run:
        results = run_steps([INSTALL], budget_s=check.budget, log_dir=out, run=run, start=start)
    size, hole = (64, 0.25) if check.tiny else (512, 0.5)
    try:
        image, mask = write_inputs(first_photo(check.photos), out, size=size, hole=hole)
    except OSError as error:
        print(f"python -m eval.gpu_check: {error}", file=sys.stderr)
        return 2
    _, help_text = run((PYTHON, "-m", "eval.inpaint", "--help"), limit_s=60, log=out / "help.log")
    steps = plan(
        image=image,
        mask=mask,
        photos=check.photos,
        out=out,
        tiny=check.tiny,
        allow_cpu=check.allow_cpu,
        batch=batch_flag(help_text),
    )
    if check.dry_run:
        for step in [INSTALL] * check.install + steps:
            command = shlex.join(step.argv) if step.argv else f"({step.note})"
            print(f"{step.name:<16} | {step.limit_s:5.0f} s | {command}")
        return 0
    print(
        f"npsynth GPU check: {len(steps)} steps within {check.budget:.0f} s; logs in {out}",
        flush=True,
    )
    results += run_steps(steps, budget_s=check.budget, log_dir=out, run=run, start=start)
    print(format_table(results))
    print(f"elapsed {time.monotonic() - start:.0f} s of the {check.budget:.0f} s budget")
    return 1 if any(r.failed for r in results) else 0
