"""npsynth.config.flags: flags derived from kw_only dataclasses, spelt as the README's."""

from __future__ import annotations

import dataclasses

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
