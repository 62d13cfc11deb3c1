"""A blind side-by-side study of two methods' fills: make the pair sheets, then score answers.

  python -m eval.study make --a RUN_A/outputs/optimize --b RUN_B --photos DIR --masks DIR --out STUDY
  python -m eval.serve --study STUDY          # judges answer in the page (or by hand)
  python -m eval.study score STUDY [ANSWERS.csv ...]   # default: STUDY/answers/*.csv

`--photos` and `--masks`/`--hole`/`--hole-seed`/`--resize` mean what eval.inpaint's
`--images`, `--masks`, `--hole`, `--seed` and `--resize` do (masks paired with the photos in
sorted order), so the holes are those the fills were made for. `--a`/`--b`: folders of fills
named like eval.inpaint's outputs (`a.png`, `a.jpg.png`) or like the photos, or a run folder
with one method. docs/study.md says how a study runs and what the numbers mean. The flags
are the fields of `npsynth.studies.study.MakeStudy` and `ScoreStudy`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Union

import tyro

from npsynth.cli.errors import main_errors
from npsynth.config.flags import parse_command_line
from npsynth.errors import as_input_error
from npsynth.studies.study import MakeStudy, ScoreStudy

Command = Union[  # noqa: UP007 (tyro reads the subcommands from a typing.Union)
    Annotated[MakeStudy, tyro.conf.subcommand("make")],
    Annotated[ScoreStudy, tyro.conf.subcommand("score")],
]


@main_errors(code=2)
def main(argv=None) -> int:
    """Exit 0 when done; 2 with one line on stderr for a bad input or answer file."""
    about = __doc__.split("\n")[0]
    command = parse_command_line(
        Command, argv, prog="python -m eval.study", description=about, default=tyro.MISSING
    )
    with as_input_error():
        text = command.run()
    print(text, end="" if isinstance(command, ScoreStudy) else "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
