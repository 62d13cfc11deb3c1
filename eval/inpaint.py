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
hours on a CPU) can be stopped and continued, or grown with a larger `--limit`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from npsynth import io as npio, masks, metrics, resize, viz
from npsynth.config import InpaintConfig

DEMO_OUT = Path("out/demo")
DEFAULT_HOLE = "center:0.5"  # folder mode without --masks or --hole: the paper's centred hole
SETTINGS_FILE = "settings.json"  # folder mode: the settings behind metrics.csv, for --resume
METHODS = ("optimize", "translate")
METRIC_NAMES = (
    "l1_hole",
    "l2_hole",
    "psnr_hole",
    "ssim_hole",
    "l1_all",
    "l2_all",
    "psnr_all",
    "ssim_all",
)


def parse_args(argv=None) -> argparse.Namespace:
    defaults = InpaintConfig()
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
    parser.add_argument("--mask", type=Path, help="hole mask for --image: white/non-zero = hole")
    holes = parser.add_mutually_exclusive_group()
    holes.add_argument(
        "--masks",
        type=Path,
        help="folder (or quoted glob pattern, e.g. 'masks/hole20-30_*.png') of masks for "
        "--images, paired in sorted order",
    )
    holes.add_argument(
        "--hole", default=None,
        help=f"generated hole for --images/--demo: center[:FRACTION] (default {DEFAULT_HOLE}), boxes, strokes",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="output file (--image) or folder")
    parser.add_argument("--limit", type=int, help="use only the first N photos of --images")
    parser.add_argument(
        "--resize", type=int, help="downsize each photo of --images so its longest side is N px first"
    )  # fmt: skip
    parser.add_argument(
        "--method", default="optimize",
        help="npsynth method(s): optimize, translate, or both as optimize,translate (folder mode "
        "runs each; --image and --demo the first)",
    )  # fmt: skip
    parser.add_argument(
        "--scales",
        help=f"pyramid of every method, e.g. 128,256,512 (default: optimize "
        f"{','.join(map(str, defaults.scales))}, translate {','.join(map(str, defaults.translate_scales))})",
    )  # fmt: skip
    parser.add_argument(
        "--iterations", default=str(defaults.iterations), help="L-BFGS iterations per scale, or one per scale: 100,50,20"
    )  # fmt: skip
    parser.add_argument(
        "--alpha", type=float, default=defaults.alpha, help="texture weight (Eq. 1)"
    )
    parser.add_argument("--beta", type=float, default=defaults.beta, help="TV weight (Eq. 1)")
    parser.add_argument(
        "--content", default=defaults.content, choices=("auto", "network", "harmonic", "mean"),
        help="content reference at the first scale",
    )  # fmt: skip
    parser.add_argument(
        "--content-checkpoint", help="exported content network (.npz or training workdir) for --content"
    )  # fmt: skip
    parser.add_argument(
        "--feature2image", help="exported Feature2Image network (.npz or training workdir) for translate"
    )  # fmt: skip
    parser.add_argument(
        "--image2feature", help="exported Image2Feature network (.npz or training workdir) for translate"
    )  # fmt: skip
    parser.add_argument(
        "--image2feature-mode", default=defaults.image2feature, choices=("auto", "network", "content"),
        help="translate's hole features at the first scale: Image2Feature network or content reference",
    )  # fmt: skip
    parser.add_argument(
        "--nn-update", default=defaults.nn_update, choices=("per_scale", "every_eval"),
        help="nearest neighbours fixed per scale (fast) or recomputed at every evaluation (paper)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of generated holes")
    parser.add_argument("--compare", action="store_true", help="also run the classical baselines")
    parser.add_argument(
        "--resume", action="store_true",
        help="folder mode: keep the photos already scored in --out (same settings) and do the rest",
    )  # fmt: skip
    parser.add_argument(
        "--baselines", default="telea,navier_stokes,biharmonic,patchmatch", help="baselines for --compare"
    )  # fmt: skip
    args = parser.parse_args(argv)
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
    return args


def config_from(args: argparse.Namespace) -> InpaintConfig:
    """The config of the first method given; `methods` swaps in the others."""
    try:
        scales = tuple(int(s) for s in args.scales.split(",")) if args.scales else None
        iterations = tuple(int(s) for s in args.iterations.split(","))
    except ValueError:
        raise SystemExit("error: --scales and --iterations take comma-separated integers") from None
    pyramids = {} if scales is None else {"scales": scales, "translate_scales": scales}
    return InpaintConfig(
        **pyramids,
        method=args.methods[0],
        iterations=iterations[0] if len(iterations) == 1 else iterations,
        alpha=args.alpha,
        beta=args.beta,
        content=args.content,
        content_checkpoint=args.content_checkpoint,
        nn_update=args.nn_update,
        feature2image_checkpoint=args.feature2image,
        image2feature=args.image2feature_mode,
        image2feature_checkpoint=args.image2feature,
    )


