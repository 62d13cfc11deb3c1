"""The folder harness shared by the `eval/` command lines: the runner (`runner`: photos and
their holes, the folder run), a run folder's settings, rows and resume (`runs`), metrics.csv
and the Markdown report (`report`), the input, output and flag checks (`checks`), the
classical baselines (`baselines`), what fills a photo and how (`filling`), comparison grids
(`grids`), sharded runs (`shards`) and run-against-run comparison (`compare`).

Modules are imported one by one (`from npsynth.harness import runner`), so a command line
loads only what it uses.
"""
