"""npsynth.config.flags: flags derived from kw_only dataclasses, spelt as the README's."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import tyro

from npsynth.config import flags


@dataclasses.dataclass(frozen=True, kw_only=True)
class Inner:
    """A section."""

    # Widths, one per layer.
    widths: tuple[int, ...] = (4, 8)
    scales: tuple[float, ...] = (1.0,)
    # A name or nothing.
    name: str | None = None

    def __post_init__(self):
        if min(self.widths) < 1:
            raise ValueError("widths must be positive")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Outer:
    """Two sections."""

    inner: Inner = dataclasses.field(default_factory=Inner)
    # Steps to run.
    step_count: int = 3
    fast: bool = False
    label: str = dataclasses.field(default="x", metadata={"help": "a label from metadata"})


def test_flat_dashed_flags_and_comma_lists():
    got = flags.parse(Outer, ["--widths", "1,2, 3", "--scales", "0.5,2", "--step-count", "7",
                              "--fast", "--name", "n"])  # fmt: skip
    assert got == Outer(inner=Inner(widths=(1, 2, 3), scales=(0.5, 2.0), name="n"), step_count=7,
                        fast=True)  # fmt: skip
    assert flags.parse(Outer, ["--no-fast", "--name", "None"]) == Outer()


def test_a_default_instance_is_the_preset_the_flags_change():
    preset = Outer(inner=Inner(widths=(9,), name="kept"), step_count=1)
    got = flags.parse(Outer, ["--step-count", "2"], default=preset)
    assert got == dataclasses.replace(preset, step_count=2)


def test_known_only_returns_the_rest():
    got, rest = flags.parse(Inner, ["--widths", "5", "--other", "v", "-h"], known_only=True,
                            add_help=False)  # fmt: skip
    assert got == Inner(widths=(5,)) and rest == ["--other", "v", "-h"]


def test_bad_values_exit(capsys):
    for argv in (["--widths", "1,a"], ["--widths", "0,1"], ["--step-count", "x"], ["--wide", "1"]):
        with pytest.raises(SystemExit) as caught:
            flags.parse(Outer, argv)
        assert caught.value.code == 2, argv
    assert "widths must be positive" in " ".join(capsys.readouterr().err.split())


def test_help_from_comments_and_metadata(capsys):
    with pytest.raises(SystemExit):
        flags.parse(Outer, ["--help"], prog="prog")
    text = " ".join(capsys.readouterr().out.split())
    assert "Widths, one per layer." in text and "a label from metadata" in text
    assert "--widths INT,..." in text and "--fast, --no-fast" in text


def test_missing_marks_a_required_flag():
    with pytest.raises(SystemExit):
        flags.parse(Outer, [], default=Outer(step_count=tyro.MISSING))
    assert flags.parse(Outer, ["--step-count", "4"], default=Outer(step_count=tyro.MISSING)) == (
        Outer(step_count=4)
    )


# Flags from several configs at once (eval.inpaint's method settings): leaves, flat flags,
# the flags a command line spelt, and the nested record they go back into.


@dataclasses.dataclass(frozen=True, kw_only=True)
class Solver:
    """A nested option record."""

    # Line-search steps at most.
    maxls: int = 30
    # Stop below this gradient norm.
    tol: float = 1e-6


@dataclasses.dataclass(frozen=True, kw_only=True)
class Method:
    """A config with a nested record, as core's `OptimizeConfig.solver`."""

    # Pyramid sizes.
    scales: tuple[int, ...] = (128, 256)
    # Iterations: one, or one per scale.
    iterations: int | tuple[int, ...] = 15
    # Weight at the last scale.
    beta_last: float | None = 0.25
    solver: Solver = dataclasses.field(default_factory=Solver)
    checkpoint: str | None = dataclasses.field(default=None, metadata={"help": "a file"})


def test_leaves_walk_nested_records_with_their_paths_and_comments():
    found = {leaf.name: (leaf.path, leaf.help) for leaf in flags.leaves(Method)}
    assert found == {
        "scales": (("scales",), "Pyramid sizes."),
        "iterations": (("iterations",), "Iterations: one, or one per scale."),
        "beta_last": (("beta_last",), "Weight at the last scale."),
        "maxls": (("solver", "maxls"), "Line-search steps at most."),
        "tol": (("solver", "tol"), "Stop below this gradient norm."),
        "checkpoint": (("checkpoint",), "a file"),
    }


def test_nest_puts_flat_settings_back_into_their_records():
    nested = flags.nest(Method, {"maxls": 5, "scales": (32, 64)})
    assert nested == {"solver": {"maxls": 5}, "scales": (32, 64)}
    assert flags.nest(Method, {}) == {}


def _method_flags():
    settings = {leaf.name: leaf for leaf in flags.leaves(Method)}
    defaults = {"scales": (128, 256), "iterations": 15, "beta_last": 0.25, "maxls": 30,
                "tol": 1e-6, "checkpoint": None}  # fmt: skip
    return flags.flat_flags("MethodFlags", settings, defaults, hints={"maxls": "(default: 30!)"},
                            names={"tol": "stop-below"}, aliases={"checkpoint": ("--ckpt",)})  # fmt: skip


