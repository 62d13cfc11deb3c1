"""Plumbing shared by the training entry points (`train.content`, and later the
Feature2Image / Image2Feature trainers): flags from config dataclasses, config JSON,
devices and sharding, Orbax checkpoints, stop signals, metrics JSONL, progress and plots.

Only entry points use this module; `npsynth` library code never logs or writes files.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import inspect
import json
import math
import signal
import sys
import threading
import time
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "log.txt"
CHECKPOINT_DIR = "checkpoints"


class ConfigMismatchError(ValueError):
    """The saved config of a workdir does not fit the one asked for."""


# ----------------------------------------------------------------------------------------------
# Flags from kw_only dataclasses


def field_comments(cls) -> dict[str, str]:
    """The comment block right above each field of dataclass `cls` (its help text)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comments, block = {}, []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        name = stripped.split(":", 1)[0].strip()
        if ":" in stripped and name in names and name not in comments:
            comments[name] = " ".join(block)
        block = []
    return comments


def _unwrap_optional(hint):
    """(inner type, optional?) for `X | None`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _parser_for(hint, name: str):
    """A function str -> value for a field's type, or None for bool."""
    hint, optional = _unwrap_optional(hint)
    if hint is bool:
        return None
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]

        def parse_tuple(text: str):
            try:
                return tuple(item(part) for part in text.replace(" ", "").split(",") if part)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"--{name.replace('_', '-')} takes comma-separated {item.__name__}s, got {text!r}"
                ) from None

        return parse_tuple
    if hint in (int, float, str):
        if optional:
            return lambda text: None if text.lower() == "none" else hint(text)
        return hint
    raise TypeError(f"no flag parser for field {name} of type {hint}")


def add_dataclass_flags(parser: argparse.ArgumentParser, cls, *, title: str | None = None):
    """Add one `--field-name` flag per field of kw_only dataclass `cls`.

    Flags default to "not given" (argparse.SUPPRESS), so `dataclass_overrides` returns only
    what the command line set and a preset (e.g. `tiny()`) keeps the rest. Booleans get
    `--x/--no-x`, tuples take comma-separated values. The field's comment is its help.
    """
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    group = parser.add_argument_group(title or cls.__name__)
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            continue
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f"{comments.get(field.name, '')} (default: {shown})".strip().replace("%", "%%")
        convert = _parser_for(hints[field.name], field.name)
        if convert is None:
            group.add_argument(
                flag, dest=field.name, action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS, help=help_text,
            )  # fmt: skip
        else:
            group.add_argument(
                flag, dest=field.name, type=convert, default=argparse.SUPPRESS,
                metavar=field.name.upper(), help=help_text,
            )  # fmt: skip
    return group


def dataclass_overrides(cls, args: argparse.Namespace) -> dict:
    """The fields of `cls` that were given on the command line."""
    given = vars(args)
    return {f.name: given[f.name] for f in dataclasses.fields(cls) if f.name in given}


# ----------------------------------------------------------------------------------------------
# Config JSON


def config_to_dict(config) -> dict:
    """A (nested) config dataclass as JSON-ready dicts (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls, values: dict):
    """Rebuild a (nested) config dataclass from `config_to_dict` output."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigMismatchError(
            f"config has fields {sorted(unknown)} that {cls.__name__} does not know; it was "
            "written by another version of the code"
        )
    kwargs = {}
    for name, value in values.items():
        hint, _ = _unwrap_optional(hints[name])
        if dataclasses.is_dataclass(hint):
            value = config_from_dict(hint, value)
        elif typing.get_origin(hint) is tuple and value is not None:
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _flat(values: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def compare_configs(
    saved: dict, current: dict, *, must_match: Sequence[str], ignore: Iterable[str] = ()
) -> list[str]:
    """Differences between two config dicts, as "key: saved -> current" strings.

    Raises:
      ConfigMismatchError: a key under one of the `must_match` prefixes (e.g. "model", the
        architecture a checkpoint can only be restored into) differs.

    Returns:
      the other differences, minus keys under `ignore` prefixes (e.g. "train.steps").
    """
    old, new = _flat(saved), _flat(current)
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k, "<missing>") != new.get(k, "<missing>")]

    def under(key, prefixes):
        return any(key == p or key.startswith(p + ".") for p in prefixes)

    fatal = [k for k in changed if under(k, must_match)]
    if fatal:
        lines = "; ".join(
            f"{k}: {old.get(k, '<missing>')} -> {new.get(k, '<missing>')}" for k in fatal
        )
        raise ConfigMismatchError(
            f"the checkpoints were written with another architecture ({lines}). Resume with "
            "the saved settings (see config.json in the workdir), or train into a new --workdir."
        )
    return [
        f"{k}: {old.get(k, '<missing>')} -> {new.get(k, '<missing>')}"
        for k in changed
        if not under(k, ignore)
    ]


