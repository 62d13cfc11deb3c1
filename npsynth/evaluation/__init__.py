"""Only `cli_errors` is left here (the command lines' one-line errors); the evaluation code is
in `npsynth.harness`, `npsynth.studies` and `npsynth.benchmarks`."""
