"""The per-evaluation work of the joint loss in PyTorch, to time beside JAX (`eval.bench loss
--peer torch`).

A second, independent implementation of what one L-BFGS evaluation costs (Yang et al. 2017):
VGG-19 to relu4_1 with Caffe preprocessing, the texture term (Eq. 3) with fixed matches, the
content term (Eq. 2) and TV (Eq. 1), value and gradient in the image; and the normalised
cross-correlation search of the matches. The weights are those of the JAX network
(`vgg19_to_torch`), so no second weight file is read. Tensors are NCHW (PyTorch's layout);
the entry points take and return NHWC NumPy arrays like npsynth.

PyTorch is optional (`pip install torch==2.13.0`, or the `peer` extra) and imported only
when a function here runs; `print_ratios` needs no PyTorch.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np

from npsynth.models.vgg import BGR_MEAN, CONV_NAMES, STRIDES
from npsynth.models.vgg import LAYERS as VGG_LAYERS

INSTALL = "pip install torch==2.13.0"


def available() -> bool:
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def require_torch():
    """The `torch` module, or ImportError with the one install command."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(f"the PyTorch peer needs PyTorch: {INSTALL}") from error
    return torch


def vgg19_to_torch(vgg) -> dict:
    """The convolutions of npsynth's VGG19 (HWIO kernels) as torch tensors: name ->
    (OIHW kernel, bias). Both frameworks cross-correlate, so no kernel is flipped."""
    torch = require_torch()
    weights = {}
    for name in CONV_NAMES:
        conv = getattr(vgg, name)
        kernel = np.asarray(conv.kernel.get_value(), np.float32).transpose(3, 2, 0, 1)
        bias = np.asarray(conv.bias.get_value(), np.float32)
        weights[name] = (torch.from_numpy(kernel.copy()), torch.from_numpy(bias.copy()))
    return weights


def vgg19_features(weights, images, layers: Sequence[str], *, pooling: str = "max") -> dict:
    """VGG-19 activations of `layers` for NCHW RGB `images` in [0, 1] (Caffe convention:
    [0, 255], BGR, minus the mean; 3x3 convolutions with zero padding 1, 2x2 pooling)."""
    torch = require_torch()
    functional = torch.nn.functional
    mean = torch.tensor(BGR_MEAN, dtype=images.dtype).reshape(1, 3, 1, 1)
    x = images.flip(1) * 255.0 - mean
    deepest = max(VGG_LAYERS.index(name) for name in layers)
    out = {}
    for name in VGG_LAYERS[: deepest + 1]:
        if name.startswith("conv"):
            kernel, bias = weights[name]
            x = functional.conv2d(x, kernel, bias, padding=1)
        elif name.startswith("relu"):
            x = functional.relu(x)
        elif pooling == "max":
            x = functional.max_pool2d(x, 2)
        else:
            x = functional.avg_pool2d(x, 2)
        if name in layers:
            out[name] = x
    return out


def hole_cells(mask, stride: int):
    """The hole `[N, 1, H, W]` (1 = hole) at a feature map `stride` times smaller: a cell is
    a hole when any pixel of its block is."""
    torch = require_torch()
    return torch.nn.functional.max_pool2d(mask, stride)


def query_windows(hole, patch_size: int = 3):
    """bool `[N, h-s+1, w-s+1]`: the windows holding at least one hole cell (Eq. 3's queries)."""
    torch = require_torch()
    return torch.nn.functional.max_pool2d(hole, patch_size, stride=1)[:, 0] > 0


