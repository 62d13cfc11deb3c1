"""npsynth.benchmarks.gpu_check and eval.gpu_check: the plan, the time budget, the table and the exit code, with stubbed steps
(nothing is run: every command goes to a fake runner)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from eval import gpu_check as cli
from npsynth.benchmarks import gpu_check

INPAINT_HELP = "usage: python -m eval.inpaint [-h] [--demo] [--image IMAGE] [--resize RESIZE]\n"


class Clock:
    """A clock that each fake command moves forward by its duration."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fake_runner(clock, outcomes, calls):
    """A `run` that records each command; `outcomes`: step's first distinctive word ->
    (seconds taken, exit code or None for a timeout, output)."""

    def run(argv, *, limit_s, log):
        calls.append((tuple(argv), limit_s))
        key = next((k for k in outcomes if any(k in part for part in argv)), None)
        seconds, code, output = outcomes.get(key, (1.0, 0, "done\n"))
        clock.now += min(seconds, limit_s)
        return (None if seconds > limit_s else code), output

    return run


def steps(*specs):
    return [gpu_check.Step(name, (name,), limit) for name, limit in specs]


def test_every_step_runs_within_its_limit_and_the_table_says_so(tmp_path):
    clock, calls = Clock(), []
    outcomes = {"a": (3.0, 0, "x\nwrote a.png (512x512, 2.5 s)\n\n"), "b": (10.0, 1, "boom\n")}
    run = fake_runner(clock, outcomes, calls)
    results = gpu_check.run_steps(
        steps(("a", 50), ("b", 50), ("c", 50)), budget_s=480, log_dir=tmp_path, run=run,
        clock=clock,
    )  # fmt: skip
    assert [(r.name, r.seconds, r.status) for r in results] == [
        ("a", 3.0, "ok"), ("b", 10.0, "exit 1"), ("c", 1.0, "ok"),
    ]  # fmt: skip
    assert results[0].note == "wrote a.png (512x512, 2.5 s)" and results[1].note == "boom"
    assert [limit for _, limit in calls] == [50, 50, 50]
    table = gpu_check.format_table(results).splitlines()
    assert [cell.strip() for cell in table[0].split("|")] == ["step", "seconds", "status", "note"]
    assert [cell.strip() for cell in table[3].split("|")] == ["b", "10.0", "exit 1", "boom"]
    assert [cell.strip() for cell in table[-1].split("|")] == ["total", "14.0", "FAILED: b"]


def test_the_budget_shortens_the_last_steps_and_skips_what_it_cannot_fit(tmp_path):
    clock, calls = Clock(), []
    # a takes 60 s of its 100; b would take 90 but only 40 s are left: it is killed at 40.
    run = fake_runner(clock, {"a": (60.0, 0, "ok\n"), "b": (90.0, 0, "slow\n")}, calls)
    results = gpu_check.run_steps(
        steps(("a", 100), ("b", 100), ("c", 100)), budget_s=100, log_dir=tmp_path, run=run,
        clock=clock,
    )  # fmt: skip
    assert [limit for _, limit in calls] == [100, 40]  # c never ran
    assert results[1].status == "timed out" and results[1].note == "after 40 s; slow"
    assert results[2].status == "skipped (time budget)" and results[2].seconds == 0
    assert [r.failed for r in results] == [False, True, True]
    assert gpu_check.format_table(results).splitlines()[-1].endswith("FAILED: b, c")


def test_a_step_that_is_not_available_does_not_fail_the_check(tmp_path):
    missing = gpu_check.Step("batch", None, 90, "no --batch option")
    (result,) = gpu_check.run_steps([missing], budget_s=10, log_dir=tmp_path, run=None)
    assert (result.status, result.note, result.failed) == ("not available", "no --batch option",
                                                           False)  # fmt: skip
    assert gpu_check.format_table([result]).splitlines()[-1].endswith("all steps passed")


def test_photos_per_minute_of_the_batch_step(tmp_path):
    clock = Clock()
    run = fake_runner(clock, {"batch": (30.0, 0, "report written\n")}, [])
    step = gpu_check.Step("batch", ("batch",), 90, photos=4)
    (result,) = gpu_check.run_steps([step], budget_s=480, log_dir=tmp_path, run=run, clock=clock)
    assert result.note == "8.00 photos/min; report written"  # 4 photos in 30 s


