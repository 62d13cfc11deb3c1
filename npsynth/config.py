"""Configuration dataclasses. Paper defaults cite Yang et al. 2017 (arXiv 1611.09969)."""

from __future__ import annotations

import dataclasses
import itertools


@dataclasses.dataclass(frozen=True, kw_only=True)
class InpaintConfig:
    """Settings of multi-scale neural patch synthesis (`npsynth.inpaint`)."""

    # Working sizes (pixels, longest side) of the coarse-to-fine pyramid; Sec. 3.3 uses 128, 256, 512.
    scales: tuple[int, ...] = (128, 256, 512)
    # L-BFGS iterations per scale (Sec. 4: 100).
    iterations: int = 100
    # Weight of the texture term E_t in Eq. 1 (best hole PSNR and SSIM in the README's sweep).
    alpha: float = 1e-7
    # Weight of the TV term in Eq. 1 (best hole PSNR and SSIM in the README's sweep).
    beta: float = 1.0
    # VGG-19 layers of the texture term (Sec. 3.2: relu3_1 and relu4_1).
    layers: tuple[str, ...] = ("relu3_1", "relu4_1")
    # Side of the neural patches, in feature cells (Sec. 3.2: 3x3).
    patch_size: int = 3
    # Content reference at the first scale: "auto" (the content network when a checkpoint is
    # available and fits the hole, else "harmonic"; a paper-mode network only fits the centred
    # square), "network", "harmonic" (Laplace fill from the hole border) or "mean" (mean
    # colour of the known pixels).
    content: str = "auto"
    # Exported content network (`python -m train.content --export`): a .npz or a training
    # workdir. None: $NPSYNTH_CONTENT_NET, else the checkpoint shipped with npsynth, if any.
    content_checkpoint: str | None = None
    # "per_scale": nearest neighbours fixed at the start of each scale (the authors' faster
    # variant); "every_eval": recomputed at every loss evaluation (the paper, Eq. 3).
    nn_update: str = "per_scale"
    # L-BFGS stops early once the gradient norm falls below this.
    tol: float = 1e-6
    # Context around the hole's bounding box kept for large photos, as a fraction of its size.
    context: float = 1.0
    # Candidates per chunk of the nearest-neighbour search (bounds its memory).
    chunk_size: int = 512
    # "optimize": neural patch synthesis, L-BFGS on Eq. 1 at every scale (Yang et al. 2017);
    # "translate": Image2Feature -> patch-swap -> Feature2Image (Song et al. 2018), much faster.
    method: str = "optimize"
    # Working sizes of method="translate" (Song et al. 2018, Fig. 4: 256 then 512).
    translate_scales: tuple[int, ...] = (256, 512)
    # translate's features of the hole at the first scale: "auto" (the Image2Feature network
    # when one is available, else "content"), "network", or "content" (relu3_1 of the content
    # reference, see `content`).
    image2feature: str = "auto"
    # Exported Image2Feature network (.npz or training workdir). None: $NPSYNTH_IMAGE2FEATURE,
    # else the one shipped with npsynth, if any.
    image2feature_checkpoint: str | None = None
    # Exported Feature2Image network. None: $NPSYNTH_FEATURE2IMAGE, else the shipped one.
    feature2image_checkpoint: str | None = None

    def __post_init__(self):
        scales = tuple(int(s) for s in self.scales)
        if not scales or any(s < 16 for s in scales):
            raise ValueError(f"scales must be at least 16 px each, got {self.scales}")
        if any(b <= a for a, b in itertools.pairwise(scales)):
            raise ValueError(f"scales must be strictly increasing, got {self.scales}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f"alpha and beta must be >= 0, got {self.alpha}, {self.beta}")
        if self.content not in ("auto", "network", "harmonic", "mean"):
            raise ValueError(
                f"content must be auto, network, harmonic or mean, got {self.content!r}"
            )
        if self.nn_update not in ("per_scale", "every_eval"):
            raise ValueError(f"nn_update must be per_scale or every_eval, got {self.nn_update!r}")
        if self.method not in ("optimize", "translate"):
            raise ValueError(f"method must be optimize or translate, got {self.method!r}")
        if self.image2feature not in ("auto", "network", "content"):
            raise ValueError(
                f"image2feature must be auto, network or content, got {self.image2feature!r}"
            )
        translate_scales = tuple(int(s) for s in self.translate_scales)
        if not translate_scales or any(s < 16 for s in translate_scales):
            raise ValueError(
                f"translate_scales must be at least 16 px each, got {translate_scales}"
            )
        if any(b <= a for a, b in itertools.pairwise(translate_scales)):
            raise ValueError(
                f"translate_scales must be strictly increasing, got {translate_scales}"
            )
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "translate_scales", translate_scales)
        object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def tiny(cls, **overrides) -> InpaintConfig:
        """A small, fast variant for tests and smoke runs."""
        return cls(**({"scales": (32, 64), "iterations": 5, "content": "harmonic"} | overrides))


# ----------------------------------------------------------------------------------------------
# The content network and its training (`python -m train.content`).

