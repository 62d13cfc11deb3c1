"""The training loop shared by the adversarially trained networks, and their export.

`run(trainer, config, workdir)` trains any `npsynth.training.trainers.Trainer`: it writes
config.json, keeps Orbax checkpoints (the newest N, a save on Ctrl-C/SIGTERM, an exact
`resume`), logs metrics.jsonl and log.txt, draws sample grids and the loss curves, runs data
parallel over all local devices (several hosts with `train.distributed`), and exports the
generator at the end. `export(trainer, workdir)` writes the newest checkpoint's generator.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from pathlib import Path

import jax

from npsynth import folders, io, viz
from npsynth.export import check_export_path
from npsynth.training import devices, steps
from npsynth.training import workdir as files
from npsynth.training.checkpoints import Checkpoints
from npsynth.training.data import TrainBatches, open_source
from npsynth.training.report import RateMeter, Reporter, mean_metrics, plot_curves, read_metrics
from npsynth.training.trainers import Trainer

# Examples drawn in each sample grid.
SAMPLE_ROWS = 4


class StopFlag:
    """Set by SIGINT/SIGTERM while installed; the loop checks it between steps, saves, exits.

    A second Ctrl-C raises KeyboardInterrupt at once. Tests can call `request()`.
    """

    def __init__(self):
        self.event = threading.Event()
        self.previous = {}

    def request(self) -> None:
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def handle(self, signum, frame) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.event.set()

    @contextlib.contextmanager
    def installed(self):
        """Catch SIGINT and SIGTERM in this block (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self.handle)
        try:
            yield self
        finally:
            for signum, handler in self.previous.items():
                signal.signal(signum, handler)
            self.previous.clear()


def adam_settings(cfg) -> dict:
    """The Adam settings of a config's `train` section, as `steps` functions take them."""
    return {"lr": cfg.train.lr, "b1": cfg.train.b1, "b2": cfg.train.b2}


