"""npsynth.harness.runs: one run folder type, one resume rule (runner, gallery, frontier);
the flag checks of npsynth.harness.checks."""

from __future__ import annotations

import json
import math

import pytest

from npsynth.errors import InputError
from npsynth.harness import checks
from npsynth.harness.runs import RunFolder


def _folder(tmp_path, settings, rows_text, **fields):
    (tmp_path / "s.json").write_text(json.dumps(settings))
    (tmp_path / "r.csv").write_text(rows_text)
    fields = {"columns": ("k",), "numbers": ()} | fields
    return RunFolder(path=tmp_path, settings_file="s.json", rows_file="r.csv", **fields)


def test_nothing_to_resume_without_resume_or_without_rows(tmp_path):
    folder = RunFolder(path=tmp_path, settings_file="s.json", rows_file="r.csv")
    assert folder.resumed_rows({"a": 1}, resume=True) == ({}, [])  # nothing there yet
    folder = _folder(tmp_path, {"a": 1}, "k,v\nx,1\n")
    assert folder.resumed_rows({"a": 2}, resume=False) == ({}, [])  # a fresh run keeps none


def test_rows_come_back_with_the_chosen_columns_as_numbers(tmp_path):
    folder = _folder(tmp_path, {"a": 1}, "k,v,w\nx,1.5,\ny,2,3/4\n", columns=("k", "v"),
                     numbers=("v",))  # fmt: skip
    saved, rows = folder.resumed_rows({"a": 1}, resume=True)
    assert saved == {"a": 1}
    assert rows == [{"k": "x", "v": 1.5, "w": ""}, {"k": "y", "v": 2.0, "w": "3/4"}]
    nan = _folder(tmp_path, {"a": 1}, "k,v\nx,\n", numbers=("v",), empty_is_nan=("v",))
    assert math.isnan(nan.resumed_rows({"a": 1}, resume=True)[1][0]["v"])


def test_other_settings_or_none_saved_are_refused_naming_the_folder(tmp_path):
    folder = _folder(tmp_path, {"a": 1, "b": 2, "c": 3}, "k\nx\n")
    with pytest.raises(InputError, match=rf"^cannot --resume in {tmp_path}: .*\(a, c differ\)"):
        folder.resumed_rows({"a": 9, "b": 2}, resume=True)
    # A caller's own rule: here only "b" matters.
    only_b = lambda new, old: ["b"] if new["b"] != old["b"] else []
    assert folder.resumed_rows({"a": 9, "b": 2}, resume=True, differences=only_b)[1] == [{"k": "x"}]
    (tmp_path / "s.json").unlink()
    with pytest.raises(InputError, match="has r.csv but no s.json"):
        folder.resumed_rows({"a": 1}, resume=True)


def test_a_run_saved_with_other_chunks_of_iterations_resumes(tmp_path):
    # Chunks only set how often progress is reported (`report.EXECUTION_SETTINGS`).
    config = {"toy": {"alpha": 1e-7, "solver": {"maxls": 30, "chunk_iterations": 10}}}
    folder = _folder(tmp_path, {"config": config}, "k\nx\n")
    now = {"config": {"toy": {"alpha": 1e-7, "solver": {"maxls": 30, "chunk_iterations": 1}}}}
    assert folder.resumed_rows(now, resume=True)[1] == [{"k": "x"}]
    other = {"config": {"toy": {"alpha": 1e-7, "solver": {"maxls": 5, "chunk_iterations": 1}}}}
    with pytest.raises(InputError, match=r"\(config differ\)"):
        folder.resumed_rows(other, resume=True)


def test_saved_settings_that_are_not_an_object_or_lack_keys_are_refused(tmp_path):
    folder = _folder(tmp_path, ["a"], "k\nx\n")
    with pytest.raises(InputError, match="is not the s.json of an npsynth run"):
        folder.read_settings("ctx")
    keyed = _folder(tmp_path, {"a": 1}, "k\nx\n", required=("a", "b"))
    with pytest.raises(InputError, match=r"^ctx: .*it lacks a, b or is not a JSON object"):
        keyed.read_settings("ctx")
    keyed.write_settings({"a": 1, "b": [1, 2]})
    assert (tmp_path / "s.json").read_text() == '{\n  "a": 1,\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert keyed.read_settings("ctx") == {"a": 1, "b": [1, 2]}


def test_flag_checks_name_the_flag_as_argparse_does():
    checks.check_at_least(1, limit=None, resize=3)  # None: not set
    with pytest.raises(ValueError, match=r"^--grid-rows: must be at least 1, got '0'$"):
        checks.check_at_least(1, grid_rows=0)
    with pytest.raises(ValueError, match=r"^--alphas: must be 0 or more, got '1.0,-1.0'$"):
        checks.check_at_least(0, alphas=(1.0, -1.0))
    with pytest.raises(ValueError, match=r"^--hole: .*'bogus'"):
        checks.check_hole_kind("bogus")
    checks.check_not_both(masks=None, hole="boxes")
    with pytest.raises(ValueError, match=r"^--hole: not allowed with argument --masks$"):
        checks.check_not_both(masks="m", hole="boxes")