@pytest.mark.parametrize(
    "text, flag",
    [
        (INPAINT_HELP, None),
        (INPAINT_HELP + "  --batch N   photos solved at once\n", "--batch"),
        (INPAINT_HELP + "  --batch-size BATCH_SIZE\n", "--batch-size"),
        (INPAINT_HELP + "  --batch-report FILE\n", None),
    ],
)
def test_batch_flag(text, flag):
    assert gpu_check.batch_flag(text) == flag


def _photos(tmp_path):
    folder = tmp_path / "eval512"
    folder.mkdir()
    pixels = (np.random.default_rng(0).random((80, 80, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "img_002.png")
    Image.fromarray(pixels[::-1]).save(folder / "img_001.png")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_main_runs_every_step_and_exits_1_when_one_fails(tmp_path, capsys):
    clock, calls = Clock(), []
    outcomes = {"--help": (1.0, 0, INPAINT_HELP + "  --batch N\n"), "translate": (5.0, 2, "no\n")}
    run = fake_runner(clock, outcomes, calls)
    out = tmp_path / "out"
    code = cli.main(["--photos", str(_photos(tmp_path)), "--out", str(out)], run=run)
    assert code == 1
    names = [line.split("|")[0].strip() for line in capsys.readouterr().out.splitlines()]
    assert names[3:12] == ["devices", "bench loss", "bench layers", "inpaint default",
                           "inpaint paper", "translate", "bench batch", "batch", "total"]  # fmt: skip
    commands = [" ".join(argv) for argv, _ in calls]
    assert "eval.inpaint --help" in commands[0]
    assert commands[2].endswith("eval.bench loss --sizes 256,512 --repeats 3")
    assert "--iterations 100" in commands[5] and "--method translate" in commands[6]
    assert commands[7].endswith("eval.bench batch --photos 4 --size 512")
    assert "--images" in commands[8] and "--batch 4" in commands[8]
    # the first photo by name, at 512 px, with the paper's centred hole of half the side
    photo = np.asarray(Image.open(out / "photo_512.png"))
    first = np.asarray(Image.open(tmp_path / "eval512" / "img_001.png").resize((512, 512)))
    assert photo.shape == (512, 512, 3) and np.abs(photo.astype(int) - first).mean() < 2
    mask = np.asarray(Image.open(out / "hole_512.png")) > 0
    assert mask.sum() == 256 * 256 and mask[128:384, 128:384].all()
    assert f"--image {out / 'photo_512.png'}" in commands[4]


def test_dry_run_and_install(tmp_path, capsys):
    clock, calls = Clock(), []
    run = fake_runner(clock, {"--help": (1.0, 0, INPAINT_HELP)}, calls)
    photos = _photos(tmp_path)
    args = ["--photos", str(photos), "--out", str(tmp_path / "out")]
    assert cli.main([*args, "--dry-run", "--install"], run=run) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("install") and "pip install -e '.[cuda]'" in printed[0]
    assert printed[-1].endswith("(python -m eval.inpaint has no --batch option)")
    assert len(calls) == 1  # only the help text was read
    calls.clear()
    assert cli.main([*args, "--install", "--tiny"], run=run) == 0
    assert calls[0][0][-4:] == ("pip", "install", "-e", ".[cuda]")  # before anything else
    assert "--sizes 64 --hole 0.25" in " ".join(calls[3][0])


def test_a_missing_photo_folder_is_a_flag_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--photos", str(tmp_path / "nowhere")], run=None)
    assert exited.value.code == 2 and "--photos" in capsys.readouterr().err


def test_run_command_kills_a_command_past_its_limit(tmp_path):
    import sys
    import time

    start = time.monotonic()
    code, output = gpu_check.run_command(
        [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"],
        limit_s=2, log=tmp_path / "slow.log",
    )  # fmt: skip
    assert code is None and output.strip() == "started" and time.monotonic() - start < 20
    code, output = gpu_check.run_command(
        [sys.executable, "-c", "import sys; print('bye'); sys.exit(3)"], limit_s=20,
        log=tmp_path / "fails.log",
    )  # fmt: skip
    assert (code, output.strip()) == (3, "bye")
