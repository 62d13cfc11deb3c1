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
and Feature2Image's decoder shapes.
"""

from __future__ import annotations

import argparse
import sys

from npsynth.evaluation import bench
from npsynth.evaluation.cli_errors import main_errors
from npsynth.patches import DEFAULT_CHUNK_SIZE


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes comma-separated integers, got {text!r}")
    if not sizes or min(sizes) < 32:
        raise argparse.ArgumentTypeError(f"--sizes needs sizes of at least 32 px, got {text!r}")
    return sizes


@main_errors
def main(argv=None) -> int:
    """Exit 0 when done, 2 for a bad flag, 130 after Ctrl-C (one line on stderr)."""
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    loss = commands.add_parser("loss", help="patch search and joint loss value+gradient")
    loss.add_argument("--sizes", type=parse_sizes, default=[128, 256, 512], help="image sides, px")
    loss.add_argument("--repeats", type=int, default=3, help="timed calls after warm-up")
    loss.add_argument(
        "--hole",
        type=float,
        default=0.5,
        help="side of the centred square hole as a fraction of the image side (paper: 0.5)",
    )
    loss.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK_SIZE,
        help="candidate patches scored at once by the search (bounds its memory)",
    )
    layers = commands.add_parser("layers", help="transposed convolution: Flax vs phase form")
    layers.add_argument("--batch", type=int, default=16, help="batch size")
    layers.add_argument("--repeats", type=int, default=5, help="timed calls after warm-up")
    args = parser.parse_args(argv)
    if args.command == "layers":
        if args.repeats < 1 or args.batch < 1:
            parser.error("--repeats and --batch must be positive")
        bench.bench_layers(batch=args.batch, repeats=args.repeats)
    if args.command == "loss":
        if args.repeats < 1 or args.chunk_size < 1:
            parser.error("--repeats and --chunk-size must be positive")
        if not 0 < args.hole < 1:
            parser.error(f"--hole must lie between 0 and 1, got {args.hole}")
        bench.bench_loss(
            args.sizes, repeats=args.repeats, chunk_size=args.chunk_size, hole=args.hole
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
