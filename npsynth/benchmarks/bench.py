"""Benchmarks that print a table: shape, device, time, peak memory (`python -m eval.bench`).

`bench_loss` times, per image size (one image, centred square hole of half the side, as in
the paper's evaluation), with every function jitted and warmed up: the nearest-neighbour
search of the texture term (Eq. 3) on relu3_1 and relu4_1 features computed beforehand;
value and gradient of the joint loss (Eq. 1), searching at every evaluation (the paper) and
with the matches fixed (the authors' faster variant); and the fixed-matches loss+grad with
VGG-19 run on the texture window only (`npsynth.window.texture_window`), as the solver runs
it. `bench_layers` times Flax's transposed convolution against npsynth's phase form.
Peak memory is the device's `peak_bytes_in_use` where JAX reports it (GPU), else the
process's peak resident set size (CPU; it only grows, so read it per row as "so far").
"""

from __future__ import annotations

import dataclasses
import resource
import statistics
import sys
import time
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from npsynth import conventions, hub, patches
from npsynth import window as texture
from npsynth.benchmarks import peer_torch
from npsynth.harness import checks
from npsynth.models.vgg import STRIDES
from npsynth.texture import make_joint_loss

LAYERS = ("relu3_1", "relu4_1")
# Loss weights for the benchmark; they do not change the work done.
ALPHA, BETA = 1e-3, 1.0


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
        vgg = texture.windowed_vgg(
            options["vgg"], start_features, offset[0], offset[1], window.size, window.valid
        )
        return make_joint_loss(reference, mask, nn=nn, **(options | {"vgg": vgg}))(x)

    return jax.jit(jax.value_and_grad(loss))


def bench_loss(
    sizes: list[int],
    *,
    repeats: int,
    chunk_size: int,
    hole: float = 0.5,
    vgg=None,
    out=sys.stdout,
    peer=None,
) -> list[dict]:
    """Time the patch search and the joint loss's value and gradient; print and return rows.

    Args:
      sizes: image sides (px); repeats: timed calls after the warm-up one.
      chunk_size: candidates scored at once by the search; hole: the centred square hole's
        side as a fraction of the image side.
      vgg: the network; default the pretrained VGG-19 (`npsynth.hub.load_vgg19`).
      out: where the table goes.
      peer: optional `peer(case) -> dict` timing the same work in another framework
        (`npsynth.benchmarks.peer_torch.time_case`, whose docstring lists `case`); what it
        returns becomes the row's `peer`.
    """
    vgg = vgg if vgg is not None else hub.load_vgg19()
    device = jax.devices()[0]
    rows = []
    for size in sizes:
        x, reference, mask = _case(size, hole)
        features = jax.jit(lambda x: vgg(x, LAYERS))(x)
        # NumPy holes stay concrete inside the jitted search, which then scores the hole box only.
        holes = {
            layer: np.asarray(conventions.downsample_mask(mask, STRIDES[layer])) for layer in LAYERS
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
        paper = jax.jit(jax.value_and_grad(make_joint_loss(reference, mask, **options)))
        fixed = jax.jit(jax.value_and_grad(make_joint_loss(reference, mask, nn=nn, **options)))
        paper_s = _time(paper, x, repeats=repeats)
        fixed_s = _time(fixed, x, repeats=repeats)
        window_s, window = fixed_s, texture.texture_window(mask, LAYERS)
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
        if peer is not None:  # the same case, in the same run
            case = {"x": x, "reference": reference, "mask": mask, "features": features, "nn": nn,
                    "window": window, "fixed": fixed, "options": options, "repeats": repeats}  # fmt: skip
            rows[-1]["peer"] = peer(case)
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

    from npsynth.models.layers import StridedConvTranspose

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


@dataclasses.dataclass(frozen=True, kw_only=True)
class LossBench:
    """Patch search and joint loss value+gradient (`python -m eval.bench loss`)."""

    # Image sides, px.
    sizes: tuple[int, ...] = (128, 256, 512)
    # Timed calls after warm-up.
    repeats: int = 3
    # Side of the centred square hole as a fraction of the image side (paper: 0.5).
    hole: float = 0.5
    # Candidate patches scored at once by the search (bounds its memory).
    chunk_size: int = patches.DEFAULT_CHUNK_SIZE
    # Also time the same work in PyTorch (pip install torch==2.13.0) and print the ratios.
    peer: Literal["torch"] | None = None

    def __post_init__(self):
        checks.check_at_least(32, sizes=self.sizes)
        checks.check_at_least(1, repeats=self.repeats, chunk_size=self.chunk_size)
        if not 0 < self.hole < 1:
            raise ValueError(f"--hole: must lie between 0 and 1, got {self.hole}")
        if self.peer == "torch" and not peer_torch.available():
            raise ValueError(f"--peer torch needs PyTorch: {peer_torch.INSTALL}")

    def run(self) -> None:
        peer = peer_torch.time_case if self.peer == "torch" else None
        rows = bench_loss(list(self.sizes), repeats=self.repeats, chunk_size=self.chunk_size,
                          hole=self.hole, peer=peer)  # fmt: skip
        if peer is not None:
            peer_torch.print_ratios(rows)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LayersBench:
    """Transposed convolution: Flax vs phase form (`python -m eval.bench layers`)."""

    # Batch size.
    batch: int = 16
    # Timed calls after warm-up.
    repeats: int = 5

    def __post_init__(self):
        checks.check_at_least(1, batch=self.batch, repeats=self.repeats)

    def run(self) -> None:
        bench_layers(batch=self.batch, repeats=self.repeats)