def nearest_neighbours(features, hole, *, patch_size: int = 3, chunk_size: int = 512):
    """Best source window of every query window by normalised cross-correlation (Eq. 3).

    `nn(i) = argmax_j <P_i, P_j> / |P_j|` over the source windows j (no hole cell), which has
    the argmax of the normalised cross-correlation; scored as a matmul of the query windows
    with `chunk_size` normalised source windows at a time and a running max. Ties go to the
    smallest window index, a zero-norm source window scores 0.

    Args:
      features: `[N, C, h, w]`; hole: `[N, 1, h, w]`, 1 = hole.

    Returns:
      int64 `[N, h-s+1, w-s+1]`: the index `y * (w-s+1) + x` of the best source window at a
      query window, the window's own index elsewhere.
    """
    torch = require_torch()
    n, _, h, w = features.shape
    hw, ww = h - patch_size + 1, w - patch_size + 1
    query = query_windows(hole, patch_size).reshape(n, -1)
    best = torch.arange(hw * ww).repeat(n, 1)
    with torch.no_grad():
        windows = torch.nn.functional.unfold(features, patch_size)  # [N, C*s*s, windows]
        for i in range(n):
            queries = windows[i][:, query[i]].T  # [Q, D]
            sources = torch.nonzero(~query[i])[:, 0]
            if queries.shape[0] == 0 or sources.numel() == 0:
                continue
            top = torch.full((queries.shape[0],), -torch.inf)
            arg = torch.zeros(queries.shape[0], dtype=torch.int64)
            for start in range(0, sources.numel(), chunk_size):
                chunk = sources[start : start + chunk_size]
                filters = windows[i][:, chunk]  # [D, K]
                filters = filters / filters.norm(dim=0, keepdim=True).clamp_min(1e-30)
                score, where = (queries @ filters).max(dim=1)  # first of equal maxima
                better = score > top  # strict: earlier chunks (smaller indices) win ties
                top = torch.where(better, score, top)
                arg = torch.where(better, chunk[where], arg)
            best[i, query[i]] = arg
    return best.reshape(n, hw, ww)


def texture_loss(features, hole, nn, *, patch_size: int = 3):
    """E_t of one layer (Eq. 3) with fixed matches: per image, the mean over its query windows
    of `|P_i - P_nn(i)|^2` (no gradient through P_nn(i); 0 without queries), batch-averaged."""
    torch = require_torch()
    n, c, h, w = features.shape
    hw, ww = h - patch_size + 1, w - patch_size + 1
    target = features.detach().reshape(n, c, h * w)
    ny, nx = nn // ww, nn % ww
    sq_dist = torch.zeros(n, hw, ww, dtype=features.dtype)
    for dy in range(patch_size):
        for dx in range(patch_size):
            cells = ((ny + dy) * w + nx + dx).reshape(n, 1, hw * ww).expand(n, c, hw * ww)
            matched = target.gather(2, cells).reshape(n, c, hw, ww)
            current = features[:, :, dy : dy + hw, dx : dx + ww]
            sq_dist = sq_dist + ((current - matched) ** 2).sum(dim=1)
    weights = query_windows(hole, patch_size).to(features.dtype)
    count = weights.sum(dim=(1, 2))
    per_image = (weights * sq_dist).sum(dim=(1, 2)) / count.clamp_min(1.0)
    return torch.where(count > 0, per_image, torch.zeros_like(per_image)).mean()


def content_loss(x, reference, mask):
    """E_c (Eq. 2): per image the squared error to `reference` over the hole, batch-averaged."""
    return (mask * (x - reference) ** 2).sum(dim=(1, 2, 3)).mean()


def tv_loss(x):
    """Squared total variation (Eq. 1's smoothness term), per image summed, batch-averaged."""
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    return (dx**2).sum(dim=(1, 2, 3)).mean() + (dy**2).sum(dim=(1, 2, 3)).mean()


def windowed_features(weights, x, fixed, window, layers: Sequence[str], *, pooling="max"):
    """VGG-19 on `window` (`npsynth.window.TextureWindow`) of NCHW `x` only: the window's
    cells where `window.valid`, the NCHW `fixed` features (same known pixels) elsewhere."""
    torch = require_torch()
    crop = x[
        :, :, window.top : window.top + window.height, window.left : window.left + window.width
    ]
    inner = vgg19_features(weights, crop, layers, pooling=pooling)
    out = {}
    for layer in layers:
        stride, full = STRIDES[layer], fixed[layer]
        top, left = window.top // stride, window.left // stride
        h, w = inner[layer].shape[2:]
        pad = (left, full.shape[3] - left - w, top, full.shape[2] - top - h)
        placed = torch.nn.functional.pad(inner[layer], pad)
        valid = torch.from_numpy(np.ascontiguousarray(window.valid[layer].transpose(0, 3, 1, 2)))
        out[layer] = torch.where(valid, placed, full.detach())
    return out


