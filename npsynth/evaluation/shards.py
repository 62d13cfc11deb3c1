"""Split a folder run over hosts and merge their results into one report.

Each host runs `python -m eval.inpaint --images DIR --shard K/N --out OUT_K` (or `--shard
auto`: K and N from `jax.distributed`'s process index and count), which fills every N-th
photo from the K-th on with the hole it gets in the whole run. `merge_runs` then checks that
the runs share their settings and writes one metrics.csv, report.md and settings.json, with
the outputs and grids copied beside them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from npsynth import io as npio
from npsynth.evaluation import report
from npsynth.evaluation.cli_errors import InputError, as_input_error
from npsynth.evaluation.runner import SETTINGS_FILE


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


def merge_runs(folders: Sequence[Path], out: Path, *, command: str = "") -> Path:
    """Merge the folder runs in `folders` (same settings, disjoint photos) into `out`.

    Returns:
      the merged report's path.

    Raises:
      InputError: a folder without a finished run's files, runs with other settings, or a
        photo scored by two runs.
    """
    folders, out = [Path(f) for f in folders], Path(out)
    settings, rows, seen = None, [], {}
    for folder in folders:
        with as_input_error(f"cannot merge {folder}"):
            saved = json.loads((folder / SETTINGS_FILE).read_text())
            found = report.read_csv(folder / "metrics.csv")
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
    for folder in folders:
        if folder.resolve() != out.resolve():
            for part in ("outputs", "grids"):
                if (folder / part).is_dir():
                    shutil.copytree(folder / part, out / part, dirs_exist_ok=True)
    rows.sort(key=lambda r: r["image"])
    report.write_csv(out / "metrics.csv", rows)
    npio.atomic_write(out / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
    photos = len({r["image"] for r in rows})
    header = [
        f"- command: `{command}`" if command else "- merged runs",
        f"- merged from: {', '.join(f'`{f}`' for f in folders)}",
        (
            f"- data: {photos} photo{'' if photos == 1 else 's'} from `{settings['images']}`, "
            f"holes: {settings['masks'] or settings['hole']}"
        ),
        f"- methods: {', '.join(settings['methods'])}"
        + (f"; baselines: {', '.join(settings['baselines'])}" if settings["baselines"] else ""),
        f"- configs: `{json.dumps(settings['config'])}`",
    ]
    path = npio.atomic_write(out / "report.md", report.render_report(rows, header=header))
    return path
