"""Remove real objects from real photos with every method and baseline; grids and colour gaps.

  python -m eval.gallery --out out/gallery
  python -m eval.gallery --out out/gallery --methods translate --scales 256,512
  python -m eval.gallery --out out/gallery --methods translate --paste direct
  python -m eval.gallery --out out/gallery --cases-only kayaker,wall_text --baselines telea
  python -m eval.gallery --out out/gallery --resume        # keep the cases already done

The cases (`eval/gallery/cases.json`, or `--cases FILE`) name photos below the shared data
folder (`$NPSYNTH_SHARED`, default `../shared` beside the repository) and polygons around
the objects. The folder gets one grid per case (input | mask | each fill), each fill under
`outputs/<method>/`, `gallery.csv` and `report.md` (the colour gap of every fill: how far it
strays from its surroundings; `npsynth.evaluation.gallery`). Every photo and mask is read
and checked, and `--out` checked, before the first fill; a bad input or flag ends with one
line naming it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from npsynth.config.inpaint import LEVEL_PASTES, PyramidConfig, TranslateConfig
from npsynth.evaluation import gallery, runner
from npsynth.evaluation.baselines import BASELINES
from npsynth.evaluation.cli_errors import as_input_error, int_list, main_errors, positive_int

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "eval" / "gallery" / "cases.json"


def shared_folder() -> Path:
    """The shared data folder: `$NPSYNTH_SHARED`, default `../shared` beside the repository."""
    return Path(os.environ.get("NPSYNTH_SHARED") or REPO.parent / "shared")


def names(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated names (empty parts dropped, order kept, no repeats)."""
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.gallery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cases", type=Path, default=CASES, help=f"cases file (default {CASES})")
    parser.add_argument(
        "--cases-only", type=names, help="run only these cases (comma-separated names)"
    )
    parser.add_argument(
        "--methods", type=names, default=runner.METHODS,
        help=f"npsynth methods (default {','.join(runner.METHODS)})",
    )  # fmt: skip
    parser.add_argument(
        "--baselines", type=names, default=tuple(BASELINES),
        help=f"baselines, or '' for none (default {','.join(BASELINES)})",
    )  # fmt: skip
    parser.add_argument(
        "--scales", type=int_list, help="pyramid of every method (default: each method's own)"
    )
    parser.add_argument(
        "--levels",
        type=positive_int,
        help="work only at the first N levels of the pyramid (1 with optimize: the fast choice)",
    )
    parser.add_argument(
        "--paste-offset-span", type=float, default=PyramidConfig().paste.paste_offset_span,
        help="a fill worked below full size: its offset from the photo at the hole's border "
        "averaged over a Gaussian of this many upsampling factors before it is spread "
        "(PyramidConfig.paste_offset_span; 0: pixel by pixel)",
    )  # fmt: skip
    parser.add_argument(
        "--paste-exact-reach", type=float, default=PyramidConfig().paste.paste_exact_reach,
        help="... except near the border: the exact offset's weight falls as exp(-depth / "
        "this many upsampling factors) (PyramidConfig.paste_exact_reach; 0: averaged everywhere)",
    )  # fmt: skip
    parser.add_argument(
        "--patchmatch-base-sigma", type=float, default=PyramidConfig().reference.patchmatch_base_sigma,
        help="PatchMatch fills: their detail finer than a Gaussian of this many pixels on the "
        "harmonic fill's colours (PyramidConfig.patchmatch_base_sigma; 0: as they are)",
    )  # fmt: skip
    parser.add_argument(
        "--paste", choices=LEVEL_PASTES, default=TranslateConfig().level_paste,
        help="how translate joins its decoded hole to the known pixels (TranslateConfig.paste)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="keep the cases already done in --out with the same settings",
    )  # fmt: skip
    args = parser.parse_args(argv)
    unknown = [m for m in args.methods if m not in runner.METHODS]
    if unknown:
        parser.error(f"unknown --methods {', '.join(map(repr, unknown))}; choose from "
                     f"{', '.join(runner.METHODS)}")  # fmt: skip
    unknown = [b for b in args.baselines if b not in BASELINES]
    if unknown:
        parser.error(f"unknown --baselines {', '.join(map(repr, unknown))}; choose from "
                     f"{', '.join(BASELINES)}")  # fmt: skip
    if not args.methods and not args.baselines:
        parser.error("give at least one of --methods and --baselines")
    return args


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done; 2 for a bad flag or cases file, 1 for a bad photo or destination,
    130 after Ctrl-C, each with one line on stderr (`npsynth.evaluation.cli_errors`)."""
    args = parse_args(argv)
    command = "python -m eval.gallery " + shlex.join(argv if argv is not None else sys.argv[1:])
    with as_input_error(code=2):
        cases = gallery.load_cases(args.cases)
        if args.cases_only:
            unknown = sorted(set(args.cases_only) - {case.name for case in cases})
            if unknown:
                raise ValueError(f"--cases-only: no case {', '.join(map(repr, unknown))}")
            cases = [case for case in cases if case.name in args.cases_only]
        scales = {} if args.scales is None else {"scales": args.scales}
        configs = runner.configs_for(
            args.methods, level_paste=args.paste, levels=args.levels,
            patchmatch_base_sigma=args.patchmatch_base_sigma,
            paste_offset_span=args.paste_offset_span, paste_exact_reach=args.paste_exact_reach, **scales,
        )  # fmt: skip
    shared = shared_folder()
    header = [
        f"- command: `{command}`",
        f"- cases: {len(cases)} from `{args.cases}`, photos below `{shared}`",
        f"- methods: {', '.join(configs) or 'none'}; "
        + f"baselines: {', '.join(args.baselines) or 'none'}",
    ]
    path = gallery.run_gallery(
        cases, shared, args.out, configs=configs, baselines=args.baselines,
        resume=args.resume, header=header,
    )  # fmt: skip
    print(f"wrote {path}\n")
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
