"""Configuration dataclasses: the pyramid and one config per method (`pyramid`, `optimize`,
`translate`; built from flat or nested fields by `inpaint.config_for`), `models`
(architectures of the trained networks) and `training` (data, optimisation, the three jobs).
Paper defaults cite Yang et al. 2017 (arXiv 1611.09969) and Song et al. 2018."""

from npsynth.config.inpaint import (
    InpaintConfig,
    OptimizeConfig,
    PasteOptions,
    PyramidConfig,
    ReferenceOptions,
    SolverOptions,
    TextureOptions,
    TranslateConfig,
    config_for,
    setting_paths,
    with_settings,
)
from npsynth.config.models import (
    CONTENT_FILLS,
    ContentNetConfig,
    Feature2ImageConfig,
    Image2FeatureConfig,
)
from npsynth.config.training import (
    TRAIN_MASK_KINDS,
    ContentTrainingConfig,
    DataConfig,
    Feature2ImageLossConfig,
    Feature2ImageTrainingConfig,
    Image2FeatureTrainingConfig,
    TrainConfig,
)

__all__ = [
    "CONTENT_FILLS", "TRAIN_MASK_KINDS", "ContentNetConfig", "ContentTrainingConfig",
    "DataConfig", "Feature2ImageConfig", "Feature2ImageLossConfig", "Feature2ImageTrainingConfig",
    "Image2FeatureConfig", "Image2FeatureTrainingConfig", "InpaintConfig", "OptimizeConfig",
    "PasteOptions", "PyramidConfig", "ReferenceOptions", "SolverOptions", "TextureOptions",
    "TrainConfig", "TranslateConfig", "config_for", "setting_paths", "with_settings",
]  # fmt: skip
