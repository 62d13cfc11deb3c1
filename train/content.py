"""Train the content network (Yang et al. 2017, Sec. 3.1) adversarially, resumably.

  python -m train.content --tfds imagenet --workdir runs/content          # ImageNet (TFDS)
  python -m train.content --images ../shared/data/train --workdir runs/c  # a folder of photos
  python -m train.content --workdir runs/c --resume                       # continue a run
  python -m train.content --workdir runs/c --export                       # weights -> .npz
  python -m train.content --tiny --images DIR --workdir /tmp/t            # seconds-long smoke run

Loss: lam * L2(hole) + (1 - lam) * adversarial (lam = 0.999), Adam(2e-4, b1 = 0.5); one
discriminator and one generator update per step, data parallel over all local devices
(`--distributed` for several hosts). ImageNet must be downloaded by hand first: TFDS needs
ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in ~/tensorflow_datasets/downloads/manual/
(or <--data-dir>/downloads/manual/); the first run then prepares it (once, hours).

The workdir gets: config.json, checkpoints/<step>/ (the newest --keep), metrics.jsonl,
log.txt, samples/step_*.png (input | prediction | truth), loss.png, and at the end
content_net.npz + content_net.json (the generator in float16, for `npsynth.load_content_net`).
Ctrl-C (or SIGTERM) saves a checkpoint at the end of the current step and exits; `--resume`
then continues with the same batches and the same losses as an uninterrupted run.

Runtime: the defaults (Context Encoder widths, 128 px, batch 64, 200k steps) are a GPU job.
On CPU, training is only good for smoke runs: about 0.1 steps/s at batch 16 on two busy
cores, with the default widths and with `--channels 64,64,128,256,256 --bottleneck 768`
(a 20 MB float16 export) alike; `--tiny` runs about 40 steps/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from npsynth import data, viz
from npsynth.config import ContentNetConfig, ContentTrainingConfig, DataConfig, TrainConfig
from train import common

# Differences from the saved config that a resume may carry without a warning.
RESUMABLE_CHANGES = (
    "train.steps", "train.save_every", "train.keep", "train.log_every", "train.sample_every",
    "train.distributed", "data.workers",
)  # fmt: skip
# Examples drawn in each sample grid.
SAMPLE_ROWS = 4
# Metrics drawn in loss.png.
PLOTTED = ("l2", "adv", "d_loss")
EXPORT_NAME = "content_net.npz"


def run(
    cfg: ContentTrainingConfig,
    workdir,
    *,
    resume: bool = False,
    stop: common.StopFlag | None = None,
    progress: bool = True,
) -> dict:
    """Train (or continue training) the content network in `workdir`.

    Args:
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

        adam = {"lr": cfg.train.lr, "b1": cfg.train.b1, "b2": cfg.train.b2}
        if start:
            abstract = steps_lib.abstract_state(cfg.model, **adam)
            state = checkpoints.restore(start, common.abstract_with_sharding(abstract, replicated))
        else:
            init = steps_lib.make_init(cfg.model, **adam, seed=cfg.train.seed, sharding=replicated)
            state = init()
        d_step, g_step = steps_lib.make_steps(
            cfg.model, **adam, lam=cfg.train.lam, seed=cfg.train.seed,
            state_sharding=replicated, batch_sharding=split,
        )  # fmt: skip
        sample_fn = steps_lib.make_sample_fn(
            cfg.model, state_sharding=replicated, batch_sharding=split
        )
        graphs = steps_lib.graphs_for(cfg.model)

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
                    cfg, workdir, state, batches, start, d_step, g_step, sample_fn, split,
                    checkpoints, reporter, stop, graphs,
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
    cfg, workdir, state, batches, start, d_step, g_step, sample_fn, split, checkpoints,
    reporter, stop, graphs,
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
            with jax.transfer_guard("disallow"):  # Only the explicit transfers above.
                state, d_metrics = d_step(state, device_batch)
                state, g_metrics = g_step(state, device_batch)
            history.append(d_metrics | g_metrics)
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
                shown = {"l2": logged["l2"], "adv": logged["adv"], "d": logged["d_loss"]}
                reporter.progress(0, shown)
            reporter.progress(1)
            if step % cfg.train.sample_every == 0:
                _write_samples(workdir, step, host_batch, sample_fn(state, device_batch))
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
        exported = _export_state(cfg.model, graphs, state, workdir / EXPORT_NAME, step)
    if common.is_main_process():
        common.plot_curves(
            common.read_metrics(workdir / common.METRICS_FILE), PLOTTED, workdir / "loss.png"
        )
    reporter.note(
        f"{'stopped' if stopped else 'finished'} at step {step}; checkpoint in "
        f"{checkpoints.directory}" + (f"; network exported to {exported}" if exported else "")
    )
    return {"step": step, "metrics": logged, "stopped": stopped, "export": exported}


