"""npsynth: high-resolution image inpainting by multi-scale neural patch synthesis.

Yang, Lu, Lin, Shechtman, Wang, Li. "High-Resolution Image Inpainting using Multi-Scale
Neural Patch Synthesis", CVPR 2017 (arXiv 1611.09969); and its fast follow-up, feature
image translation (Song, Yang, Lin et al., arXiv 1711.08590).

    import npsynth
    result = npsynth.inpaint(image, mask)              # [H, W, 3] in [0, 1], mask 1 = hole
    fast = npsynth.inpaint(image, mask, preset="fast")     # or "paper", "translate", ...
    features = npsynth.load_vgg19()(x, ("relu3_1", "relu4_1"))   # the caller runs VGG-19
    loss = npsynth.joint_loss(x, reference, mask, features=features, alpha=1e-7, beta=0.1)
"""

from npsynth.api import inpaint, inpaint_batch
from npsynth.config import (
    ContentNetConfig,
    ContentTrainingConfig,
    Feature2ImageConfig,
    Image2FeatureConfig,
    InpaintConfig,
    OptimizeConfig,
    PasteOptions,
    PyramidConfig,
    ReferenceOptions,
    SolverOptions,
    TextureOptions,
    TranslateConfig,
)
from npsynth.conventions import downsample_mask
from npsynth.export import (
    load_content_net,
    load_feature2image,
    load_image2feature,
    save_content_net,
    save_feature2image,
    save_image2feature,
)
from npsynth.hub import load_vgg19
from npsynth.losses import (
    content_loss,
    feature_content_loss,
    joint_loss,
    joint_loss_terms,
    nearest_neighbours_for,
    texture_loss,
    tv_loss,
)
from npsynth.methods import METHODS
from npsynth.models.content_net import ContentNet
from npsynth.models.content_net import predict as predict_content
from npsynth.models.translation import FeatureToImage, ImageToFeature
from npsynth.models.vgg import VGG19
from npsynth.patches import nearest_neighbours, patch_swap, swap_hole_features
from npsynth.presets import PRESETS
from npsynth.pyramid import InpaintResult, ScaleResult
from npsynth.texture import make_joint_loss
from npsynth.weights import WeightsError
from npsynth.window import texture_window, windowed_vgg

__all__ = [
    "METHODS",
    "PRESETS",
    "VGG19",
    "ContentNet",
    "ContentNetConfig",
    "ContentTrainingConfig",
    "Feature2ImageConfig",
    "FeatureToImage",
    "Image2FeatureConfig",
    "ImageToFeature",
    "InpaintConfig",
    "InpaintResult",
    "OptimizeConfig",
    "PasteOptions",
    "PyramidConfig",
    "ReferenceOptions",
    "ScaleResult",
    "SolverOptions",
    "TextureOptions",
    "TranslateConfig",
    "WeightsError",
    "content_loss",
    "downsample_mask",
    "feature_content_loss",
    "inpaint",
    "inpaint_batch",
    "joint_loss",
    "joint_loss_terms",
    "load_content_net",
    "load_feature2image",
    "load_image2feature",
    "load_vgg19",
    "make_joint_loss",
    "nearest_neighbours",
    "nearest_neighbours_for",
    "patch_swap",
    "predict_content",
    "save_content_net",
    "save_feature2image",
    "save_image2feature",
    "swap_hole_features",
    "texture_loss",
    "texture_window",
    "tv_loss",
    "windowed_vgg",
]  # fmt: skip
__version__ = "0.1.0"
