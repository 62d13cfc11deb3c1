"""The modes of `python -m eval.inpaint` (eval/inpaint.py holds its flags): the checks of a
flag combination, the networks and weights read before any photo, and the dispatch to the
library's demo (`npsynth.studies.demo`), single photo and folder run
(`npsynth.harness.runner`) and merge of sharded runs (`npsynth.harness.shards`).

In folder mode each photo is its own ground truth: the hole is cut out of it (the methods
never see the hole's pixels), filled, and compared with the original over the hole and over
the whole image. The folder gets `outputs/<method>/`, `grids/` (input | mask | outputs |
truth), `metrics.csv` (one row per image and method) and `report.md` (means per method),
both rewritten after every photo, and `settings.json`. `--resume` keeps the photos already
scored with the same settings and runs the rest, so a long run can be stopped (Ctrl-C: exit
130, what was scored is kept) and continued, or grown with a larger `--limit`, or by methods
or baselines (`--compare` on a finished run runs only the baselines). Photos are named by
their path below `--images`, suffix kept (`a.png`, `a.jpg`, `sub/a.png`); `--out` may be
the photos' folder (its `outputs/` and `grids/` are never read as photos). `--mask FILE`
with `--images` is one hole for every photo.

`--batch N` fills up to N photos of one size at once per method (`npsynth.inpaint_batch`).
Several hosts split a folder with `--shard K/N` (or `--shard auto` under jax.distributed),
each with its own `--out`; `--merge OUT_1 OUT_2 ... --out OUT` makes the one report.

Every photo and mask is read and checked, and the destination checked, before the first
photo is filled; a bad input or flag ends with one line naming it. A folder `--out` gets
npsynth's marker file `.npsynth`: a folder without it that already holds a report.md,
metrics.csv, settings.json, outputs/ or grids/ is refused (they are the user's); one run at
a time writes there (a second is refused while the first runs); a rerun without `--resume`
replaces the earlier results, images included. `--merge` refuses an `--out` that is, lies
in or holds one of the merged runs.
"""

from __future__ import annotations

import dataclasses
import os

from npsynth.cli.settings import METHODS
from npsynth.config import flags
from npsynth.config.inpaint import PyramidConfig, TranslateConfig
from npsynth.errors import InputError, as_input_error, describe
from npsynth.harness import runner, shards
from npsynth.harness.baselines import BASELINES
from npsynth.studies import demo

DEFAULT_BASELINES = "telea,navier_stokes,biharmonic,patchmatch"


@dataclasses.dataclass(frozen=True)
class Args:
    """A parsed command line: its run flags, its methods and the method settings it spelt
    (leaf name -> value, `npsynth.cli.settings.given_settings`)."""

    run: object  # eval/inpaint.py's RunFlags
    methods: tuple[str, ...]
    settings: dict


def check_names(flag: str, chosen, known) -> None:
    """A usage error naming `flag` and the names in `chosen` that `known` lacks."""
    unknown = [name for name in chosen if name not in known]
    if unknown:
        flags.usage_error(f"unknown {flag} {', '.join(map(repr, unknown))}; "
                          f"choose from {', '.join(known)}")  # fmt: skip


def methods_of(text: str) -> tuple[str, ...]:
    """`--method optimize,translate` as the methods, in order, each once."""
    methods = tuple(dict.fromkeys(m.strip() for m in text.split(",")))
    check_names("--method", methods, METHODS)
    return methods


def check_flags(run) -> None:
    """A flag that the mode given would ignore, or a missing one, is a usage error (exit 2)."""
    error = flags.usage_error
    if run.merge is not None:
        if run.out is None or run.image or run.images or run.demo:
            error("--merge takes the run folders and --out only")
        return
    if sum(x is not None for x in (run.image, run.images, run.demo or None)) > 1:
        error("give only one of --demo, --image and --images")
    if run.masks is not None and run.hole is not None:
        error("argument --hole: not allowed with argument --masks")
    if run.image is not None and (run.mask is None or run.out is None):
        error("--image needs --mask and --out")
    if run.images is not None and run.out is None:
        error("--images needs --out (a folder for outputs, grids and the report)")
    if run.resume and run.images is None:
        error("--resume is for folder mode (--images)")
    if run.mask is not None and run.image is None and run.images is None:
        error("--mask is for --image (its hole) or --images (one hole for every photo)")
    if run.mask is not None and run.images is not None and (run.masks or run.hole):
        error("--mask (one hole for every photo) goes with neither --masks nor --hole")
    if run.image is not None and (run.masks is not None or run.hole is not None):
        error("--image takes its hole from --mask; --masks and --hole are for --images")
    folder_only = {"--masks": run.masks, "--limit": run.limit, "--resize": run.resize,
                   "--compare": run.compare or None, "--shard": run.shard, "--batch": run.batch}  # fmt: skip
    given = [flag for flag, value in folder_only.items() if value is not None]
    if given and run.images is None:
        error(f"{', '.join(given)}: for folder mode (--images) only")
    if run.baselines is not None and not run.compare:
        error("--baselines goes with --compare")
    check_names("--baselines", baselines_of(run), BASELINES)


