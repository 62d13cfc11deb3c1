"""Settings of method="optimize", multi-scale neural patch synthesis (Yang et al. 2017):
L-BFGS on the joint loss (Eq. 1) at every scale.

The top level holds what a user tunes (scales, iterations, the weights of Eq. 1); the texture
term's and the solver's tuning sit in `TextureOptions` and `SolverOptions`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from npsynth.config.checks import (
    check_choice,
    check_content_layer,
    check_count,
    check_layers,
    check_number,
)
from npsynth.config.pyramid import MAX_CHUNK_SIZE, PyramidConfig, set_count, set_record

# "per_scale": the nearest neighbours of Eq. 3 fixed at the start of each scale (the
# authors' faster variant); "every_eval": recomputed at every loss evaluation (Eq. 3 as
# written). (Searching them again after every chunk of iterations, at every scale or at the
# last one only, copied whole objects into holes or did not help at 512 px and was removed:
# docs/archive/results-rounds.md, "Texture: matches searched again during a scale" and "... at the last
# scale only".)
NN_UPDATES = ("per_scale", "every_eval")
# How E_t averages (`npsynth.losses.texture_loss`): over the query windows (the paper), or per
# cell over the grid windows covering it (the authors' released code, CNNMRF).
PATCH_AVERAGES = ("windows", "cells")
LINESEARCHES = ("zoom", "backtracking", "hager-zhang")
LINESEARCH_INITS = ("increase", "max", "current")
# The largest weights of the joint loss (Eq. 1). With the pretrained VGG-19, alpha = 1
# already makes alpha * E_t some 1e7 times E_c (5e9 against 7e2 on a 128 px photo), so a
# larger alpha leaves E_c no say; the float32 loss overflows past about 1e27 (1e30: NaN).
# beta smooths by about sqrt(beta) pixels, so 1e6 (1000 px) flattens any scale.
MAX_ALPHA = 1.0
MAX_BETA = 1e6
MAX_ITERATIONS = 100_000  # L-BFGS iterations per scale, and per chunk
MAX_PATCH_SIZE = 16  # feature cells a side (relu4_1 of a 512 px photo is 64 cells)
MAX_HISTORY_SIZE = 1000  # L-BFGS memory
MAX_LINESEARCH_STEPS = 1000  # maxls


@dataclasses.dataclass(frozen=True, kw_only=True)
class SolverOptions:
    """How L-BFGS searches and when it stops (jaxopt.LBFGS's names where they exist;
    `npsynth.solver`).

    The defaults are the paper schedule's solver: a strong-Wolfe zoom line search whose
    first trial step grows from the last accepted one (about 2.7 loss evaluations per
    iteration on the joint loss). `linesearch_init="max"` first tries the full L-BFGS step,
    which is usually accepted at once (about one evaluation per iteration;
    docs/benchmarks.md, "Speed/quality frontier").
    """

    # Stop once the gradient norm falls below this (a finite number >= 0).
    tol: float = 1e-6
    # ... or once an iteration lowers the loss by less than this fraction of its value (0:
    # never; at most 1): the relative-decrease test of scipy's L-BFGS-B `ftol`.
    rel_tol: float = 0.0
    # L-BFGS memory: 1 to MAX_HISTORY_SIZE (1000).
    history_size: int = 10
    # Line search: jaxopt's "zoom" (strong Wolfe), "backtracking" or "hager-zhang".
    linesearch: str = "zoom"
    # Its first trial step: "increase" (grow the last accepted one, the paper schedule's),
    # "max" (the full L-BFGS step) or "current".
    linesearch_init: str = "increase"
    # Line-search trials per iteration at most: 1 to MAX_LINESEARCH_STEPS (1000).
    maxls: int = 30
    # Iterations per compiled chunk: progress (and cancel) is reported after each chunk, so 1
    # reports every iteration (costs under 1 %: docs/serve.md). 1 to MAX_ITERATIONS (100000).
    chunk_iterations: int = 1

    def __post_init__(self):
        check_choice("linesearch", self.linesearch, LINESEARCHES)
        check_choice("linesearch_init", self.linesearch_init, LINESEARCH_INITS)
        check_number("tol", self.tol)
        check_number("rel_tol", self.rel_tol, high=1.0)
        set_count(self, "history_size", high=MAX_HISTORY_SIZE)
        set_count(self, "maxls", high=MAX_LINESEARCH_STEPS)
        set_count(self, "chunk_iterations", high=MAX_ITERATIONS)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextureOptions:
    """The texture term E_t (Eq. 3) and its nearest-neighbour search."""

    # VGG-19 layers of E_t (Sec. 3.2: relu3_1 and relu4_1); any of the layers of
    # `npsynth.models.vgg.STRIDES`.
    layers: tuple[str, ...] = ("relu3_1", "relu4_1")
    # Side of the neural patches, in feature cells (Sec. 3.2: 3x3); 1 to MAX_PATCH_SIZE (16).
    patch_size: int = 3
    # When the nearest neighbours are searched: one of NN_UPDATES (above).
    nn_update: str = "per_scale"
    # Source windows searched on this grid (every `source_stride`-th row and column; 1: all,
    # the paper). The authors' released code (CNNMRF) samples them with stride 2.
    # 1 to MAX_PATCH_SIZE (16).
    source_stride: int = 1
    # Query windows of E_t counted on this grid, and the last row and column (1: all, the
    # paper); the released code uses 2. 1 to MAX_PATCH_SIZE (16).
    synthesis_stride: int = 1
    # How E_t averages its squared distances: "windows" (the paper: the mean over the query
    # windows) or "cells" (the released code: each cell's distance over the windows of the
    # grid covering it, summed; `losses.texture_loss`).
    patch_average: str = "windows"
    # Candidates per chunk of the nearest-neighbour search (bounds its memory); 1 to
    # MAX_CHUNK_SIZE (2^20).
    chunk_size: int = 512

    def __post_init__(self):
        object.__setattr__(self, "layers", check_layers("layers", self.layers))
        set_count(self, "patch_size", high=MAX_PATCH_SIZE)
        check_choice("nn_update", self.nn_update, NN_UPDATES)
        set_count(self, "source_stride", high=MAX_PATCH_SIZE)
        set_count(self, "synthesis_stride", high=MAX_PATCH_SIZE)
        check_choice("patch_average", self.patch_average, PATCH_AVERAGES)
        set_count(self, "chunk_size", high=MAX_CHUNK_SIZE)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizeConfig(PyramidConfig):
    """Multi-scale neural patch synthesis: L-BFGS on the joint loss (Eq. 1) at every scale."""

    method: ClassVar[str] = "optimize"
    # Sec. 3.3 uses 128, 256, 512.
    scales: tuple[int, ...] = (128, 256, 512)
    # L-BFGS iterations per scale, or one number per scale (`per_scale_iterations`). The
    # paper (Sec. 4) uses 100; the joint loss stops falling within about 10-25 of them
    # (docs/benchmarks.md, frontier), so the default is 15: the "paper" preset has 100.
    # 1 to MAX_ITERATIONS (100000).
    iterations: int | tuple[int, ...] = 15
    # Weight of the texture term E_t in Eq. 1 (best hole PSNR and SSIM in the sweep of
    # docs/archive/results-rounds.md, "How α and β were chosen"); from 0 to MAX_ALPHA (1:
    # E_t then outweighs E_c some 1e7 times).
    alpha: float = 1e-7
    # Weight of the TV term in Eq. 1 (best hole PSNR and SSIM in the same sweep); from 0 to
    # MAX_BETA (1e6), as beta_last.
    beta: float = 1.0
    # ... at the pyramid's last scale (None: beta there too). TV is squared, so beta smooths
    # by about sqrt(beta) pixels, and at the last scale that blurs the output's own detail:
    # 0.25 keeps more of it, closer to the photo's texture in VGG-19 features and still best
    # in hole L1, PSNR and SSIM on 20 photos at every protocol (docs/archive/results-rounds.md, "Headline
    # tables, third round").
    beta_last: float | None = 0.25
    # Space of E_c (Eq. 2): None (the paper) compares the hole's pixels with the reference; a
    # VGG-19 layer such as "relu4_2" (the authors' released code, weight 2e1 there) the mean
    # squared error between that layer's features of the image and of the reference, over
    # the whole image, so the pixels are free to carry texture (`losses.feature_content_loss`).
    content_layer: str | None = None
    texture: TextureOptions = dataclasses.field(default_factory=TextureOptions)
    solver: SolverOptions = dataclasses.field(default_factory=SolverOptions)

    def __post_init__(self):
        super().__post_init__()
        self.per_scale_iterations()  # checks them
        if isinstance(self.iterations, (tuple, list)):
            object.__setattr__(self, "iterations", self.per_scale_iterations())
        else:
            set_count(self, "iterations", high=MAX_ITERATIONS)
        check_number("alpha", self.alpha, high=MAX_ALPHA)
        check_number("beta", self.beta, high=MAX_BETA)
        if self.beta_last is not None:
            check_number("beta_last", self.beta_last, high=MAX_BETA)
        check_content_layer(self.content_layer)
        set_record(self, "texture", TextureOptions)
        set_record(self, "solver", SolverOptions)

    def per_scale_iterations(self) -> tuple[int, ...]:
        """The L-BFGS iterations at each of `scales` (`iterations` is one number or one per
        scale); a ValueError unless each is a whole number from 1 to MAX_ITERATIONS."""
        value = self.iterations
        per_scale = isinstance(value, (tuple, list))
        values = tuple(value) if per_scale else (value,) * len(self.scales)
        counts = tuple(check_count("iterations", v, high=MAX_ITERATIONS) for v in values)
        if len(counts) != len(self.scales):
            raise ValueError(
                f"iterations must be one number or one per scale ({len(self.scales)}), got {value}"
            )
        return counts

    @staticmethod
    def reference_every_scale(source: str) -> bool:
        """Whether E_c pulls towards a PatchMatch fill of each scale's own known pixels at
        every scale after the first (the start still the previous result upsampled), for a
        photo whose first reference came from `source` (`reference.content_source`): where
        that was PatchMatch; after a network's, E_c's reference is the guide, as in the paper
        (docs/archive/results-rounds.md, "Optimize on irregular holes"; the setting that chose otherwise,
        content_scales, was removed: no result recommended its other choices)."""
        return source == "patchmatch"