def joint_loss(
    x,
    reference,
    mask,
    *,
    weights,
    alpha,
    beta,
    layers,
    nn=None,
    patch_size=3,
    chunk_size=512,
    pooling="max",
    window=None,
    fixed=None,
):
    """`L = E_c + alpha * E_t + beta * TV` (Eq. 1) of NCHW tensors, as `npsynth.joint_loss`.

    `nn`: layer -> int `[N, h-s+1, w-s+1]` fixed matches; None searches the current features
    (the paper). `window` with `fixed` (layer -> NCHW features of an image with the same known
    pixels) runs VGG-19 on the texture window only (`windowed_features`).
    """
    if window is None:
        features = vgg19_features(weights, x, layers, pooling=pooling)
    else:
        features = windowed_features(weights, x, fixed, window, layers, pooling=pooling)
    texture = 0.0
    for layer in layers:
        hole = hole_cells(mask, STRIDES[layer])
        matches = nn[layer] if nn is not None else None
        if matches is None:
            matches = nearest_neighbours(
                features[layer], hole, patch_size=patch_size, chunk_size=chunk_size
            )
        texture = texture + texture_loss(features[layer], hole, matches, patch_size=patch_size)
    return content_loss(x, reference, mask) + alpha * texture + beta * tv_loss(x)


def to_nchw(array):
    """An NHWC array (NumPy or JAX) as an NCHW torch tensor of the same dtype."""
    torch = require_torch()
    return torch.from_numpy(np.ascontiguousarray(np.asarray(array).transpose(0, 3, 1, 2)))


def as_torch_options(options: Mapping) -> dict:
    """`joint_loss` options with `nn` (int `[N, h', w']`) and `fixed` (NHWC features) given as
    NumPy or JAX arrays turned into torch tensors."""
    torch = require_torch()
    options = dict(options)
    if options.get("nn") is not None:
        options["nn"] = {
            k: torch.from_numpy(np.asarray(v, np.int64)) for k, v in options["nn"].items()
        }
    if options.get("fixed") is not None:
        options["fixed"] = {k: to_nchw(v) for k, v in options["fixed"].items()}
    return options


def value_and_grad(image, reference, mask, **options):
    """`joint_loss` and its gradient in the NCHW `image` (torch tensors): (value, gradient)."""
    image = image.detach().requires_grad_(True)
    value = joint_loss(image, reference, mask, **options)
    value.backward()
    return value.detach(), image.grad


def loss_and_grad(x, reference, mask, **options) -> tuple[float, np.ndarray]:
    """Value and gradient in `x` of `joint_loss` for NHWC arrays; the gradient is NHWC NumPy.

    `options`: as `joint_loss`, with `nn` and `fixed` as in `as_torch_options`."""
    images = (to_nchw(np.asarray(a, np.float32)) for a in (x, reference, mask))
    value, grad = value_and_grad(*images, **as_torch_options(options))
    return float(value), grad.numpy().transpose(0, 2, 3, 1)