def read_config(workdir) -> dict | None:
    path = Path(workdir) / CONFIG_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


def write_json(path, values) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(values, indent=2) + "\n")
    temporary.replace(path)


# ----------------------------------------------------------------------------------------------
# Devices and sharding


def setup_devices(*, distributed: bool = False):
    """Initialise JAX (multi-host when `distributed`) and return a 1-D mesh over all devices.

    The mesh axis is "data": batches are split over it, parameters are replicated.
    """
    import jax

    if distributed:
        jax.distributed.initialize()
    from jax.sharding import Mesh

    return Mesh(np.asarray(jax.devices()), ("data",))


def shardings(mesh):
    """(replicated, batch-split) `NamedSharding`s of `mesh`."""
    from jax.sharding import NamedSharding, PartitionSpec

    return NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("data"))


def global_batch(batch: dict, sharding) -> dict:
    """This process's NumPy batch -> global jax.Arrays split over the mesh (explicit transfer)."""
    import jax

    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


def abstract_with_sharding(abstract, sharding):
    """ShapeDtypeStructs of `abstract` placed on `sharding` (a restore target for Orbax)."""
    import jax

    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract
    )


def to_host(tree):
    """NumPy copies of replicated arrays, on any host (reads this process's first replica)."""
    import jax

    def fetch(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            x = x.addressable_data(0)
        return np.asarray(jax.device_get(x))

    return jax.tree.map(fetch, tree)


def is_main_process() -> bool:
    import jax

    return jax.process_index() == 0


# ----------------------------------------------------------------------------------------------
# Checkpoints


class Checkpoints:
    """Orbax checkpoints of a training state under `workdir/checkpoints/<step>`.

    Keeps the newest `keep`; saves run in the background (the device-to-host copy is done
    before `save` returns, so the caller may donate the state right after); `close` waits
    for them.
    """

    def __init__(self, workdir, *, keep: int):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = (Path(workdir) / CHECKPOINT_DIR).absolute()
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
        )
        self.last_saved: int | None = self.manager.latest_step()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state) -> None:
        if step == self.last_saved:
            return
        self.manager.save(step, args=self._ocp.args.StandardSave(state), force=True)
        self.last_saved = step

    def restore(self, step: int, abstract_state):
        """The state saved at `step`, restored into the structure/shardings of `abstract_state`."""
        try:
            return self.manager.restore(step, args=self._ocp.args.StandardRestore(abstract_state))
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigMismatchError(
                f"checkpoint {self.directory / str(step)} does not fit the current model: "
                f"{error}. Resume with the settings it was trained with (config.json), or "
                "train into a new --workdir."
            ) from error

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


# ----------------------------------------------------------------------------------------------
# Stopping on Ctrl-C / SIGTERM at a step boundary


