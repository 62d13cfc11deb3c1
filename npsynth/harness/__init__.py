"""The folder harness shared by the `eval/` command lines: the runner (`runner`),
metrics.csv and the Markdown report (`report`), the
input and output checks (`checks`), the classical baselines (`baselines`), filling photos
(`filling`), comparison grids (`grids`), sharded runs (`shards`) and run-against-run
comparison (`compare`).

Modules are imported one by one (`from npsynth.harness import runner`), so a command line
loads only what it uses.
"""
