"""Score content networks against the harmonic fill at 128 px (the content network's size).

  python -m eval.content --images ../shared/data/eval512 --limit 20 \
      --net adversarial=out/train/adv --net l2-only=out/train/l2 --out docs/content
  python -m eval.content --images ../shared/data/eval512 --limit 20 --fast-path --out out/ceiling

Each photo is downsized to 128x128 and given a hole (default: the centred 64x64 square of
the paper; `--masks DIR` pairs the photos with mask files in sorted order, e.g. the
irregular holes of ../shared/data/masks); every method fills it from the known pixels
only. Writes report.md (means of hole L1 / PSNR / SSIM per method, and on how many photos
each beats the harmonic fill's hole PSNR), metrics.csv and grid.png (input | mask |
methods | truth, one row per photo, the first --grid-rows photos).

`--fast-path` adds one scale of `method="translate"` (Song et al. 2018) on the harmonic
fill, with `--image2feature` also with that network, and two upper bounds that look at the
true photo, so they are not methods but tell where the fast path loses quality:
`oracle_swap` patch-swaps the true photo's relu3_1 (a perfect Image2Feature) and
`oracle_decode` decodes it unswapped (how well Feature2Image inverts relu3_1).
"""

from __future__ import annotations

import argparse
import csv
import io
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from eval.inpaint import DEFAULT_HOLE, _atomic_write, machine
from npsynth import io as npio, masks, metrics, resize, viz

SIZE = 128
COLUMNS = ("l1_hole", "psnr_hole", "ssim_hole")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.content", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=Path, required=True, help="folder of photos")
    parser.add_argument(
        "--net", action="append", default=[], metavar="NAME=PATH",
        help="a content network (.npz or training workdir) to score, named; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--fast-path", action="store_true",
        help="also score the fast path (translate) and its two upper bounds (see above)",
    )  # fmt: skip
    parser.add_argument(
        "--feature2image", help="Feature2Image for --fast-path (default: the shipped one)"
    )
    parser.add_argument(
        "--image2feature", help="with --fast-path, also score translate with this Image2Feature"
    )
    holes = parser.add_mutually_exclusive_group()
    holes.add_argument(
        "--hole", default=None,
        help=f"generated hole: center[:FRACTION] (default {DEFAULT_HOLE}), boxes or strokes",
    )  # fmt: skip
    holes.add_argument(
        "--masks", type=Path,
        help="folder (or quoted glob pattern) of hole masks, paired with the photos in sorted order",
    )  # fmt: skip
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N photos")
    parser.add_argument("--limit", type=int, help="use only N photos (after --skip)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random holes")
    parser.add_argument("--grid-rows", type=int, default=6, help="photos shown in grid.png")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    if args.skip < 0 or (args.limit is not None and args.limit < 1):
        parser.error("--skip must be >= 0 and --limit >= 1")
    for spec in args.net:
        if "=" not in spec:
            parser.error(f"--net takes NAME=PATH, got {spec!r}")
    if (args.feature2image or args.image2feature) and not args.fast_path:
        parser.error("--feature2image and --image2feature go with --fast-path")
    return args


def harmonic(known, hole, truth=None):
    from npsynth import fill

    return np.asarray(fill.harmonic_fill(known, hole), np.float32)


def fillers(nets: list[str]) -> tuple[dict, list[str]]:
    """(name -> fn(known [S, S, 3], hole [S, S, 1], truth) -> filled [S, S, 3], a line per
    network); only the fast path's upper bounds look at the truth."""
    from npsynth import content_net

    chosen = {"harmonic": harmonic}
    described = []
    for spec in nets:
        name, _, path = spec.partition("=")
        model, header = content_net.load_content_net_and_header(path)
        if model.image_size != SIZE:
            raise ValueError(f"{path}: a {model.image_size} px network; this scores {SIZE} px ones")
        chosen[name] = lambda known, hole, truth, m=model: content_net.predict(m, known, hole)
        described.append(f"{name} = `{path}` (step {header.get('step')}, input fill {model.fill})")
    return chosen, described


