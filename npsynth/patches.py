"""Neural patches of the texture term (Yang et al. 2017, Eq. 3): windows, hole, matching.

Conventions (all NHWC):
- `features` are `[N, h, w, C]`; `hole` is `[N, h, w, 1]` at feature resolution, 1 = hole
  (`npsynth.conventions.downsample_mask`).
- A window is the `s x s` block (s = `patch_size`) whose top-left cell is `(y, x)`, with
  `0 <= y < h - s + 1` and `0 <= x < w - s + 1` (its centre is `(y + s // 2, x + s // 2)`).
  Flattened, a window is the vector `features[n, y:y+s, x:x+s, :].reshape(-1)` (order dy, dx,
  c); windows are numbered `y * (w - s + 1) + x`.
- A query window contains at least one hole cell; a source window contains none.

The nearest-neighbour search (`nearest_neighbours`) maximises the normalised cross-correlation
`<P_i, P_j> / (|P_i| |P_j|)` over source windows j. Since `|P_i|` does not change the argmax
over j, the scores are the convolution of the features with the normalised source windows as
filters, evaluated in chunks of candidates with a running max and argmax, so memory grows with
the chunk size and not with the square of the number of windows. The convolution is written as
im2col + matmul: on these shapes XLA's CPU convolution ran at ~18 GFLOP/s against ~80 GFLOP/s
for the matmul (2 cores), and vmapping a convolution whose filters differ per image turns it
into a grouped convolution, which was another ~3x slower; a batched matmul has neither problem.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# Candidate source windows scored at once in `nearest_neighbours`. Peak memory of the search is
# about (query windows) * (s*s*C + chunk_size) floats per image; on 2 CPU cores 128 to 1024
# ran equally fast.
DEFAULT_CHUNK_SIZE = 512


def _concrete(a) -> np.ndarray | None:
    """`a` as a NumPy array when its values are known now (not under a tracer), else None."""
    if isinstance(a, jax.core.Tracer):
        return None
    return np.asarray(a)


def window_shape(shape, patch_size: int) -> tuple[int, int]:
    """Number of window positions `(h - s + 1, w - s + 1)` for a map of shape `[N, h, w, C]`."""
    return shape[1] - patch_size + 1, shape[2] - patch_size + 1


def query_windows(hole: jax.Array, *, patch_size: int = 3) -> jax.Array:
    """Which windows are query patches (contain at least one hole cell): bool `[N, h', w']`."""
    cells = hole[..., 0] > 0
    return lax.reduce_window(
        cells, False, lax.bitwise_or, (1, patch_size, patch_size), (1, 1, 1), "VALID"
    )


def query_windows_np(hole: np.ndarray, patch_size: int) -> np.ndarray:
    """NumPy twin of `query_windows`, for concrete holes."""
    cells = hole[..., 0] > 0
    windows = np.lib.stride_tricks.sliding_window_view(cells, (patch_size, patch_size), (1, 2))
    return windows.any(axis=(-2, -1))


def has_source_patch(hole, patch_size: int = 3) -> np.ndarray:
    """Per image of `hole` (concrete [N, h, w, 1] cells, 1 = hole): whether at least one
    `patch_size` x `patch_size` window lies wholly outside the hole, i.e. whether the texture
    term (Eq. 3) has a source patch to match. False when the map is smaller than a patch."""
    hole = np.asarray(hole)
    if min(hole.shape[1:3]) < patch_size:
        return np.zeros(hole.shape[0], bool)
    return ~query_windows_np(hole, patch_size).reshape(hole.shape[0], -1).all(axis=1)


def check_hole(hole, features, patch_size: int) -> None:
    """Raise ValueError unless `hole` ([N, h, w, 1] cells) fits `features` and its patches."""
    if features.ndim != 4:
        raise ValueError(f"features must have shape [N, h, w, C]; got {tuple(features.shape)}")
    n, h, w, _ = features.shape
    if tuple(hole.shape) != (n, h, w, 1):
        raise ValueError(
            f"hole must have shape [N, h, w, 1] = {(n, h, w, 1)} to match features of shape "
            f"{tuple(features.shape)}; got {tuple(hole.shape)}. Build it with "
            "npsynth.conventions.downsample_mask(mask, STRIDES[layer])."
        )
    if int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    if h < patch_size or w < patch_size:
        raise ValueError(
            f"a {h}x{w} feature map holds no {patch_size}x{patch_size} window; "
            "use a larger image or a smaller patch_size."
        )
    values = _concrete(hole)
    if values is not None and not np.all((values == 0) | (values == 1)):
        raise ValueError(
            "hole values must be 0 (known) or 1 (hole); build it from a 0/1 mask with "
            "npsynth.conventions.downsample_mask."
        )


def check_finite(features) -> None:
    """Raise ValueError if concrete `features` hold NaN or infinite values."""
    values = _concrete(features)
    if values is not None and not np.all(np.isfinite(values)):
        raise ValueError("features contain NaN or infinite values; check the input image.")


def _own_index(hw: int, ww: int) -> np.ndarray:
    return np.arange(hw * ww, dtype=np.int32).reshape(hw, ww)


def _split(nn: jax.Array, ww: int) -> tuple[jax.Array, jax.Array]:
    return nn // ww, nn % ww


def gather_cells(features: jax.Array, ys: jax.Array, xs: jax.Array) -> jax.Array:
    """`features[n, ys[n, ...], xs[n, ...], :]` for each image n."""
    return jax.vmap(lambda f, y, x: f[y, x])(features, ys, xs)


def extract_patches(features: jax.Array, *, patch_size: int = 3) -> jax.Array:
    """Every window flattened in (dy, dx, c) order: `[N, h', w', s*s*C]` (the P_i of Eq. 3)."""
    hw, ww = window_shape(features.shape, patch_size)
    parts = [
        features[:, dy : dy + hw, dx : dx + ww, :]
        for dy in range(patch_size)
        for dx in range(patch_size)
    ]
    return jnp.concatenate(parts, axis=-1)


def gather_patches(features: jax.Array, nn: jax.Array, *, patch_size: int = 3) -> jax.Array:
    """The matched window of every window position, `P_nn(i)`: `[N, h', w', s*s*C]`.

    Args:
      features: `[N, h, w, C]`.
      nn: int `[N, h', w']` window indices, as `nearest_neighbours` returns.
      patch_size: s.
    """
    _, ww = window_shape(features.shape, patch_size)
    ny, nx = _split(nn, ww)
    parts = [
        gather_cells(features, ny + dy, nx + dx)
        for dy in range(patch_size)
        for dx in range(patch_size)
    ]
    return jnp.concatenate(parts, axis=-1)


def _search_one(features, source, offset, *, patch_size, box, cands, precision):
    """Best source window for the windows of one image's box (see `nearest_neighbours`)."""
    s = patch_size
    bh, bw = box
    c = features.shape[-1]
    ww = source.shape[1]
    region = lax.dynamic_slice(features, (offset[0], offset[1], 0), (bh + s - 1, bw + s - 1, c))
    queries = extract_patches(region[None], patch_size=s).reshape(bh * bw, s * s * c)
    dy = jnp.arange(s).reshape(1, s, 1)
    dx = jnp.arange(s).reshape(1, 1, s)

    def step(carry, chunk):
        best, arg = carry
        cy, cx = chunk  # [K]; -1 marks padding
        ok = (cy >= 0) & source[jnp.maximum(cy, 0), jnp.maximum(cx, 0)]
        cy, cx = jnp.where(ok, cy, 0), jnp.where(ok, cx, 0)
        windows = features[cy.reshape(-1, 1, 1) + dy, cx.reshape(-1, 1, 1) + dx]  # [K, s, s, C]
        windows = windows.reshape(windows.shape[0], -1)
        # Normalised source windows as filters; zero-norm windows score 0 (not NaN).
        norms = jnp.sqrt(jnp.sum(windows * windows, axis=-1, keepdims=True))
        filters = jnp.where(ok.reshape(-1, 1), windows / jnp.maximum(norms, 1e-30), 0.0)
        scores = jnp.dot(queries, filters.T, precision=precision)  # [bh * bw, K]
        scores = jnp.where(ok.reshape(1, -1), scores, -jnp.inf)
        chunk_best = scores.max(axis=-1)
        chunk_arg = jnp.argmax(scores, axis=-1)  # first (smallest index) among equal scores
        index = (cy * ww + cx).astype(jnp.int32)[chunk_arg]
        better = chunk_best > best  # strict: earlier chunks (smaller indices) win ties
        return (jnp.where(better, chunk_best, best), jnp.where(better, index, arg)), None

    own = jnp.asarray(_own_index(*source.shape))
    init = (
        jnp.full((bh * bw,), -jnp.inf, features.dtype),
        lax.dynamic_slice(own, (offset[0], offset[1]), (bh, bw)).reshape(-1),
    )
    (_, arg), _ = lax.scan(step, init, cands)
    return lax.dynamic_update_slice(own, arg.reshape(bh, bw), (offset[0], offset[1]))


