"""Settings of `npsynth.inpaint`: the shared pyramid, then one config per method.

Paper defaults cite Yang et al. 2017 (arXiv 1611.09969) and Song et al. 2018 (arXiv 1711.08590).
Each method has its own dataclass, so no field is meaningless for the method in use:
`OptimizeConfig` (multi-scale neural patch synthesis) and `TranslateConfig` (feature image
translation), both extending `PyramidConfig`.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import ClassVar

from npsynth.config.checks import (
    check_choice,
    check_content_layer,
    check_count,
    check_layers,
    check_number,
    check_path,
)

CONTENT_REFERENCES = ("auto", "network", "harmonic", "mean", "patchmatch")
NN_UPDATES = ("per_scale", "per_chunk", "per_chunk_last", "every_eval")  # OptimizeConfig.nn_update
ALPHA_SCALINGS = ("none", "per_pixel")  # OptimizeConfig.alpha_scaling
CONTENT_SCALES = ("auto", "first", "every")  # OptimizeConfig.content_scales
PASTES = ("poisson", "direct")  # TranslateConfig.paste
IMAGE2FEATURES = ("auto", "network", "content")  # TranslateConfig.image2feature
# The smallest level the methods work at (pixels, longest side): below it VGG-19's relu4_1
# has too few cells for a 3x3 patch. Earlier scales below it are skipped
# (`npsynth.pyramid.level_sizes`); the last scale must reach it.
MIN_LEVEL_SIZE = 32
# The largest weights of the joint loss (Eq. 1). With the pretrained VGG-19, alpha = 1
# already makes alpha * E_t some 1e7 times E_c (5e9 against 7e2 on a 128 px photo), so a
# larger alpha leaves E_c no say; the float32 loss overflows past about 1e27 (1e30: NaN).
# beta smooths by about sqrt(beta) pixels, so 1e6 (1000 px) flattens any scale.
MAX_ALPHA = 1.0
MAX_BETA = 1e6
# The largest Gaussian of the PatchMatch base (pixels at the first scale): wider than any
# first scale, it is the plain mean of the fill (larger ones only cost time; inf fails).
MAX_BASE_SIGMA = 1e3
# Upper bounds of the whole-number settings: far past any useful value, low enough that no
# count overflows the int32 counters of the compiled loops (jax's default integers).
MAX_SCALE = 65536  # pixels, longest side of a pyramid level
MAX_ITERATIONS = 100_000  # L-BFGS iterations per scale, and per chunk
MAX_LEVELS = 64  # more than the scales given means every level
MAX_CHUNK_SIZE = 1 << 20  # candidates per chunk of the nearest-neighbour search
MAX_PATCH_SIZE = 16  # feature cells a side (relu4_1 of a 512 px photo is 64 cells)


def _increasing_scales(name: str, values) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a sequence of whole numbers of pixels, got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must name at least one scale, got {values}")
    scales = tuple(check_count(name, s, low=16, high=MAX_SCALE) for s in values)
    if any(b <= a for a, b in itertools.pairwise(scales)):
        raise ValueError(f"{name} must be strictly increasing, got {tuple(values)}")
    if scales[-1] < MIN_LEVEL_SIZE:
        raise ValueError(
            f"{name}: the last scale must be at least {MIN_LEVEL_SIZE} px, the smallest the "
            f"methods work at (VGG-19's relu4_1 needs it), got {tuple(values)}"
        )
    return scales


@dataclasses.dataclass(frozen=True, kw_only=True)
class PyramidConfig:
    """What every method shares: the coarse-to-fine pyramid and its first reference."""

    method: ClassVar[str] = ""
    # Working sizes (pixels, longest side) of the coarse-to-fine pyramid: whole numbers from
    # 16 to MAX_SCALE (65536), strictly increasing.
    scales: tuple[int, ...] = (128, 256, 512)
    # Context around the hole's bounding box kept for large photos, as a fraction of its size.
    context: float = 1.0
    # Content reference at the first scale: "auto" (the content network where one fits the
    # hole, else "patchmatch"; of the shipped networks only the paper-mode one, which fits
    # only the centred square: `npsynth.reference.content_source`), "network" (the first
    # network that fits, the shipped free-form one included), "harmonic" (Laplace fill from
    # the hole border), "mean" (mean colour of the known pixels) or "patchmatch"
    # (PatchMatch, Barnes et al. 2009, from the `pypatchmatch` package: sharp but seamy;
    # docs/results.md, "Optimize on irregular holes").
    content: str = "auto"
    # Exported content network (`python -m train.content --export`): a .npz or a training
    # workdir. None: $NPSYNTH_CONTENT_NET, else the networks shipped with npsynth.
    content_checkpoint: str | None = None
    # PatchMatch fills (the "patchmatch" reference, and E_c's at every scale): 0 keeps
    # PatchMatch's pixels; s > 0 keeps only their detail finer than a Gaussian of s pixels
    # (PM - G_s * PM) and takes the coarser colours from the harmonic fill (G_s * harmonic),
    # so a patch copied from a brighter or darker place leaves no colour seam
    # (`npsynth.reference.patchmatch_fill`; 16 lowers the object-removal gallery's mean
    # colour gap from 4.3 to 3.4: docs/results.md, "PatchMatch detail on a harmonic base").
    # At most MAX_BASE_SIGMA (1000).
    patchmatch_base_sigma: float = 16.0
    # Candidates per chunk of the nearest-neighbour search (bounds its memory); 1 to
    # MAX_CHUNK_SIZE (2^20).
    chunk_size: int = 512
    # Work only at the first N levels of the pyramid, then paste the last one's fill,
    # upsampled, in the gradient domain (`pyramid.paste_hole`). None: every level. 1 with
    # optimize is the fast choice (docs/results.md, "The fast choice"). 1 to MAX_LEVELS (64).
    levels: int | None = None
    # A fill worked below the region's size is upsampled and pasted in the gradient domain,
    # its offset from the photo at the hole's border spread over the hole. 0: Perez's exact
    # border (pixel by pixel); k > 0: the offset first averaged over the known pixels with a
    # Gaussian of k times the upsampling factor in pixels, so the photo's fine texture at the
    # border is not spread as an offset (`npsynth.fill.poisson_paste`, `offset_sigma`;
    # docs/results.md, "The fast choice: a smooth offset").
    paste_offset_span: float = 2.0
    # ... but only deep in the hole: the exact border offset keeps weight exp(-d / (r times
    # the upsampling factor)) at d pixels from the known pixels, so thin strokes still meet
    # their border pixel by pixel (0: the averaged offset everywhere; docs/results.md, "The
    # fast choice: the averaged offset deep in the hole").
    paste_exact_reach: float = 4.0

    def __post_init__(self):
        object.__setattr__(self, "scales", _increasing_scales("scales", self.scales))
        check_choice("content", self.content, CONTENT_REFERENCES)
        check_path("content_checkpoint", self.content_checkpoint)
        check_number("patchmatch_base_sigma", self.patchmatch_base_sigma, high=MAX_BASE_SIGMA)
        check_number("paste_offset_span", self.paste_offset_span)
        check_number("paste_exact_reach", self.paste_exact_reach)
        check_number("context", self.context)
        self._count("chunk_size", high=MAX_CHUNK_SIZE)
        if self.levels is not None:
            self._count("levels", high=MAX_LEVELS)

    def _count(self, name: str, *, high: int) -> None:
        """Check whole-number field `name` (`check_count`) and store it as an int."""
        object.__setattr__(self, name, check_count(name, getattr(self, name), high=high))

    @classmethod
    def tiny(cls, **overrides):
        """A small, fast variant for tests and smoke runs (32 and 64 px, harmonic reference)."""
        return cls(**({"scales": (32, 64), "content": "harmonic"} | cls._tiny | overrides))

    _tiny: ClassVar[dict] = {}


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizeConfig(PyramidConfig):
    """Multi-scale neural patch synthesis: L-BFGS on the joint loss (Eq. 1) at every scale."""

    method: ClassVar[str] = "optimize"
    _tiny: ClassVar[dict] = {"iterations": 5}
    # Sec. 3.3 uses 128, 256, 512.
    scales: tuple[int, ...] = (128, 256, 512)
    # L-BFGS iterations per scale, or one number per scale. The paper (Sec. 4) uses 100; the
    # joint loss stops falling within about 10-25 of them (docs/benchmarks.md, frontier), so
    # the default is 15: `iterations=100` is the paper schedule. 1 to MAX_ITERATIONS (100000).
    iterations: int | tuple[int, ...] = 15
    # Weight of the texture term E_t in Eq. 1 (best hole PSNR and SSIM in the sweep of
    # docs/results.md); from 0 to MAX_ALPHA (1: E_t then outweighs E_c some 1e7 times).
    alpha: float = 1e-7
    # Weight of the TV term in Eq. 1 (best hole PSNR and SSIM in the sweep of
    # docs/results.md); from 0 to MAX_BETA (1e6), as beta_last.
    beta: float = 1.0
    # ... at the pyramid's last scale (None: beta there too). TV is squared, so beta smooths
    # by about sqrt(beta) pixels, and at the last scale that blurs the output's own detail:
    # 0.25 keeps more of it, closer to the photo's texture in VGG-19 features and still best
    # in hole L1, PSNR and SSIM on 20 photos at every protocol (docs/results.md, "Headline
    # tables, third round").
    beta_last: float | None = 0.25
    # How alpha changes from scale to scale. E_c sums over the hole's pixels and E_t averages
    # over its patches, so at a fixed alpha E_t weighs 4x less at each doubled scale. "none":
    # the same alpha at every scale (the paper); "per_pixel": alpha times (scale / first
    # scale)^2, the hole's pixel count relative to the first scale, so alpha * E_t / E_c keeps
    # its first-scale balance.
    alpha_scaling: str = "none"
    # Where E_c's reference (Eq. 2) comes from after the first scale: "first" (the paper: the
    # content reference at the first scale, then each scale's start, the previous result
    # upsampled), "every" (a PatchMatch fill of each scale's own known pixels, the start
    # still the previous result upsampled) or "auto" ("every" where the first scale's
    # reference is PatchMatch, else "first"; docs/results.md, "Optimize on irregular holes").
    content_scales: str = "auto"
    # Space of E_c (Eq. 2): None (the paper) compares the hole's pixels with the reference; a
    # VGG-19 layer such as "relu4_2" (the authors' released code, weight 2e1 there) the mean
    # squared error between that layer's features of the image and of the reference, over
    # the whole image, so the pixels are free to carry texture (`losses.feature_content_loss`).
    content_layer: str | None = None
    # VGG-19 layers of the texture term (Sec. 3.2: relu3_1 and relu4_1); any of the layers
    # of `npsynth.models.vgg.STRIDES`.
    layers: tuple[str, ...] = ("relu3_1", "relu4_1")
    # Side of the neural patches, in feature cells (Sec. 3.2: 3x3); 1 to MAX_PATCH_SIZE (16).
    patch_size: int = 3
    # "per_scale" (the default): nearest neighbours fixed at the start of each scale (the
    # authors' faster variant); "per_chunk": searched again on the current iterate after
    # every chunk of `chunk_iterations` iterations, L-BFGS then starting afresh from that
    # iterate (the loss changes with the matches, so its curvature history is dropped; with
    # chunks of 5 closer to the photo's texture in VGG-19 features, but it copies whole
    # objects into holes: docs/results.md, "Texture: matches searched again during a
    # scale"); "per_chunk_last": "per_scale", then "per_chunk" at the pyramid's last scale
    # only (not reached with `levels` short of it); "every_eval": recomputed at every loss
    # evaluation (the paper, Eq. 3).
    nn_update: str = "per_scale"
    # L-BFGS stops early once the gradient norm falls below this (a finite number >= 0).
    tol: float = 1e-6
    # ... or once an iteration lowers the loss by less than this fraction of it (0: never;
    # at most 1).
    rel_tol: float = 0.0
    # L-BFGS memory, and its line search: jaxopt's "zoom" (strong Wolfe), "backtracking" or
    # "hager-zhang"; the first trial step "increase" (grow the last accepted one, the paper
    # schedule's), "max" (the full L-BFGS step) or "current"; at most `maxls` trials.
    # history_size: 1 to npsynth.solver.MAX_HISTORY_SIZE (1000); maxls: 1 to MAX_LINESEARCH_STEPS (1000).
    history_size: int = 10
    linesearch: str = "zoom"
    linesearch_init: str = "increase"
    maxls: int = 30
    # Iterations per compiled chunk: progress (and cancel) is reported after each chunk, and
    # "per_chunk" searches the matches again. 1 to MAX_ITERATIONS (100000).
    chunk_iterations: int = 10

    def __post_init__(self):
        super().__post_init__()
        self._one_or_per_scale(
            "iterations", lambda v: check_count("iterations", v, high=MAX_ITERATIONS)
        )
        check_number("alpha", self.alpha, high=MAX_ALPHA)
        check_number("beta", self.beta, high=MAX_BETA)
        if self.beta_last is not None:
            check_number("beta_last", self.beta_last, high=MAX_BETA)
        check_choice("nn_update", self.nn_update, NN_UPDATES)
        check_choice("alpha_scaling", self.alpha_scaling, ALPHA_SCALINGS)
        check_choice("content_scales", self.content_scales, CONTENT_SCALES)
        object.__setattr__(self, "layers", check_layers("layers", self.layers))
        check_content_layer(self.content_layer)
        self._count("patch_size", high=MAX_PATCH_SIZE)
        self._count("chunk_iterations", high=MAX_ITERATIONS)
        options = self.solver_options()  # checks the solver's fields (`SolverOptions`)
        object.__setattr__(self, "history_size", options.history_size)
        object.__setattr__(self, "maxls", options.maxls)

    def _one_or_per_scale(self, name: str, convert) -> tuple:
        """Field `name` (one number, or a sequence of one per scale) stored as one `convert`ed
        number or a tuple of them; returns every value given."""
        value = getattr(self, name)
        per_scale = isinstance(value, (tuple, list))
        values = tuple(convert(v) for v in value) if per_scale else (convert(value),)
        if per_scale and len(values) != len(self.scales):
            raise ValueError(
                f"{name} must be one number or one per scale ({len(self.scales)}), got {value}"
            )
        object.__setattr__(self, name, values if per_scale else values[0])
        return values

    def reference_every_scale(self, source: str) -> bool:
        """Whether E_c pulls towards a PatchMatch fill at every scale after the first, for a
        photo whose first reference came from `source` (`reference.content_source`)."""
        if self.content_scales == "auto":
            return source == "patchmatch"
        return self.content_scales == "every"

    def solver_options(self):
        """The L-BFGS settings as `npsynth.solver.SolverOptions`."""
        from npsynth.solver import SolverOptions

        return SolverOptions(
            tol=self.tol, rel_tol=self.rel_tol, history_size=self.history_size,
            linesearch=self.linesearch, linesearch_init=self.linesearch_init, maxls=self.maxls,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True, kw_only=True)
class TranslateConfig(PyramidConfig):
    """Feature image translation: Image2Feature -> patch-swap -> Feature2Image per scale."""

    method: ClassVar[str] = "translate"
    # Song et al. 2018, Fig. 4: 256 then 512.
    scales: tuple[int, ...] = (256, 512)
    # The hole's features at the first scale: "auto" (the Image2Feature network when one is
    # available, else "content"), "network", or "content" (relu3_1 of the content reference).
    image2feature: str = "auto"
    # Exported Image2Feature network (.npz or training workdir). None: $NPSYNTH_IMAGE2FEATURE,
    # else the one shipped with npsynth, if any.
    image2feature_checkpoint: str | None = None
    # Exported Feature2Image network. None: $NPSYNTH_FEATURE2IMAGE, else the shipped one.
    feature2image_checkpoint: str | None = None
    # How each level's decoded hole joins the known pixels: "poisson" (gradient-domain paste,
    # Perez et al. 2003: decoded + the harmonic correction that meets the known border, at
    # every level, then clipped to [0, 1]) or "direct" (Song et al.: decoded pixels as they
    # are). Poisson is the default: it removes the decoder's colour offsets (docs/results.md,
    # "Translate: Poisson paste").
    paste: str = "poisson"

    def __post_init__(self):
        super().__post_init__()
        check_choice("image2feature", self.image2feature, IMAGE2FEATURES)
        check_path("image2feature_checkpoint", self.image2feature_checkpoint)
        check_path("feature2image_checkpoint", self.feature2image_checkpoint)
        check_choice("paste", self.paste, PASTES)


# The config of the default method; kept under the name `npsynth.inpaint` has always taken.
InpaintConfig = OptimizeConfig
CONFIGS: dict[str, type[PyramidConfig]] = {"optimize": OptimizeConfig, "translate": TranslateConfig}


def config_for(method: str, **fields) -> PyramidConfig:
    """The config of `method` ("optimize" or "translate") with `fields` set.

    A field of the other method raises a ValueError that names the method it belongs to.
    """
    if method not in CONFIGS:
        raise ValueError(f"method must be {' or '.join(CONFIGS)}, got {method!r}")
    cls = CONFIGS[method]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names)
    if unknown:
        owners = {
            name: other
            for other, other_cls in CONFIGS.items()
            for name in (f.name for f in dataclasses.fields(other_cls))
        }
        raise ValueError(
            "; ".join(
                f"{name} is a setting of method {owners[name]!r}, not {method!r}"
                if name in owners
                else f"unknown setting {name!r}"
                for name in unknown
            )
        )
    return cls(**fields)
