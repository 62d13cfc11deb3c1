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
  (`npsynth.losses.texture_window`), as the solver runs it; the same as fixed-nn where the
  window is the whole image. `--hole 0.25` shows a smaller hole.
Peak memory is the device's `peak_bytes_in_use` where JAX reports it (GPU), else the process's
peak resident set size (CPU; it only grows, so read it per row as "so far"); `xla temp` is the
scratch memory XLA allocates for the loss+grad program.

    python -m eval.bench layers --batch 16 --repeats 5

`layers` times value and gradient of the decoders' 4x4 stride-2 transposed convolution, in
Flax's form (`nnx.ConvTranspose`, an lhs-dilated convolution) and in npsynth's phase form
(`npsynth.layers.StridedConvTranspose`, four 2x2 convolutions), on the content network's
and Feature2Image's decoder shapes.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from npsynth import losses, patches
from npsynth.vgg import STRIDES, load_vgg19

LAYERS = ("relu3_1", "relu4_1")
# Loss weights for the benchmark; they do not change the work done.
ALPHA, BETA = 1e-3, 1.0


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes comma-separated integers, got {text!r}")
    if not sizes or min(sizes) < 32:
        raise argparse.ArgumentTypeError(f"--sizes needs sizes of at least 32 px, got {text!r}")
    return sizes


def _time(fn, *args, repeats: int) -> float:
    """Median wall time of fn(*args) in seconds, after one warm-up call (compilation)."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_memory(device) -> tuple[float, str]:
    """Peak memory so far in MiB, and what was measured."""
    stats = device.memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20, "device peak_bytes_in_use"
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10, "process peak RSS"


def _case(size: int, hole: float = 0.5, seed: int = 0):
    """A random image, a smoother content reference, and a centred hole of `hole` x the side."""
    rng = np.random.default_rng(seed)
    reference = rng.random((1, size, size, 3)).astype(np.float32)
    x = np.clip(reference + 0.1 * rng.standard_normal(reference.shape), 0, 1).astype(np.float32)
    mask = np.zeros((1, size, size, 1), np.float32)
    side = max(1, round(size * hole))
    start = (size - side) // 2
    mask[:, start : start + side, start : start + side] = 1
    return jnp.asarray(x), jnp.asarray(reference), mask


def _windowed_value_and_grad(reference, mask, nn, window, options):
    """Jitted value and gradient of the fixed-matches joint loss, VGG-19 on `window` only."""
    offset = jnp.asarray([window.top, window.left])

    def loss(x, start_features):
        vgg = losses.windowed_vgg(
            options["vgg"], start_features, offset[0], offset[1], window.size, window.valid
        )
        return losses.make_joint_loss(reference, mask, nn=nn, **(options | {"vgg": vgg}))(x)

    return jax.jit(jax.value_and_grad(loss))


def bench_loss(
    sizes: list[int], *, repeats: int, chunk_size: int, hole: float = 0.5, out=sys.stdout
) -> list[dict]:
    """Time the patch search and the joint loss's value and gradient; print and return rows."""
    vgg = load_vgg19()
    device = jax.devices()[0]
    rows = []
    for size in sizes:
        x, reference, mask = _case(size, hole)
        features = jax.jit(lambda x: vgg(x, LAYERS))(x)
        # NumPy holes stay concrete inside the jitted search, which then scores the hole box only.
        holes = {
            layer: np.asarray(patches.downsample_mask(mask, STRIDES[layer])) for layer in LAYERS
        }
        search = jax.jit(
            lambda feats, holes=holes: {
                layer: patches.nearest_neighbours(feats[layer], holes[layer], chunk_size=chunk_size)
                for layer in LAYERS
            }
        )
        search_s = _time(search, features, repeats=repeats)
        nn = search(features)

        options = {"vgg": vgg, "alpha": ALPHA, "beta": BETA, "layers": LAYERS}
        options["chunk_size"] = chunk_size
        paper = jax.jit(jax.value_and_grad(losses.make_joint_loss(reference, mask, **options)))
        fixed = jax.jit(
            jax.value_and_grad(losses.make_joint_loss(reference, mask, nn=nn, **options))
        )
        paper_s = _time(paper, x, repeats=repeats)
        fixed_s = _time(fixed, x, repeats=repeats)
        window_s, window = fixed_s, losses.texture_window(mask, LAYERS)
        if window is not None:  # as the solver does: VGG-19 on the texture window only
            windowed = _windowed_value_and_grad(reference, mask, nn, window, options)
            window_s = _time(windowed, x, features, repeats=repeats)  # x's own: same known pixels
        analysis = paper.lower(x).compile().memory_analysis()
        temp_mib = analysis.temp_size_in_bytes / 2**20 if analysis is not None else float("nan")
        peak_mib, peak_kind = _peak_memory(device)
        rows.append(
            {
                "size": size,
                "search_s": search_s,
                "paper_s": paper_s,
                "fixed_s": fixed_s,
                "hole": f"{int(mask[0, :, :, 0].any(1).sum())}x{int(mask[0, :, :, 0].any(0).sum())}",
                "window": "image" if window is None else f"{window.height}x{window.width}",
                "window_s": window_s,
                "temp_mib": temp_mib,
                "peak_mib": peak_mib,
                "peak_kind": peak_kind,
                "device": f"{device.platform}:{device.device_kind}",
            }
        )
        _print_rows(rows[-1:], header=len(rows) == 1, out=out)
    print(
        f"\nchunk_size={chunk_size}, repeats={repeats} (median), layers={','.join(LAYERS)}, "
        f"peak = {rows[-1]['peak_kind']}, jax {jax.__version__}",
        file=out,
    )
    return rows


