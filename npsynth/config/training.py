"""Training settings: data, optimisation and the three training jobs (`python -m train.*`).

Every field has its unit or meaning in the comment above it; the command-line flags
(`npsynth.config.flags`) show that comment as their help.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import ClassVar

from npsynth.config.models import ContentNetConfig, Feature2ImageConfig, Image2FeatureConfig

# Hole kinds for training masks: those of `npsynth.masks.make_mask`, "mixed" (each example
# draws center, boxes or strokes), and "auto" (center in paper mode, mixed in free-form mode).
TRAIN_MASK_KINDS = ("auto", "mixed", "center", "center:FRACTION", "boxes", "strokes")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where training photos come from and how crops and holes are drawn (`npsynth.training.data`)."""

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


class TrainingJob:
    """What the three training configs share: the `mask_kind` property and the `tiny()` preset.

    A job is a kw_only dataclass whose fields are its sections (`model`, `data`
    (`DataConfig`), `train` (`TrainConfig`), and e.g. `loss`), each itself a dataclass;
    `TINY` maps a section to the field values of its tiny variant.
    """

    TINY: ClassVar[dict[str, dict]] = {}

    @property
    def mask_kind(self) -> str:
        """The hole kind with "auto" resolved: center in paper mode, else mixed."""
        if self.data.mask_kind != "auto":
            return self.data.mask_kind
        return "center" if getattr(self.model, "mode", "freeform") == "paper" else "mixed"

    @classmethod
    def tiny(cls, **overrides):
        """A seconds-long variant (32x32 crops, narrow layers, 2 steps) for tests and smoke runs.

        `overrides` maps a section ("model", "data", "train", ...) to a dict of field values.
        """
        hints = typing.get_type_hints(cls)
        parts = {f.name: dict(cls.TINY.get(f.name, {})) for f in dataclasses.fields(cls)}
        for key, values in overrides.items():
            if key not in parts:
                raise ValueError(f"tiny() overrides {', '.join(parts)}, not {key!r}")
            parts[key] |= dict(values)
        return cls(**{name: hints[name](**values) for name, values in parts.items()})


# Shared by the tiny variants: small crops and holes, 2 steps, everything saved and logged.
TINY_DATA = {"mask_kind": "boxes", "min_scale": 1.0, "max_scale": 1.5, "workers": 1}
TINY_TRAIN = {"steps": 2, "batch_size": 2, "save_every": 1, "keep": 2, "log_every": 1,
              "sample_every": 1}  # fmt: skip


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContentTrainingConfig(TrainingJob):
    """Everything `python -m train.content` needs; saved as config.json beside the checkpoints.

    Defaults: `python -m train.content --tfds imagenet` (free-form holes, 128x128, the
    Context Encoder widths: a 71M-parameter generator, 142 MB in float16; a GPU job).
    `--channels 64,64,128,256,256 --bottleneck 768` gives a 20 MB float16 export. `tiny()`
    is a seconds-long variant for tests.
    """

    TINY: ClassVar[dict[str, dict]] = {
        "model": {"image_size": 32, "channels": (8, 16, 16), "bottleneck": 32,
                  "disc_width": 8, "disc_max_width": 16},
        "data": TINY_DATA,
        "train": TINY_TRAIN | {"batch_size": 4},
    }  # fmt: skip

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


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature2ImageLossConfig:
    """The reconstruction term of Feature2Image: pixel L2 + perceptual (relu3_1) L2."""

    # Weight of the mean squared pixel error over the hole (images in [0, 1]).
    pixel: float = 1.0
    # Weight of the mean squared pixel error over the known pixels, whose features are not
    # swapped: it teaches Feature2Image to invert relu3_1 where the answer is known.
    known: float = 0.0
    # Weight of the mean squared relu3_1 error of the output composited with the known
    # pixels (features times npsynth.models.translation.FEATURE_SCALE).
    perceptual: float = 0.1

    def __post_init__(self):
        weights = (self.pixel, self.known, self.perceptual)
        if min(weights) < 0 or sum(weights) == 0:
            raise ValueError("pixel, known and perceptual weights must be >= 0, not all 0")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Image2FeatureTrainingConfig(TrainingJob):
    """Everything `python -m train.image2feature` needs; saved as config.json.

    Loss: lam * L2(relu3_1) + (1 - lam) * adversarial on the features.
    """

    TINY: ClassVar[dict[str, dict]] = {
        "model": {"image_size": 32, "widths": (8, 16), "dilations": (1, 2),
                  "disc_width": 8, "disc_max_width": 16},
        "data": TINY_DATA,
        "train": TINY_TRAIN,
    }  # fmt: skip

    model: Image2FeatureConfig = dataclasses.field(default_factory=Image2FeatureConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature2ImageTrainingConfig(TrainingJob):
    """Everything `python -m train.feature2image` needs; saved as config.json.

    Input: relu3_1 of the photo with the hole's cells patch-swapped; loss: lam * (pixel L2 +
    perceptual L2) + (1 - lam) * adversarial on the output image.
    """

    TINY: ClassVar[dict[str, dict]] = {
        "model": {"image_size": 32, "widths": (16, 8, 8), "blocks": 1,
                  "disc_width": 8, "disc_max_width": 16},
        "data": TINY_DATA,
        "train": TINY_TRAIN,
    }  # fmt: skip

    model: Feature2ImageConfig = dataclasses.field(default_factory=Feature2ImageConfig)
    loss: Feature2ImageLossConfig = dataclasses.field(default_factory=Feature2ImageLossConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
