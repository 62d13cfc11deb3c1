"""Cheap hole fillings: the mean colour, a smooth harmonic (Laplace) interpolation, and a
gradient-domain (Poisson) paste.

`mean_fill` is the input of the content network; `harmonic_fill` is a smooth first guess
for the multi-scale optimisation and a baseline; `poisson_paste` seams a decoded fill into
its surroundings (the fast path). Masks follow `npsynth.masks`: 1 = hole.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.scipy.signal
from jax import lax

# Grey used for an image whose every pixel is a hole (no known colour to start from).
NO_KNOWN_PIXELS_FILL = 0.5


def _batched(image, mask, name: str) -> tuple[jax.Array, jax.Array, bool]:
    """Check shapes and add a batch axis: ([N, H, W, C], [N, H, W, 1], was_unbatched)."""
    image, mask = jnp.asarray(image), jnp.asarray(mask)
    unbatched = image.ndim == 3
    if unbatched:
        image = image[None]
        mask = mask[None] if mask.ndim == 3 else mask
    if image.ndim != 4:
        raise ValueError(
            f"{name}: image must be [H, W, C] or [N, H, W, C]; got shape {image.shape}"
        )
    if mask.ndim != 4 or mask.shape[-1] != 1 or mask.shape[:3] != image.shape[:3]:
        raise ValueError(
            f"{name}: mask shape {mask.shape} does not fit image shape {image.shape}; pass a "
            "mask [H, W, 1] (or [N, H, W, 1]) of the image's size, 1 = hole"
        )
    if not jnp.issubdtype(image.dtype, jnp.floating):
        raise ValueError(
            f"{name}: image must be float in [0, 1], got dtype {image.dtype}; convert 8-bit "
            "images with np.asarray(img, np.float32) / 255"
        )
    return image, mask, unbatched


def mean_fill(image, mask) -> jax.Array:
    """Fill the hole with the mean colour of the known pixels, per image and channel.

    Args:
      image: float [N, H, W, C] or [H, W, C].
      mask: [N, H, W, 1] or [H, W, 1]; values > 0.5 are hole.

    Returns:
      same shape and dtype as `image`; known pixels are returned unchanged, an image with no
      known pixel is filled with `NO_KNOWN_PIXELS_FILL` grey.
    """
    images, masks, unbatched = _batched(image, mask, "mean_fill")
    hole = masks > 0.5
    known = jnp.logical_not(hole).astype(jnp.float32)
    total = jnp.sum(images.astype(jnp.float32) * known, axis=(1, 2), keepdims=True)
    count = jnp.sum(known, axis=(1, 2), keepdims=True)
    mean = jnp.where(count > 0, total / jnp.maximum(count, 1.0), NO_KNOWN_PIXELS_FILL)
    filled = jnp.where(hole, mean.astype(images.dtype), images)
    return filled[0] if unbatched else filled


# ----------------------------------------------------------------------------------------------
# Harmonic fill: the discrete Laplace equation on the hole pixels.
#
# For every hole pixel p with in-image 4-neighbours N(p):  |N(p)| u_p - sum_{q in N(p)} u_q = 0,
# where u_q is the image value for a known q (Dirichlet boundary) and an unknown for a hole q.
# Neighbours outside the image are left out (a zero-flux, Neumann, image border). On the hole
# this is A x = b, with A symmetric positive definite whenever the image has a known pixel.
#
# It is solved by conjugate gradients preconditioned with one multigrid V-cycle. The coarse
# grids aggregate 2x2 blocks (piecewise-constant prolongation P, restriction R = P^T) and
# carry the exact Galerkin operator R A P, which stays a 5-point stencil with per-pixel
# weights, so irregular holes need no special care. Smoothing is damped Jacobi; the whole
# V-cycle is symmetric, as CG needs. About 10-20 iterations reach tol=1e-5 at any size.
#
# The Jacobi sweeps run in lax.fori_loop on purpose: unrolled, XLA fuses the chain of
# shifted-array stencils into one kernel that recomputes every input many times over.

_JACOBI_DAMPING = 0.8  # omega of the damped Jacobi smoother.
_SMOOTHING_SWEEPS = 2  # Sweeps before and after each coarse-grid correction.
_COARSEST_SWEEPS = 30  # Sweeps on the coarsest grid (at most 4x4 pixels).
_COARSEST_SIZE = 4
# Piecewise-constant prolongation under-corrects smooth errors; scaling the coarse correction
# up (below 2, which keeps the preconditioner positive definite for an exact coarse solve)
# halves the CG iterations here (26 -> 11 for a 256x256 hole in a 512x512 image).
_CORRECTION_SCALE = 1.8
_DEFAULT_MAX_ITERATIONS = 100


def _shift(x: jax.Array, axis: int, offset: int) -> jax.Array:
    """`out[i] = x[i + offset]` along `axis` (1 = rows, 2 = columns); zeros past the edge."""
    size = x.shape[axis]
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, offset) if offset > 0 else (-offset, 0)
    start = max(0, offset)
    return lax.slice_in_dim(jnp.pad(x, pad), start, start + size, axis=axis)


def _neighbour_sum(x: jax.Array) -> jax.Array:
    """Sum of the 4 in-image neighbours of each pixel of [N, H, W, C] (outside counts 0)."""
    return _shift(x, 1, 1) + _shift(x, 1, -1) + _shift(x, 2, 1) + _shift(x, 2, -1)


# A 5-point operator on one grid, each array [N, h, w, 1]: `diagonal`, and the couplings
# `right` (pixel to its right neighbour) and `down` (pixel to the one below), so that
# (A v)_p = diagonal_p v_p - sum over neighbours q of coupling_pq v_q.
_Operator = tuple[jax.Array, jax.Array, jax.Array]


def _apply(operator: _Operator, v: jax.Array) -> jax.Array:
    diagonal, right, down = operator
    return (
        diagonal * v
        - right * _shift(v, 2, 1)
        - _shift(right * v, 2, -1)
        - down * _shift(v, 1, 1)
        - _shift(down * v, 1, -1)
    )


def _hole_operator(hole: jax.Array) -> _Operator:
    """The Laplace operator restricted to the hole pixels of [N, H, W, 1] `hole` (0/1)."""
    diagonal = _neighbour_sum(jnp.ones_like(hole)) * hole
    return diagonal, hole * _shift(hole, 2, 1), hole * _shift(hole, 1, 1)


def _pad_to_even(x: jax.Array) -> jax.Array:
    height, width = x.shape[1:3]
    return jnp.pad(x, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)))


def _blocks(x: jax.Array) -> jax.Array:
    """[N, 2h, 2w, C] -> [N, h, 2, w, 2, C]."""
    n, height, width, c = x.shape
    return x.reshape(n, height // 2, 2, width // 2, 2, c)


def _coarsen(operator: _Operator) -> _Operator:
    """Galerkin operator R A P on 2x2 blocks (odd sizes padded with inactive pixels)."""
    diagonal, right, down = (_blocks(_pad_to_even(a)) for a in operator)
    inside = right[:, :, :, :, 0].sum(axis=2) + down[:, :, 0].sum(axis=3)
    coarse_diagonal = diagonal.sum(axis=(2, 4)) - 2.0 * inside
    return coarse_diagonal, right[:, :, :, :, 1].sum(axis=2), down[:, :, 1].sum(axis=3)


def _restrict(r: jax.Array) -> jax.Array:
    return _blocks(_pad_to_even(r)).sum(axis=(2, 4))


def _prolong(e: jax.Array, size: tuple[int, int]) -> jax.Array:
    height, width = size
    return jnp.repeat(jnp.repeat(e, 2, axis=1), 2, axis=2)[:, :height, :width]


def _v_cycle(operators: list[_Operator], r: jax.Array, level: int = 0) -> jax.Array:
    """Approximate A^{-1} r on `operators[level]` by one symmetric V-cycle from zero."""
    operator = operators[level]
    diagonal = operator[0]
    inverse_diagonal = jnp.where(diagonal > 0, 1.0 / jnp.where(diagonal > 0, diagonal, 1.0), 0.0)
    step = _JACOBI_DAMPING * inverse_diagonal

    def smooth(x, sweeps):
        return lax.fori_loop(0, sweeps, lambda _, x: x + step * (r - _apply(operator, x)), x)

    if level == len(operators) - 1:
        return smooth(step * r, _COARSEST_SWEEPS - 1)
    x = smooth(step * r, _SMOOTHING_SWEEPS - 1)
    coarse_residual = _restrict(r - _apply(operator, x))
    correction = _v_cycle(operators, coarse_residual, level + 1)
    x = x + _CORRECTION_SCALE * _prolong(correction, r.shape[1:3])
    return smooth(x, _SMOOTHING_SWEEPS)


# Jitted here so that eager calls do not trace the loops op by op; inside an outer jit this
# is simply inlined.
@functools.partial(jax.jit, static_argnames=("max_iter", "tol"))
def _solve_laplace(values: jax.Array, hole: jax.Array, *, max_iter: int, tol: float):
    """Harmonic values on the hole of float32 [N, H, W, C]; hole is [N, H, W, 1] in {0, 1}.

    Each (image, channel) is its own system with its own CG scalars; the loop stops once all
    have ||b - A x|| <= tol * ||b|| or after max_iter iterations.
    """
    operators = [_hole_operator(hole)]
    while max(operators[-1][0].shape[1:3]) > _COARSEST_SIZE:
        operators.append(_coarsen(operators[-1]))

    def dot(a, b):
        return jnp.sum(a * b, axis=(1, 2), keepdims=True)  # [N, 1, 1, C]

    known = values * (1.0 - hole)
    b = _neighbour_sum(known) * hole
    x = (mean_fill(values, hole) - known) * hole  # Start from the mean colour.
    r = b - _apply(operators[0], x)
    stop = (tol * tol) * dot(b, b)

    def cond(state):
        i, _, _, _, _, rr = state
        return jnp.logical_and(i < max_iter, jnp.any(rr > stop))

    def body(state):
        # Preconditioned CG, arranged so the V-cycle appears once in the program.
        i, x, r, p, rz_old, rr = state
        active = rr > stop  # Converged systems stay put.
        z = _v_cycle(operators, r) * hole
        rz = dot(r, z)
        first = i == 0
        beta = jnp.where(active & ~first, rz / jnp.where(active & ~first, rz_old, 1.0), 0.0)
        p = z + beta * p
        ap = _apply(operators[0], p)
        pap = dot(p, ap)
        active = active & (pap > 0)
        alpha = jnp.where(active, rz / jnp.where(active, pap, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        return i + 1, x, r, p, jnp.where(active, rz, rz_old), jnp.where(active, dot(r, r), rr)

    state = (jnp.asarray(0), x, r, jnp.zeros_like(r), jnp.ones_like(stop), dot(r, r))
    _, x, _, _, _, _ = lax.while_loop(cond, body, state)
    return known + x


def harmonic_fill(image, mask, *, iterations: int | None = None, tol: float = 1e-5) -> jax.Array:
    """Fill the hole with the harmonic interpolation of its border (Laplace's equation).

    Solves the 5-point discrete Laplace equation on the hole pixels, with the known pixels as
    fixed (Dirichlet) values and a zero-flux image border, by multigrid-preconditioned
    conjugate gradients. The result is the smoothest filling that meets the hole border.
    Jit-friendly (the shape decides the grid hierarchy); each image and channel of a batch is
    solved on its own. A 512x512 image with a 256x256 hole takes well under a second on CPU.

    Args:
      image: float [N, H, W, C] or [H, W, C].
      mask: [N, H, W, 1] or [H, W, 1]; values > 0.5 are hole.
      iterations: most CG iterations; None: 100 (about 10-20 are used at tol=1e-5).
      tol: stop once the residual norm is at most tol times the norm of the right-hand side,
        for every image and channel (float32 bottoms out near 1e-6).

    Returns:
      same shape and dtype as `image`; known pixels are returned bit for bit. An image with
      no known pixel is filled with `NO_KNOWN_PIXELS_FILL` grey.
    """
    images, masks, unbatched = _batched(image, mask, "harmonic_fill")
    if iterations is None:
        iterations = _DEFAULT_MAX_ITERATIONS
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1 (or None for the default), got {iterations}")
    hole = (masks > 0.5).astype(jnp.float32)
    solved = _solve_laplace(images.astype(jnp.float32), hole, max_iter=iterations, tol=tol)
    filled = jnp.where(hole > 0.5, solved.astype(images.dtype), images)
    return filled[0] if unbatched else filled


def poisson_paste(
    source, target, mask, *, offset_sigma: float = 0.0, exact_weight=None,
    iterations: int | None = None, tol: float = 1e-5,
):  # fmt: skip
    """Paste the hole of `source` into `target` in the gradient domain (Poisson image editing).

    Guided interpolation of Perez, Gangnet & Blake 2003 ("Poisson image editing", SIGGRAPH,
    Sec. 2) with the source's gradient as the guidance field v = grad g: on the hole Omega,
    f solves  Delta f = Delta g  with  f = f* (the target) on its border. Discretely, for each
    hole pixel p with in-image 4-neighbours N(p) (their discrete system, v_pq = g_p - g_q),

        |N(p)| f_p - sum_{q in N(p) and Omega} f_q
            = sum_{q in N(p) not in Omega} f*_q + sum_{q in N(p)} (g_p - g_q).

    Its solution is f = g + h, where h is harmonic on the hole with h = f* - g on the known
    pixels: `harmonic_fill(target - source, mask)`. So the source keeps its detail while any
    smooth colour offset from its surroundings is removed; the image border is zero-flux.

    With `offset_sigma` s > 0 the offset f* - g is first averaged over the known pixels with
    a Gaussian of s pixels (a normalised convolution, `local_mean`), so h removes only the
    offset's smooth part: an upsampled fill differs from the photo's border pixel by pixel
    in the photo's fine texture, and Perez's exact border would spread that texture's
    border samples over the hole as a smooth offset (docs/archive/results-rounds.md, "The fast choice:
    a smooth offset").

    Args:
      source: float [N, H, W, C] or [H, W, C], the fill whose gradients are kept (g).
      target: same shape, the image whose known pixels give the border values (f*).
      mask: [N, H, W, 1] or [H, W, 1]; values > 0.5 are hole.
      offset_sigma: 0 (Perez's paste), or the Gaussian's standard deviation in pixels.
      exact_weight: None, or [N, H, W, 1] / [H, W, 1] in [0, 1]: with offset_sigma > 0, the
        share w of the exact border offset's correction at each hole pixel,
        h = w h_exact + (1 - w) h_averaged (both harmonic); None: w = 0.
      iterations, tol: of the Laplace solve (`harmonic_fill`).

    Returns:
      same shape as `target` (dtype of `target`): known pixels are `target`'s bit for bit,
      the hole is source + h (not clipped). An image with no known pixel gets the source's
      hole unchanged (no border to match).
    """
    sources = jnp.asarray(source)
    targets, masks, unbatched = _batched(target, mask, "poisson_paste")
    sources = sources[None] if sources.ndim == 3 else sources
    if sources.shape != targets.shape:
        raise ValueError(
            f"poisson_paste: source shape {jnp.shape(source)} does not match target shape "
            f"{jnp.shape(target)}"
        )
    hole = masks > 0.5
    difference = targets.astype(jnp.float32) - sources.astype(jnp.float32)
    if offset_sigma > 0:
        averaged = local_mean(difference, jnp.logical_not(hole), offset_sigma)
        correction = harmonic_fill(averaged, masks, iterations=iterations, tol=tol)
        if exact_weight is not None:
            exact = harmonic_fill(difference, masks, iterations=iterations, tol=tol)
            weights = jnp.asarray(exact_weight, jnp.float32)
            weights = weights[None] if weights.ndim == 3 else weights
            correction = correction + weights * (exact - correction)
    else:
        correction = harmonic_fill(difference, masks, iterations=iterations, tol=tol)
    has_known = jnp.any(jnp.logical_not(hole), axis=(1, 2, 3), keepdims=True)
    correction = jnp.where(has_known, correction, 0.0)
    pasted = sources.astype(jnp.float32) + correction
    out = jnp.where(hole, pasted.astype(targets.dtype), targets)
    return out[0] if unbatched else out


def local_mean(values, weights, sigma: float) -> jax.Array:
    """The Gaussian-weighted mean of `values` over the pixels where `weights` is set: at each
    pixel sum_q G_s(p - q) w_q v_q / sum_q G_s(p - q) w_q (a normalised convolution; the
    Gaussian's standard deviation `sigma` pixels, cut at 3 sigma; zero where no weighted
    pixel is within reach).

    Args:
      values: [N, H, W, C]; weights: [N, H, W, 1] (bool or float); sigma: > 0, in pixels.
    """
    if not 0 < sigma < float("inf"):
        raise ValueError(f"sigma must be a finite number > 0 pixels, got {sigma}")
    values = jnp.asarray(values, jnp.float32)
    # Taps farther than the image reaches meet no pixel: cut there too (the same result), so
    # any sigma and any aspect ratio work, a kernel never larger than the image.
    reach = max(values.shape[1], values.shape[2]) - 1
    radius = max(1, min(int(3 * sigma + 0.5), reach))
    taps = jnp.exp(-0.5 * (jnp.arange(-radius, radius + 1, dtype=jnp.float32) / sigma) ** 2)
    taps = taps / taps.sum()

    def blur(x):  # separable along H and W, zero outside the image
        for axis in (1, 2):
            cut = min(radius, x.shape[axis] - 1)
            shape, widths = [1, 1, 1, 1], [(0, 0)] * 4
            shape[axis], widths[axis] = 2 * cut + 1, (cut, cut)
            kernel = taps[radius - cut : radius + cut + 1].reshape(shape)
            x = jax.scipy.signal.convolve(jnp.pad(x, widths), kernel, mode="valid")
        return x

    weights = jnp.asarray(weights, jnp.float32)
    total = blur(values * weights)
    count = blur(weights)
    return jnp.where(count > 1e-6, total / jnp.maximum(count, 1e-6), 0.0)
