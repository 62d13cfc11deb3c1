"""The training loop shared by the adversarially trained networks.

`train.content`, `train.feature2image` and `train.image2feature` differ only in a `Trainer`:
the task (`npsynth.steps.GanTask`: networks and losses), the config class, how the
generator is exported, and what is plotted. This module runs any of them: config.json,
Orbax checkpoints (keep the newest N, save on Ctrl-C/SIGTERM, exact `--resume`), a progress
bar, metrics.jsonl, log.txt, sample grids and loss curves, data parallelism over all local
devices, `--distributed`, export, and the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

from npsynth import io, viz
from npsynth.config import DataConfig, TrainConfig
from train import common

# Differences from the saved config that a resume may carry without a warning.
RESUMABLE_CHANGES = (
    "train.steps", "train.save_every", "train.keep", "train.log_every", "train.sample_every",
    "train.distributed", "data.workers",
)  # fmt: skip
# Examples drawn in each sample grid.
SAMPLE_ROWS = 4


@dataclasses.dataclass(frozen=True)
class Trainer:
    """What one training entry point trains.

    The config class must have `model`, `data` (`DataConfig`) and `train` (`TrainConfig`)
    fields, may have more dataclass sections (`sections`), a `mask_kind` property (the
    training holes) and a `tiny()` preset; `model.image_size` is the crop side.
    """

    prog: str  # "python -m train.content"
    description: str
    config_cls: type
    sections: tuple[tuple[str, str, type], ...]  # (config field, flag group, dataclass)
    make_task: Callable  # config -> GanTask (built once per run)
    save: Callable  # (generator, path, config, step, dtype) -> Path
    export_name: str  # file the generator is exported to in the workdir
    plotted: tuple[str, ...]  # metrics drawn in loss.png
    shown: tuple[tuple[str, str], ...]  # (progress-bar label, metric)


def run(
    trainer: Trainer,
    cfg,
    workdir,
    *,
    resume: bool = False,
    stop: common.StopFlag | None = None,
    progress: bool = True,
) -> dict:
    """Train (or continue training) in `workdir`.

    Args:
      trainer: what is trained.
      cfg: the configuration; saved as workdir/config.json.
      workdir: folder for checkpoints, metrics, samples and the exported network.
      resume: continue from the newest checkpoint (required when there is one).
      stop: a `common.StopFlag`; when set (Ctrl-C, SIGTERM or a test), the run saves a
        checkpoint after the current step and returns.
      progress: show a progress bar.

    Returns:
      {"step": last step done, "metrics": the last logged metrics, "stopped": bool,
       "export": path of the exported network or None}.
    """
    import jax

    from npsynth import steps as steps_lib
    from npsynth.train_data import TrainBatches, open_source

    workdir = Path(workdir)
    mesh = common.setup_devices(distributed=cfg.train.distributed)
    replicated, split = common.shardings(mesh)
    if cfg.train.batch_size % jax.device_count():
        raise ValueError(
            f"--batch-size {cfg.train.batch_size} must be divisible by the number of devices "
            f"({jax.device_count()})"
        )
    main_process = common.is_main_process()
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoints = common.Checkpoints(workdir, keep=cfg.train.keep)
    try:
        start = _check_workdir(cfg, workdir, checkpoints, resume)
        if main_process:
            common.write_json(workdir / common.CONFIG_FILE, common.config_to_dict(cfg))

        source = open_source(
            tfds=cfg.data.tfds, images=cfg.data.images, split=cfg.data.split,
            data_dir=cfg.data.data_dir,
        )  # fmt: skip
        batches = TrainBatches(
            source,
            batch_size=cfg.train.batch_size,
            image_size=cfg.model.image_size,
            mask_kind=cfg.mask_kind,
            seed=cfg.train.seed,
            scale=(cfg.data.min_scale, cfg.data.max_scale),
            process_index=jax.process_index(),
            process_count=jax.process_count(),
            workers=cfg.data.workers,
        )

        task = trainer.make_task(cfg)
        adam = {"lr": cfg.train.lr, "b1": cfg.train.b1, "b2": cfg.train.b2}
        if start:
            abstract = steps_lib.abstract_state(task, **adam)
            state = checkpoints.restore(start, common.abstract_with_sharding(abstract, replicated))
        else:
            init = steps_lib.make_init(task, **adam, seed=cfg.train.seed, sharding=replicated)
            state = init()
        d_step, g_step = steps_lib.make_steps(
            task, **adam, lam=cfg.train.lam, seed=cfg.train.seed,
            state_sharding=replicated, batch_sharding=split,
        )  # fmt: skip
        sample_fn = steps_lib.make_sample_fn(task, state_sharding=replicated, batch_sharding=split)
        prepare = steps_lib.make_prepare(task, batch_sharding=split)
        graphs = steps_lib.graphs_for(task)

        reporter = common.Reporter(
            workdir, total=cfg.train.steps, initial=min(start, cfg.train.steps), progress=progress
        )
        reporter.truncate_metrics(start)
        reporter.note(
            f"{'resuming at step ' + str(start) if start else 'starting'}: "
            f"{jax.device_count()} device(s) {[str(d) for d in jax.devices()][:4]}, "
            f"{jax.process_count()} process(es); data {source.name} ({len(source)} photos); "
            f"holes {cfg.mask_kind}; config {common.config_to_dict(cfg)}"
        )
        stop = stop or common.StopFlag()
        try:
            with stop.installed():
                return _loop(
                    trainer, cfg, workdir, state, batches, start, (d_step, g_step), sample_fn,
                    prepare, split, checkpoints, reporter, stop, graphs,
                )  # fmt: skip
        finally:
            reporter.close()
    finally:
        checkpoints.close()


def _check_workdir(cfg, workdir: Path, checkpoints: common.Checkpoints, resume: bool) -> int:
    """The step to start at; raises when the workdir holds an incompatible or unasked-for run."""
    latest = checkpoints.latest_step()
    if latest is None:
        return 0
    if not resume:
        raise FileExistsError(
            f"{workdir} already holds checkpoints up to step {latest}; pass --resume to continue "
            "that run, or choose a new --workdir"
        )
    saved = common.read_config(workdir)
    if saved is None:
        raise common.ConfigMismatchError(
            f"{workdir} has checkpoints but no {common.CONFIG_FILE}, so they cannot be checked "
            "against the current settings; train into a new --workdir"
        )
    changes = common.compare_configs(
        saved, common.config_to_dict(cfg), must_match=("model",), ignore=RESUMABLE_CHANGES
    )
    if changes and common.is_main_process():
        print(
            "warning: resuming with changed settings, so the run will not repeat an "
            f"uninterrupted one: {'; '.join(changes)}",
            file=sys.stderr,
        )
    return latest


def _loop(
    trainer, cfg, workdir, state, batches, start, step_fns, sample_fn, prepare, split,
    checkpoints, reporter, stop, graphs,
) -> dict:  # fmt: skip
    import jax

    step, stopped, history, logged = start, False, [], {}
    rate = common.RateMeter(start)
    data_wait = 0.0
    iterator = batches.iterate(start)
    try:
        while step < cfg.train.steps:
            waited = time.perf_counter()
            batch_step, host_batch = next(iterator)
            data_wait += time.perf_counter() - waited
            assert batch_step == step
            device_batch = common.global_batch(host_batch, split)
            metrics = {}
            with jax.transfer_guard("disallow"):  # Only the explicit transfers above.
                device_batch = prepare(device_batch)
                for step_fn in step_fns:
                    state, step_metrics = step_fn(state, device_batch)
                    metrics |= step_metrics
            history.append(metrics)
            step += 1
            if step == start + 1:  # Time the compilation apart from the steps/s.
                jax.block_until_ready(state["step"])
                seconds = time.perf_counter() - rate.time
                reporter.note(f"first step done in {seconds:.1f} s (compilation included)")
                rate.reset(step)
                data_wait = 0.0
            if step % cfg.train.log_every == 0 or step == cfg.train.steps:
                logged = common.mean_metrics(history)
                record = {"step": step, **logged}
                if step > rate.step:
                    record["data_wait_s"] = data_wait / (step - rate.step)
                    record["steps_per_s"] = rate.rate(step)
                reporter.metrics(record)
                history, data_wait = [], 0.0
                reporter.progress(
                    0, {label: logged[key] for label, key in trainer.shown if key in logged}
                )
            reporter.progress(1)
            if step % cfg.train.sample_every == 0:
                _write_samples(trainer, workdir, step, host_batch, sample_fn(state, device_batch))
            if step % cfg.train.save_every == 0:
                checkpoints.save(step, state)
            if stop.is_set():
                stopped = True
                reporter.note(f"stop requested: saving step {step} and exiting")
                break
    finally:
        iterator.close()
    checkpoints.save(step, state)
    exported = None
    if not stopped or step == cfg.train.steps:
        exported = _export_state(trainer, cfg, graphs, state, workdir / trainer.export_name, step)
    if common.is_main_process():
        common.plot_curves(
            common.read_metrics(workdir / common.METRICS_FILE),
            trainer.plotted,
            workdir / "loss.png",
        )
    reporter.note(
        f"{'stopped' if stopped else 'finished'} at step {step}; checkpoint in "
        f"{checkpoints.directory}" + (f"; network exported to {exported}" if exported else "")
    )
    return {"step": step, "metrics": logged, "stopped": stopped, "export": exported}


def _write_samples(trainer, workdir: Path, step: int, host_batch: dict, pictures) -> None:
    """samples/step_XXXXXXX.png: input | prediction | truth, and loss.png."""
    if not common.is_main_process():
        return
    pictures = common.to_host(pictures)
    size = host_batch["image"].shape[1]
    rows = []
    for k in range(min(SAMPLE_ROWS, host_batch["image"].shape[0])):
        image, mask = host_batch["image"][k], host_batch["mask"][k]
        columns = [
            ("input", viz.masked_input(image, mask)),
            ("prediction", pictures[k]),
            ("truth", image),
        ]
        rows.append(viz.grid(columns, height=max(size, 128)))
    io.save_image(workdir / "samples" / f"step_{step:07d}.png", viz.stack(rows))
    common.plot_curves(
        common.read_metrics(workdir / common.METRICS_FILE), trainer.plotted, workdir / "loss.png"
    )


def _export_state(trainer, cfg, graphs, state, path: Path, step: int, dtype="float16"):
    from npsynth.steps import generator_from_state

    if not common.is_main_process():
        return None
    host_state = {"generator": common.to_host(state["generator"])}
    generator = generator_from_state(graphs, host_state)
    return trainer.save(generator, path, cfg, step, dtype)


def export(trainer: Trainer, workdir, out=None, *, dtype: str = "float16") -> Path:
    """Write the generator of the newest checkpoint in `workdir` as .npz (+ .json).

    Args:
      trainer: what was trained there.
      workdir: a training workdir (with config.json and checkpoints/).
      out: the .npz to write; default workdir/<trainer.export_name>.
      dtype: "float16" (default) or "float32".

    Returns:
      the .npz path.
    """
    from npsynth import steps as steps_lib

    workdir = Path(workdir)
    saved = common.read_config(workdir)
    if saved is None:
        raise FileNotFoundError(
            f"{workdir / common.CONFIG_FILE} not found: is {workdir} a training workdir?"
        )
    cfg = common.config_from_dict(trainer.config_cls, saved)
    task = trainer.make_task(cfg)
    checkpoints = common.Checkpoints(workdir, keep=cfg.train.keep)
    try:
        step = checkpoints.latest_step()
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {checkpoints.directory}; train first")
        replicated, _ = common.shardings(common.setup_devices())
        abstract = steps_lib.abstract_state(task, lr=cfg.train.lr, b1=cfg.train.b1, b2=cfg.train.b2)
        state = checkpoints.restore(step, common.abstract_with_sharding(abstract, replicated))
    finally:
        checkpoints.close()
    graphs = steps_lib.graphs_for(task)
    path = Path(out) if out is not None else workdir / trainer.export_name
    return _export_state(trainer, cfg, graphs, state, path, step, dtype)


# ----------------------------------------------------------------------------------------------
# Command line


def parse_args(trainer: Trainer, argv=None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(prog=trainer.prog, description=trainer.description)
    parser.add_argument(
        "--workdir", type=Path, required=True, help="folder for checkpoints and logs"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument("--tiny", action="store_true", help="start from the tiny test preset")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--export", action="store_true", help="export the newest checkpoint and exit"
    )
    parser.add_argument(
        "--export-to", type=Path, help=f"export path (default WORKDIR/{trainer.export_name})"
    )
    parser.add_argument(
        "--export-dtype", default="float16", choices=("float16", "float32", "int8"),
        help="precision of the exported weights (default: float16)",
    )  # fmt: skip
    for _, title, cls in trainer.sections:
        common.add_dataclass_flags(parser, cls, title=title)
    return parser.parse_args(argv), parser


def config_from_args(trainer: Trainer, args: argparse.Namespace):
    """The preset (tiny, or the saved config when resuming, or the defaults) plus the flags."""
    saved = common.read_config(args.workdir) if args.resume else None
    if saved is not None:
        base = common.config_from_dict(trainer.config_cls, saved)
    elif args.tiny:
        base = trainer.config_cls.tiny()
    else:
        base = trainer.config_cls()
    parts = {}
    for name, _, cls in trainer.sections:
        over = common.dataclass_overrides(cls, args)
        if cls is DataConfig:
            if "images" in over and "tfds" not in over:
                over["tfds"] = None  # --images replaces a saved or default TFDS source
            if "tfds" in over and "images" not in over:
                over["images"] = None
        parts[name] = dataclasses.replace(getattr(base, name), **over)
    return trainer.config_cls(**parts)


def main(trainer: Trainer, argv=None) -> int:
    from npsynth.train_data import DatasetError

    args, parser = parse_args(trainer, argv)
    try:
        if args.export:
            path = export(trainer, args.workdir, args.export_to, dtype=args.export_dtype)
            print(
                f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}"
            )
            return 0
        try:
            cfg = config_from_args(trainer, args)
        except ValueError as error:  # Bad values or combinations, found by the config classes.
            parser.error(str(error))
        result = run(trainer, cfg, args.workdir, resume=args.resume, progress=not args.no_progress)
    except (DatasetError, common.ConfigMismatchError, FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 130 if result["stopped"] else 0


def sections(model_cls: type, *extra: tuple[str, str, type]) -> tuple[tuple[str, str, type], ...]:
    """The flag groups of a trainer: data, model, any `extra` ones, training."""
    return (("data", "data", DataConfig), ("model", "model", model_cls), *extra,
            ("train", "training", TrainConfig))  # fmt: skip
