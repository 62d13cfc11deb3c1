"""Training batches for the content network: photos from TFDS or a folder, crops, flips, holes.

Every batch is a function of (seed, step) alone, so a run resumed at step k sees exactly the
batches an uninterrupted run would have seen:

- the order of examples is a per-epoch permutation drawn from `default_rng([seed, 0, epoch])`;
  an epoch has `len(source) // batch_size` batches (the remainder is dropped, every batch is
  full, so the training step compiles once);
- the crop, flip and hole of the k-th example of a batch come from
  `default_rng([seed, 1, step, k])`.

With several processes (hosts), each one loads its own slice of the global batch.

A photo that cannot be read (corrupt, truncated, not an image) is skipped with a warning and
replaced by the next readable photo of the dataset, which keeps batches deterministic. A
photo smaller than the crop is enlarged, with a warning that names it (once per photo).

Batches are NumPy dicts `{"image": float32 [B, S, S, 3] in [0, 1], "mask": float32
[B, S, S, 1], 1 = hole}` (the conventions of `npsynth.masks`). No JAX here.
"""

from __future__ import annotations

import collections
import concurrent.futures
import difflib
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from npsynth import files as npfiles
from npsynth import io, masks

# `--tfds` short names.
TFDS_ALIASES = {"imagenet": "imagenet2012"}
# What `tfds` needs in its manual folder for ImageNet.
IMAGENET_TARS = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")
# How often a training photo is "center", "boxes" and "strokes" under mask kind "mixed".
MIXED_KINDS = ("center", "boxes", "strokes")
# Photos smaller than the crop named in a warning, at most (`TrainBatches`).
SMALL_WARNINGS = 5


class DatasetError(ValueError):
    """A training dataset cannot be opened; the message says what to do."""


# ----------------------------------------------------------------------------------------------
# Sources: random access to photos


class FolderSource:
    """The JPEG/PNG/... photos of a folder and its sub-folders, in sorted path order."""

    def __init__(self, folder):
        try:
            # An entry that is not a regular file (a FIFO) is listed, so that reading it
            # names it in the warning for unreadable photos (`TrainBatches`).
            self.paths = npfiles.list_images(folder, recursive=True, role="photo", strict=False)
        except (FileNotFoundError, ValueError) as error:
            raise DatasetError(f"--images: {error}") from None
        self.name = f"folder {str(folder)!r}"

    def __len__(self) -> int:
        return len(self.paths)

    def describe(self, index: int) -> str:
        return str(self.paths[index])

    def __getitem__(self, index: int) -> Image.Image:
        """The photo as an RGB Pillow image; raises on unreadable files."""
        return io.open_image(self.paths[index]).convert("RGB")  # npsynth's checks, one open


class TfdsSource:
    """A TFDS image dataset read with `tfds.data_source` (random access, no TensorFlow)."""

    def __init__(self, name: str, *, split: str = "train", data_dir=None):
        self.name = f"TFDS {TFDS_ALIASES.get(name, name)}[{split}]"
        self._source = open_tfds(name, split=split, data_dir=data_dir)
        features = getattr(getattr(self._source, "dataset_info", None), "features", None)
        self.image_key = _image_key(features, name)

    def __len__(self) -> int:
        return len(self._source)

    def describe(self, index: int) -> str:
        return f"{self.name} example {index}"

    def __getitem__(self, index: int) -> Image.Image:
        pixels = np.asarray(self._source[int(index)][self.image_key])
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3, 4):
            raise ValueError(f"not an image: array of shape {pixels.shape}")
        if pixels.shape[-1] == 1:
            pixels = np.repeat(pixels, 3, axis=-1)
        if pixels.dtype != np.uint8:
            scale = (
                255.0
                if np.issubdtype(pixels.dtype, np.floating)
                else 255.0 / np.iinfo(pixels.dtype).max
            )
            pixels = np.clip(np.round(pixels.astype(np.float64) * scale), 0, 255).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(pixels[..., :3]))