def baselines_of(run) -> tuple[str, ...]:
    return tuple((run.baselines or DEFAULT_BASELINES).split(","))


def check_networks(config: PyramidConfig) -> None:
    """Load the networks `config` names by path or environment variable before any photo is
    filled, so that a missing, foreign or damaged file is named as itself (not after the
    first photo): the content networks where `content` may use one, and the networks the
    method needs (`npsynth.methods.Method.check_networks`, then each file read)."""
    from npsynth import hub
    from npsynth.methods import METHODS

    if config.reference.content in ("auto", "network"):
        shipped = hub.shipped("content_net")
        for path in hub.candidates("content_net", config.reference.content_checkpoint):
            if path not in shipped:
                hub.load("content_net", path)
    METHODS[config.method].check_networks(config)  # every network it needs is found
    if isinstance(config, TranslateConfig):
        hub.load("feature2image", hub.resolve("feature2image", config.feature2image_checkpoint))
        if config.image2feature != "content":
            path = hub.resolve("image2feature", config.image2feature_checkpoint)
            if path is not None:
                hub.load("image2feature", path)


def check_vgg() -> None:
    """Find and read the pretrained VGG-19 (`npsynth.hub.default_vgg`, kept for the run) that
    every method and the scores use, before any photo is read and any run folder touched,
    so that a missing or damaged weights file is named as itself (and $NPSYNTH_VGG19 where
    it is set), never as the photo's fault."""
    from npsynth import hub, weights

    try:
        hub.default_vgg()
    except (ValueError, OSError) as error:
        env = os.environ.get(weights.ENV_VAR)
        where = f" (${weights.ENV_VAR}={env})" if env else ""
        raise InputError(f"the VGG-19 weights{where}: {describe(error)}") from error


def merge(options, command: str) -> int:
    """`--merge DIR... --out OUT`: one report of sharded runs (`shards.merge_runs`)."""
    path = shards.merge_runs(options.merge, options.out, command=command)
    print(f"wrote {path}\n")
    print(path.read_text())
    return 0


def run(options, configs: dict[str, PyramidConfig], command: str) -> int:
    """Fill what the (checked) run flags say, one photo, a folder or the demo, with each
    method's config, once the networks and VGG-19 weights they need are read (a missing or
    bad network: exit 2). Returns the exit code."""
    folder, first = options.images is not None, next(iter(configs.values()))
    with as_input_error(code=2):
        for config in configs.values() if folder else [first]:
            check_networks(config)
    check_vgg()
    if options.image is not None:
        result = runner.inpaint_file(options.image, options.mask, options.out, first)
        height, width = result.image.shape[:2]
        print(f"wrote {options.out} ({width}x{height}, {result.seconds:.1f} s)")
    elif folder:
        runner.evaluate(evaluation(options, configs, command), options.out, resume=options.resume)
    else:
        if not options.demo:
            print(
                "No input given: running the built-in demo. Use --image PHOTO --mask MASK --out FILE "
                "for your own photo, or --images DIR --out DIR to evaluate on a folder."
            )
        demo.run_demo(first, hole=options.hole, seed=options.seed, out=options.out)
        print(
            "To inpaint your own photo: "
            "python -m eval.inpaint --image PHOTO --mask MASK.png --out filled.png"
        )
    return 0


def evaluation(options, configs, command: str) -> runner.Evaluation:
    """Folder mode's photos, methods and baselines."""
    photos = runner.Photos(
        images=options.images, masks=options.masks or options.mask, hole=options.hole,
        limit=options.limit, resize=options.resize, seed=options.seed, shard=options.shard,
    )  # fmt: skip
    chosen = baselines_of(options) if options.compare else ()
    return runner.Evaluation(photos=photos, configs=configs, baselines=chosen, command=command,
                             batch=options.batch or 1)  # fmt: skip
