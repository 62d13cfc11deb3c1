"""The architectures (Flax NNX, NHWC), apart from how they are trained or loaded.

- `vgg`: VGG-19 (conv1_1 ... relu5_4), the features of the losses (Yang et al. 2017, Sec. 3).
- `content_net`: the content network and its helpers (Sec. 3.1).
- `translation`: Image2Feature and Feature2Image (Song et al. 2018, Sec. 3.2).
- `discriminator`: the DCGAN / Context Encoder discriminator all three are trained against.
- `layers`: shared layers (the phase-form transposed convolution, conv, batch norm, ...).

Training lives in `npsynth.training`, export and loading in `npsynth.export`.
"""
