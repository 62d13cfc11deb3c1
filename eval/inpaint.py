"""Inpaint a photo, a folder of photos, or the built-in demo, and report how good it is.

  python -m eval.inpaint --demo                                   # built-in photo
  python -m eval.inpaint --image photo.jpg --mask mask.png --out filled.png
  python -m eval.inpaint --images DIR [--masks DIR | --hole center:0.5] --out DIR [--compare]
  python -m eval.inpaint --images DIR --out DIR --method optimize,translate --feature2image F2I.npz

`--method` picks npsynth's method: `optimize` (L-BFGS at every scale, the default) or
`translate` (Image2Feature -> patch-swap -> Feature2Image, needs a Feature2Image network);
folder mode runs every method given, the other modes the first.

In folder mode each photo is its own ground truth: the hole is cut out of it (the methods
never see the hole's pixels), filled, and compared with the original over the hole and over
the whole image. The folder gets `outputs/<method>/`, `grids/` (input | mask | outputs |
truth), `metrics.csv` (one row per image and method) and `report.md` (means per method),
both rewritten after every photo, and `settings.json`. `--resume` keeps the photos already
scored with the same settings and runs the rest, so a long run (20 photos at 512 px take
hours on a CPU) can be stopped (Ctrl-C: exit 130, what was scored is kept) and continued,
or grown with a larger `--limit`, or by methods or baselines (`--compare` on a finished run
runs only the baselines). Photos are named by their path below `--images`, suffix
kept (`a.png`, `a.jpg`, `sub/a.png`); `--out` may be the photos' folder (its `outputs/` and
`grids/` are never read as photos). `--mask FILE` with `--images` is one hole for every photo.

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

import argparse
import shlex
import sys
from pathlib import Path

from npsynth.config import OptimizeConfig, PyramidConfig, TranslateConfig
from npsynth.config.inpaint import (
    CONTENT_REFERENCES,
    LEVEL_PASTES,
    NN_UPDATES,
)
from npsynth.evaluation import demo, runner, shards
from npsynth.evaluation.baselines import BASELINES
from npsynth.evaluation.cli_errors import (
    InputError,
    as_input_error,
    describe,
    float_or_none,
    hole_kind,
    int_list,
    layer_or_none,
    main_errors,
    positive_int,
    seed_int,
)
from npsynth.evaluation.runner import DEFAULT_HOLE, METHODS

DEFAULT_BASELINES = "telea,navier_stokes,biharmonic,patchmatch"


def parse_args(argv=None) -> argparse.Namespace:
    # Hand-written rather than derived by tyro (as the training CLIs are, npsynth.config.flags):
    # these flags do not map one to one onto one dataclass. One `--scales` feeds both method
    # configs, and each method has its own default; `--iterations 100,50,20` is an int or a
    # tuple; `--image2feature` names a checkpoint while `--image2feature-mode` is the field
    # `image2feature`; and most flags (photos, masks, output, resume) belong to no config.
    defaults, translate = OptimizeConfig(), TranslateConfig()
    parser = argparse.ArgumentParser(
        prog="python -m eval.inpaint",
        description="High-resolution inpainting by multi-scale neural patch synthesis.",
    )
    source = parser.add_argument_group("input (one of)")
    source.add_argument(
        "--demo", action="store_true", help="inpaint a built-in photo (the default)"
    )
    source.add_argument("--image", type=Path, help="one photo to inpaint (with --mask and --out)")
    source.add_argument(
        "--images", type=Path, help="a folder of photos to evaluate on, or a quoted glob pattern"
    )
    parser.add_argument(
        "--mask", type=Path,
        help="hole mask file for --image (white/non-zero = hole); with --images, one mask "
        "for every photo (resized to each)",
    )  # fmt: skip
    holes = parser.add_mutually_exclusive_group()
    holes.add_argument(
        "--masks",
        type=Path,
        help="folder (or quoted glob pattern, e.g. 'masks/hole20-30_*.png') of masks for "
        "--images, paired in sorted order",
    )
    holes.add_argument(
        "--hole", default=None, type=hole_kind,
        help=f"generated hole for --images/--demo: center[:FRACTION] (default {DEFAULT_HOLE}), boxes, strokes",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path,
        help="output file (--image; a symlink is written through) or folder (--images, --demo)",
    )  # fmt: skip
    parser.add_argument(
        "--limit", type=positive_int, help="use only the first N photos of --images"
    )
    parser.add_argument(
        "--resize", type=positive_int,
        help="downsize each photo of --images so its longest side is N px first",
    )  # fmt: skip
    parser.add_argument(
        "--method", default="optimize",
        help="npsynth method(s): optimize, translate, or both as optimize,translate (folder mode "
        "runs each; --image and --demo the first)",
    )  # fmt: skip
    parser.add_argument(
        "--scales", type=int_list,
        help=f"pyramid of every method, e.g. 128,256,512 (default: optimize "
        f"{','.join(map(str, defaults.scales))}, translate {','.join(map(str, translate.scales))})",
    )  # fmt: skip
    parser.add_argument(
        "--levels", type=positive_int,
        help="work only at the first N levels of the pyramid, then paste the fill upsampled "
        "(1 with optimize: the fast choice)",
    )  # fmt: skip
    parser.add_argument(
        "--iterations", type=int_list, default=str(defaults.iterations),
        help="L-BFGS iterations per scale, or one per scale: 100,50,20"
    )  # fmt: skip
    parser.add_argument(
        "--alpha", type=float, default=defaults.alpha, help="texture weight (Eq. 1)"
    )
    parser.add_argument("--beta", type=float, default=defaults.beta, help="TV weight (Eq. 1)")
    parser.add_argument(
        "--beta-last", type=float_or_none, default=defaults.beta_last,
        help=f"TV weight at the last scale, or 'none' for --beta's (default {defaults.beta_last})",
    )  # fmt: skip
    parser.add_argument(
        "--content-layer", type=layer_or_none, default=defaults.content_layer, metavar="LAYER",
        help="E_c (Eq. 2) in VGG-19 feature space: the mean squared error of this layer's "
        "features to the reference's, e.g. relu4_2 (the authors' code); 'none' (default): "
        "on the hole's pixels",
    )  # fmt: skip
    parser.add_argument(
        "--content", default=defaults.reference.content, choices=CONTENT_REFERENCES,
        help="content reference at the first scale (auto: the content network where one fits the "
        "hole, else patchmatch)",
    )  # fmt: skip
    parser.add_argument(
        "--content-checkpoint", help="exported content network (.npz or training workdir) for --content"
    )  # fmt: skip
    parser.add_argument(
        "--paste-offset-span", type=float, default=defaults.paste.paste_offset_span,
        help="a fill worked below full size: its offset from the photo at the hole's border "
        "averaged over a Gaussian of this many upsampling factors before it is spread "
        "(PyramidConfig.paste_offset_span; 0: pixel by pixel)",
    )  # fmt: skip
    parser.add_argument(
        "--paste-exact-reach", type=float, default=defaults.paste.paste_exact_reach,
        help="... except near the border: the exact offset's weight falls as exp(-depth / "
        "this many upsampling factors) (PyramidConfig.paste_exact_reach; 0: averaged everywhere)",
    )  # fmt: skip
    parser.add_argument(
        "--patchmatch-base-sigma", type=float, default=defaults.reference.patchmatch_base_sigma,
        help="PatchMatch fills: keep their detail finer than a Gaussian of this many pixels on "
        "the harmonic fill's colours (0: PatchMatch's pixels as they are)",
    )  # fmt: skip
    parser.add_argument(
        "--feature2image", help="exported Feature2Image network (.npz or training workdir) for translate"
    )  # fmt: skip
    parser.add_argument(
        "--image2feature", help="exported Image2Feature network (.npz or training workdir) for translate"
    )  # fmt: skip
    parser.add_argument(
        "--image2feature-mode", default=translate.image2feature, choices=("auto", "network", "content"),
        help="translate's hole features at the first scale: Image2Feature network or content reference",
    )  # fmt: skip
    parser.add_argument(
        "--paste", default=translate.level_paste, choices=LEVEL_PASTES,
        help="translate: paste the decoded hole in the gradient domain (poisson) or as it is",
    )  # fmt: skip
    parser.add_argument(
        "--nn-update", default=defaults.texture.nn_update, choices=NN_UPDATES,
        help="nearest neighbours fixed per scale (fast), searched again after every chunk of "
        "--chunk-iterations (a fresh L-BFGS each; per_chunk_last: at the last scale only), "
        "or recomputed at every evaluation (paper)",
    )  # fmt: skip
    parser.add_argument(
        "--chunk-iterations", type=positive_int, default=defaults.solver.chunk_iterations,
        help="L-BFGS iterations per chunk (progress; with --nn-update per_chunk, per search)",
    )  # fmt: skip
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of generated holes")
    parser.add_argument("--compare", action="store_true", help="also run the classical baselines")
    parser.add_argument(
        "--resume", action="store_true",
        help="folder mode: keep what is already scored in --out (same settings; methods and "
        "baselines may be added or dropped) and do the rest",
    )  # fmt: skip
    parser.add_argument(
        "--baselines", help=f"baselines for --compare (default {DEFAULT_BASELINES})"
    )  # fmt: skip
    parser.add_argument(
        "--shard", type=shard_arg,
        help="folder mode: fill only every N-th photo from the K-th on (K/N, or auto from "
        "jax.distributed); merge the hosts' --out folders with --merge",
    )  # fmt: skip
    parser.add_argument(
        "--batch", type=positive_int,
        help="folder mode: fill up to N photos of one size at once (one L-BFGS each, side by "
        "side with jax.vmap, split over the local devices); slower than one at a time on a "
        "2-core CPU (docs/benchmarks.md)",
    )  # fmt: skip
    parser.add_argument(
        "--merge", nargs="+", metavar="DIR",
        help="merge the folder runs in DIR... (e.g. one per --shard) into --out: one report",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.merge is not None:
        if args.out is None or args.image or args.images or args.demo:
            parser.error("--merge takes the run folders and --out only")
        return args
    args.methods = tuple(dict.fromkeys(m.strip() for m in args.method.split(",")))
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        parser.error(
            f"unknown --method {', '.join(map(repr, unknown))}; choose from {', '.join(METHODS)}"
        )
    if (
        sum(x is not None and x is not False for x in (args.image, args.images, args.demo or None))
        > 1
    ):
        parser.error("give only one of --demo, --image and --images")
    if args.image is not None and (args.mask is None or args.out is None):
        parser.error("--image needs --mask and --out")
    if args.images is not None and args.out is None:
        parser.error("--images needs --out (a folder for outputs, grids and the report)")
    if args.resume and args.images is None:
        parser.error("--resume is for folder mode (--images)")
    # Flags that would otherwise be ignored in the mode given: refused, not silently dropped.
    if args.mask is not None and args.image is None and args.images is None:
        parser.error("--mask is for --image (its hole) or --images (one hole for every photo)")
    if args.mask is not None and args.images is not None and (args.masks or args.hole):
        parser.error("--mask (one hole for every photo) goes with neither --masks nor --hole")
    if args.image is not None and (args.masks is not None or args.hole is not None):
        parser.error("--image takes its hole from --mask; --masks and --hole are for --images")
    folder_only = {"--masks": args.masks, "--limit": args.limit, "--resize": args.resize,
                   "--compare": args.compare or None, "--shard": args.shard,
                   "--batch": args.batch}  # fmt: skip
    given = [flag for flag, value in folder_only.items() if value is not None]
    if given and args.images is None:
        parser.error(f"{', '.join(given)}: for folder mode (--images) only")
    if args.baselines is not None and not args.compare:
        parser.error("--baselines goes with --compare")
    args.baselines = args.baselines or DEFAULT_BASELINES
    unknown = [b for b in args.baselines.split(",") if b not in BASELINES]
    if unknown:
        parser.error(
            f"unknown --baselines {', '.join(map(repr, unknown))}; choose from {', '.join(BASELINES)}"
        )
    return args


def configs_from(args: argparse.Namespace) -> dict[str, PyramidConfig]:
    """Each method given, with its own config: `--scales` applies to every method, the
    optimize flags to optimize only, the network flags to translate only."""
    scales, iterations = args.scales, args.iterations
    return runner.configs_for(
        args.methods,
        **({} if scales is None else {"scales": scales}),
        levels=args.levels,
        content=args.content,
        content_checkpoint=args.content_checkpoint,
        patchmatch_base_sigma=args.patchmatch_base_sigma,
        paste_offset_span=args.paste_offset_span,
        paste_exact_reach=args.paste_exact_reach,
        iterations=iterations[0] if len(iterations) == 1 else iterations,
        alpha=args.alpha,
        beta=args.beta,
        beta_last=args.beta_last,
        nn_update=args.nn_update,
        chunk_iterations=args.chunk_iterations,
        content_layer=args.content_layer,
        feature2image_checkpoint=args.feature2image,
        image2feature=args.image2feature_mode,
        image2feature_checkpoint=args.image2feature,
        level_paste=args.paste,
    )


def check_feature2image(config: TranslateConfig) -> None:
    """Fail before any photo is filled when translate has no usable Feature2Image network."""
    from npsynth import hub

    path = hub.resolve("feature2image", config.feature2image_checkpoint)
    if path is None:
        raise FileNotFoundError(
            "--method translate needs a trained Feature2Image network: pass --feature2image PATH, "
            "set $NPSYNTH_FEATURE2IMAGE, or train one with `python -m train.feature2image`"
        )
    hub.load("feature2image", path)  # a missing or foreign file raises here, with its own message


def check_networks(config: PyramidConfig) -> None:
    """Load the networks `config` names by path or environment variable before any photo is
    filled, so that a missing, foreign or damaged file is named as itself (not after the
    first photo): the content networks where `content` may use one, and translate's."""
    from npsynth import hub

    if config.reference.content in ("auto", "network"):
        shipped = hub.shipped("content_net")
        for path in hub.candidates("content_net", config.reference.content_checkpoint):
            if path not in shipped:
                hub.load("content_net", path)
    if isinstance(config, TranslateConfig):
        check_feature2image(config)
        if config.image2feature != "content":
            path = hub.resolve("image2feature", config.image2feature_checkpoint)
            if path is not None:
                hub.load("image2feature", path)