def _write_samples(workdir: Path, step: int, host_batch: dict, filled) -> None:
    """samples/step_XXXXXXX.png: input | prediction | truth, and loss.png."""
    if not common.is_main_process():
        return
    filled = common.to_host(filled)
    size = host_batch["image"].shape[1]
    rows = []
    for k in range(min(SAMPLE_ROWS, host_batch["image"].shape[0])):
        image, mask = host_batch["image"][k], host_batch["mask"][k]
        columns = [
            ("input", viz.masked_input(image, mask)),
            ("prediction", filled[k]),
            ("truth", image),
        ]
        rows.append(viz.grid(columns, height=max(size, 128)))
    data.save_image(workdir / "samples" / f"step_{step:07d}.png", viz.stack(rows))
    common.plot_curves(
        common.read_metrics(workdir / common.METRICS_FILE), PLOTTED, workdir / "loss.png"
    )


def _export_state(model_cfg, graphs, state, path: Path, step: int, dtype="float16") -> Path | None:
    from npsynth.content_net import save_content_net
    from npsynth.steps import generator_from_state

    if not common.is_main_process():
        return None
    host_state = {"generator": common.to_host(state["generator"])}
    generator = generator_from_state(graphs, host_state)
    return save_content_net(generator, path, config=model_cfg, step=step, dtype=dtype)


def export(workdir, out=None, *, dtype: str = "float16") -> Path:
    """Write the generator of the newest checkpoint in `workdir` as .npz (+ .json).

    Args:
      workdir: a training workdir (with config.json and checkpoints/).
      out: the .npz to write; default workdir/content_net.npz.
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
    cfg = common.config_from_dict(ContentTrainingConfig, saved)
    checkpoints = common.Checkpoints(workdir, keep=cfg.train.keep)
    try:
        step = checkpoints.latest_step()
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {checkpoints.directory}; train first")
        replicated, _ = common.shardings(common.setup_devices())
        abstract = steps_lib.abstract_state(
            cfg.model, lr=cfg.train.lr, b1=cfg.train.b1, b2=cfg.train.b2
        )
        state = checkpoints.restore(step, common.abstract_with_sharding(abstract, replicated))
    finally:
        checkpoints.close()
    graphs = steps_lib.graphs_for(cfg.model)
    path = Path(out) if out is not None else workdir / EXPORT_NAME
    return _export_state(cfg.model, graphs, state, path, step, dtype)


# ----------------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(
        prog="python -m train.content",
        description="Train the content network of neural patch synthesis inpainting.",
    )
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
        "--export-to", type=Path, help="export path (default WORKDIR/content_net.npz)"
    )
    parser.add_argument(
        "--export-dtype", default="float16", choices=("float16", "float32"),
        help="precision of the exported weights (default: float16)",
    )  # fmt: skip
    common.add_dataclass_flags(parser, DataConfig, title="data")
    common.add_dataclass_flags(parser, ContentNetConfig, title="model")
    common.add_dataclass_flags(parser, TrainConfig, title="training")
    return parser.parse_args(argv), parser


def config_from_args(args: argparse.Namespace) -> ContentTrainingConfig:
    """The preset (tiny, or the saved config when resuming, or the defaults) plus the flags."""
    saved = common.read_config(args.workdir) if args.resume else None
    if saved is not None:
        base = common.config_from_dict(ContentTrainingConfig, saved)
    elif args.tiny:
        base = ContentTrainingConfig.tiny()
    else:
        base = ContentTrainingConfig()
    data_over = common.dataclass_overrides(DataConfig, args)
    if "images" in data_over and "tfds" not in data_over:
        data_over["tfds"] = None  # --images replaces a saved or default TFDS source
    if "tfds" in data_over and "images" not in data_over:
        data_over["images"] = None
    return ContentTrainingConfig(
        model=dataclasses.replace(base.model, **common.dataclass_overrides(ContentNetConfig, args)),
        data=dataclasses.replace(base.data, **data_over),
        train=dataclasses.replace(base.train, **common.dataclass_overrides(TrainConfig, args)),
    )


def main(argv=None) -> int:
    from npsynth.train_data import DatasetError

    args, parser = parse_args(argv)
    try:
        if args.export:
            path = export(args.workdir, args.export_to, dtype=args.export_dtype)
            print(
                f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}"
            )
            return 0
        try:
            cfg = config_from_args(args)
        except ValueError as error:  # Bad values or combinations, found by the config classes.
            parser.error(str(error))
        result = run(cfg, args.workdir, resume=args.resume, progress=not args.no_progress)
    except (DatasetError, common.ConfigMismatchError, FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 130 if result["stopped"] else 0


if __name__ == "__main__":
    sys.exit(main())
