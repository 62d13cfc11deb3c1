"""Remove real objects from real photos with every method and baseline; grids and colour gaps.

  python -m eval.gallery --out out/gallery
  python -m eval.gallery --out out/gallery --methods translate --scales 256,512
  python -m eval.gallery --out out/gallery --methods translate --paste direct
  python -m eval.gallery --out out/gallery --cases-only kayaker,wall_text --baselines telea
  python -m eval.gallery --out out/gallery --resume        # keep the cases already done

The cases (`eval/gallery/cases.json`, or `--cases FILE`) name photos below the shared data
folder (`$NPSYNTH_SHARED`, default `../shared` beside the repository) and polygons around
the objects. `--out` gets a grid per case, the fills, gallery.csv and report.md (colour gaps:
`npsynth.studies.gallery`). Every method setting is a flag, as for eval.inpaint.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

from npsynth.cli.errors import main_errors
from npsynth.cli.inpaint import check_names
from npsynth.cli.settings import METHODS, given_settings, method_configs, settings_flags
from npsynth.config import flags
from npsynth.errors import as_input_error
from npsynth.harness.baselines import BASELINES
from npsynth.studies import gallery

PROG = "python -m eval.gallery"
REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "eval" / "gallery" / "cases.json"


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names (empty parts dropped, order kept, no repeats)."""
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


Names = Annotated[tuple[str, ...], flags.text_flag(names, "A,B,...")]


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunFlags:
    """The cases, the fills to make and where to write them."""

    out: Path  # output folder
    cases: Path = CASES  # cases file
    cases_only: Names | None = None  # run only these cases (comma-separated names)
    methods: Names = METHODS  # npsynth methods
    baselines: Names = tuple(BASELINES)  # baselines, or '' for none
    preset: str | None = None  # named settings to start from (the flags given change them)
    resume: bool = False  # keep the cases already done in --out with the same settings


def shared_folder() -> Path:
    """The shared data folder: `$NPSYNTH_SHARED`, default `../shared` beside the repository."""
    return Path(os.environ.get("NPSYNTH_SHARED") or REPO.parent / "shared")


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done; 2 for a bad flag or cases file, 1 for a bad photo or destination,
    130 after Ctrl-C, each with one line on stderr (`npsynth.cli.errors`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    fields = [("run", RunFlags), ("settings", settings_flags())]
    command = dataclasses.make_dataclass("Command", fields, frozen=True)
    parsed = flags.parse(command, argv, prog=PROG, description=__doc__.split("\n")[0],
                         one_line_errors=True, flag_pairs=False)  # fmt: skip
    run = parsed.run
    check_names("--methods", run.methods, METHODS)
    check_names("--baselines", run.baselines, BASELINES)
    if not run.methods and not run.baselines:
        flags.usage_error("give at least one of --methods and --baselines")
    with as_input_error(code=2):
        cases = gallery.load_cases(run.cases)
        unknown = sorted(set(run.cases_only or ()) - {case.name for case in cases})
        if unknown:
            raise ValueError(f"--cases-only: no case {', '.join(map(repr, unknown))}")
        cases = [case for case in cases if not run.cases_only or case.name in run.cases_only]
        configs = method_configs(run.methods, run.preset, given_settings(parsed.settings, argv))
    shared = shared_folder()
    header = [
        f"- command: `{PROG} {shlex.join(argv)}`",
        f"- cases: {len(cases)} from `{run.cases}`, photos below `{shared}`",
        f"- methods: {', '.join(configs) or 'none'}; "
        + f"baselines: {', '.join(run.baselines) or 'none'}",
    ]
    path = gallery.run_gallery(cases, shared, run.out, configs=configs, baselines=run.baselines,
                               resume=run.resume, header=header)  # fmt: skip
    print(f"wrote {path}\n")
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
