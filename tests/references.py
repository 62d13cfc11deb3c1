"""Independent references shared by the tests: brute-force NumPy versions of what the library
computes, and small real cases (scikit-image's sample photos, hand-drawn holes). Nothing here
imports the code under test."""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from PIL import Image, ImageDraw

from conftest import sample_photo

# ---------------------------------------------------------------- neural patches (Eq. 3)


def reference_downsample(mask: np.ndarray, factor: int) -> np.ndarray:
    n, height, width, _ = mask.shape
    h, w = height // factor, width // factor
    out = np.zeros((n, h, w, 1), mask.dtype)
    for b in range(n):
        for y in range(h):
            for x in range(w):
                block = mask[b, factor * y : factor * (y + 1), factor * x : factor * (x + 1), 0]
                out[b, y, x, 0] = block.max()
    return out


def reference_windows(features: np.ndarray, s: int) -> np.ndarray:
    """[N, h', w', s*s*C] float64, each window flattened in (dy, dx, c) order."""
    n, h, w, c = features.shape
    out = np.zeros((n, h - s + 1, w - s + 1, s * s * c))
    for b in range(n):
        for y in range(h - s + 1):
            for x in range(w - s + 1):
                out[b, y, x] = features[b, y : y + s, x : x + s, :].astype(np.float64).reshape(-1)
    return out


def reference_query(hole: np.ndarray, s: int) -> np.ndarray:
    n, h, w, _ = hole.shape
    out = np.zeros((n, h - s + 1, w - s + 1), bool)
    for b in range(n):
        for y in range(h - s + 1):
            for x in range(w - s + 1):
                out[b, y, x] = hole[b, y : y + s, x : x + s, 0].any()
    return out