def pyramid(config: InpaintConfig) -> tuple[int, ...]:
    """The working sizes of the config's method."""
    return config.translate_scales if config.method == "translate" else config.scales


def check_feature2image(config: InpaintConfig) -> None:
    """Fail before any photo is filled when translate has no usable Feature2Image network."""
    from npsynth.translate import feature2image_checkpoint, load_feature2image

    path = feature2image_checkpoint(config)
    if path is None:
        raise FileNotFoundError(
            "--method translate needs a trained Feature2Image network: pass --feature2image PATH, "
            "set $NPSYNTH_FEATURE2IMAGE, or train one with `python -m train.feature2image`"
        )
    load_feature2image(path)  # a missing or foreign file raises here, with its own message


# --------------------------------------------------------------------------- the methods


def methods(args: argparse.Namespace, config: InpaintConfig) -> dict:
    """name -> fn(image with hole blanked, mask) -> filled image."""
    from npsynth.synthesis import inpaint

    chosen = {
        m: functools.partial(inpaint, config=dataclasses.replace(config, method=m))
        for m in args.methods
    }
    if args.compare:
        from eval import baselines

        for name in args.baselines.split(","):
            chosen[name] = baselines.get_baseline(name)
    return chosen


def run_one(
    image: np.ndarray, mask: np.ndarray, fns: dict
) -> dict[str, tuple[np.ndarray, float, str]]:
    """Every method on one photo; the hole's pixels are blanked before any method sees them.

    Returns:
      method -> (filled image, seconds, per-scale seconds as "64x64:1.2 128x128:3.4" or "").
    """
    blanked = np.where(mask > 0, 0.0, image).astype(np.float32)
    results = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        out = fn(blanked, mask)
        seconds = time.perf_counter() - start
        scales = ""
        if hasattr(out, "scales"):  # an InpaintResult
            scales = " ".join(f"{s.size[0]}x{s.size[1]}:{s.seconds:.2f}" for s in out.scales)
            out = out.image
        results[name] = (np.asarray(out, np.float32), seconds, scales)
    return results


# ----------------------------------------------------------------------------- the modes


def inpaint_photo(args, config: InpaintConfig) -> Path:
    image = npio.load_image(args.image)
    mask = npio.load_mask(args.mask, size=image.shape[:2])
    masks.check_mask(mask, image.shape)
    from npsynth.synthesis import inpaint

    result = inpaint(image, mask, config=config, progress=True)
    npio.save_image(args.out, result.image)
    print(f"wrote {args.out} ({image.shape[1]}x{image.shape[0]}, {result.seconds:.1f} s)")
    return args.out


def pairs(args) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image, mask) for every photo of --images, masks loaded or generated."""
    paths = npio.list_images(args.images)[: args.limit]
    mask_paths = npio.list_images(args.masks) if args.masks else None
    rng = np.random.default_rng(args.seed)
    out = []
    for index, path in enumerate(paths):
        image = npio.load_image(path)
        if args.resize and max(image.shape[:2]) > args.resize:
            scale = args.resize / max(image.shape[:2])
            size = (round(image.shape[0] * scale), round(image.shape[1] * scale))
            image = resize.resize_image(image, size)
        if mask_paths:
            mask = npio.load_mask(mask_paths[index % len(mask_paths)], size=image.shape[:2])
        else:
            mask = masks.make_mask(args.hole or DEFAULT_HOLE, *image.shape[:2], rng=rng)
        out.append((path.stem, image, mask))
    return out


def run_settings(args, config: InpaintConfig) -> dict:
    """What decides a folder run's scores (not --limit): a resumed run must match them."""
    return {
        "images": str(args.images),
        "masks": str(args.masks) if args.masks else None,
        "hole": None if args.masks else args.hole or DEFAULT_HOLE,
        "resize": args.resize,
        "seed": args.seed,
        "methods": list(args.methods),
        "baselines": args.baselines.split(",") if args.compare else [],
        "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
    }


def earlier_rows(out: Path, settings: dict, resume: bool) -> list[dict]:
    """The rows of metrics.csv to keep: all of them when resuming a run with these settings."""
    saved_path, csv_path = out / SETTINGS_FILE, out / "metrics.csv"
    if not resume:
        if csv_path.exists():
            print(f"note: replacing the results in {out} (--resume keeps them)", file=sys.stderr)
        return []
    if not csv_path.exists():
        return []
    if not saved_path.exists():
        raise ValueError(
            f"cannot --resume in {out}: it has {csv_path.name} but no {SETTINGS_FILE}, so its "
            "settings cannot be checked; use a new --out or drop --resume"
        )
    saved = json.loads(saved_path.read_text())
    changed = sorted(k for k in settings.keys() | saved.keys() if settings.get(k) != saved.get(k))
    if changed:
        raise ValueError(
            f"cannot --resume in {out}: its results were made with other settings "
            f"({', '.join(changed)} differ); use a new --out or drop --resume"
        )
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in (*METRIC_NAMES, "seconds"):
            row[key] = float(row[key])
    return rows