def nearest_neighbours(
    features: jax.Array,
    hole: jax.Array,
    *,
    patch_size: int = 3,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    stride: int = 1,
    precision=lax.Precision.HIGHEST,
) -> jax.Array:
    """Best-matching source window of every query window, by normalised cross-correlation.

    Implements `nn(i) = argmax_j <P_i, P_j> / (|P_i| |P_j|)` of the texture term (Yang et al.
    2017, Eq. 3) over the source windows j (no hole cell), for every query window i (at least
    one hole cell). The scores are the convolution of the features with the normalised source
    windows as filters (as im2col + matmul, see the module docstring), vmapped over the batch
    and scanned over chunks of `chunk_size` candidates with a running max. When `hole` is
    concrete (not a tracer: an eager call, or a NumPy hole closed over by a jitted function),
    only the windows in each image's query bounding box are scored, which gives the same
    result faster. No gradient flows through the search.

    Ties go to the smallest window index; a zero-norm source window scores 0.

    Args:
      features: `[N, h, w, C]` float feature map (e.g. VGG-19 relu3_1).
      hole: `[N, h, w, 1]` hole at feature resolution (`conventions.downsample_mask`), 1 = hole.
      patch_size: window side s.
      chunk_size: candidate windows scored at once; bounds peak memory.
      stride: sample source windows on this grid (top-left corners with y and x multiples of
        `stride`); 1 (the default) searches every source window.
      precision: `lax.Precision` of the score matmul. HIGHEST keeps float32 scores on
        GPUs/TPUs (the default precision may round them to TF32/bfloat16).

    Returns:
      int32 `[N, h-s+1, w-s+1]`: at a query window, the index `y * (w - s + 1) + x` of its
      best source window (top-left corner (y, x)); at every other window, its own index.

    Raises:
      ValueError: on bad shapes, non-finite features, or (when `hole` is concrete) an image
        whose hole leaves queries but no source window to match them with.
    """
    check_hole(hole, features, patch_size)
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    check_finite(features)
    features = lax.stop_gradient(jnp.asarray(features))
    n, h, w, _ = features.shape
    hw, ww = window_shape(features.shape, patch_size)
    own = jnp.broadcast_to(jnp.asarray(_own_index(hw, ww)), (n, hw, ww))

    hole_np = _concrete(hole)
    if hole_np is None:  # traced hole: score every window
        query = query_windows(hole, patch_size=patch_size)
        box, offsets = (hw, ww), np.zeros((n, 2), np.int32)
    else:
        query_np = query_windows_np(hole_np, patch_size)
        if not query_np.any():
            return own
        box, offsets = _query_boxes(query_np)
        candidates = np.zeros((hw, ww), bool)
        candidates[::stride, ::stride] = True
        lacking = [
            i for i in range(n) if query_np[i].any() and not (~query_np[i] & candidates).any()
        ]
        if lacking:
            grid = f" on the stride-{stride} grid" if stride > 1 else ""
            raise ValueError(
                f"the hole of image(s) {lacking} leaves no source window (a {patch_size}x"
                f"{patch_size} window with no hole cell{grid}) in the {h}x{w} feature map to "
                "copy texture from; use a smaller hole, a larger image, a smaller patch_size "
                "or stride, or drop this layer."
            )
        query = jnp.asarray(query_np)

    best = _search(
        features,
        query,
        jnp.asarray(offsets),
        patch_size=patch_size,
        box=box,
        stride=int(stride),
        chunk_size=int(chunk_size),
        precision=precision,
    )
    return jnp.where(query, best, own)


