"""Content networks against the harmonic fill at 128 px (the content network's size).

Each photo is downsized to `SIZE` x `SIZE` and given a hole (generated, or a mask file
paired in sorted order); every filler fills it from the known pixels only. Every photo and
mask is read and checked before the first fill (`runner.read_pairs`). The fast path's
fillers (`fast_path_fillers`) add one scale of `method="translate"` on the harmonic fill
and two upper bounds that look at the true photo: `oracle_swap` patch-swaps the true
photo's relu3_1 (a perfect Image2Feature) and `oracle_decode` decodes it unswapped (how
well Feature2Image inverts relu3_1).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import tyro

from npsynth import files as npfiles
from npsynth import io as npio
from npsynth import metrics, viz
from npsynth.errors import InputError, as_input_error
from npsynth.harness import checks, report
from npsynth.harness.grids import comparison_grid
from npsynth.harness.runner import DEFAULT_HOLE, read_pairs

SIZE = 128
COLUMNS = ("l1_hole", "psnr_hole", "ssim_hole")

# fn(known [S, S, 3], hole [S, S, 1], truth [S, S, 3]) -> filled [S, S, 3]; only the fast
# path's upper bounds look at the truth.
ContentFiller = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def harmonic(known, hole, truth=None) -> np.ndarray:
    """The harmonic (Laplace) fill of the hole from its border."""
    from npsynth import fill

    return np.asarray(fill.harmonic_fill(known, hole), np.float32)


def fillers(nets: Sequence[str]) -> tuple[dict[str, ContentFiller], list[str]]:
    """The harmonic fill and each named content network ("NAME=PATH", a .npz or training
    workdir); and a line describing each network for the report."""
    from npsynth import export
    from npsynth.models import content_net

    chosen: dict[str, ContentFiller] = {"harmonic": harmonic}
    described = []
    for spec in nets:
        name, _, path = spec.partition("=")
        model, header = export.load_content_net_and_header(path)
        if model.image_size != SIZE:
            raise ValueError(f"{path}: a {model.image_size} px network; this scores {SIZE} px ones")
        chosen[name] = lambda known, hole, truth, m=model: content_net.predict(m, known, hole)
        described.append(f"{name} = `{path}` (step {header.get('step')}, input fill {model.fill})")
    return chosen, described


def fast_path_fillers(
    feature2image=None, image2feature=None
) -> tuple[dict[str, ContentFiller], list[str]]:
    """The fast path's first scale on the harmonic fill (`translate`, and `translate_i2f`
    with an Image2Feature network) and its upper bounds from the true photo's relu3_1
    (`oracle_swap`, `oracle_decode`); and lines naming the networks for the report.

    Args:
      feature2image: a Feature2Image .npz or workdir; None: `npsynth.hub`'s (the shipped one).
      image2feature: an Image2Feature network for `translate_i2f`; None: no such row.
    """
    from npsynth import hub
    from npsynth.config.translate import TranslateConfig
    from npsynth.methods.translate import check_networks, translate_level

    check_networks(TranslateConfig(feature2image_checkpoint=feature2image))
    path = hub.resolve("feature2image", feature2image)
    f2i = hub.load("feature2image", path)
    vgg = hub.default_vgg()

    def level(fill, known, hole, **options):
        return translate_level(fill, known, hole, vgg=vgg, feature2image=f2i, **options)

    chosen = {"translate": lambda known, hole, truth: level(harmonic(known, hole), known, hole)}
    if feature2image or path not in hub.SHIPPED["feature2image"]:
        described = [f"Feature2Image = `{feature2image or path}`"]
    else:
        described = [f"Feature2Image = the shipped `npsynth/assets/{path.name}`"]
    if image2feature:
        i2f = hub.load("image2feature", image2feature)
        chosen["translate_i2f"] = lambda known, hole, truth: level(
            harmonic(known, hole), known, hole, image2feature=i2f
        )
        described.append(f"Image2Feature = `{image2feature}`")
    chosen["oracle_swap"] = lambda known, hole, truth: level(truth, known, hole)
    chosen["oracle_decode"] = lambda known, hole, truth: level(truth, known, hole, swap=False)
    return chosen, described


def score(
    paths: Sequence[Path],
    fns: Mapping[str, ContentFiller],
    *,
    names: Sequence[str] | None = None,
    mask_paths: Sequence[Path] | None = None,
    hole: str | None = None,
    seed: int = 0,
    first_index: int = 0,
    grid_rows: int = 6,
) -> tuple[list[dict], np.ndarray]:
    """Every filler on every photo at `SIZE` px.

    Args:
      paths: the photos; names: theirs in the rows (default the file names); photo i
        (counted from `first_index`) gets mask i modulo their count when `mask_paths` are
        given, else a generated `hole` (default DEFAULT_HOLE).
      fns: name -> filler; its output is clipped to [0, 1] and used inside the hole.
      grid_rows: photos shown in the grid.

    Returns:
      (rows {image, method, seconds, metrics...}, the grid: a row per shown photo of input |
      mask | fillers | truth).

    Raises:
      InputError (a ValueError): a photo or mask that is unreadable or leaves no hole or no
        known pixel at SIZE px (found before any filler runs, `runner.read_pairs`), or a filler
        that cannot fill the hole; the message names the photo.
    """
    names = list(names) if names is not None else [Path(path).name for path in paths]
    pairs = read_pairs(
        list(zip(names, paths)), mask_paths, hole=hole, seed=seed, shape=lambda _: (SIZE, SIZE),
        first_index=first_index, at=f" at {SIZE} px",
    )  # fmt: skip
    rows, grid = [], []
    for name, truth, mask in pairs:
        known = np.where(mask > 0, 0.0, truth).astype(np.float32)
        filled = {}
        for method, fn in fns.items():
            start = time.perf_counter()
            try:
                filled_hole = np.clip(fn(known, mask, truth), 0, 1)
            except ValueError as error:  # e.g. a paper-mode network and an irregular hole
                raise InputError(f"{method} on {name}: {error}") from error
            out = np.where(mask > 0, filled_hole, truth).astype(np.float32)
            seconds = time.perf_counter() - start
            filled[method] = out
            rows.append({"image": name, "method": method, "seconds": seconds,
                         **metrics.hole_metrics(out, truth, mask)})  # fmt: skip
        if len(grid) < grid_rows:
            grid.append(comparison_grid(truth, mask, filled))
    return rows, viz.stack(grid)


def render_report(
    rows: Sequence[Mapping],
    methods: Sequence[str],
    *,
    paths: Sequence[Path],
    images,
    holes: str,
    described: Sequence[str],
    oracles: bool,
    command: str,
) -> str:
    """The Markdown report: means of hole L1 / PSNR / SSIM per filler, and on how many
    photos each beats the harmonic fill's hole PSNR.

    Args:
      rows: `score`'s rows; methods: the fillers in table order ("harmonic" among them).
      paths: the photos scored (the first and last named as in the rows); images: where
        they came from; holes: the holes, in words.
      described: a line per network; oracles: whether the upper bounds were scored.
      command: the command line.
    """
    lines = [
        f"# Fills at {SIZE} px",
        "",
        (
            f"- photos: {len(paths)} from {images} ({rows[0]['image']} to {rows[-1]['image']}, "
            f"downsized to {SIZE}x{SIZE}); hole: {holes}"
        ),
        f"- networks: {'; '.join(described) or 'none'}",
        *(
            ["- oracle_swap and oracle_decode use the true photo: upper bounds, not methods"]
            if oracles
            else []
        ),
        f"- machine: {report.machine()}",
        f"- command: `{command}`",
        "",
        "| method | L1 hole | PSNR hole (dB) | SSIM hole | photos with higher PSNR than harmonic |",
        "|---|---|---|---|---|",
    ]
    baseline = {r["image"]: r["psnr_hole"] for r in rows if r["method"] == "harmonic"}
    for name in methods:
        mine = [r for r in rows if r["method"] == name]
        means = [float(np.mean([r[k] for r in mine])) for k in COLUMNS]
        better = sum(r["psnr_hole"] > baseline[r["image"]] for r in mine)
        wins = "" if name == "harmonic" else f"{better} of {len(mine)}"
        lines.append(f"| {name} | {means[0]:.4f} | {means[1]:.2f} | {means[2]:.4f} | {wins} |")
    return "\n".join(lines) + "\n"


OUTPUT_FILES = ("metrics.csv", "grid.png", "report.md")  # what `write_results` writes


def write_results(out: Path, rows: Sequence[Mapping], grid: np.ndarray, text: str) -> None:
    """out/metrics.csv (the rows' own columns), out/grid.png and out/report.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report.write_csv(out / "metrics.csv", rows, columns=list(rows[0]))
    npio.save_image(out / "grid.png", grid)
    npfiles.atomic_write(out / "report.md", text)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContentRun:
    """Content networks scored against the harmonic fill (`python -m eval.content`)."""

    # Folder of photos.
    images: Path
    # A content network (.npz or training workdir) to score, as NAME=PATH; repeatable.
    net: tyro.conf.UseAppendAction[tuple[str, ...]] = ()
    # Also score the fast path (translate) and its two upper bounds.
    fast_path: bool = False
    # Feature2Image for --fast-path (default: the shipped one).
    feature2image: str | None = None
    # With --fast-path, also score translate with this Image2Feature.
    image2feature: str | None = None
    # Generated hole: center[:FRACTION] (default center:0.5), boxes or strokes.
    hole: str | None = None
    # Folder (or quoted glob pattern) of hole masks, paired with the photos in sorted order,
    # or one mask file for every photo.
    masks: Path | None = None
    # Leave out the first N photos.
    skip: int = 0
    # Use only N photos (after --skip).
    limit: int | None = None
    # Seed of random holes.
    seed: int = 0
    # Photos shown in grid.png.
    grid_rows: int = 6
    # Output folder.
    out: Path

    def __post_init__(self):
        checks.check_not_both(masks=self.masks, hole=self.hole)
        checks.check_hole_kind(self.hole)
        checks.check_at_least(0, skip=self.skip, seed=self.seed)
        checks.check_at_least(1, limit=self.limit, grid_rows=self.grid_rows)
        for spec in self.net:
            if "=" not in spec:
                raise ValueError(f"--net: takes NAME=PATH, got {spec!r}")
        if (self.feature2image or self.image2feature) and not self.fast_path:
            raise ValueError("--feature2image and --image2feature go with --fast-path")


def run_content(run: ContentRun, *, command: str) -> str:
    """Load the networks, check the photos, masks and --out, score, write report.md,
    metrics.csv and grid.png in `run.out`; returns the report.

    Raises:
      InputError: a bad network, photo, mask or --out, or none of the photos left.
    """
    with as_input_error():
        methods, described = fillers(run.net)
        if run.fast_path:
            more, more_described = fast_path_fillers(run.feature2image, run.image2feature)
            methods, described = {**methods, **more}, described + more_described
    writes = [run.out / name for name in OUTPUT_FILES]
    found = checks.list_photos(run.images, skip=writes)
    mask_paths = checks.list_masks(run.masks, skip=writes) if run.masks else None
    chosen = found[run.skip :][: run.limit]
    if not chosen:
        raise InputError(f"no photos to score: {len(found)} in {run.images}, --skip {run.skip}")
    names, paths = [name for name, _ in chosen], [path for _, path in chosen]
    checks.check_output_folder(run.out, writes)
    inputs = {path: "the photo" for path in paths} | {m: "the mask" for m in mask_paths or ()}
    checks.check_not_inputs(writes, inputs, given=run.out)
    rows, grid = score(
        paths, methods, names=names, mask_paths=mask_paths, hole=run.hole, seed=run.seed,
        first_index=run.skip, grid_rows=run.grid_rows,
    )  # fmt: skip
    holes = (
        f"masks from {run.masks} (paired in sorted order, resized to {SIZE}x{SIZE})"
        if run.masks
        else run.hole or DEFAULT_HOLE
    )
    text = render_report(
        rows, list(methods), paths=paths, images=run.images, holes=holes, described=described,
        oracles=run.fast_path, command=command,
    )  # fmt: skip
    write_results(run.out, rows, grid, text)
    return text