def evaluate(args, config: InpaintConfig) -> Path:
    """Folder mode: outputs, grids, metrics.csv and report.md under args.out."""
    from tqdm.auto import tqdm

    out = args.out
    (out / "outputs").mkdir(parents=True, exist_ok=True)
    (out / "grids").mkdir(exist_ok=True)
    report = out / "report.md"
    settings = run_settings(args, config)
    rows = earlier_rows(out, settings, args.resume)
    if not args.resume:  # Old rows must not outlive the settings they were made with.
        write_csv(out / "metrics.csv", rows)
    _atomic_write(out / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
    items = pairs(args)
    fns = methods(args, config)
    done = {
        name for name, *_ in items if set(fns) <= {r["method"] for r in rows if r["image"] == name}
    }
    rows = [r for r in rows if r["image"] in done]
    if done:
        print(f"resuming: {len(done)} of {len(items)} photos already scored in {out}")
    todo = [item for item in items if item[0] not in done]
    for name, image, mask in tqdm(todo, desc="images", unit="img"):
        results = run_one(image, mask, fns)
        for method, (filled, seconds, scales) in results.items():
            npio.save_image(out / "outputs" / method / f"{name}.png", filled)
            scores = metrics.hole_metrics(filled, image, mask)
            rows.append(
                {
                    "image": name,
                    "method": method,
                    **scores,
                    "seconds": seconds,
                    "scale_seconds": scales,
                }
            )
        columns = [("input", viz.masked_input(image, mask)), ("mask", mask)]
        columns += [(m, r[0]) for m, r in results.items()] + [("truth", image)]
        npio.save_image(out / "grids" / f"{name}.png", viz.grid(columns))
        write_csv(out / "metrics.csv", rows)  # after every image: nothing lost on a stop
        _atomic_write(report, render_report(rows, args, config))
    if not todo:  # Every photo was scored before: the report still names this command.
        _atomic_write(report, render_report(rows, args, config))
    print(f"wrote {report}\n")
    print(report.read_text())
    return report


def demo(args, config: InpaintConfig) -> Path:
    """The built-in example: scikit-image's astronaut photo with a generated hole."""
    from skimage import data as skdata

    from npsynth.synthesis import inpaint

    image = skdata.astronaut().astype(np.float32) / 255.0
    side = min(pyramid(config)[-1], image.shape[0])  # show the demo at the last scale
    image = resize.resize_image(image, (side, side))
    mask = masks.make_mask(args.hole or "strokes", *image.shape[:2], rng=args.seed)
    out = args.out or DEMO_OUT
    print(
        f"inpainting the built-in photo ({image.shape[1]}x{image.shape[0]}) by {config.method} "
        f"at scales {pyramid(config)}"
    )
    result = inpaint(np.where(mask > 0, 0.0, image), mask, config=config, progress=True)
    for scale in result.scales:
        losses, solve = scale.losses, ""  # no losses for translate: nothing is optimised
        if len(losses):
            solve = f"loss {losses[0]:.4g} -> {losses[-1]:.4g} in {len(losses) - 1} iterations, "
        print(f"  {scale.size[1]}x{scale.size[0]}: {solve}{scale.seconds:.1f} s")
    out.mkdir(parents=True, exist_ok=True)
    npio.save_image(out / "output.png", result.image)
    columns = [
        ("input", viz.masked_input(image, mask)),
        ("mask", mask),
        ("output", result.image),
        ("truth", image),
    ]
    npio.save_image(out / "grid.png", viz.grid(columns))
    scores = metrics.hole_metrics(result.image, image, mask)
    print(
        f"hole PSNR {scores['psnr_hole']:.2f} dB, SSIM {scores['ssim_hole']:.3f}; total {result.seconds:.1f} s"
    )
    print(f"wrote {out / 'output.png'} and {out / 'grid.png'} (input | mask | output | truth)")
    print(
        "To inpaint your own photo: python -m eval.inpaint --image PHOTO --mask MASK.png --out filled.png"
    )
    return out / "grid.png"


# ------------------------------------------------------------------------------- reports


def _atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["image", "method", *METRIC_NAMES, "seconds", "scale_seconds"]
    )
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write(path, buffer.getvalue())


def machine() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform.upper()} ({device.device_kind}), {os.cpu_count()} cores, {platform.machine()}"