def cosines(p: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of p with each row of sources; 0 where a norm is 0."""
    norms = np.linalg.norm(p) * np.linalg.norm(sources, axis=-1)
    return np.where(norms > 0, sources @ p / np.where(norms > 0, norms, 1), 0.0)


def reference_scores(features, hole, s=3, stride=1):
    """Per image: dict query (y, x) -> list of (score, source index) in index order."""
    windows, query = reference_windows(features, s), reference_query(hole, s)
    _, hw, ww, _ = windows.shape
    out = []
    for b in range(len(windows)):
        sources = [
            (y, x) for y in range(0, hw, stride) for x in range(0, ww, stride) if not query[b, y, x]
        ]
        source_windows = np.stack([windows[b, y, x] for y, x in sources])
        indices = [y * ww + x for y, x in sources]
        table = {}
        for y, x in zip(*np.nonzero(query[b])):
            table[y, x] = list(zip(cosines(windows[b, y, x], source_windows), indices))
        out.append(table)
    return out


def reference_nn(features, hole, s=3, stride=1) -> np.ndarray:
    """Best source index per query window (first among equal scores); own index elsewhere."""
    n, h, w, _ = features.shape
    hw, ww = h - s + 1, w - s + 1
    out = np.tile(np.arange(hw * ww).reshape(hw, ww), (n, 1, 1))
    for b, table in enumerate(reference_scores(features, hole, s, stride)):
        for (y, x), scored in table.items():
            out[b, y, x] = first_best(scored)
    return out


def first_best(scored) -> int:
    """Index of the highest score in a list of (score, index); the first one among equals."""
    best_score, best_index = -np.inf, -1
    for score, index in scored:
        if score > best_score:
            best_score, best_index = score, index
    return best_index


def random_case(seed=0, n=2, h=12, w=11, c=5):
    rng = np.random.default_rng(seed)
    features = rng.random((n, h, w, c)).astype(np.float32)
    hole = np.zeros((n, h, w, 1), np.float32)
    hole[0, 3:6, 4:7] = 1
    if n > 1:
        hole[1, 8:10, 1:3] = 1
        hole[1, 0, w - 1] = 1  # a second, separate hole: the query box spans both
    return features, hole


def irregular_mask(size: int, seed: int = 1) -> np.ndarray:
    """A free-form hole of brush strokes (about 10-20 % of the image), drawn with PIL at 4x and
    reduced by block max so no stroke pixel is lost: [size, size] bool."""
    rng = np.random.default_rng(seed)
    big = Image.new("L", (4 * size, 4 * size))
    draw = ImageDraw.Draw(big)
    for _ in range(3):
        points = [tuple(int(v) for v in rng.integers(0, 4 * size, 2))]
        for _ in range(3):
            step = rng.integers(-size, size + 1, 2)
            points.append(tuple(int(v) for v in np.clip(points[-1] + step, 0, 4 * size - 1)))
        draw.line(points, fill=255, width=int(0.25 * size), joint="curve")
    return np.asarray(big).reshape(size, 4, size, 4).max(axis=(1, 3)) > 127


def photo_and_mask(size=128):
    """A real photo (scikit-image's astronaut) and a free-form hole, [1, size, size, 3] and
    [1, size, size, 1]."""
    photo = sample_photo("astronaut", size)[None]
    return photo, irregular_mask(size)[None, :, :, None].astype(np.float32)


# ---------------------------------------------------------------- training (models, tasks, loop)
# Added with issue 18's training restructuring (tests/test_tasks.py, test_loop.py, ...).


def reference_swap(features: np.ndarray, hole: np.ndarray, s: int = 3) -> np.ndarray:
    """Brute force patch-swap of the hole's cells: every hole cell = mean over the query
    windows covering it of the matched (best normalised cross-correlation) source window's
    value there; known cells unchanged."""
    nn = reference_nn(features, hole, s)
    windows = reference_windows(features, s)
    query = reference_query(hole, s)
    n, h, w, c = features.shape
    total, count = np.zeros((n, h, w, c)), np.zeros((n, h, w, 1))
    for b, y, x in zip(*np.nonzero(query)):
        sy, sx = divmod(int(nn[b, y, x]), w - s + 1)
        total[b, y : y + s, x : x + s] += windows[b, sy, sx].reshape(s, s, c)
        count[b, y : y + s, x : x + s] += 1
    return np.where(hole > 0.5, total / np.maximum(count, 1), features)


def feeds_batch_norm(path: str, *, decoder_layers: int) -> bool:
    """Whether the leaf at `path` (a `jax.tree_util.keystr` of a content-network training
    state) is the bias of a layer followed by batch norm, or a running mean. Batch norm
    removes such a bias from its output, so its gradient is zero up to rounding noise, which
    Adam scales to steps of about the learning rate: runs that differ only in reduction
    order (one device or several) disagree there by O(lr), and so do the running means that
    track it. `decoder_layers`: the generator's decoder length (all but its last layer are
    followed by batch norm)."""
    import re

    if "['mean']" in path:
        return True
    if not path.endswith("['bias'].value") and not path.endswith("['bias']"):
        return False
    layer = re.search(r"\['(encoder|decoder|convs|fc_in|fc_out|head)'\](?:\[(\d+)\])?", path)
    if layer is None:
        return False
    name, index = layer.group(1), int(layer.group(2) or 0)
    if name in ("encoder", "convs"):  # no norm after the first strided convolution
        return index > 0
    if name == "decoder":
        return index < decoder_layers - 1
    return name in ("fc_in", "fc_out")


# ---------------------------------------------------------------- hole fills


def reference_harmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Exact discrete harmonic fill (`npsynth.fill.harmonic_fill`) with scipy: for each hole pixel p, deg(p) u_p minus the sum
    of its in-image 4-neighbours is 0; known neighbours move to the right-hand side."""
    height, width = hole.shape
    index = -np.ones((height, width), np.int64)
    rows, cols = np.nonzero(hole)
    index[rows, cols] = np.arange(len(rows))
    entries_i, entries_j, entries_v = [], [], []
    rhs = np.zeros((len(rows), image.shape[-1]))
    for k, (y, x) in enumerate(zip(rows, cols)):
        degree = 0
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            yy, xx = y + dy, x + dx
            if 0 <= yy < height and 0 <= xx < width:
                degree += 1
                if hole[yy, xx]:
                    entries_i.append(k)
                    entries_j.append(index[yy, xx])
                    entries_v.append(-1.0)
                else:
                    rhs[k] += image[yy, xx]
        entries_i.append(k)
        entries_j.append(k)
        entries_v.append(float(degree))
    matrix = scipy.sparse.csc_matrix((entries_v, (entries_i, entries_j)), shape=(len(rows),) * 2)
    out = image.astype(np.float64).copy()
    out[rows, cols] = scipy.sparse.linalg.spsolve(matrix, rhs)
    return out
