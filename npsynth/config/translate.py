"""Settings of method="translate", feature image translation (Song et al. 2018,
arXiv 1711.08590): Image2Feature -> patch-swap -> Feature2Image at every scale."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from npsynth.config.checks import check_choice, check_path
from npsynth.config.pyramid import MAX_CHUNK_SIZE, PyramidConfig, set_count

LEVEL_PASTES = ("poisson", "direct")  # TranslateConfig.level_paste
IMAGE2FEATURES = ("auto", "network", "content")  # TranslateConfig.image2feature


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
    # "Translate: Poisson paste"). (The paste of a fill worked below full size is `paste`.)
    level_paste: str = "poisson"
    # Candidates per chunk of the patch-swap's nearest-neighbour search (bounds its memory);
    # 1 to MAX_CHUNK_SIZE (2^20).
    chunk_size: int = 512

    def __post_init__(self):
        super().__post_init__()
        check_choice("image2feature", self.image2feature, IMAGE2FEATURES)
        check_path("image2feature_checkpoint", self.image2feature_checkpoint)
        check_path("feature2image_checkpoint", self.feature2image_checkpoint)
        check_choice("level_paste", self.level_paste, LEVEL_PASTES)
        set_count(self, "chunk_size", high=MAX_CHUNK_SIZE)