def _image_key(features, name: str) -> str:
    """The name of the dataset's image feature ("image" when it has one)."""
    if features is None:
        return "image"
    keys = list(features.keys()) if hasattr(features, "keys") else []
    if "image" in keys:
        return "image"
    import tensorflow_datasets as tfds

    images = [k for k in keys if isinstance(features[k], tfds.features.Image)]
    if not images:
        raise DatasetError(
            f"TFDS dataset {name!r} has no image feature (features: {', '.join(keys)}); "
            "pick an image dataset"
        )
    return images[0]


def open_tfds(name: str, *, split: str = "train", data_dir=None):
    """`tfds.data_source(name, split=...)` with clear errors for unknown and unprepared sets.

    "imagenet" is short for imagenet2012. A dataset that TFDS can download is downloaded
    and prepared on first use (in the array_record format that random access needs).

    Raises:
      DatasetError: unknown name, ImageNet (or another manual-download set) not prepared and
        its files not in the manual folder, unknown split, or preparation failing.
    """
    import tensorflow_datasets as tfds

    name = TFDS_ALIASES.get(name, name)
    try:  # Prepared already (or mocked in tests): no download, no side effects.
        return tfds.data_source(name, split=split, data_dir=data_dir, download=False, try_gcs=False)
    except tfds.core.registered.DatasetNotFoundError:
        close = difflib.get_close_matches(name, _known_datasets(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise DatasetError(
            f"unknown TFDS dataset {name!r}.{hint} See https://www.tensorflow.org/datasets/catalog "
            "for names, or train on a folder of photos with --images DIR."
        ) from None
    except Exception as error:
        builder = _builder(name, data_dir)
        if builder is None or builder.is_prepared() or _missing_manual_files(builder, data_dir):
            raise _explain_tfds_failure(name, split, data_dir, error) from error
    try:  # Download (or read the manual files) and prepare, once.
        return tfds.data_source(name, split=split, data_dir=data_dir, download=True, try_gcs=False)
    except Exception as error:
        raise _explain_tfds_failure(name, split, data_dir, error) from error


def _builder(name: str, data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception:  # noqa: BLE001  (only used to explain another error)
        return None


def _missing_manual_files(builder, data_dir) -> list[str] | None:
    """For a manual-download dataset, the files its manual folder lacks; None otherwise."""
    if not builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        return None
    manual = _manual_dir(builder, data_dir)
    if builder.name == "imagenet2012":
        return [f for f in IMAGENET_TARS if not (manual / f).exists()]
    return [] if manual.is_dir() and any(manual.iterdir()) else [str(manual)]


def _known_datasets() -> list[str]:
    import tensorflow_datasets as tfds

    try:
        return list(tfds.list_builders(with_community_datasets=False))
    except Exception:  # noqa: BLE001  (the list only feeds a hint)
        return []


def _explain_tfds_failure(name, split, data_dir, error) -> DatasetError:
    builder = _builder(name, data_dir)
    missing = (
        None
        if builder is None or builder.is_prepared()
        else _missing_manual_files(builder, data_dir)
    )
    if missing:
        needed = " and ".join(IMAGENET_TARS) if name == "imagenet2012" else "its files"
        return DatasetError(
            f"TFDS dataset {name} is not prepared in {builder.data_dir} and needs a manual "
            f"download: put {needed} into the manual folder {_manual_dir(builder, data_dir)} "
            f"(missing: {', '.join(missing)}), then run the same command again to prepare it "
            "(once, slow). Instructions from TFDS:\n"
            f"{builder.MANUAL_DOWNLOAD_INSTRUCTIONS.strip()}\n"
            "Or train on a folder of photos with --images DIR."
        )
    if isinstance(error, NotImplementedError) and "file format" in str(error).lower():
        where = builder.data_dir if builder is not None else data_dir
        return DatasetError(
            f"TFDS dataset {name} in {where} is stored as TFRecord, which random access "
            "(tfds.data_source, used so that TensorFlow is not needed) cannot read. Convert it "
            f"once (this needs TensorFlow): tfds convert_format --dataset_dir={where} "
            "--out_file_format=array_record, or prepare it again into another --data-dir."
        )
    if isinstance(error, ImportError):
        return DatasetError(
            f"preparing TFDS dataset {name} needs a package that is not installed: {error}. "
            "Install it (pip install <package>) and run again."
        )
    if builder is not None and builder.is_prepared() and split not in builder.info.splits:
        return DatasetError(
            f"TFDS dataset {name} has no split {split!r}; it has {', '.join(builder.info.splits)}"
        )
    return DatasetError(
        f"cannot open TFDS dataset {name}[{split}]: {type(error).__name__}: {error}"
    )


def _manual_dir(builder, data_dir) -> Path:
    """TFDS's default manual folder: <data_dir>/downloads/manual."""
    root = Path(getattr(builder, "_data_dir_root", None) or data_dir or "~/tensorflow_datasets")
    return root.expanduser() / "downloads" / "manual"


def open_source(*, tfds: str | None = None, images=None, split: str = "train", data_dir=None):
    """The photo source of a `DataConfig`: a folder (`images`) or a TFDS dataset (default
    imagenet2012)."""
    if images is not None and tfds is not None:
        raise DatasetError("give either --tfds or --images, not both")
    if images is not None:
        return FolderSource(images)
    return TfdsSource(tfds or "imagenet2012", split=split, data_dir=data_dir)


# ----------------------------------------------------------------------------------------------
# One example: crop, flip, hole


def random_crop(
    image: Image.Image, size: int, rng: np.random.Generator, *, scale=(1.0, 2.0)
) -> np.ndarray:
    """Resize (shorter side = size * U(scale)), take a random size x size crop, maybe flip it.

    Args:
      image: an RGB Pillow image of any size (small ones are enlarged).
      size: crop side in pixels.
      rng: the example's generator.
      scale: range of the shorter side after resizing, in units of `size`.

    Returns:
      float32 [size, size, 3] in [0, 1].
    """
    factor = rng.uniform(scale[0], scale[1])
    width, height = image.size
    ratio = size * factor / min(width, height)
    new_w, new_h = max(size, round(width * ratio)), max(size, round(height * ratio))
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left = int(rng.integers(0, new_w - size + 1))
    top = int(rng.integers(0, new_h - size + 1))
    pixels = np.asarray(image.crop((left, top, left + size, top + size)), np.float32) / 255.0
    if rng.random() < 0.5:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(pixels)


def training_mask(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A hole for one training example: float32 [size, size, 1], 1 = hole.

    Args:
      kind: "center", "center:FRACTION", "boxes", "strokes" (`npsynth.masks.make_mask`) or
        "mixed" (one of center, boxes and strokes, uniformly).
      size: mask side.
      rng: the example's generator.
    """
    if kind == "mixed":
        kind = MIXED_KINDS[int(rng.integers(len(MIXED_KINDS)))]
    return masks.make_mask(kind, size, size, rng=rng)


# ----------------------------------------------------------------------------------------------
# Batches


class TrainBatches:
    """Deterministic training batches, loaded ahead in background threads.

    Args:
      source: a `FolderSource`, `TfdsSource` or any sequence of RGB Pillow images.
      batch_size: global batch size.
      image_size: crop side.
      mask_kind: see `training_mask`.
      seed: decides order, crops, flips and holes.
      scale: range of the shorter side after resizing, in units of image_size.
      process_index, process_count: this host's share of each global batch.
      workers: threads decoding photos (Pillow releases the GIL while decoding).
      prefetch: batches loaded ahead of the one being trained on.
    """

    def __init__(
        self,
        source,
        *,
        batch_size: int,
        image_size: int,
        mask_kind: str,
        seed: int,
        scale=(1.0, 2.0),
        process_index: int = 0,
        process_count: int = 1,
        workers: int = 2,
        prefetch: int = 2,
    ):
        if batch_size % process_count:
            raise ValueError(
                f"batch size {batch_size} does not split evenly over {process_count} processes"
            )
        if len(source) < batch_size:
            raise DatasetError(
                f"{getattr(source, 'name', 'the dataset')} has {len(source)} photos, fewer than "
                f"one batch ({batch_size}); use a smaller --batch-size or more photos"
            )
        self.source = source
        self.batch_size = batch_size
        self.image_size = image_size
        self.mask_kind = mask_kind
        self.seed = seed
        self.scale = tuple(scale)
        self.local_size = batch_size // process_count
        self.offset = process_index * self.local_size
        self.batches_per_epoch = len(source) // batch_size
        self.workers = workers
        self.prefetch = prefetch
        self._bad: set[int] = set()
        self._small: set[int] = set()  # photos smaller than the crop, warned about once
        self._lock = threading.Lock()
        self._orders: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        training_mask(mask_kind, image_size, np.random.default_rng(0))  # Fail early on bad kinds.

    def indices(self, step: int) -> np.ndarray:
        """Dataset indices of the global batch of `step` (before skipping unreadable photos)."""
        epoch, position = divmod(int(step), self.batches_per_epoch)
        order = self._order(epoch)
        return order[position * self.batch_size : (position + 1) * self.batch_size]

    def _order(self, epoch: int) -> np.ndarray:
        with self._lock:
            if epoch not in self._orders:
                rng = np.random.default_rng([self.seed, 0, epoch])
                self._orders[epoch] = rng.permutation(len(self.source))
                while len(self._orders) > 2:
                    self._orders.popitem(last=False)
            return self._orders[epoch]

    def _photo(self, index: int) -> Image.Image:
        """Photo `index`, or the next readable one after it (wrapping around)."""
        count = len(self.source)
        for offset in range(count):
            candidate = (int(index) + offset) % count
            if candidate in self._bad:
                continue
            try:
                image = self.source[candidate]
            except Exception as error:  # noqa: BLE001  (a broken file is skipped, never a crash)
                with self._lock:
                    self._bad.add(candidate)
                warnings.warn(
                    f"skipping unreadable training photo {self.source.describe(candidate)}: "
                    f"{type(error).__name__}: {error}",
                    stacklevel=2,
                )
                continue
            self._warn_if_small(candidate, image)
            return image
        raise DatasetError(f"no photo of {getattr(self.source, 'name', 'the dataset')} is readable")

    def _warn_if_small(self, index: int, image: Image.Image) -> None:
        """Warn once about photo `index` when its shorter side is below the crop's: it is
        enlarged (`random_crop`), so its crops hold little detail (a 1x1 photo: one colour).
        Only the first `SMALL_WARNINGS` such photos are named (a dataset of small images
        would give one warning per photo)."""
        width, height = image.size
        with self._lock:
            if min(width, height) >= self.image_size or index in self._small:
                return
            self._small.add(index)
            count = len(self._small)
        if count > SMALL_WARNINGS:
            return
        describe = getattr(self.source, "describe", lambda i: f"number {i}")
        more = "; further small photos are not named" if count == SMALL_WARNINGS else ""
        warnings.warn(
            f"training photo {describe(index)} is {width}x{height} px, smaller than the "
            f"{self.image_size} px training crop: it is enlarged, so its crops hold little "
            f"detail; remove it or use a smaller --image-size{more}",
            stacklevel=3,
        )

    def example(self, step: int, k: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(image, mask) of the k-th example of the global batch of `step`."""
        rng = np.random.default_rng([self.seed, 1, int(step), int(k)])
        image = random_crop(self._photo(index), self.image_size, rng, scale=self.scale)
        return image, training_mask(self.mask_kind, self.image_size, rng)

    def batch(self, step: int) -> dict[str, np.ndarray]:
        """This process's part of the global batch of `step`."""
        indices = self.indices(step)
        ks = range(self.offset, self.offset + self.local_size)
        pairs = [self.example(step, k, indices[k]) for k in ks]
        return {
            "image": np.stack([image for image, _ in pairs]),
            "mask": np.stack([mask for _, mask in pairs]),
        }

    def iterate(self, start_step: int = 0) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """(step, batch) for step = start_step, start_step + 1, ... (forever), loaded ahead."""
        pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="batches")
        pending: collections.deque = collections.deque()
        step = int(start_step)
        try:
            while True:
                while len(pending) < self.prefetch + 1:
                    ahead = step + len(pending)
                    pending.append(pool.submit(self.batch, ahead))
                batch = pending.popleft().result()
                yield step, batch
                step += 1
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
