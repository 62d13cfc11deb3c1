"""What every method shares: the coarse-to-fine pyramid, its first reference and the paste.

Paper defaults cite Yang et al. 2017 (arXiv 1611.09969). Tuning that users never need sits in
nested records (`ReferenceOptions`, `PasteOptions`); their field names are unique across a
method's records, so a flat name (`patchmatch_base_sigma=0`) reaches its record
(`npsynth.config.settings`).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import ClassVar

from npsynth.config.checks import check_choice, check_count, check_number, check_path

CONTENT_REFERENCES = ("auto", "network", "harmonic", "mean", "patchmatch")
# The smallest level the methods work at (pixels, longest side): below it VGG-19's relu4_1
# has too few cells for a 3x3 patch. Earlier scales below it are skipped
# (`npsynth.pyramid.level_sizes`); the last scale must reach it.
MIN_LEVEL_SIZE = 32
# The largest Gaussian of the PatchMatch base (pixels at the first scale): wider than any
# first scale, it is the plain mean of the fill (larger ones only cost time; inf fails).
MAX_BASE_SIGMA = 1e3
# Upper bounds of the whole-number settings: far past any useful value, low enough that no
# count overflows the int32 counters of the compiled loops (jax's default integers).
MAX_SCALE = 65536  # pixels, longest side of a pyramid level
MAX_LEVELS = 64  # more than the scales given means every level
MAX_CHUNK_SIZE = 1 << 20  # candidates per chunk of the nearest-neighbour search


def increasing_scales(name: str, values) -> tuple[int, ...]:
    """`values` as a tuple of whole numbers of pixels, strictly increasing, the last at
    least MIN_LEVEL_SIZE; else a ValueError naming setting `name`."""
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


def set_count(record, name: str, *, high: int) -> None:
    """Check whole-number field `name` of frozen `record` (`check_count`), stored as an int."""
    object.__setattr__(record, name, check_count(name, getattr(record, name), high=high))


def set_record(config, name: str, cls: type) -> None:
    """Field `name` of frozen `config`: a `cls` as given, a dict of `cls`'s fields made into
    one, else a ValueError naming the setting."""
    value = getattr(config, name)
    if isinstance(value, dict):
        value = cls(**value)
    if not isinstance(value, cls):
        raise ValueError(  # noqa: TRY004 (every bad setting is a ValueError)
            f"{name} must be a {cls.__name__} or a dict of its fields, got {value!r}"
        )
    object.__setattr__(config, name, value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReferenceOptions:
    """Where the first scale's content reference comes from (Sec. 3.1)."""

    # "auto" (the content network where one fits the hole, else "patchmatch"; of the shipped
    # networks only the paper-mode one, which fits only the centred square:
    # `npsynth.reference.content_source`), "network" (the first network that fits, the
    # shipped free-form one included), "harmonic" (Laplace fill from the hole border),
    # "mean" (mean colour of the known pixels) or "patchmatch" (PatchMatch, Barnes et al.
    # 2009, from the `pypatchmatch` package: sharp but seamy; docs/archive/results-rounds.md, "Optimize on
    # irregular holes").
    content: str = "auto"
    # Exported content network (`python -m train.content --export`): a .npz or a training
    # workdir. None: $NPSYNTH_CONTENT_NET, else the networks shipped with npsynth.
    content_checkpoint: str | None = None
    # PatchMatch fills (the "patchmatch" reference, and E_c's at every scale after a
    # PatchMatch first reference): 0 keeps PatchMatch's pixels; s > 0 keeps only their
    # detail finer than a Gaussian of s pixels (PM - G_s * PM) and takes the coarser colours
    # from the harmonic fill (G_s * harmonic), so a patch copied from a brighter or darker
    # place leaves no colour seam (`npsynth.reference.patchmatch_fill`; 16 lowers the
    # object-removal gallery's mean colour gap from 4.3 to 3.4: docs/archive/results-rounds.md, "PatchMatch
    # detail on a harmonic base"). At most MAX_BASE_SIGMA (1000).
    patchmatch_base_sigma: float = 16.0

    def __post_init__(self):
        check_choice("content", self.content, CONTENT_REFERENCES)
        check_path("content_checkpoint", self.content_checkpoint)
        check_number("patchmatch_base_sigma", self.patchmatch_base_sigma, high=MAX_BASE_SIGMA)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PasteOptions:
    """How a fill worked below the region's size is upsampled and pasted in the gradient
    domain (`npsynth.pyramid.paste_hole`, `npsynth.fill.poisson_paste`)."""

    # Its offset from the photo at the hole's border is spread over the hole. 0: Perez's
    # exact border (pixel by pixel); k > 0: the offset first averaged over the known pixels
    # with a Gaussian of k times the upsampling factor in pixels, so the photo's fine texture
    # at the border is not spread as an offset (`offset_sigma`; docs/archive/results-rounds.md, "The fast
    # choice: a smooth offset").
    paste_offset_span: float = 2.0
    # ... but only deep in the hole: the exact border offset keeps weight exp(-d / (r times
    # the upsampling factor)) at d pixels from the known pixels, so thin strokes still meet
    # their border pixel by pixel (0: the averaged offset everywhere; docs/archive/results-rounds.md, "The
    # fast choice: the averaged offset deep in the hole").
    paste_exact_reach: float = 4.0

    def __post_init__(self):
        check_number("paste_offset_span", self.paste_offset_span)
        check_number("paste_exact_reach", self.paste_exact_reach)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PyramidConfig:
    """What every method shares: the coarse-to-fine pyramid, its first reference, the paste."""

    method: ClassVar[str] = ""
    # Working sizes (pixels, longest side) of the coarse-to-fine pyramid: whole numbers from
    # 16 to MAX_SCALE (65536), strictly increasing.
    scales: tuple[int, ...] = (128, 256, 512)
    # Work only at the first N levels of the pyramid, then paste the last one's fill,
    # upsampled, in the gradient domain (`paste`). None: every level. 1 with optimize is the
    # fast choice (docs/results.md, "The fast choice"). 1 to MAX_LEVELS (64).
    levels: int | None = None
    # Context around the hole's bounding box kept for large photos, as a fraction of its size.
    context: float = 1.0
    reference: ReferenceOptions = dataclasses.field(default_factory=ReferenceOptions)
    paste: PasteOptions = dataclasses.field(default_factory=PasteOptions)

    def __post_init__(self):
        object.__setattr__(self, "scales", increasing_scales("scales", self.scales))
        check_number("context", self.context)
        if self.levels is not None:
            set_count(self, "levels", high=MAX_LEVELS)
        set_record(self, "reference", ReferenceOptions)
        set_record(self, "paste", PasteOptions)
