"""Training the content network, Image2Feature and Feature2Image (`python -m train.*`).

- `tasks`: what each network learns (generator, discriminator, losses), `steps`: the jitted
  discriminator and generator updates of any task, `data`: the deterministic batches.
- `trainers`: the three jobs; `loop`: the training loop, stop/resume and export;
  `cli`: their command line (flags from `npsynth.config.flags`).
- `workdir`: config.json and the resume checks, `checkpoints`: Orbax, `devices`: the mesh
  and shardings, `report`: metrics.jsonl, log.txt, progress and the loss plot.
"""