def run(
    trainer: Trainer,
    cfg,
    workdir,
    *,
    resume: bool = False,
    stop: StopFlag | None = None,
    progress: bool = True,
) -> dict:
    """Train (or continue training) in `workdir`.

    Args:
      trainer: what is trained.
      cfg: the configuration (`trainer.config_cls`); saved as workdir/config.json.
      workdir: folder for checkpoints, metrics, samples and the exported network.
      resume: continue from the newest checkpoint (required when there is one).
      stop: a `StopFlag`; when set (Ctrl-C, SIGTERM or a test), the run saves a checkpoint
        after the current step and returns.
      progress: show a progress bar.

    Returns:
      {"step": last step done, "metrics": the last logged metrics, "stopped": bool,
       "export": path of the exported network or None}.

    A refused run writes nothing: the workdir, the photos, the checkpoints and the one to
    resume from are all checked first. A resumed run whose newest checkpoints cannot be
    restored (damaged) resumes from the newest that can, with a note, and moves the others
    to WORKDIR/unreadable-checkpoints/ (kept, out of the way of its own saves).

    Raises:
      ForeignWorkdirError: `workdir` holds files npsynth did not write
        (`workdir.check_workdir_owned`).
      FolderInUseError: another run is training in `workdir` (`npsynth.folders`).
      FileExistsError: there are checkpoints and `resume` is False.
      ConfigMismatchError: another architecture, or no checkpoint can be restored.
      DatasetError: no usable photos.
    """
    workdir = Path(workdir)
    files.check_workdir_owned(workdir)
    mesh = devices.setup_devices(distributed=cfg.train.distributed)
    replicated, split = devices.shardings(mesh)
    if cfg.train.batch_size % jax.device_count():
        raise ValueError(
            f"--batch-size {cfg.train.batch_size} must be divisible by the number of devices "
            f"({jax.device_count()})"
        )
    main_process = devices.is_main_process()
    # Everything that can refuse the run comes before the first write: the photos, the
    # checkpoints (and the config they were saved with), the one to resume from.
    source = open_source(
        tfds=cfg.data.tfds, images=cfg.data.images, split=cfg.data.split,
        data_dir=cfg.data.data_dir,
    )  # fmt: skip
    task = trainer.make_task(cfg)
    adam = adam_settings(cfg)
    state, unreadable = None, []
    with Checkpoints(workdir, keep=cfg.train.keep, create=False) as existing:
        start = files.start_step(
            cfg, workdir, existing.latest_step(), resume=resume, warn=main_process
        )
        if start:
            abstract = steps.abstract_state(task, **adam)
            start, state, unreadable = existing.restore_newest(
                devices.abstract_with_sharding(abstract, replicated)
            )
    held = (
        folders.claimed(workdir, files.WORKDIR_KIND, flag="--workdir")
        if main_process
        else contextlib.nullcontext()
    )
    with held:
        set_aside = [files.set_aside(workdir, step) for step, _ in unreadable if main_process]
        if main_process:
            files.write_config(workdir, cfg)
        with Checkpoints(workdir, keep=cfg.train.keep) as checkpoints:
            if state is None:
                state = steps.make_init(task, **adam, seed=cfg.train.seed, sharding=replicated)()
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
            loop = Loop(
                trainer, cfg, workdir, checkpoints,
                step_fns=steps.make_steps(
                    task, **adam, lam=cfg.train.lam, seed=cfg.train.seed,
                    state_sharding=replicated, batch_sharding=split,
                ),
                sample_fn=steps.make_sample_fn(
                    task, state_sharding=replicated, batch_sharding=split
                ),
                prepare=steps.make_prepare(task, batch_sharding=split),
                graphs=steps.graphs_for(task),
                split=split,
            )  # fmt: skip
            reporter = Reporter(
                workdir, total=cfg.train.steps, initial=min(start, cfg.train.steps),
                progress=progress,
            )  # fmt: skip
            try:
                reporter.truncate_metrics(start)
                for (step, reason), path in zip(unreadable, set_aside):
                    reporter.note(
                        f"note: checkpoint {step} cannot be restored ({reason}); moved to "
                        f"{path}, resuming from step {start}, the newest readable one"
                    )
                reporter.note(
                    f"{'resuming at step ' + str(start) if start else 'starting'}: "
                    f"{jax.device_count()} device(s) {[str(d) for d in jax.devices()][:4]}, "
                    f"{jax.process_count()} process(es); data {source.name} ({len(source)} "
                    f"photos); holes {cfg.mask_kind}; config {files.config_to_dict(cfg)}"
                )
                stop = stop or StopFlag()
                with stop.installed():
                    return loop.train(state, batches, start, reporter, stop)
            finally:
                reporter.close()


class Loop:
    """The steps of one run and what it writes between them (see `run`)."""

    def __init__(
        self, trainer, cfg, workdir, checkpoints, *, step_fns, sample_fn, prepare, graphs, split
    ):
        self.trainer, self.cfg, self.workdir, self.checkpoints = trainer, cfg, workdir, checkpoints
        self.step_fns, self.sample_fn, self.prepare = step_fns, sample_fn, prepare
        self.graphs, self.split = graphs, split

    def train(self, state, batches, start: int, reporter: Reporter, stop: StopFlag) -> dict:
        cfg, checkpoints = self.cfg, self.checkpoints
        step, stopped, history, logged = start, False, [], {}
        rate = RateMeter(start)
        data_wait = 0.0
        iterator = batches.iterate(start)
        try:
            while step < cfg.train.steps:
                waited = time.perf_counter()
                batch_step, host_batch = next(iterator)
                data_wait += time.perf_counter() - waited
                assert batch_step == step
                device_batch = devices.global_batch(host_batch, self.split)
                metrics = {}
                with jax.transfer_guard("disallow"):  # Only the explicit transfers above.
                    device_batch = self.prepare(device_batch)
                    for step_fn in self.step_fns:
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
                    logged = mean_metrics(history)
                    record = {"step": step, **logged}
                    if step > rate.step:
                        record["data_wait_s"] = data_wait / (step - rate.step)
                        record["steps_per_s"] = rate.rate(step)
                    reporter.metrics(record)
                    history, data_wait = [], 0.0
                    shown = {label: logged[k] for label, k in self.trainer.shown if k in logged}
                    reporter.progress(0, shown)
                reporter.progress(1)
                if step % cfg.train.sample_every == 0:
                    self.write_samples(step, host_batch, self.sample_fn(state, device_batch))
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
            path = self.workdir / self.trainer.export_name
            exported = export_state(self.trainer, cfg, self.graphs, state, path, step)
        if devices.is_main_process():
            self.plot()
        reporter.note(
            f"{'stopped' if stopped else 'finished'} at step {step}; checkpoint in "
            f"{checkpoints.directory}" + (f"; network exported to {exported}" if exported else "")
        )
        return {"step": step, "metrics": logged, "stopped": stopped, "export": exported}

    def plot(self) -> None:
        records = read_metrics(self.workdir / files.METRICS_FILE)
        plot_curves(records, self.trainer.plotted, self.workdir / files.LOSS_PLOT)

    def write_samples(self, step: int, host_batch: dict, pictures) -> None:
        """samples/step_XXXXXXX.png: input | prediction | truth, and loss.png."""
        if not devices.is_main_process():
            return
        pictures = devices.to_host(pictures)
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
        io.save_image(self.workdir / files.SAMPLES_DIR / f"step_{step:07d}.png", viz.stack(rows))
        self.plot()