# Hole kinds for training masks: those of `npsynth.data.make_mask`, "mixed" (each example
# draws center, boxes or strokes), and "auto" (center in paper mode, mixed in free-form mode).
TRAIN_MASK_KINDS = ("auto", "mixed", "center", "center:FRACTION", "boxes", "strokes")
# What fills the content network's input hole (`ContentNetConfig.fill`).
CONTENT_FILLS = ("mean", "harmonic")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContentNetConfig:
    """Architecture of the content network and its discriminator (`npsynth.content_net`)."""

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


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where training photos come from and how crops and holes are drawn (`npsynth.train_data`)."""

    # TFDS dataset name, read with `tfds.data_source` (no TensorFlow); "imagenet" means
    # imagenet2012. None: imagenet2012 unless `images` is given.
    tfds: str | None = None
    # A folder of JPEG/PNG photos, searched recursively, used instead of TFDS.
    images: str | None = None
    # TFDS split to train on.
    split: str = "train"
    # TFDS data folder; None: $TFDS_DATA_DIR or ~/tensorflow_datasets.
    data_dir: str | None = None
    # Each photo is resized so its shorter side is the crop side times a factor drawn from
    # [min_scale, max_scale], then a random crop (and a random horizontal flip) is taken.
    min_scale: float = 1.0
    # See min_scale.
    max_scale: float = 2.0
    # Training holes: auto (center in paper mode, mixed in freeform mode), mixed (center,
    # boxes or strokes, drawn per photo), center, center:FRACTION, boxes or strokes.
    mask_kind: str = "auto"
    # Threads that decode and crop photos.
    workers: int = 2

    def __post_init__(self):
        if self.tfds is not None and self.images is not None:
            raise ValueError("give either tfds or images (a folder of photos), not both")
        if not 1.0 <= self.min_scale <= self.max_scale:
            raise ValueError(
                f"need 1 <= min_scale <= max_scale, got {self.min_scale} and {self.max_scale}"
            )
        name = str(self.mask_kind).strip().lower().partition(":")[0]
        if name not in ("auto", "mixed", "center", "boxes", "strokes"):
            raise ValueError(
                f"unknown mask_kind {self.mask_kind!r}; choose one of {', '.join(TRAIN_MASK_KINDS)}"
            )
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Optimisation, checkpoints and logging of an adversarially trained network."""

    # Total training steps (one discriminator and one generator update each).
    steps: int = 200_000
    # Global batch size (split over all devices; must be divisible by their number).
    batch_size: int = 64
    # Adam learning rate of both networks (Context Encoder: 2e-4).
    lr: float = 2e-4
    # Adam beta1 (DCGAN / Context Encoder: 0.5).
    b1: float = 0.5
    # Adam beta2.
    b2: float = 0.999
    # Weight of the reconstruction term: loss = lam * L2(hole) + (1 - lam) * adversarial
    # (Sec. 3.1 / Context Encoder: 0.999).
    lam: float = 0.999
    # Seed of the initial weights, the data order, the crops, the holes and the step keys.
    seed: int = 0
    # Save a checkpoint every this many steps (and always at the end and on interrupt).
    save_every: int = 1000
    # Checkpoints kept (the newest ones).
    keep: int = 3
    # Write losses to metrics.jsonl and the progress bar every this many steps.
    log_every: int = 50
    # Write a sample grid (input | prediction | truth) and the loss plot every this many steps.
    sample_every: int = 1000
    # Call jax.distributed.initialize() first (several hosts).
    distributed: bool = False

    def __post_init__(self):
        for name in ("steps", "batch_size", "save_every", "keep", "log_every", "sample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.lam <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContentTrainingConfig:
    """Everything `python -m train.content` needs; saved as config.json beside the checkpoints.

    Defaults: `python -m train.content --tfds imagenet` (free-form holes, 128x128, the
    Context Encoder widths: a 71M-parameter generator, 142 MB in float16; a GPU job).
    `--channels 64,64,128,256,256 --bottleneck 768` gives a 20 MB float16 export. `tiny()`
    is a seconds-long variant for tests.
    """

    model: ContentNetConfig = dataclasses.field(default_factory=ContentNetConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self):
        kind = str(self.data.mask_kind).strip().lower()
        if self.model.mode == "paper" and kind not in ("auto", "center", "center:0.5"):
            raise ValueError(
                f"paper mode predicts the central half of the image, so its holes must be the "
                f"centred square: use mask_kind center (or auto), not {self.data.mask_kind!r}; "
                "train the freeform mode for other holes"
            )

    @property
    def mask_kind(self) -> str:
        """The hole kind with "auto" resolved."""
        if self.data.mask_kind == "auto":
            return "center" if self.model.mode == "paper" else "mixed"
        return self.data.mask_kind

    @classmethod
    def tiny(cls, **overrides) -> ContentTrainingConfig:
        """A seconds-long variant (32x32, narrow layers, 2 steps) for tests and smoke runs.

        `overrides` maps "model", "data" or "train" to a dict of field overrides.
        """
        parts = {
            "model": {"image_size": 32, "channels": (8, 16, 16), "bottleneck": 32,
                      "disc_width": 8, "disc_max_width": 16},
            "data": {"mask_kind": "boxes", "min_scale": 1.0, "max_scale": 1.5, "workers": 1},
            "train": {"steps": 2, "batch_size": 4, "save_every": 1, "keep": 2, "log_every": 1,
                      "sample_every": 1},
        }  # fmt: skip
        for key, values in overrides.items():
            if key not in parts:
                raise ValueError(f"tiny() overrides model, data or train, not {key!r}")
            parts[key] = parts[key] | dict(values)
        return cls(
            model=ContentNetConfig(**parts["model"]),
            data=DataConfig(**parts["data"]),
            train=TrainConfig(**parts["train"]),
        )


# ----------------------------------------------------------------------------------------------
# Feature image translation (Song et al. 2018, arXiv 1711.08590): `npsynth.translate`


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


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature2ImageLossConfig:
    """The reconstruction term of Feature2Image: pixel L2 + perceptual (relu3_1) L2."""

    # Weight of the mean squared pixel error over the hole (images in [0, 1]).
    pixel: float = 1.0
    # Weight of the mean squared pixel error over the known pixels, whose features are not
    # swapped: it teaches Feature2Image to invert relu3_1 where the answer is known.
    known: float = 0.0
    # Weight of the mean squared relu3_1 error of the output composited with the known
    # pixels (features times npsynth.translate.FEATURE_SCALE).
    perceptual: float = 0.1

    def __post_init__(self):
        weights = (self.pixel, self.known, self.perceptual)
        if min(weights) < 0 or sum(weights) == 0:
            raise ValueError("pixel, known and perceptual weights must be >= 0, not all 0")


_TINY_DATA = {"mask_kind": "boxes", "min_scale": 1.0, "max_scale": 1.5, "workers": 1}
_TINY_TRAIN = {"steps": 2, "batch_size": 2, "save_every": 1, "keep": 2, "log_every": 1,
               "sample_every": 1}  # fmt: skip


def _tiny_parts(overrides: dict, parts: dict) -> dict:
    for key, values in overrides.items():
        if key not in parts:
            raise ValueError(f"tiny() overrides {', '.join(parts)}, not {key!r}")
        parts[key] = parts[key] | dict(values)
    return parts


@dataclasses.dataclass(frozen=True, kw_only=True)
class Image2FeatureTrainingConfig:
    """Everything `python -m train.image2feature` needs; saved as config.json.

    Loss: lam * L2(relu3_1) + (1 - lam) * adversarial on the features.
    """

    model: Image2FeatureConfig = dataclasses.field(default_factory=Image2FeatureConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    @property
    def mask_kind(self) -> str:
        """The hole kind with "auto" resolved (mixed)."""
        return "mixed" if self.data.mask_kind == "auto" else self.data.mask_kind

    @classmethod
    def tiny(cls, **overrides) -> Image2FeatureTrainingConfig:
        """A seconds-long variant (32x32 crops, narrow layers, 2 steps) for tests."""
        parts = _tiny_parts(overrides, {
            "model": {"image_size": 32, "widths": (8, 16), "dilations": (1, 2),
                      "disc_width": 8, "disc_max_width": 16},
            "data": dict(_TINY_DATA), "train": dict(_TINY_TRAIN),
        })  # fmt: skip
        return cls(
            model=Image2FeatureConfig(**parts["model"]),
            data=DataConfig(**parts["data"]),
            train=TrainConfig(**parts["train"]),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature2ImageTrainingConfig:
    """Everything `python -m train.feature2image` needs; saved as config.json.

    Input: relu3_1 of the photo with the hole's cells patch-swapped; loss: lam * (pixel L2 +
    perceptual L2) + (1 - lam) * adversarial on the output image.
    """

    model: Feature2ImageConfig = dataclasses.field(default_factory=Feature2ImageConfig)
    loss: Feature2ImageLossConfig = dataclasses.field(default_factory=Feature2ImageLossConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    @property
    def mask_kind(self) -> str:
        """The hole kind with "auto" resolved (mixed)."""
        return "mixed" if self.data.mask_kind == "auto" else self.data.mask_kind

    @classmethod
    def tiny(cls, **overrides) -> Feature2ImageTrainingConfig:
        """A seconds-long variant (32x32 crops, narrow layers, 2 steps) for tests."""
        parts = _tiny_parts(overrides, {
            "model": {"image_size": 32, "widths": (16, 8, 8), "blocks": 1,
                      "disc_width": 8, "disc_max_width": 16},
            "loss": {}, "data": dict(_TINY_DATA), "train": dict(_TINY_TRAIN),
        })  # fmt: skip
        return cls(
            model=Feature2ImageConfig(**parts["model"]),
            loss=Feature2ImageLossConfig(**parts["loss"]),
            data=DataConfig(**parts["data"]),
            train=TrainConfig(**parts["train"]),
        )