def fast_path_fillers(feature2image, image2feature) -> tuple[dict, list[str]]:
    """The fast path's first scale on the harmonic fill (`translate`, `translate_i2f`) and
    its upper bounds from the true photo's relu3_1 (`oracle_swap`, `oracle_decode`)."""
    from npsynth import translate
    from npsynth.synthesis import default_vgg

    f2i = translate.load_feature2image(feature2image or translate.SHIPPED_F2I)
    vgg = default_vgg()

    def level(fill, known, hole, **options):
        return translate.translate_level(fill, known, hole, vgg=vgg, feature2image=f2i, **options)

    chosen = {"translate": lambda known, hole, truth: level(harmonic(known, hole), known, hole)}
    shipped = f"the shipped `npsynth/assets/{translate.SHIPPED_F2I.name}`"
    described = [f"Feature2Image = {f'`{feature2image}`' if feature2image else shipped}"]
    if image2feature:
        i2f = translate.load_image2feature(image2feature)
        chosen["translate_i2f"] = lambda known, hole, truth: level(
            harmonic(known, hole), known, hole, image2feature=i2f
        )
        described.append(f"Image2Feature = `{image2feature}`")
    chosen["oracle_swap"] = lambda known, hole, truth: level(truth, known, hole)
    chosen["oracle_decode"] = lambda known, hole, truth: level(truth, known, hole, swap=False)
    return chosen, described


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        methods, described = fillers(args.net)
        if args.fast_path:
            more, more_described = fast_path_fillers(args.feature2image, args.image2feature)
            methods, described = {**methods, **more}, described + more_described
        found = npio.list_images(args.images)
        mask_paths = npio.list_images(args.masks) if args.masks else None
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = found[args.skip :][: args.limit]
    if not paths:
        print(
            f"error: no photos to score: {len(found)} in {args.images}, --skip {args.skip}",
            file=sys.stderr,
        )
        return 2
    rng = np.random.default_rng(args.seed)
    rows, grid_rows = [], []
    for index, path in enumerate(paths, start=args.skip):  # photo i pairs with mask i
        truth = resize.resize_image(npio.load_image(path), (SIZE, SIZE))
        try:
            if mask_paths:
                hole = npio.load_mask(mask_paths[index % len(mask_paths)], size=(SIZE, SIZE))
            else:
                hole = masks.make_mask(args.hole or DEFAULT_HOLE, SIZE, SIZE, rng=rng)
            masks.check_mask(hole, truth.shape)
        except ValueError as error:  # a corrupt mask file, or no hole / no known pixel
            print(f"error: the hole of {path.name} at {SIZE} px: {error}", file=sys.stderr)
            return 2
        known = np.where(hole > 0, 0.0, truth).astype(np.float32)
        filled = {}
        for name, fn in methods.items():
            start = time.perf_counter()
            try:
                filled_hole = np.clip(fn(known, hole, truth), 0, 1)
            except ValueError as error:  # e.g. a paper-mode network and an irregular hole
                print(f"error: {name} on {path.name}: {error}", file=sys.stderr)
                return 2
            out = np.where(hole > 0, filled_hole, truth).astype(np.float32)
            seconds = time.perf_counter() - start
            filled[name] = out
            rows.append({"image": path.stem, "method": name, "seconds": seconds,
                         **metrics.hole_metrics(out, truth, hole)})  # fmt: skip
        if len(grid_rows) < args.grid_rows:
            columns = [("input", viz.masked_input(truth, hole)), ("mask", hole)]
            columns += list(filled.items()) + [("truth", truth)]
            grid_rows.append(viz.grid(columns))
    args.out.mkdir(parents=True, exist_ok=True)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write(args.out / "metrics.csv", table.getvalue())
    npio.save_image(args.out / "grid.png", viz.stack(grid_rows))
    hole_source = (
        f"masks from {args.masks} (paired in sorted order, resized to {SIZE}x{SIZE})"
        if args.masks
        else args.hole or DEFAULT_HOLE
    )
    lines = [
        f"# Fills at {SIZE} px",
        "",
        (
            f"- photos: {len(paths)} from {args.images} ({paths[0].name} to {paths[-1].name}, "
            f"downsized to {SIZE}x{SIZE}); hole: {hole_source}"
        ),
        f"- networks: {'; '.join(described) or 'none'}",
        *(
            ["- oracle_swap and oracle_decode use the true photo: upper bounds, not methods"]
            if args.fast_path
            else []
        ),
        f"- machine: {machine()}",
        f"- command: `python -m eval.content {shlex.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        "| method | L1 hole | PSNR hole (dB) | SSIM hole | photos with higher PSNR than harmonic |",
        "|---|---|---|---|---|",
    ]
    harmonic = {r["image"]: r["psnr_hole"] for r in rows if r["method"] == "harmonic"}
    for name in methods:
        mine = [r for r in rows if r["method"] == name]
        means = [float(np.mean([r[k] for r in mine])) for k in COLUMNS]
        better = sum(r["psnr_hole"] > harmonic[r["image"]] for r in mine)
        wins = "" if name == "harmonic" else f"{better} of {len(mine)}"
        lines.append(f"| {name} | {means[0]:.4f} | {means[1]:.2f} | {means[2]:.4f} | {wins} |")
    report = "\n".join(lines) + "\n"
    _atomic_write(args.out / "report.md", report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
