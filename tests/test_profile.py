"""npsynth.benchmarks.profile (`python -m eval.bench profile`): the stages split the run's time
without overlap, the solver's time splits into evaluations and the rest, the one-evaluation
program is the solver's own loss, and the command prints every stage (no wall-time checks)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from npsynth.benchmarks import profile


def test_exclusive_times_give_each_instant_to_the_innermost_stage():
    # content reference 0-10 s holds PatchMatch 2-5 s, which holds compiling 3-4 s; a search
    # 12-14 s overlaps compiling 13-16 s, which runs past the window's end at 15 s.
    spans = {
        "content reference": [(0.0, 10.0)],
        "PatchMatch": [(2.0, 5.0)],
        "compiling": [(3.0, 4.0), (13.0, 16.0)],
        "nearest-neighbour searches": [(12.0, 14.0)],
    }
    times = profile.exclusive_times(spans, 0.0, 15.0)
    assert times["compiling"] == pytest.approx(1.0 + 2.0)
    assert times["PatchMatch"] == pytest.approx(2.0)
    assert times["content reference"] == pytest.approx(7.0)
    assert times["nearest-neighbour searches"] == pytest.approx(1.0)
    assert sum(times.values()) == pytest.approx(13.0)  # 10-12 s is no stage's: "other"


def _report(**run):
    stages = dict.fromkeys(profile.STAGES, 0.0) | {"solver": 2.0, "paste": 0.5}
    base = {"begin": 110.0, "end": 120.0, "peak_mib": 900.0, "stages": stages,
            "calls": {"solver": 4}, "peaks": {"paste": 800.0}, "evaluations": [10, 5],
            "sizes": [[32, 32], [64, 64]], "per_evaluation": [0.05, 0.1]}  # fmt: skip
    return {"t0": 101.0, "imports": 4.0, "unit": 0.5,
            "runs": [base | run, base | {"begin": 130.0, "end": 133.0}]}  # fmt: skip


def test_stage_table_splits_the_solver_and_adds_up_to_the_total():
    rows = {r["stage"]: r for r in profile.stage_table(_report(), spawned=100.0)}
    assert [*rows] == [*profile.ROWS, "total"]
    # 10 x 0.05 s + 5 x 0.1 s of the solver's 2 s are evaluations, the rest L-BFGS.
    assert rows["loss evaluations"]["cold_s"] == pytest.approx(1.0)
    assert rows["loss evaluations"]["cold_calls"] == 15
    assert rows["L-BFGS and line search"]["cold_s"] == pytest.approx(1.0)
    assert rows["start-up (interpreter)"]["cold_s"] == pytest.approx(1.0)  # spawn 100 -> t0 101
    assert rows["imports"]["cold_s"] == 4.0 and rows["imports"]["warm_s"] == 0.0
    assert rows["total"]["cold_s"] == pytest.approx(20.0)  # spawn 100 -> end 120
    assert rows["total"]["warm_s"] == pytest.approx(3.0)
    # cold: 1 + 4 + 2 (solver) + 0.5 (paste) = 7.5 s of stages, 12.5 s other
    assert rows["other"]["cold_s"] == pytest.approx(12.5)
    assert rows["other"]["warm_s"] == pytest.approx(0.5)
    assert rows["total"]["cold_units"] == pytest.approx(40.0)  # 20 s / 0.5 s
    assert rows["total"]["warm_units"] == pytest.approx(6.0)  # 3 s / 0.5 s
    assert rows["paste"]["peak_mib"] == 800.0


def test_the_evaluation_program_is_the_solvers_loss(monkeypatch, random_vgg, photo):
    import npsynth
    from npsynth.methods import optimize

    recorder = profile._Recorder()
    monkeypatch.setattr(optimize, "_programs", recorder.programs(optimize._programs))
    mask = np.zeros((64, 64, 1), np.float32)
    mask[16:48, 16:48] = 1
    npsynth.inpaint(photo, mask, preset="tiny", vgg=random_vgg)
    assert len(recorder.levels) == 2 and recorder.calls["solver"] >= 4  # begin + advance, twice
    program, (problem, fixed, state, limit) = recorder.levels[-1]
    value, gradient = profile.evaluation_program(*program)(problem, fixed, state, limit)
    # jaxopt keeps the loss at its iterate: the same loss gives the same value there.
    np.testing.assert_allclose(float(value), float(state.lbfgs.value), rtol=1e-5)
    assert gradient.shape == state.x.shape and float(np.abs(gradient).max()) > 0


def test_the_profile_command_prints_every_stage(tmp_path):
    from eval import bench as cli

    out = io.StringIO()
    settings = {"size": 64, "preset": "tiny", "photo": None, "hole": 0.5, "unit_size": 64,
                "out": str(tmp_path), "random_weights": True}  # fmt: skip
    rows, report = profile.profile(settings, out=out)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("| ")]
    names = [line.split("|")[1].strip() for line in lines[1:]]
    assert names == [*profile.ROWS, "total"]
    for run in ("cold", "warm"):
        named = sum(r[f"{run}_s"] for r in rows if r["stage"] not in ("other", "total"))
        assert named <= rows[-1][f"{run}_s"] + 1e-9
        assert rows[-2][f"{run}_s"] >= -1e-9  # "other"
    warm_calls = {r["stage"]: r["warm_calls"] for r in rows}
    assert warm_calls["compiling"] == 0 and warm_calls["weights (VGG-19 load)"] == 1
    for row, line in zip(rows, lines[1:]):
        cells = [c.strip() for c in line.split("|")[1:-1]]
        seconds, units = float(cells[1]), float(cells[2])
        assert units == pytest.approx(round(row["cold_s"] / report["unit"], 2), abs=0.006)
        assert seconds == pytest.approx(round(row["cold_s"], 2), abs=0.006)
        assert row["warm_units"] == pytest.approx(row["warm_s"] / report["unit"])
    assert (tmp_path / "filled-1.png").is_file()
    assert re.search(r"preset tiny, levels 32x32 -> 64x64", out.getvalue())
    with pytest.raises(SystemExit) as exited:
        cli.main(["profile", "--preset", "nosuch"])
    assert exited.value.code == 2