def check_vgg() -> None:
    """Find and read the pretrained VGG-19 (`npsynth.hub.default_vgg`, kept for the run) that
    every method and the scores use, before any photo is read and any run folder touched,
    so that a missing or damaged weights file is named as itself (and $NPSYNTH_VGG19 where
    it is set), never as the photo's fault."""
    import os

    from npsynth import hub, weights

    try:
        hub.default_vgg()
    except (ValueError, OSError) as error:
        env = os.environ.get(weights.ENV_VAR)
        where = f" (${weights.ENV_VAR}={env})" if env else ""
        raise InputError(f"the VGG-19 weights{where}: {describe(error)}") from error


def evaluation_from(args: argparse.Namespace, configs, command: str) -> runner.Evaluation:
    """Folder mode's photos, methods and baselines."""
    photos = runner.Photos(
        images=args.images, masks=args.masks or args.mask, hole=args.hole, limit=args.limit,
        resize=args.resize, seed=args.seed, shard=args.shard,
    )  # fmt: skip
    chosen = tuple(args.baselines.split(",")) if args.compare else ()
    return runner.Evaluation(
        photos=photos, configs=configs, baselines=chosen, command=command, batch=args.batch or 1
    )


def shard_arg(text: str) -> tuple[int, int]:
    """argparse type of --shard (`npsynth.evaluation.shards.parse_shard`)."""
    try:
        return shards.parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done; 2 for a bad flag or setting, 1 for a bad photo, mask or destination,
    130 after Ctrl-C, each with one line on stderr (`npsynth.evaluation.cli_errors`)."""
    args = parse_args(argv)
    command = "python -m eval.inpaint " + shlex.join(argv if argv is not None else sys.argv[1:])
    if args.merge is not None:
        path = shards.merge_runs(args.merge, args.out, command=command)
        print(f"wrote {path}\n")
        print(path.read_text())
        return 0
    with as_input_error(code=2):
        configs = configs_from(args)
        used = args.methods if args.images is not None else args.methods[:1]
        for method in used:
            check_networks(configs[method])
    check_vgg()
    first = configs[args.methods[0]]
    if args.image is not None:
        result = runner.inpaint_file(args.image, args.mask, args.out, first)
        height, width = result.image.shape[:2]
        print(f"wrote {args.out} ({width}x{height}, {result.seconds:.1f} s)")
    elif args.images is not None:
        evaluation = evaluation_from(args, configs, command)
        runner.evaluate(evaluation, args.out, resume=args.resume)
    else:
        if not args.demo:
            print(
                "No input given: running the built-in demo. Use --image PHOTO --mask MASK --out FILE "
                "for your own photo, or --images DIR --out DIR to evaluate on a folder."
            )
        demo.run_demo(first, hole=args.hole, seed=args.seed, out=args.out)
        print(
            "To inpaint your own photo: "
            "python -m eval.inpaint --image PHOTO --mask MASK.png --out filled.png"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
