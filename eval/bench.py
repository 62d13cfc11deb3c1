"""Benchmarks that print a table: shape, device, time, peak memory.

    NPSYNTH_VGG19=../shared/weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 \\
        python -m eval.bench loss --sizes 128,256,512 --repeats 3

`loss` times, per image size (one image, centred square hole of half the side, as in the
paper's evaluation), with the real VGG-19 and every function jitted and warmed up:
- `search`: the nearest-neighbour search of the texture term (Eq. 3) on relu3_1 and relu4_1
  features computed beforehand;
- `loss+grad`: value and gradient of the joint loss (Eq. 1) in x, searching at every
  evaluation (the paper), and with the matches fixed (the authors' faster variant);
- `windowed`: the fixed-matches loss+grad with VGG-19 run on the texture window only
  (`npsynth.window.texture_window`), as the solver runs it; the same as fixed-nn where the
  window is the whole image. `--hole 0.25` shows a smaller hole.
Peak memory is the device's `peak_bytes_in_use` where JAX reports it (GPU), else the process's
peak resident set size (CPU; it only grows, so read it per row as "so far"); `xla temp` is the
scratch memory XLA allocates for the loss+grad program.

    python -m eval.bench layers --batch 16 --repeats 5

`layers` times value and gradient of the decoders' 4x4 stride-2 transposed convolution, in
Flax's form (`nnx.ConvTranspose`, an lhs-dilated convolution) and in npsynth's phase form
(`npsynth.models.layers.StridedConvTranspose`, four 2x2 convolutions), on the content network's
and Feature2Image's decoder shapes. `frontier` (`npsynth.studies.frontier`) scores L-BFGS
schedules, `batch` (`npsynth.benchmarks.throughput`) photos per minute of a batch. The flags
are the fields of `LossBench`, `LayersBench`, `FrontierRun`, `BatchBench` and `ProfileBench`.

    python -m eval.bench profile --size 512 --preset fast

`profile` (`npsynth.benchmarks.profile`) fills one photo (default scikit-image's astronaut,
centred hole of half the side) cold, in a fresh process with an empty compilation cache, and
warm, a second call in that process, and prints the time of each stage (start-up, imports,
weights, compiling, content reference, PatchMatch, searches, loss evaluations, L-BFGS and
line search, paste, reading, writing), peak memory, and each as a multiple of one VGG-19
forward plus input gradient at 512 px measured in the same run. `progress`
(`npsynth.benchmarks.progress`) times per-iteration progress reports (docs/serve.md).
"""

from __future__ import annotations

import sys
from typing import Annotated, Union

import tyro

from npsynth.benchmarks.bench import LayersBench, LossBench
from npsynth.benchmarks.profile import ProfileBench
from npsynth.benchmarks.progress import ProgressBench
from npsynth.benchmarks.throughput import BatchBench
from npsynth.cli.errors import main_errors
from npsynth.config.flags import parse_command_line
from npsynth.studies.frontier import FrontierRun

Command = Union[  # noqa: UP007 (tyro reads the subcommands from a typing.Union)
    Annotated[LossBench, tyro.conf.subcommand("loss")],
    Annotated[LayersBench, tyro.conf.subcommand("layers")],
    Annotated[FrontierRun, tyro.conf.subcommand("frontier")],
    Annotated[BatchBench, tyro.conf.subcommand("batch")],
    Annotated[ProfileBench, tyro.conf.subcommand("profile")],
    Annotated[ProgressBench, tyro.conf.subcommand("progress")],
]


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done, 2 for a bad flag, 130 after Ctrl-C (one line on stderr)."""
    about = __doc__.split("\n")[0]
    parse_command_line(
        Command, argv, prog="python -m eval.bench", description=about, default=tyro.MISSING
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