def export_state(trainer: Trainer, cfg, graphs, state, path: Path, step: int, dtype="float16"):
    """Write the generator of a training state with `trainer.save` (on process 0 only)."""
    if not devices.is_main_process():
        return None
    host_state = {"generator": devices.to_host(state["generator"])}
    generator = steps.generator_from_state(graphs, host_state)
    return trainer.save(generator, path, cfg, step, dtype)


def restore_state(trainer: Trainer, workdir, step: int | None = None) -> tuple:
    """(config, step, training state) of the checkpoint at `step` (default: the newest) of a
    workdir, on this process's devices (replicated).

    Without `step`, a newer checkpoint that cannot be restored (damaged) is passed over
    with a note on stderr.

    Raises:
      FileNotFoundError: `workdir` has no config.json or no checkpoint.
      ForeignWorkdirError: `workdir` is not npsynth's (`workdir.check_workdir_owned`).
      ConfigMismatchError: no checkpoint can be restored.
    """
    workdir = Path(workdir)
    files.check_workdir_owned(workdir)
    saved = files.read_config(workdir)
    if saved is None:
        raise FileNotFoundError(
            f"{workdir / files.CONFIG_FILE} not found: is {workdir} a training workdir?"
        )
    cfg = files.config_from_dict(trainer.config_cls, saved)
    task = trainer.make_task(cfg)
    with Checkpoints(workdir, keep=cfg.train.keep, create=False) as checkpoints:
        if checkpoints.latest_step() is None:
            raise FileNotFoundError(f"no checkpoint in {checkpoints.directory}; train first")
        replicated, _ = devices.shardings(devices.setup_devices())
        abstract = steps.abstract_state(task, **adam_settings(cfg))
        abstract = devices.abstract_with_sharding(abstract, replicated)
        if step is not None:
            return cfg, step, checkpoints.restore(step, abstract)
        step, state, unreadable = checkpoints.restore_newest(abstract)
    for skipped, reason in unreadable:
        print(
            f"note: checkpoint {skipped} cannot be restored ({reason}); using step {step}, "
            "the newest readable one",
            file=sys.stderr,
        )
    return cfg, step, state


def export(trainer: Trainer, workdir, out=None, *, dtype: str = "float16") -> Path:
    """Write the generator of the newest checkpoint in `workdir` as .npz (+ .json).

    Args:
      trainer: what was trained there.
      workdir: a training workdir (with config.json and checkpoints/).
      out: the .npz to write; default workdir/<trainer.export_name>.
      dtype: "float16" (default), "float32" or "int8" (`npsynth.export.save_network`).

    Returns:
      the .npz path.
    """
    path = Path(out) if out is not None else Path(workdir) / trainer.export_name
    check_export_path(path)  # before the checkpoint is read
    cfg, step, state = restore_state(trainer, workdir)
    graphs = steps.graphs_for(trainer.make_task(cfg))
    return export_state(trainer, cfg, graphs, state, path, step, dtype)
