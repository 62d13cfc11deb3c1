"""Architectures of the trained networks: the content network (Yang et al. 2017, Sec. 3.1)
and the feature image translation networks (Song et al. 2018, Sec. 3.2).
"""

from __future__ import annotations

import dataclasses

# What fills the content network's input hole (`ContentNetConfig.fill`).
CONTENT_FILLS = ("mean", "harmonic")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContentNetConfig:
    """Architecture of the content network and its discriminator (`npsynth.models.content_net`)."""

    # "paper": predict the central half of the image from the mean-filled image (Sec. 3.1,
    # a centred 64x64 hole in a 128x128 image); "freeform": any hole, the mask as a fourth
    # input channel and a full-size prediction composited with the known pixels.
    mode: str = "freeform"
    # Input side in pixels, a power of two >= 8; the encoder halves it down to 4x4 (Sec. 4: 128).
    image_size: int = 128
    # Output channels of the strided 4x4 encoder convolutions, one per halving; the decoder
    # mirrors them (Context Encoder, Pathak et al. 2016: 64, 64, 128, 256, 512).
    channels: tuple[int, ...] = (64, 64, 128, 256, 512)
    # Width of the fully connected bottleneck (Sec. 3.1: a standard, not channel-wise, FC
    # layer; Context Encoder: 4000).
    bottleneck: int = 4000
    # Dropout rate after the bottleneck, in [0, 1) (0: none, as in the paper).
    dropout: float = 0.0
    # What fills the hole of the input: "mean" (the known pixels' mean colour, as in the
    # paper) or "harmonic" (`npsynth.fill.harmonic_fill`; the network then predicts a
    # correction added to that fill, and starts at zero correction, i.e. at the harmonic fill).
    fill: str = "mean"
    # U-Net skip connections (not in the paper; free-form mode only): each decoder layer also
    # sees the encoder's features at its resolution, so fine detail near the hole's border
    # need not pass through the 4x4 fully connected bottleneck.
    skips: bool = False
    # Channels of the discriminator's first strided convolution; each next one doubles it.
    disc_width: int = 64
    # Cap on the discriminator's channels (Context Encoder: 64, 128, 256, 512).
    disc_max_width: int = 512

    def __post_init__(self):
        if self.mode not in ("paper", "freeform"):
            raise ValueError(f"mode must be 'paper' or 'freeform', got {self.mode!r}")
        if self.fill not in CONTENT_FILLS:
            raise ValueError(f"fill must be one of {CONTENT_FILLS}, got {self.fill!r}")
        size = int(self.image_size)
        if size < 8 or size & (size - 1):
            raise ValueError(f"image_size must be a power of two >= 8, got {self.image_size}")
        channels = tuple(int(c) for c in self.channels)
        halvings = size.bit_length() - 3  # log2(size / 4)
        if len(channels) != halvings:
            raise ValueError(
                f"channels needs one entry per halving from {size} to 4 pixels ({halvings}), got "
                f"{len(channels)}: {channels}; e.g. --channels "
                f"{','.join(str(min(64 * 2**i, 512)) for i in range(halvings))}"
            )
        if min(channels) < 1 or self.bottleneck < 1 or self.disc_width < 1:
            raise ValueError("channels, bottleneck and disc_width must be positive")
        if self.disc_max_width < self.disc_width:
            raise ValueError(
                f"disc_max_width ({self.disc_max_width}) must be >= disc_width ({self.disc_width})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.skips and self.mode != "freeform":
            raise ValueError("skips need mode 'freeform' (paper mode predicts only the centre)")
        object.__setattr__(self, "image_size", size)
        object.__setattr__(self, "channels", channels)


def _power_of_two(name: str, value: int, low: int) -> int:
    value = int(value)
    if value < low or value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= {low}, got {value}")
    return value


def _positive_tuple(name: str, values) -> tuple[int, ...]:
    values = tuple(int(v) for v in values)
    if not values or min(values) < 1:
        raise ValueError(f"{name} must be positive integers, got {values}")
    return values


@dataclasses.dataclass(frozen=True, kw_only=True)
class Image2FeatureConfig:
    """Image2Feature: the masked image (mean-filled, plus the mask) -> VGG-19 relu3_1."""

    # Training crop side in pixels (a power of two >= 32); the network itself is fully
    # convolutional and runs at any size that is a multiple of 4.
    image_size: int = 128
    # Channels of the two strided 4x4 convolutions that bring the image down to relu3_1's
    # quarter resolution.
    widths: tuple[int, ...] = (64, 128)
    # Dilation of each residual block at quarter resolution (its receptive field reaches
    # across the hole).
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1)
    # Channels of the feature discriminator's first strided convolution (doubling after).
    disc_width: int = 64
    # Cap on the discriminator's channels.
    disc_max_width: int = 256

    def __post_init__(self):
        object.__setattr__(self, "image_size", _power_of_two("image_size", self.image_size, 32))
        widths = _positive_tuple("widths", self.widths)
        if len(widths) != 2:
            raise ValueError(f"widths needs 2 entries (one per halving to 1/4), got {widths}")
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "dilations", _positive_tuple("dilations", self.dilations))
        if self.disc_width < 1 or self.disc_max_width < self.disc_width:
            raise ValueError("need 1 <= disc_width <= disc_max_width")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature2ImageConfig:
    """Feature2Image: (patch-swapped) VGG-19 relu3_1 -> the RGB image."""

    # Training crop side in pixels (a power of two >= 32); the network runs at any size.
    image_size: int = 128
    # Channels at quarter resolution, then after each of the two 2x upsamplings.
    widths: tuple[int, ...] = (128, 64, 32)
    # Residual blocks at quarter resolution.
    blocks: int = 3
    # Channels of the image discriminator's first strided convolution (doubling after).
    disc_width: int = 32
    # Cap on the discriminator's channels.
    disc_max_width: int = 256

    def __post_init__(self):
        object.__setattr__(self, "image_size", _power_of_two("image_size", self.image_size, 32))
        widths = _positive_tuple("widths", self.widths)
        if len(widths) != 3:
            raise ValueError(f"widths needs 3 entries (1/4, 1/2 and full resolution), got {widths}")
        object.__setattr__(self, "widths", widths)
        if self.blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {self.blocks}")
        if self.disc_width < 1 or self.disc_max_width < self.disc_width:
            raise ValueError("need 1 <= disc_width <= disc_max_width")