class StopFlag:
    """Set by SIGINT/SIGTERM while installed; the loop checks it between steps, saves, exits.

    A second Ctrl-C raises KeyboardInterrupt at once. Tests can call `request()`.
    """

    def __init__(self):
        self._event = threading.Event()
        self._previous = {}

    def request(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def _handle(self, signum, frame):
        if self._event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self._event.set()

    @contextlib.contextmanager
    def installed(self):
        """Catch SIGINT and SIGTERM in this block (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous.clear()


# ----------------------------------------------------------------------------------------------
# Notes, metrics, progress


class Reporter:
    """Notes (stdout and log.txt), metrics (metrics.jsonl) and a progress bar; quiet on
    processes other than 0.

    Args:
      workdir: where log.txt and metrics.jsonl go.
      total, initial: steps for the progress bar.
      progress: show the bar.
    """

    def __init__(self, workdir, *, total: int, initial: int = 0, progress: bool = True):
        from tqdm.auto import tqdm

        self.enabled = is_main_process()
        self.workdir = Path(workdir)
        self.metrics_path = self.workdir / METRICS_FILE
        self.bar = tqdm(
            total=total, initial=initial, unit="step", dynamic_ncols=True,
            disable=not (progress and self.enabled), file=sys.stderr,
        )  # fmt: skip

    def note(self, message: str) -> None:
        if not self.enabled:
            return
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self.bar.write(message)
        with open(self.workdir / LOG_FILE, "a") as stream:
            stream.write(f"{stamp} {message}\n")

    def truncate_metrics(self, after_step: int) -> None:
        """Drop metrics of steps > `after_step` (logged after the checkpoint a run resumes)."""
        if not self.enabled or not self.metrics_path.exists():
            return
        kept = [r for r in read_metrics(self.metrics_path) if r.get("step", 0) <= after_step]
        temporary = self.metrics_path.with_name(f".{METRICS_FILE}.tmp")
        temporary.write_text("".join(json.dumps(r) + "\n" for r in kept))
        temporary.replace(self.metrics_path)

    def metrics(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.metrics_path, "a") as stream:
            stream.write(json.dumps(record) + "\n")

    def progress(self, steps: int, postfix: dict | None = None) -> None:
        self.bar.update(steps)
        if postfix:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)

    def close(self) -> None:
        self.bar.close()


def read_metrics(path) -> list[dict]:
    """The records of a metrics.jsonl (a half-written last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def mean_metrics(history: list[dict]) -> dict[str, float]:
    """Per-key means of a list of metric dicts of scalars (fetched from devices at once)."""
    import jax

    history = jax.device_get(history)
    keys = history[0].keys()
    return {k: float(np.mean([float(h[k]) for h in history])) for k in keys}


class RateMeter:
    """Steps per second between calls to `rate`."""

    def __init__(self, step: int):
        self.reset(step)

    def reset(self, step: int) -> None:
        self.step, self.time = step, time.perf_counter()

    def rate(self, step: int) -> float:
        now = time.perf_counter()
        value = (step - self.step) / max(now - self.time, 1e-9)
        self.step, self.time = step, now
        return value


# ----------------------------------------------------------------------------------------------
# Pictures: the loss curves (Pillow only; no matplotlib)


def plot_curves(records: list[dict], keys: Sequence[str], path, *, width: int = 640) -> None:
    """Draw one panel per metric key (value against step) and save a PNG.

    Each panel shows the logged values (light) and their running mean over about a twentieth
    of the points (dark). Keys that no record has (e.g. the adversarial terms of an L2-only
    run) get no panel once any metric has been logged.

    Args:
      records: metric dicts with "step" and the keys (missing or non-finite values skipped).
      keys: metrics to draw, top to bottom.
      path: the PNG to write.
      width: image width in pixels.
    """
    from PIL import Image, ImageDraw

    keys = [k for k in keys if any(k in r for r in records)] or list(keys)
    panel_h, margin_l, margin_r, margin_t, margin_b = 150, 70, 15, 22, 24
    canvas = Image.new("RGB", (width, panel_h * len(keys)), "white")
    draw = ImageDraw.Draw(canvas)
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
    for panel, key in enumerate(keys):
        top = panel * panel_h
        points = [
            (float(r["step"]), float(r[key]))
            for r in records
            if key in r and "step" in r and math.isfinite(float(r[key]))
        ]
        x0, x1 = margin_l, width - margin_r
        y0, y1 = top + margin_t, top + panel_h - margin_b
        draw.rectangle((x0, y0, x1, y1), outline="black")
        draw.text((x0, top + 5), key, fill="black")
        if not points:
            draw.text((x0 + 10, y0 + 10), "no data yet", fill="gray")
            continue
        steps, values = np.array(points).T
        lo_s, hi_s = steps.min(), max(steps.max(), steps.min() + 1)
        lo_v, hi_v = values.min(), values.max()
        if hi_v - lo_v < 1e-12:
            lo_v, hi_v = lo_v - 0.5 * abs(lo_v or 1), hi_v + 0.5 * abs(hi_v or 1)
        xs = x0 + (steps - lo_s) / (hi_s - lo_s) * (x1 - x0)
        ys = y1 - (values - lo_v) / (hi_v - lo_v) * (y1 - y0)
        line = list(zip(xs.tolist(), ys.tolist()))
        colour = colours[panel % len(colours)]
        if len(line) > 1:
            draw.line(line, fill=_tint(colour), width=1)
            window = max(1, len(values) // 20)
            smooth = running_mean(ys, window)
            draw.line(list(zip(xs[window - 1 :].tolist(), smooth.tolist())), fill=colour, width=2)
        else:
            draw.ellipse(
                (line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2), fill=colour
            )
        draw.text((4, y0), f"{hi_v:.4g}", fill="black")
        draw.text((4, y1 - 10), f"{lo_v:.4g}", fill="black")
        draw.text((x0, y1 + 4), f"step {int(lo_s)}", fill="black")
        label = f"step {int(steps.max())}"
        draw.text((x1 - 6 * len(label), y1 + 4), label, fill="black")
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp.png")
    canvas.save(temporary)
    temporary.replace(path)


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Means of every `window` consecutive values (len(values) - window + 1 of them)."""
    sums = np.cumsum(np.concatenate([[0.0], np.asarray(values, np.float64)]))
    return (sums[window:] - sums[:-window]) / window


def _tint(colour: str, amount: float = 0.65) -> str:
    """`colour` ("#rrggbb") mixed with white: the light line under the running mean."""
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in channels)