def test_flat_flags_parse_each_leaf_by_its_own_name():
    cls = _method_flags()
    argv = ["--maxls", "7", "--iterations", "100,50", "--beta-last", "none", "--stop-below",
            "0.5", "--ckpt", "c.npz"]  # fmt: skip
    got = flags.parse(cls, argv)
    assert (got.maxls, got.iterations, got.beta_last, got.tol, got.checkpoint) == (
        7, (100, 50), None, 0.5, "c.npz"
    )  # fmt: skip
    assert flags.parse(cls, ["--iterations", "4", "--beta-last", "NONE"]).iterations == 4
    assert flags.given(cls, argv) == {"maxls", "iterations", "beta_last", "tol", "checkpoint"}
    assert flags.given(cls, ["--scales=32,64", "--checkpoint", "x"]) == {"scales", "checkpoint"}
    assert flags.given(cls, ["--images", "--maxlsx"]) == set()


def test_flat_flags_help_shows_comments_hints_names_and_aliases(capsys):
    with pytest.raises(SystemExit):
        flags.parse(_method_flags(), ["--help"], prog="prog")
    text = " ".join(capsys.readouterr().out.split())
    assert "Line-search steps at most. (default: 30!)" in text
    assert "--stop-below FLOAT" in text and "--ckpt" in text and "--checkpoint" in text
    assert "--iterations INT[,...]" in text and "--beta-last FLOAT|none" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--maxls", "x"], "error: argument --maxls: invalid literal for int()"),
        (["--iterations", "1,x"], "error: argument --iterations: takes comma-separated ints"),
        (["--beta-last", "1,1"], "error: argument --beta-last: takes a number or 'none', got"),
        (["--maxlz", "3"], "error: unrecognized arguments: --maxlz 3"),
        (["--maxls"], "error: argument --maxls: expected a value"),
    ],
)
def test_one_line_errors_name_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        flags.parse(_method_flags(), argv, one_line_errors=True)
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.startswith(message) and len(err.splitlines()) == 1


def test_a_tyro_without_the_error_hook_still_names_the_flag(monkeypatch, capsys):
    monkeypatch.setattr(flags, "_errors_hook", lambda: None)
    with pytest.raises(SystemExit) as caught:
        flags.parse(_method_flags(), ["--maxls", "x"], one_line_errors=True)
    assert caught.value.code == 2 and "--maxls" in capsys.readouterr().err


def even(text: str) -> int:
    if int(text) % 2:
        raise ValueError(f"must be even, got {text!r}")
    return int(text)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Counted:
    count: typing.Annotated[int, flags.text_flag(even, "N")] = 0


def test_text_flags_check_their_word(capsys):
    assert flags.parse(Counted, ["--count", "4"]).count == 4
    with pytest.raises(SystemExit):
        flags.parse(Counted, ["--count", "3"], one_line_errors=True)
    assert capsys.readouterr().err == "error: argument --count: must be even, got '3'\n"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Twice:
    solver: Solver = dataclasses.field(default_factory=Solver)
    maxls: int = 3


def test_nest_refuses_a_leaf_name_that_is_not_unique():
    with pytest.raises(ValueError, match="two settings named 'maxls', solver.maxls and maxls"):
        flags.nest(Twice, {"maxls": 1})


# tyro's error boxes for the errors the parse hook does not know (eval.bench, eval.study: subcommands).
UNICODE_BOX = """\
╭─ Value error ───────────────────────────────────────────────╮
│ Error parsing SweepRun: --limit: must be at least 1, got '0' │
│ ─────────────────────────────────────────────────────────── │
│ For full helptext, see python -m eval.sweep --help          │
╰─────────────────────────────────────────────────────────────╯
"""
ASCII_BOX = """\
+- Required options -----------------+
| Missing from python -m eval.sweep: |
|     --images PATH                  |
|         the photos (required)      |
|     --out PATH                     |
| ---------------------------------- |
| For full helptext, run:            |
+------------------------------------+
"""
VALUE_BOX = """\
+- Value error ------------------------------------------------------+
| Error parsing --limit: invalid literal for int() with base 10: 'z' |
| ------------------------------------------------------------------ |
| Argument helptext:                                                 |
+--------------------------------------------------------------------+
"""


def test_tyro_error_boxes_become_one_argparse_line():
    assert flags.box_message(UNICODE_BOX) == "argument --limit: must be at least 1, got '0'"
    assert flags.box_message(ASCII_BOX) == ("the following arguments are required: --images, --out")
    assert flags.box_message(VALUE_BOX) == (
        "argument --limit: invalid literal for int() with base 10: 'z'"
    )


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["frontier", "--limit", "-1"], "error: argument --limit: must be at least 1, got '-1'"),
        ([], "error: Expected one of {loss, layers, frontier, batch, profile, progress}."),
    ],
)
def test_a_subcommands_bad_flag_is_one_line(argv, expected, capsys):
    from eval import bench

    with pytest.raises(SystemExit) as exited:
        bench.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == expected and len(err.strip().splitlines()) == 1


def test_a_subcommands_missing_positional_is_named_as_typed(capsys):
    from eval import study

    with pytest.raises(SystemExit) as exited:
        study.main(["score"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == "error: the following arguments are required: study"