def _print_rows(rows, *, header: bool, out) -> None:
    columns = (
        ("image", "{size}x{size}", 9),
        ("search ms", "{search_ms:.0f}", 10),
        ("loss+grad ms", "{paper_ms:.0f}", 13),
        ("loss+grad fixed-nn ms", "{fixed_ms:.0f}", 22),
        ("hole", "{hole}", 9),
        ("VGG window", "{window}", 10),
        ("windowed ms", "{window_ms:.0f}", 12),
        ("xla temp MiB", "{temp_mib:.0f}", 13),
        ("peak MiB", "{peak_mib:.0f}", 9),
        ("device", "{device}", 12),
    )
    if header:
        print(" | ".join(name.rjust(width) for name, _, width in columns), file=out)
        print("-|-".join("-" * width for _, _, width in columns), file=out)
    for row in rows:
        values = dict(
            row,
            search_ms=1e3 * row["search_s"],
            paper_ms=1e3 * row["paper_s"],
            fixed_ms=1e3 * row["fixed_s"],
            window_ms=1e3 * row["window_s"],
        )
        cells = (fmt.format(**values).rjust(width) for _, fmt, width in columns)
        print(" | ".join(cells), file=out, flush=True)


# (input side, input channels, output channels): the content network's decoder (widths
# 32, 64, 128, 256, 256) and Feature2Image's first upsampling (widths 128, 64) at 128 px.
LAYER_SHAPES = ((8, 256, 128), (16, 128, 64), (32, 64, 32), (32, 128, 64))


def bench_layers(*, batch: int, repeats: int, out=sys.stdout) -> list[dict]:
    """Time nnx.ConvTranspose against StridedConvTranspose (value and gradient)."""
    from flax import nnx

    from npsynth.layers import StridedConvTranspose

    device = jax.devices()[0]
    rows = []
    for side, c_in, c_out in LAYER_SHAPES:
        x = jnp.asarray(np.random.default_rng(0).random((batch, side, side, c_in), np.float32))
        times = {}
        for name, layer in (
            ("flax", nnx.ConvTranspose(c_in, c_out, (4, 4), strides=(2, 2), padding="SAME",
                                       rngs=nnx.Rngs(0))),
            ("phase", StridedConvTranspose(c_in, c_out, rngs=nnx.Rngs(0))),
        ):  # fmt: skip
            graphdef, params = nnx.split(layer)

            def loss(params, x, graphdef=graphdef):
                return jnp.mean(jnp.square(nnx.merge(graphdef, params)(x)))

            times[name] = _time(jax.jit(jax.value_and_grad(loss, argnums=(0, 1))), params, x,
                                repeats=repeats)  # fmt: skip
        peak_mib, _ = _peak_memory(device)
        rows.append({"shape": f"{batch}x{side}x{side}x{c_in}->{c_out}", **times,
                     "peak_mib": peak_mib, "device": f"{device.platform}:{device.device_kind}"})  # fmt: skip
        row = rows[-1]
        if len(rows) == 1:
            print(f"{'input -> channels':>24} | {'flax ms':>8} | {'phase ms':>8} | {'speed-up':>8} | "
                  f"{'peak MiB':>8} | device", file=out)  # fmt: skip
            print("-" * 80, file=out)
        print(f"{row['shape']:>24} | {1e3 * row['flax']:8.1f} | {1e3 * row['phase']:8.1f} | "
              f"{row['flax'] / row['phase']:7.1f}x | {row['peak_mib']:8.0f} | {row['device']}",
              file=out, flush=True)  # fmt: skip
    print(f"\nvalue+gradient (input and kernel), repeats={repeats} (median), jax {jax.__version__}",
          file=out)  # fmt: skip
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    loss = commands.add_parser("loss", help="patch search and joint loss value+gradient")
    loss.add_argument("--sizes", type=_sizes, default=[128, 256, 512], help="image sides, px")
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
        default=patches.DEFAULT_CHUNK_SIZE,
        help="candidate patches scored at once by the search (bounds its memory)",
    )
    layers = commands.add_parser("layers", help="transposed convolution: Flax vs phase form")
    layers.add_argument("--batch", type=int, default=16, help="batch size")
    layers.add_argument("--repeats", type=int, default=5, help="timed calls after warm-up")
    args = parser.parse_args(argv)
    if args.command == "layers":
        if args.repeats < 1 or args.batch < 1:
            parser.error("--repeats and --batch must be positive")
        bench_layers(batch=args.batch, repeats=args.repeats)
    if args.command == "loss":
        if args.repeats < 1 or args.chunk_size < 1:
            parser.error("--repeats and --chunk-size must be positive")
        if not 0 < args.hole < 1:
            parser.error(f"--hole must lie between 0 and 1, got {args.hole}")
        bench_loss(args.sizes, repeats=args.repeats, chunk_size=args.chunk_size, hole=args.hole)


if __name__ == "__main__":
    main()
