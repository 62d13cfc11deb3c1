"""npsynth: high-resolution image inpainting by multi-scale neural patch synthesis.

Yang, Lu, Lin, Shechtman, Wang, Li. "High-Resolution Image Inpainting using Multi-Scale
Neural Patch Synthesis", CVPR 2017 (arXiv 1611.09969).
"""

from npsynth.vgg import VGG19, load_vgg19
from npsynth.weights import WeightsError

__all__ = ["VGG19", "WeightsError", "load_vgg19"]
__version__ = "0.1.0"
