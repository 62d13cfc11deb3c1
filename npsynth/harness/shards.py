"""Split a folder run over hosts and merge their results into one report.

Each host runs `python -m eval.inpaint --images DIR --shard K/N --out OUT_K` (or `--shard
auto`: K and N from `jax.distributed`'s process index and count), which fills every N-th
photo from the K-th on with the hole it gets in the whole run. `merge_runs` then checks that
the runs share their settings and writes one metrics.csv, report.md and settings.json, with
the outputs and grids copied beside them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from npsynth import files as npfiles
from npsynth import folders as folders_module
from npsynth.errors import InputError
from npsynth.harness import checks, report, runner
from npsynth.harness.runner import SETTINGS_FILE

PARTS = ("outputs", "grids")  # the image folders of a run, copied into the merged one


def parse_shard(text: str) -> tuple[int, int]:
    """ "K/N" (1 <= K <= N) as (K, N); "auto": this process of a `jax.distributed` run."""
    if text == "auto":
        import jax

        return jax.process_index() + 1, jax.process_count()
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N (e.g. 2/4) or auto, got {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def check_merge_paths(folders: Sequence[Path], out: Path) -> None:
    """Refuse an `out` that is one of the merged `folders`, lies inside one, or holds one
    (copying a run's outputs into itself never ends).

    Raises:
      InputError: naming the two folders.
    """
    target = Path(os.path.realpath(out))
    for folder in folders:
        source = Path(os.path.realpath(folder))
        if target == source or target.is_relative_to(source) or source.is_relative_to(target):
            where = (
                "is" if target == source
                else "lies inside" if target.is_relative_to(source) else "holds"
            )  # fmt: skip
            raise InputError(
                f"--out {str(out)!r} {where} the merged run {str(folder)!r}; merge into a "
                "folder beside the runs"
            )


def merge_runs(folders: Sequence[Path], out: Path, *, command: str = "") -> Path:
    """Merge the folder runs in `folders` (same settings, disjoint photos) into `out`.

    Everything is read and checked before anything is written; `out` must not be, lie
    inside or hold one of `folders`, and is written as a run folder (`checks.check_run_folder`,
    its lock held while merging).

    Returns:
      the merged report's path.

    Raises:
      InputError: a folder without a finished run's files (or with damaged ones), runs with
        other settings, a photo scored by two runs, or a bad `out`.
    """
    folders, out = [Path(f) for f in folders], Path(out)
    check_merge_paths(folders, out)
    settings, rows, seen = None, [], {}
    for folder in folders:
        context = f"cannot merge {folder}"
        if not folder.is_dir():
            there = os.path.lexists(folder)
            raise InputError(
                f"{context}: "
                + ("it is not a folder; give a run folder" if there else "no such folder")
            )
        saved = runner.run_folder(folder).read_settings(context)
        found = runner.run_folder(folder).read_rows(context)
        if settings is not None and saved != settings:
            changed = sorted(k for k in saved.keys() | settings.keys()
                             if saved.get(k) != settings.get(k))  # fmt: skip
            raise InputError(
                f"cannot merge {folder}: its settings differ from {folders[0]} "
                f"({', '.join(changed)})"
            )
        settings = saved
        for row in found:
            key = (row["image"], row["method"])
            if key in seen:
                raise InputError(
                    f"cannot merge: photo {row['image']!r} ({row['method']}) is in both "
                    f"{seen[key]} and {folder}"
                )
            seen[key] = folder
        rows += found
    writes = [out / name for name in (SETTINGS_FILE, "metrics.csv", "report.md", *PARTS)]
    checks.check_output_folder(out, writes)
    checks.check_run_folder(out, writes)
    with folders_module.claimed(out, checks.RUN_FOLDER, flag="--out"):
        runner.clear_outputs(out)  # the merged runs' images replace those of an earlier run
        for folder in folders:
            for part in PARTS:
                if (folder / part).is_dir():
                    shutil.copytree(folder / part, out / part, dirs_exist_ok=True)
        rows.sort(key=lambda r: r["image"])
        report.write_csv(out / "metrics.csv", rows)
        runner.run_folder(out).write_settings(settings)
        photos = len({r["image"] for r in rows})
        header = [
            f"- command: `{command}`" if command else "- merged runs",
            f"- merged from: {', '.join(f'`{f}`' for f in folders)}",
            (
                f"- data: {photos} photo{'' if photos == 1 else 's'} from "
                f"`{settings['images']}`, holes: {settings['masks'] or settings['hole']}"
            ),
            f"- methods: {', '.join(settings['methods'])}"
            + (f"; baselines: {', '.join(settings['baselines'])}" if settings["baselines"] else ""),
            f"- configs: `{json.dumps(settings['config'])}`",
        ]
        return npfiles.atomic_write(out / "report.md", report.render_report(rows, header=header))
