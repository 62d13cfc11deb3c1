"""Evaluation shared by the `eval/` command lines: the folder runner (`runner`), metrics.csv
and the Markdown report (`report`), comparison grids (`grids`), the built-in demo (`demo`),
the classical baselines (`baselines`), the content-network scoring (`content`), the loss
weight sweep (`sweep`), run-against-run comparison (`compare`) and benchmarks (`bench`).

Modules are imported one by one (`from npsynth.evaluation import runner`), so a command
line loads only what it uses.
"""
