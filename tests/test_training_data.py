"""npsynth.training.data: photo sources (a folder, TFDS), crops, holes and batches."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from PIL import Image

from npsynth.training.data import (
    DatasetError,
    TrainBatches,
    open_source,
    open_tfds,
    random_crop,
    training_mask,
)

SKIP_WARNING = "ignore:skipping unreadable training photo"


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_folder_batches_are_deterministic_and_skip_corrupt_files(photos):
    source = open_source(images=photos)
    assert len(source) == 9  # recursive; the corrupt file is only found out when read
    batches = TrainBatches(source, batch_size=4, image_size=32, mask_kind="mixed", seed=3)
    assert batches.batches_per_epoch == 2
    with pytest.warns(UserWarning, match="broken.jpg"):
        first = [batches.batch(step) for step in range(4)]  # two epochs: every file is read
    for batch in first:
        assert batch["image"].shape == (4, 32, 32, 3) and batch["image"].dtype == np.float32
        assert batch["mask"].shape == (4, 32, 32, 1)
        assert set(np.unique(batch["mask"])) <= {0.0, 1.0}
        assert 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
        assert np.all(batch["mask"].sum(axis=(1, 2, 3)) > 0)

    # A new iterator (a resumed run) gives the same batches from any step on.
    again = TrainBatches(
        open_source(images=photos), batch_size=4, image_size=32, mask_kind="mixed", seed=3
    )
    with pytest.warns(UserWarning):
        resumed = list(zip(range(2), again.iterate(start_step=2)))
    for (_, (step, batch)), expected in zip(resumed, first[2:]):
        assert step in (2, 3)
        np.testing.assert_array_equal(batch["image"], expected["image"])
        np.testing.assert_array_equal(batch["mask"], expected["mask"])
    other = TrainBatches(source, batch_size=4, image_size=32, mask_kind="mixed", seed=4).batch(0)
    assert not np.array_equal(other["image"], first[0]["image"])

    # Each process of a multi-host run loads its own half of the global batch.
    halves = [
        TrainBatches(source, batch_size=4, image_size=32, mask_kind="mixed", seed=3,
                     process_index=p, process_count=2).batch(1)
        for p in range(2)
    ]  # fmt: skip
    np.testing.assert_array_equal(np.concatenate([h["image"] for h in halves]), first[1]["image"])


def test_folder_errors_are_clear(tmp_path, photos):
    with pytest.raises(DatasetError, match="no images"):
        open_source(images=tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        open_source(images=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="fewer than one batch"):
        TrainBatches(
            open_source(images=photos), batch_size=16, image_size=32, mask_kind="boxes", seed=0
        )
    with pytest.raises(ValueError, match="unknown hole kind"):
        TrainBatches(
            open_source(images=photos), batch_size=4, image_size=32, mask_kind="blobs", seed=0
        )


@pytest.mark.filterwarnings("ignore:training photo .* smaller than")
def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        source = open_source(tfds="imagenet")  # short for imagenet2012
        assert len(source) == 6 and "imagenet2012" in source.name
        batch = TrainBatches(
            source, batch_size=3, image_size=32, mask_kind="strokes", seed=0
        ).batch(1)
        assert batch["image"].shape == (3, 32, 32, 3) and batch["mask"].shape == (3, 32, 32, 1)
        grey = open_source(tfds="mnist")  # 28x28x1: enlarged and made RGB
        assert TrainBatches(grey, batch_size=2, image_size=32, mask_kind="center", seed=0).batch(0)[
            "image"
        ].shape == (2, 32, 32, 3)


def test_tfds_errors_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="unknown TFDS dataset 'imagenet_2012'.*imagenet2012"):
        open_tfds("imagenet_2012", data_dir=tmp_path)
    with pytest.raises(DatasetError) as caught:
        open_tfds("imagenet", data_dir=tmp_path)
    message = str(caught.value)
    assert "ILSVRC2012_img_train.tar" in message and "ILSVRC2012_img_val.tar" in message
    assert str(tmp_path / "downloads" / "manual") in message


def test_random_crop_keeps_the_pixels_of_a_crop_of_the_resized_photo():
    # A photo already at the crop side and scale 1: no resize, the crop is the photo itself,
    # maybe flipped left-right.
    pixels = (np.arange(8 * 8 * 3) % 251).astype(np.uint8).reshape(8, 8, 3)
    crop = random_crop(Image.fromarray(pixels), 8, np.random.default_rng(0), scale=(1.0, 1.0))
    expected = pixels.astype(np.float32) / 255.0
    assert crop.dtype == np.float32 and crop.shape == (8, 8, 3)
    assert np.array_equal(crop, expected) or np.array_equal(crop, expected[:, ::-1])


def test_mixed_masks_draw_each_kind():
    rng = np.random.default_rng(1)
    holes = [training_mask("mixed", 32, rng) for _ in range(30)]
    assert all(h.shape == (32, 32, 1) and h.dtype == np.float32 for h in holes)
    centred = np.zeros((32, 32, 1), np.float32)
    centred[8:24, 8:24] = 1.0  # the centred square (half the side)
    assert any(np.array_equal(h, centred) for h in holes)
    assert any(not np.array_equal(h, centred) for h in holes)


def test_a_photo_smaller_than_the_crop_is_named_in_a_warning_once(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "dot.png")
    Image.new("RGB", (40, 36), (10, 200, 10)).save(folder / "fine.png")
    batches = TrainBatches(open_source(images=folder), batch_size=2, image_size=32,
                           mask_kind="center", seed=0)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = batches.batch(0)
        batches.batch(1)  # the same photos again: no second warning
    messages = [str(w.message) for w in caught]
    assert messages == [
        (
            f"training photo {folder / 'dot.png'} is 1x1 px, smaller than the 32 px training "
            "crop: it is enlarged, so its crops hold little detail; remove it or use a smaller "
            "--image-size"
        )
    ]
    assert batch["image"].shape == (2, 32, 32, 3)


def test_only_the_first_five_small_photos_are_named(tmp_path):
    for i in range(7):
        Image.new("RGB", (2, 2), (i, 0, 0)).save(tmp_path / f"dot{i}.png")
    batches = TrainBatches(open_source(images=tmp_path), batch_size=7, image_size=8,
                           mask_kind="center", seed=0)  # fmt: skip
    with pytest.warns(UserWarning) as caught:
        batches.batch(0)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 5 and messages[-1].endswith("; further small photos are not named")


def test_a_fifo_among_the_training_photos_is_named_in_the_unreadable_warning(tmp_path):
    from test_reading import release, within

    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tmp_path / "a.png")
    fifo = tmp_path / "b.png"
    os.mkfifo(fifo)
    source = open_source(images=tmp_path)
    assert [p.name for p in source.paths] == ["a.png", "b.png"]  # listed, not dropped
    batches = TrainBatches(source, batch_size=2, image_size=32, mask_kind="center", seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = within(lambda: batches.batch(0), unblock=release(fifo))
    assert batch["image"].shape == (2, 32, 32, 3)  # b.png replaced by the next readable photo
    said = [str(w.message) for w in caught if "unreadable training photo" in str(w.message)]
    assert len(said) == 1 and said[0].startswith(f"skipping unreadable training photo {fifo}: ")
    assert "it is not a regular file (a pipe" in said[0]