# InpaintConfig fields that only one method reads (left out of the other's report).
OPTIMIZE_ONLY = (
    "scales", "iterations", "alpha", "beta", "layers", "patch_size", "nn_update", "tol"
)  # fmt: skip
TRANSLATE_ONLY = (
    "translate_scales", "image2feature", "image2feature_checkpoint", "feature2image_checkpoint"
)  # fmt: skip


def render_report(rows: list[dict], args, config: InpaintConfig) -> str:
    method_names = list(dict.fromkeys(r["method"] for r in rows))
    images = sorted({r["image"] for r in rows})
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "method"}
    if "optimize" not in args.methods:
        for key in OPTIMIZE_ONLY:
            settings.pop(key)
    if "translate" not in args.methods:
        for key in TRANSLATE_ONLY:
            settings.pop(key)
    lines = [
        "# Inpainting report",
        "",
        f"- command: `python -m eval.inpaint {shlex.join(sys.argv[1:])}`",
        f"- data: {len(images)} photo{'' if len(images) == 1 else 's'} from `{args.images}`"
        + (f", downsized to {args.resize} px" if args.resize else "")
        + f", holes: {args.masks or args.hole or DEFAULT_HOLE}",
        f"- methods: {', '.join(args.methods)}"
        + (f"; baselines: {', '.join(args.baselines.split(','))}" if args.compare else ""),
        f"- machine: {machine()}",
        f"- config: {settings}",
        "",
        (
            "Means over the photos (hole = over the hole pixels only; all = whole image). "
            "PSNR in dB on [0, 1]; L1/L2 per pixel and channel; time per photo in seconds."
        ),
        "",
        "| method | L1 hole | L2 hole | PSNR hole | SSIM hole | L1 all | L2 all | PSNR all | SSIM all | s/photo |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method in method_names:
        chosen = [r for r in rows if r["method"] == method]
        means = [np.mean([r[k] for r in chosen]) for k in (*METRIC_NAMES, "seconds")]
        formats = [
            "{:.4f}",
            "{:.5f}",
            "{:.2f}",
            "{:.4f}",
            "{:.4f}",
            "{:.5f}",
            "{:.2f}",
            "{:.4f}",
            "{:.2f}",
        ]
        lines.append(
            f"| {method} | " + " | ".join(f.format(v) for f, v in zip(formats, means)) + " |"
        )
    for method in method_names:
        per_scale: dict[str, list[float]] = {}
        for row in rows:
            if row["method"] == method:
                for item in row.get("scale_seconds", "").split():
                    size, seconds = item.split(":")
                    per_scale.setdefault(size, []).append(float(seconds))
        if per_scale:
            lines += [
                "",
                (
                    f"npsynth {method} time per photo at each scale "
                    "(seconds, mean; the first photo of each run or resume includes compilation):"
                ),
                "",
                "| scale | " + " | ".join(per_scale) + " |",
                "|---|" + "---:|" * len(per_scale),
                "| s/photo | " + " | ".join(f"{np.mean(v):.2f}" for v in per_scale.values()) + " |",
            ]
    return "\n".join(lines + per_photo_table(rows, method_names)) + "\n"


def per_photo_table(rows: list[dict], method_names: list[str]) -> list[str]:
    """Report lines: each photo's hole PSNR per method and npsynth's seconds at each scale."""
    timed = [
        m for m in method_names if any(r.get("scale_seconds") for r in rows if r["method"] == m)
    ]
    by_key = {(r["image"], r["method"]): r for r in rows}
    lines = [
        "",
        "Per photo: hole PSNR (dB) of every method, and npsynth's seconds at each scale:",
        "",
        "| photo | " + " | ".join([*method_names, *(f"{m} s per scale" for m in timed)]) + " |",
        "|---|" + "---:|" * (len(method_names) + len(timed)),
    ]
    for image in sorted({r["image"] for r in rows}):
        cells = [
            f"{by_key[image, m]['psnr_hole']:.2f}" if (image, m) in by_key else ""
            for m in method_names
        ]
        for method in timed:
            items = by_key.get((image, method), {}).get("scale_seconds", "").split()
            cells.append(" / ".join(item.partition(":")[2] for item in items))
        lines.append(f"| {image} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = config_from(args)
        if "translate" in (args.methods if args.images is not None else args.methods[:1]):
            check_feature2image(config)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if args.image is not None:
            inpaint_photo(args, config)
        elif args.images is not None:
            evaluate(args, config)
        else:
            if not args.demo:
                print(
                    "No input given: running the built-in demo. Use --image PHOTO --mask MASK --out FILE "
                    "for your own photo, or --images DIR --out DIR to evaluate on a folder."
                )
            demo(args, config)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
