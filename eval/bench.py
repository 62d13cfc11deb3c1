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
from pathlib import Path

import numpy as np

from npsynth.benchmarks import bench, peer_torch
from npsynth.evaluation.cli_errors import main_errors
from npsynth.harness.runner import Photos, load_pairs
from npsynth.patches import DEFAULT_CHUNK_SIZE
from npsynth.studies.frontier import SCHEDULES, parse_schedules, run_frontier


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
    loss.add_argument(
        "--peer",
        choices=("torch",),
        help="also time the same work in PyTorch (pip install torch==2.13.0) and print the ratios",
    )
    layers = commands.add_parser("layers", help="transposed convolution: Flax vs phase form")
    layers.add_argument("--batch", type=int, default=16, help="batch size")
    layers.add_argument("--repeats", type=int, default=5, help="timed calls after warm-up")
    frontier = commands.add_parser("frontier", help="L-BFGS schedules: time against quality")
    frontier.add_argument("--images", default="../shared/data/eval512", help="folder of photos")
    frontier.add_argument("--limit", type=int, default=8, help="the first N photos (default 8)")
    frontier.add_argument("--resize", type=int, default=None, help="longest side first, px")
    frontier.add_argument("--hole", default="center:0.5", help="generated hole (or --masks)")
    frontier.add_argument("--masks", default=None, help="folder or glob of masks instead")
    frontier.add_argument("--scales", type=parse_sizes, default=None,
                          help="pyramid scales (default: the config's 128,256,512)")  # fmt: skip
    frontier.add_argument(
        "--schedules", default="paper,default",
        help=f"comma-separated, from: {', '.join(SCHEDULES)} (npsynth/studies/frontier.py)",
    )  # fmt: skip
    frontier.add_argument("--out", default="out/frontier", help="output folder")
    frontier.add_argument("--resume", action="store_true", help="keep photos already done")
    batch = commands.add_parser("batch", help="photos per minute: a batch against one at a time")
    batch.add_argument("--images", default="../shared/data/eval512", help="folder of photos")
    batch.add_argument("--photos", type=int, default=4, help="how many (default 4)")
    batch.add_argument("--size", type=int, default=128, help="photo side, px (default 128)")
    batch.add_argument("--scales", type=parse_sizes, default=None,
                       help="pyramid scales (default: size/4, size/2, size)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "batch":
        if args.photos < 1 or args.size < 32:
            parser.error("--photos must be positive and --size at least 32")
        from npsynth.benchmarks.throughput import bench_batch
        from npsynth.config import OptimizeConfig

        photos = Photos(images=args.images, hole="center:0.5", limit=args.photos, resize=args.size)
        pairs = load_pairs(photos)
        scales = tuple(args.scales or (args.size // 4, args.size // 2, args.size))
        blanked = [np.where(m > 0, 0.0, i).astype(np.float32) for _, i, m in pairs]
        bench_batch(blanked, [m for *_, m in pairs], OptimizeConfig(scales=scales))
    if args.command == "frontier":
        try:
            schedules = parse_schedules(args.schedules)
        except ValueError as error:
            parser.error(str(error))
        if args.limit < 1:
            parser.error("--limit must be positive")
        photos = Photos(images=args.images, masks=args.masks, hole=None if args.masks else args.hole,
                        limit=args.limit, resize=args.resize)  # fmt: skip
        base = {"scales": tuple(args.scales)} if args.scales else {}
        run_frontier(photos, schedules, Path(args.out), base=base, resume=args.resume)
    if args.command == "layers":
        if args.repeats < 1 or args.batch < 1:
            parser.error("--repeats and --batch must be positive")
        bench.bench_layers(batch=args.batch, repeats=args.repeats)
    if args.command == "loss":
        if args.repeats < 1 or args.chunk_size < 1:
            parser.error("--repeats and --chunk-size must be positive")
        if not 0 < args.hole < 1:
            parser.error(f"--hole must lie between 0 and 1, got {args.hole}")
        if args.peer == "torch" and not peer_torch.available():
            parser.error(f"--peer torch needs PyTorch: {peer_torch.INSTALL}")
        peer = peer_torch.time_case if args.peer == "torch" else None
        rows = bench.bench_loss(
            args.sizes, repeats=args.repeats, chunk_size=args.chunk_size, hole=args.hole, peer=peer
        )
        if peer is not None:
            peer_torch.print_ratios(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