def _candidates(hw: int, ww: int, stride: int, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of the candidate windows, `[chunks, K]` each, padded with -1."""
    grid = np.meshgrid(
        np.arange(0, hw, stride, dtype=np.int32),
        np.arange(0, ww, stride, dtype=np.int32),
        indexing="ij",
    )
    size = grid[0].size
    k = min(chunk_size, size)
    chunks = math.ceil(size / k)
    return tuple(
        np.pad(a.reshape(-1), (0, chunks * k - size), constant_values=-1).reshape(chunks, k)
        for a in grid
    )


# Jitted so that eager callers (e.g. a solver fixing the matches once per scale) compile the
# search once per shape instead of at every call; inside a jitted caller it is inlined.
@functools.partial(
    jax.jit, static_argnames=("patch_size", "box", "stride", "chunk_size", "precision")
)
def _search(features, query, offsets, *, patch_size, box, stride, chunk_size, precision):
    hw, ww = query.shape[1:]
    search = functools.partial(
        _search_one,
        patch_size=patch_size,
        box=box,
        cands=_candidates(hw, ww, stride, chunk_size),
        precision=precision,
    )
    return jax.vmap(search)(features, ~query, offsets)


def _query_boxes(query: np.ndarray) -> tuple[tuple[int, int], np.ndarray]:
    """Common box size (max over the batch) and per-image top-left corners covering the queries."""
    _, hw, ww = query.shape
    spans = []
    for image in query:
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        if rows.size == 0:
            spans.append((0, 0, 0, 0))
        else:
            spans.append((rows[0], rows[-1] + 1, cols[0], cols[-1] + 1))
    bh = max(y1 - y0 for y0, y1, _, _ in spans)
    bw = max(x1 - x0 for _, _, x0, x1 in spans)
    offsets = np.array([(min(y0, hw - bh), min(x0, ww - bw)) for y0, _, x0, _ in spans], np.int32)
    return (bh, bw), offsets


def patch_swap(features: jax.Array, hole: jax.Array, nn: jax.Array, *, patch_size: int = 3):
    """Replace the hole's cells by the matched source windows, averaging overlaps.

    Song et al. 2018 (arXiv 1711.08590), Sec. 3.2: every query window (one touching the hole)
    is replaced by its nearest source window; where replaced windows overlap, their values
    are averaged. Known cells keep their own features, so every hole cell becomes the mean,
    over the query windows covering it, of the matched windows' values at that cell.

    Args:
      features: `[N, h, w, C]`.
      hole: `[N, h, w, 1]` at feature resolution, 1 = hole.
      nn: int `[N, h', w']` from `nearest_neighbours`.
      patch_size: s.

    Returns:
      `[N, h, w, C]` swapped features.
    """
    check_hole(hole, features, patch_size)
    n, h, w, _ = features.shape
    hw, ww = window_shape(features.shape, patch_size)
    query = query_windows(hole, patch_size=patch_size).astype(features.dtype)[..., None]
    ny, nx = _split(nn, ww)
    total = jnp.zeros_like(features)
    count = jnp.zeros((n, h, w, 1), features.dtype)
    for dy in range(patch_size):
        for dx in range(patch_size):
            values = gather_cells(features, ny + dy, nx + dx) * query
            total = total.at[:, dy : dy + hw, dx : dx + ww, :].add(values)
            count = count.at[:, dy : dy + hw, dx : dx + ww, :].add(query)
    # Every hole cell lies in at least one window, and every window holding it is a query.
    return jnp.where(hole > 0.5, total / jnp.maximum(count, 1), features)


def swap_hole_features(
    features: jax.Array,
    hole: jax.Array,
    *,
    patch_size: int = 3,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> jax.Array:
    """`patch_swap` with the matches of `nearest_neighbours` (normalised cross-correlation).

    Args:
      features: `[N, h, w, C]`, e.g. VGG-19 relu3_1 of the initial fill.
      hole: `[N, h, w, 1]` at feature resolution (`conventions.downsample_mask`), 1 = hole.
      patch_size, chunk_size: as in `nearest_neighbours`.

    Returns:
      `[N, h, w, C]`: known cells unchanged, hole cells from the best-matching known patches.
    """
    nn = nearest_neighbours(features, hole, patch_size=patch_size, chunk_size=chunk_size)
    return patch_swap(features, hole, nn, patch_size=patch_size)
