"""The content network: a Context-Encoder-style encoder-decoder and its discriminator.

Yang et al. 2017, Sec. 3.1: the content network is the Context Encoder of Pathak et al.
(2016) with a standard fully connected bottleneck instead of the channel-wise one, ELU
activations and batch normalisation. Its input is the image with the hole filled with the
mean colour of the known pixels (`npsynth.fill.mean_fill`); it is trained with
`lambda * L2(hole) + (1 - lambda) * adversarial` (`npsynth.training`, `python -m train.content`).

With `fill="harmonic"` (`ContentNetConfig.fill`, not in the paper) the input hole holds the
harmonic fill (`npsynth.fill.harmonic_fill`) instead, and the network predicts a correction
added to it; the last layer starts at zero, so an untrained network returns the harmonic
fill and training starts from it. Useful when there is little compute to train.

Two modes (`ContentNetConfig.mode`):

- "paper": a 128x128 image with a centred 64x64 hole in, the central 64x64 out (in general,
  the central half of an `image_size` image). The discriminator judges that central patch.
- "freeform": any hole; the mask is a fourth input channel, the prediction covers the whole
  image and is composited with the known pixels. The discriminator judges the composite.

With `skips=True` (free-form only, not in the paper) the decoder is a U-Net's: each of its
layers also takes the encoder's features at the same resolution.

Arrays are NHWC float32, images RGB in [0, 1], masks `[N, H, W, 1]` with 1 = hole.

Trained weights travel as a small `.npz` (float16 by default) with the architecture embedded
and a readable `.json` beside it: `npsynth.export.save_content_net` and `load_content_net`,
then `predict`.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from npsynth.config.models import CONTENT_FILLS, ContentNetConfig
from npsynth.fill import harmonic_fill, mean_fill
from npsynth.models.discriminator import Discriminator
from npsynth.models.layers import (
    BOTTOM,
    batch_norm,
    down_conv,
    eval_mode,
    halvings,
    up_conv,
)


def centre_box(size: int) -> tuple[int, int]:
    """(start, stop) of the central half of a side of `size` pixels (paper mode's hole)."""
    return size // 4, size // 4 + size // 2


def paper_mask(size: int) -> np.ndarray:
    """The paper mode's hole: float32 [size, size, 1], 1 on the central size/2 x size/2 square."""
    start, stop = centre_box(size)
    mask = np.zeros((size, size, 1), np.float32)
    mask[start:stop, start:stop] = 1.0
    return mask


def fills(model: ContentNet, mask) -> bool:
    """Whether `model` can fill this hole ([S, S, 1], non-zero = hole, S = model.image_size):
    a free-form network fills any hole, a paper-mode one only the centred square."""
    if model.mode != "paper":
        return True
    paper = paper_mask(model.image_size) > 0
    return bool(np.all((np.asarray(mask, np.float32).reshape(paper.shape) > 0.5) == paper))


class ContentNet(nnx.Module):
    """Encoder-decoder that predicts the hole's content from the filled image.

    Encoder: strided 4x4 convolutions from `image_size` down to 4x4 (`channels`, ELU, batch
    norm after all but the first). Bottleneck: flatten, a fully connected layer to
    `bottleneck` units and one back to 4x4xC (batch norm, ELU). Decoder: the mirrored 4x4
    transposed convolutions up to the output size, then tanh mapped to [0, 1].

    Args:
      mode: "paper" (output: the central half) or "freeform" (mask channel in, full output).
      image_size: input side in pixels, 4 * 2^k (the paper: 128).
      channels: encoder widths, one per halving (k of them); the decoder mirrors them.
      bottleneck: fully connected bottleneck width (Context Encoder: 4000).
      dropout: dropout rate after the bottleneck (0: none).
      fill: the input hole's filling, "mean" (the paper) or "harmonic" (then the output is
        the harmonic fill plus a learned correction, zero at initialisation).
      skips: concatenate each encoder layer's output to the input of the decoder layer at
        the same resolution (U-Net; free-form mode only).
      rngs: initialises the weights.
    """

    def __init__(
        self,
        *,
        mode: str = "freeform",
        image_size: int = 128,
        channels=(64, 64, 128, 256, 512),
        bottleneck: int = 4000,
        dropout: float = 0.0,
        fill: str = "mean",
        skips: bool = False,
        rngs: nnx.Rngs,
    ):
        if mode not in ("paper", "freeform"):
            raise ValueError(f"mode must be 'paper' or 'freeform', got {mode!r}")
        if fill not in CONTENT_FILLS:
            raise ValueError(f"fill must be one of {CONTENT_FILLS}, got {fill!r}")
        channels = tuple(int(c) for c in channels)
        if len(channels) != halvings(image_size):
            raise ValueError(
                f"channels needs {halvings(image_size)} entries for image_size {image_size} "
                f"(one per halving down to {BOTTOM}x{BOTTOM}), got {channels}"
            )
        if skips and mode != "freeform":
            raise ValueError("skips need mode 'freeform' (paper mode predicts only the centre)")
        self.mode = mode
        self.fill = fill
        self.skips = bool(skips)
        self.image_size = image_size
        self.channels = channels
        c_in = 4 if mode == "freeform" else 3
        widths = (c_in,) + channels
        self.encoder = nnx.List([down_conv(a, b, rngs) for a, b in itertools.pairwise(widths)])
        # No norm after the first convolution (DCGAN, Context Encoder).
        self.encoder_norms = nnx.List([batch_norm(c, rngs) for c in channels[1:]])

        flat = BOTTOM * BOTTOM * channels[-1]
        self.fc_in = nnx.Linear(flat, bottleneck, rngs=rngs)
        self.fc_in_norm = batch_norm(bottleneck, rngs)
        self.dropout = nnx.Dropout(dropout)
        self.fc_out = nnx.Linear(bottleneck, flat, rngs=rngs)
        self.fc_out_norm = batch_norm(channels[-1], rngs)

        # Freeform: back up to image_size (all k layers mirrored, the last one to RGB).
        # Paper: up to image_size / 2 (the first encoder layer has no mirror).
        mirrored = channels[::-1] if mode == "freeform" else channels[:0:-1]
        outs = mirrored[1:] + (3,)
        ins = tuple(2 * c for c in mirrored) if skips else mirrored
        self.decoder = nnx.List([up_conv(a, b, rngs) for a, b in zip(ins, outs)])
        self.decoder_norms = nnx.List([batch_norm(c, rngs) for c in outs[:-1]])
        if fill == "harmonic":  # Zero correction at initialisation: the output is the fill.
            last = self.decoder[-1]
            last.kernel[...] = jnp.zeros_like(last.kernel[...])
            last.bias[...] = jnp.zeros_like(last.bias[...])

    @property
    def output_size(self) -> int:
        """Side of the prediction: image_size (freeform) or image_size / 2 (paper)."""
        return self.image_size if self.mode == "freeform" else self.image_size // 2

    def __call__(self, images: jax.Array, mask: jax.Array, *, rngs=None) -> jax.Array:
        """Predict the hole's content.

        Args:
          images: float32 [N, S, S, 3] in [0, 1], S = image_size; hole pixels are ignored.
          mask: [N, S, S, 1], 1 = hole. In paper mode it should be `paper_mask(S)`.
          rngs: key (or nnx.Rngs) for dropout; only needed when training with dropout > 0.

        Returns:
          float32 [N, S, S, 3] (freeform) or [N, S/2, S/2, 3] (paper, the central half), in
          [0, 1]. Composite it with the known pixels with `composite`.
        """
        size = self.image_size
        if images.ndim != 4 or images.shape[1:] != (size, size, 3):
            raise ValueError(
                f"ContentNet expects images [N, {size}, {size}, 3], got {tuple(images.shape)}; "
                f"resize (npsynth.resize.resize_image) or crop to {size}x{size} first"
            )
        if mask.shape != images.shape[:3] + (1,):
            raise ValueError(
                f"mask must be [N, {size}, {size}, 1] like images, got {tuple(mask.shape)}"
            )
        hole = (mask > 0.5).astype(jnp.float32)
        fill = harmonic_fill if self.fill == "harmonic" else mean_fill
        filled = jax.lax.stop_gradient(fill(images.astype(jnp.float32), hole))
        x = filled * 2.0 - 1.0  # Context Encoder: [-1, 1].
        if self.mode == "freeform":
            x = jnp.concatenate([x, hole], axis=-1)
        features = []
        for index, conv in enumerate(self.encoder):
            x = conv(x)
            if index > 0:
                x = self.encoder_norms[index - 1](x)
            x = jax.nn.elu(x)
            features.append(x)
        n = x.shape[0]
        x = self.fc_in(x.reshape(n, -1))
        x = self.dropout(jax.nn.elu(self.fc_in_norm(x)), rngs=rngs)
        x = self.fc_out(x).reshape(n, BOTTOM, BOTTOM, self.channels[-1])
        x = jax.nn.elu(self.fc_out_norm(x))
        for index, deconv in enumerate(self.decoder):
            if self.skips:  # Encoder features at this resolution, deepest first.
                x = jnp.concatenate([x, features[-1 - index]], axis=-1)
            x = deconv(x)
            if index < len(self.decoder_norms):
                x = jax.nn.elu(self.decoder_norms[index](x))
        if self.fill == "harmonic":
            if self.mode == "paper":
                start, stop = centre_box(size)
                filled = filled[:, start:stop, start:stop]
            return jnp.clip(filled + jnp.tanh(x), 0.0, 1.0)
        return (jnp.tanh(x) + 1.0) * 0.5


def composite(mode: str, images: jax.Array, mask: jax.Array, prediction: jax.Array) -> jax.Array:
    """The full image: the prediction inside the hole, the input elsewhere.

    Args:
      mode: the network's mode; in paper mode `prediction` is the central half.
      images: [N, S, S, 3]; mask: [N, S, S, 1], 1 = hole.
      prediction: the network's output.

    Returns:
      [N, S, S, 3]; known pixels are the input's, bit for bit.
    """
    if mode == "paper":
        start, stop = centre_box(images.shape[1])
        pad = ((0, 0), (start, images.shape[1] - stop), (start, images.shape[2] - stop), (0, 0))
        prediction = jnp.pad(prediction, pad)
    return jnp.where(mask > 0.5, prediction.astype(images.dtype), images)


def make_content_net(config: ContentNetConfig, *, rngs: nnx.Rngs) -> ContentNet:
    """The generator described by `config`."""
    return ContentNet(
        mode=config.mode,
        image_size=config.image_size,
        channels=config.channels,
        bottleneck=config.bottleneck,
        dropout=config.dropout,
        fill=config.fill,
        skips=config.skips,
        rngs=rngs,
    )


def make_discriminator(config: ContentNetConfig, *, rngs: nnx.Rngs) -> Discriminator:
    """The discriminator for `config`: it judges the central half (paper) or the whole image."""
    size = config.image_size // 2 if config.mode == "paper" else config.image_size
    return Discriminator(
        input_size=size, width=config.disc_width, max_width=config.disc_max_width, rngs=rngs
    )


@functools.partial(jax.jit, static_argnums=0)
def _predict(graphdef, state, images, mask):
    model = nnx.merge(graphdef, state)
    return composite(model.mode, images, mask, model(images, mask))


def predict(model: ContentNet, image, mask) -> np.ndarray:
    """Fill the hole of a `model.image_size` image (128x128 for the shipped network).

    Runs the network in evaluation mode (running batch-norm statistics, no dropout) and
    composites: known pixels come back unchanged. Compiled once per shape.

    Args:
      model: a `ContentNet`, e.g. from `npsynth.export.load_content_net`.
      image: float [S, S, 3] or [N, S, S, 3], RGB in [0, 1]; hole pixels are ignored.
      mask: [S, S, 1] / [S, S] (or batched), non-zero = hole. Paper-mode networks only fill
        the centred square (`paper_mask(S)`); use a freeform network for other holes.

    Returns:
      float32 [S, S, 3] (or [N, S, S, 3]): the image with its hole filled.
    """
    images = np.asarray(image, np.float32)
    masks = np.asarray(mask, np.float32)
    unbatched = images.ndim == 3
    if unbatched:
        images = images[None]
        masks = masks[None]
    if masks.ndim == images.ndim - 1:
        masks = masks[..., None]
    size = model.image_size
    if images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise ValueError(
            f"predict expects an image [{size}, {size}, 3] (or a batch of them) for this "
            f"network, got {images.shape}; resize to {size}x{size} first"
        )
    if masks.shape != images.shape[:3] + (1,):
        raise ValueError(f"mask shape {masks.shape} does not fit image shape {images.shape}")
    masks = (masks > 0.5).astype(np.float32)
    if not all(fills(model, m) for m in masks):
        raise ValueError(
            f"this content network was trained in paper mode: it only fills the centred "
            f"{size // 2}x{size // 2} square of a {size}x{size} image. Use a freeform network "
            "for other holes."
        )
    graphdef, state = nnx.split(eval_mode(model))
    filled = _predict(graphdef, state, jnp.asarray(images), jnp.asarray(masks))
    filled = np.asarray(filled, np.float32)
    return filled[0] if unbatched else filled