def _median_seconds(fn, repeats: int) -> float:
    """Median wall time of `fn()` after one warm-up call, as `npsynth.benchmarks.bench` times."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_case(case: Mapping) -> dict:
    """Time in PyTorch the work `npsynth.benchmarks.bench.bench_loss` times for one case, and
    say how far the results are from JAX's.

    Args:
      case: what `bench_loss(peer=...)` passes: `x`, `reference`, `mask` (NHWC), `features`
        and `nn` (layer -> JAX arrays), `window` (TextureWindow or None), `fixed` (JAX's
        jitted fixed-matches value-and-gradient), `options` (`vgg`, `alpha`, `beta`,
        `layers`, `chunk_size`) and `repeats`.

    Returns:
      dict: `search_s`, `paper_s`, `fixed_s`, `window_s` (seconds; `window_s` is `fixed_s`
      when the window is the image, as in JAX's table), `nn_same` (share of the query windows
      whose match equals JAX's), `loss_rel` and `grad_rel` (|torch - jax| / |jax| of the
      fixed-matches value and of its gradient, L2 norm), `threads`, `version`.
    """
    torch = require_torch()
    options, repeats = case["options"], case["repeats"]
    layers, chunk = tuple(options["layers"]), options["chunk_size"]
    weights = vgg19_to_torch(options["vgg"])
    shared = {
        "weights": weights,
        "alpha": options["alpha"],
        "beta": options["beta"],
        "layers": layers,
        "chunk_size": chunk,
        "pooling": options["vgg"].pooling,
    }
    images = [to_nchw(np.asarray(case[k], np.float32)) for k in ("x", "reference", "mask")]
    features = {layer: to_nchw(case["features"][layer]) for layer in layers}
    holes = {layer: hole_cells(images[2], STRIDES[layer]) for layer in layers}

    def search():
        return {k: nearest_neighbours(features[k], holes[k], chunk_size=chunk) for k in layers}

    with torch.no_grad():
        search_s = _median_seconds(search, repeats)
        found = search()
    same = total = 0
    for layer in layers:
        query = query_windows(holes[layer]).numpy()
        same += int((found[layer].numpy() == np.asarray(case["nn"][layer]))[query].sum())
        total += int(query.sum())

    def timed(**extra):
        extra = as_torch_options(extra)  # converted once, outside the timed calls
        return _median_seconds(lambda: value_and_grad(*images, **shared, **extra), repeats)

    paper_s = timed()
    fixed_s = timed(nn=case["nn"])
    window_s = fixed_s
    if case["window"] is not None:
        window_s = timed(nn=case["nn"], window=case["window"], fixed=case["features"])
    value, grad = loss_and_grad(case["x"], case["reference"], case["mask"], **shared, nn=case["nn"])
    jax_value, jax_grad = (np.asarray(a) for a in case["fixed"](case["x"]))
    return {
        "search_s": search_s,
        "paper_s": paper_s,
        "fixed_s": fixed_s,
        "window_s": window_s,
        "nn_same": same / max(total, 1),
        "loss_rel": abs(value - float(jax_value)) / max(abs(float(jax_value)), 1e-30),
        "grad_rel": float(np.linalg.norm(grad - jax_grad) / max(np.linalg.norm(jax_grad), 1e-30)),
        "threads": torch.get_num_threads(),
        "version": torch.__version__,
    }


# (row label, key of the seconds in both JAX's row and the peer's)
WORK = (
    ("search", "search_s"),
    ("loss+grad", "paper_s"),
    ("loss+grad fixed-nn", "fixed_s"),
    ("windowed", "window_s"),
)


def print_ratios(rows: Sequence[Mapping], *, peer: str = "torch", out=None) -> None:
    """Print JAX's and the peer's times side by side, per image size and work, with the ratio
    peer / JAX (above 1: JAX is faster). `rows`: `bench_loss` rows holding a `peer` dict;
    `out`: where the table goes (default stdout)."""
    out = sys.stdout if out is None else out
    header = (
        f"{'image':>9} | {'work':<18} | {'jax ms':>8} | {peer + ' ms':>9} | "
        f"{peer + ' / jax':>11} | agreement"
    )
    print(f"\n{header}\n" + "-" * len(header), file=out)
    for row in rows:
        theirs = row["peer"]
        for label, key in WORK:
            ours = row[key]
            if label == "search":
                agreement = f"nn same {100 * theirs['nn_same']:.1f}% of query windows"
            elif label == "loss+grad fixed-nn":
                agreement = f"loss {theirs['loss_rel']:.1e}, grad {theirs['grad_rel']:.1e} (rel)"
            elif label == "windowed":
                agreement = f"VGG window {row['window']}"
            else:
                agreement = ""
            image = f"{row['size']}x{row['size']}"
            line = (
                f"{image:>9} | {label:<18} | {1e3 * ours:8.0f} | "
                f"{1e3 * theirs[key]:9.0f} | {theirs[key] / ours:11.2f} | {agreement}"
            )
            print(line.rstrip(), file=out)
    if rows:
        last = rows[-1]["peer"]
        print(
            f"\n{peer} {last['version']}, {last['threads']} threads; times are medians as above",
            file=out,
        )
