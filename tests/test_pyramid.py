"""Tests for npsynth.pyramid: the one coarse-to-fine driver, with stand-in steps (no VGG-19)."""

from __future__ import annotations

import numpy as np
import pytest

from npsynth import presets, pyramid, reference
from npsynth.config import OptimizeConfig
from npsynth.pyramid import Level, LevelResult


class Recorder:
    """A step that fills the hole with a flat colour per level and records what it saw."""

    def __init__(self, colours):
        self.colours, self.levels = colours, []

    def __call__(self, level: Level) -> LevelResult:
        self.levels.append(level)
        colour = self.colours[level.index]
        image = np.where(level.hole > 0, np.float32(colour), level.known)
        return LevelResult(image.astype(np.float32), np.asarray([2.0, 1.0]), ("relu3_1",))


def _photo(height=64, width=64, seed=0):
    return np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)


def test_later_levels_are_guided_by_the_previous_result_not_the_first_reference():
    photo = _photo()
    hole = np.zeros((64, 64, 1), np.float32)
    hole[16:48, 16:48] = 1
    step = Recorder([0.25, 0.75])
    config = presets.config("tiny")  # 32 and 64 px, harmonic reference
    result = pyramid.run(np.where(hole > 0, 0, photo), hole, config=config, step=step,
                         first_reference=reference.first_reference(config))  # fmt: skip
    first, second = step.levels
    assert (first.index, first.count, first.size) == (0, 2, (32, 32))
    assert (second.index, second.count, second.size) == (1, 2, (64, 64))
    # The second level's guide inside the hole is the first level's flat 0.25, upsampled
    # (well inside the hole the bilinear upsampling of a constant is that constant) ...
    np.testing.assert_allclose(second.guide[20:44, 20:44], 0.25, atol=1e-6)
    # ... and not the first reference, a harmonic fill of random known pixels (about 0.5).
    assert abs(float(result.reference[8:24, 8:24].mean()) - 0.5) < 0.1
    # Outside the hole, every guide holds the known pixels of its level.
    known = second.hole[..., 0] == 0
    np.testing.assert_array_equal(second.guide[known], second.known[known])
    # The result: the last level's colour in the hole, the photo exactly elsewhere.
    np.testing.assert_allclose(result.image[hole[..., 0] > 0], 0.75)
    np.testing.assert_array_equal(result.image[hole[..., 0] == 0], photo[hole[..., 0] == 0])
    assert [s.size for s in result.scales] == [(32, 32), (64, 64)]
    assert [s.layers for s in result.scales] == [("relu3_1",)] * 2
    # The result says what made the first reference; every level knows the hole it was
    # made for and its place in the schedule (from the end: the finest scale is -1).
    assert result.source == "harmonic"
    for level in step.levels:
        np.testing.assert_array_equal(level.first_hole, first.hole[:32, :32])
    assert [lv.scale for lv in step.levels] == [-2, -1]
    assert [lv.is_last_scale for lv in step.levels] == [False, True]


def test_the_first_reference_comes_from_the_caller():
    photo = _photo()
    hole = np.zeros((64, 64, 1), np.float32)
    hole[16:48, 16:48] = 1
    calls = []

    def first_reference(known, hole):
        calls.append((known.shape, hole.shape))
        return np.where(hole > 0, np.float32(0.125), known), "flat"

    step = Recorder([0.25, 0.75])
    result = pyramid.run(photo, hole, config=presets.config("tiny"), step=step,
                         first_reference=first_reference)  # fmt: skip
    assert calls == [((32, 32, 3), (32, 32, 1))]  # once, at the first level, unpadded
    np.testing.assert_array_equal(step.levels[0].guide[8:24, 8:24], 0.125)
    np.testing.assert_array_equal(result.reference[8:24, 8:24], 0.125)
    assert result.source == "flat"


@pytest.mark.parametrize(
    "size, levels, scales",
    [(64, None, [-2, -1]), (40, None, [-1]), (64, 1, [-2])],
    ids=["every scale", "a small photo skips the first", "levels stops early"],
)
def test_each_level_knows_its_scale_in_the_schedule(size, levels, scales):
    """`Level.scale` counts from the schedule's end: a 40 px photo works at 40 px only (its
    32 px scale would be 20 px), the last scale; `levels=1` stops at the first of two."""
    hole = np.zeros((size, size, 1), np.float32)
    hole[8:20, 8:20] = 1
    config = presets.config("tiny", levels=levels)  # 32 and 64 px
    step = Recorder([0.25, 0.75])
    pyramid.run(_photo(size, size), hole, config=config, step=step,
                first_reference=reference.first_reference(config))  # fmt: skip
    assert [lv.scale for lv in step.levels] == scales
    assert [lv.count for lv in step.levels] == [len(scales)] * len(scales)


def test_levels_are_padded_to_multiples_of_8_and_cropped_back():
    photo = _photo(45, 63)
    hole = np.zeros((45, 63, 1), np.float32)
    hole[10:20, 30:40] = 1
    step = Recorder([0.5, 0.5])
    config = presets.config("tiny", method="translate")
    result = pyramid.run(photo, hole, config=config, step=step,
                         first_reference=reference.first_reference(config))  # fmt: skip
    assert [lv.size for lv in step.levels] == [(22, 32), (45, 63)]
    assert [lv.known.shape for lv in step.levels] == [(24, 32, 3), (48, 64, 3)]
    for level in step.levels:
        height, width = level.size
        assert not level.hole[height:].any() and not level.hole[:, width:].any()
        # Symmetric padding: the row below the last is the last row again.
        np.testing.assert_array_equal(level.known[height], level.known[height - 1])
    assert [s.image.shape for s in result.scales] == [(22, 32, 3), (45, 63, 3)]


def test_known_at_lets_no_hole_pixel_leak_in():
    # Hole pixels hold 1; known pixels 0.2. A plain resize would mix them at the border.
    image = np.full((8, 8, 3), 0.2, np.float32)
    mask = np.zeros((8, 8, 1), np.float32)
    mask[:, 4:] = 1
    image[:, 4:] = 1.0
    small = pyramid.known_at(image, mask, (4, 4))
    np.testing.assert_allclose(small[:, :2], 0.2, atol=1e-6)  # cells fully known
    # A cell whose source pixels are all hole gets no value from the hole: 0 (clipped 0/eps).
    assert np.all(small[:, 2:] <= 0.2 + 1e-6)


def test_pad_by_hand():
    array = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    padded = pyramid.pad(array, "constant")
    assert padded.shape == (8, 8, 1)
    np.testing.assert_array_equal(padded[:2, :3], array)
    assert not padded[2:].any() and not padded[:, 3:].any()
    assert pyramid.pad(np.zeros((16, 8, 3)), "symmetric").shape == (16, 8, 3)


def test_paste_hole_replaces_only_hole_pixels_inside_the_region():
    image = np.zeros((6, 6, 3), np.float32)
    mask = np.zeros((6, 6, 1), np.float32)
    mask[1, 1] = mask[5, 5] = 1  # (5, 5) lies outside the region
    filled = np.ones((3, 3, 3), np.float32)
    out = pyramid.paste_hole(image, mask, (0, 3, 0, 3), filled)
    expected = np.zeros((6, 6, 3), np.float32)
    expected[1, 1] = 1
    np.testing.assert_array_equal(out, expected)
    assert not image.any()  # the input is not changed


def test_paste_hole_makes_the_fill_of_a_black_and_white_photo_grey():
    # Known pixels grey (one channel 1/255 off, as JPEG rounding leaves): the fill's channels
    # are averaged, (0.9 + 0.3 + 0.3) / 3 = 0.5. In a colour photo the fill is kept as it is.
    image = np.full((8, 8, 3), 0.4, np.float32)
    image[0, 0, 2] += 1 / 255
    mask = np.zeros((8, 8, 1), np.float32)
    mask[2:5, 2:5] = 1
    filled = np.zeros((8, 8, 3), np.float32)
    filled[..., 0], filled[..., 1:] = 0.9, 0.3  # pink speckle
    out = pyramid.paste_hole(image, mask, (0, 8, 0, 8), filled)
    np.testing.assert_allclose(out[3, 3], [0.5, 0.5, 0.5], atol=1e-6)
    np.testing.assert_array_equal(out[0, 0], image[0, 0])
    image[0, 0] = [0.8, 0.2, 0.2]  # one red known pixel: a colour photo
    out = pyramid.paste_hole(image, mask, (0, 8, 0, 8), filled)
    np.testing.assert_allclose(out[3, 3], [0.9, 0.3, 0.3], atol=1e-6)


def test_paste_hole_meets_the_border_when_the_fill_was_worked_smaller():
    # A flat 0.6 photo whose half-size fill is a flat 0.2 with a bump: pasted in the gradient
    # domain, the fill's offset from the border (0.4) is removed and its bump is kept.
    image = np.full((32, 32, 3), 0.6, np.float32)
    mask = np.zeros((32, 32, 1), np.float32)
    mask[8:24, 8:24] = 1
    filled = np.full((16, 16, 3), 0.2, np.float32)
    filled[7:9, 7:9] = 0.3  # the bump, well inside the hole (hole cells 4..11)
    out = pyramid.paste_hole(image, mask, (0, 32, 0, 32), filled)
    hole = mask[..., 0] > 0
    np.testing.assert_array_equal(out[~hole], image[~hole])
    upsampled = pyramid.resize.resize_image(filled, (32, 32))
    # out = upsampled fill + a harmonic correction that is 0.4 at the border: far from the
    # bump the fill is flat, so out is 0.6 there; the bump's rise over its surroundings stays.
    np.testing.assert_allclose(out[8:10, 8:24], 0.6, atol=1e-3)
    rise_out = out[15:17, 15:17].mean() - out[9, 9].mean()
    rise_fill = upsampled[15:17, 15:17].mean() - upsampled[9, 9].mean()
    np.testing.assert_allclose(rise_out, rise_fill, atol=2e-3)
    assert rise_fill > 0.05


def test_levels_stops_the_pyramid_early_and_upsamples_the_fill():
    photo = _photo()
    hole = np.zeros((64, 64, 1), np.float32)
    hole[16:48, 16:48] = 1
    step = Recorder([0.25, 0.75])
    config = presets.config("tiny", levels=1)  # 32 and 64 px, but only the first level
    result = pyramid.run(np.where(hole > 0, 0, photo), hole, config=config, step=step,
                         first_reference=reference.first_reference(config))  # fmt: skip
    assert [lv.size for lv in step.levels] == [(32, 32)]
    assert [s.size for s in result.scales] == [(32, 32)]
    assert result.image.shape == (64, 64, 3)
    np.testing.assert_array_equal(result.image[hole[..., 0] == 0], photo[hole[..., 0] == 0])
    with pytest.raises(ValueError, match="levels"):
        OptimizeConfig(levels=0)


def test_context_window_and_level_sizes_by_hand():
    hole = np.zeros((1000, 3000), bool)
    hole[100:140, 2900:2960] = True  # 40x60 box near the right edge
    top, bottom, left, right = pyramid.context_window(hole, 512, 1.0)
    assert (bottom - top, right - left) == (512, 512)  # grown to the last scale
    assert right == 3000 and top == 0  # shifted to stay inside the photo
    big = np.zeros((2000, 2000), bool)
    big[200:1800, 500:700] = True  # a hole taller than the last scale
    top, bottom, left, right = pyramid.context_window(big, 512, 0.25)
    assert (top, bottom) == (0, 2000) and (right - left) == 512
    sizes = pyramid.level_sizes((2000, 512), (128, 256, 512))
    assert sizes == [(128, 33), (256, 66), (512, 131)]
    assert pyramid.level_sizes((300, 200), (128, 256, 512)) == [(75, 50), (150, 100), (300, 200)]
    assert pyramid.level_sizes((40, 40), (32, 64)) == [(40, 40)]  # 20 px is under MIN_LEVEL_SIZE
    with pytest.raises(ValueError, match="too small"):
        pyramid.level_sizes((20, 20), (32, 64))


def _checkerboard_pastes():
    """A 0.5 +- 0.2 checkerboard photo (not quite grey), a 12x12 hole and a flat 0.3 fill
    worked at a quarter of its size. Returns image, mask, region, filled and the pastes with
    the exact border and with offset_span 1."""
    y, x = np.mgrid[:32, :32]
    image = np.repeat((0.5 + 0.2 * (-1.0) ** (y + x))[..., None], 3, axis=-1).astype(np.float32)
    image[..., 1] += 0.01  # not grey, so the fill is not made grey
    mask = np.zeros((32, 32, 1), np.float32)
    mask[10:22, 10:22] = 1
    filled = np.full((8, 8, 3), 0.3, np.float32)
    region = (0, 32, 0, 32)
    exact = pyramid.paste_hole(image, mask, region, filled)
    smooth = pyramid.paste_hole(image, mask, region, filled, offset_span=1.0)
    return image, mask, region, filled, exact, smooth


def test_paste_hole_offset_span_is_in_upsampling_factors():
    # With offset_span 1 the offset is averaged over 4 px (the factor), so the pasted hole
    # is the photo's mean, 0.5, where the exact border leaves the checker's swing in it.
    image, mask, _, _, exact, smooth = _checkerboard_pastes()
    hole = mask[..., 0] > 0
    assert np.abs(exact[hole][:, 0] - 0.5).max() > 0.05
    np.testing.assert_allclose(smooth[hole][:, 0], 0.5, atol=0.01)
    np.testing.assert_array_equal(smooth[~hole], image[~hole])


def test_paste_hole_exact_reach_keeps_the_exact_offset_near_the_border():
    # The checkerboard case above, factor 4, offset_span 1, exact_reach 1: the exact offset's
    # weight is exp(-d / 4) at d px from the nearest known pixel. By hand, for the hole
    # rows and columns 10..21: pixel (10, 16) is 1 px from row 9, pixel (16, 16) 6 px from
    # row 22, so their weights are exp(-1/4) and exp(-6/4).
    image, mask, region, filled, exact, smooth = _checkerboard_pastes()
    mixed = pyramid.paste_hole(image, mask, region, filled, offset_span=1.0, exact_reach=1.0)
    for (row, col), distance in (((10, 16), 1.0), ((16, 16), 6.0)):
        weight = np.exp(-distance / 4.0)
        expected = weight * exact[row, col] + (1 - weight) * smooth[row, col]
        np.testing.assert_allclose(mixed[row, col], expected, atol=1e-4)
    far = pyramid.paste_hole(image, mask, region, filled, offset_span=1.0, exact_reach=1e6)
    np.testing.assert_allclose(far, exact, atol=1e-4)
    np.testing.assert_array_equal(mixed[mask[..., 0] == 0], image[mask[..., 0] == 0])


def test_context_window_with_no_context_keeps_the_holes_last_row():
    """Guards the hole's bounding box against losing its last row and column (max() + 1)."""
    hole = np.zeros((100, 100), bool)
    hole[10:90, 40:50] = True  # 80 rows: taller than the last scale, 64
    # Rows: want max(80 * (1 + 0), 64) = 80 from (10 + 90 - 80) // 2 = 10: the box, 10..89.
    # Columns: want 64 from (40 + 50 - 64) // 2 = 13.
    assert pyramid.context_window(hole, 64, 0.0) == (10, 90, 13, 77)
    # End to end, with a last scale of 80 (the hole's height: worked at full resolution, no
    # paste in the gradient domain): every hole pixel is filled, the last row (89) included.
    mask = hole[..., None].astype(np.float32)
    config = presets.config(
        "tiny", method="translate", scales=(32, 80), context=0.0, content="mean"
    )
    result = pyramid.run(np.where(mask > 0, 0.0, _photo(100, 100)), mask, config=config,
                         step=Recorder([0.5, 0.75]),
                         first_reference=reference.first_reference(config))  # fmt: skip
    assert result.region == (10, 90, 5, 85)
    np.testing.assert_array_equal(result.image[hole], 0.75)


def test_context_window_is_centred_on_the_hole_by_hand():
    """Guards the context window's origin against a one-pixel shift."""
    hole = np.zeros((1000, 2000), bool)
    hole[301:340, 600:660] = True  # 39x60: grown to the last scale, 512, around its centre
    # Rows: (301 + 340 - 512) // 2 = 64 (the sum odd); columns: (600 + 660 - 512) // 2 = 374.
    assert pyramid.context_window(hole, 512, 1.0) == (64, 576, 374, 886)
    big = np.zeros((2000, 2000), bool)
    big[700:1300, 900:1001] = True  # 600x101, context 0.25: 900 rows, and 512 columns
    # Rows: (700 + 1300 - 900) // 2 = 550; columns: (900 + 1001 - 512) // 2 = 694.
    assert pyramid.context_window(big, 512, 0.25) == (550, 1450, 694, 1206)
    edge = np.zeros((1000, 2000), bool)
    edge[990:1000, 5:15] = True  # at the bottom and left edges: shifted to stay inside
    assert pyramid.context_window(edge, 512, 1.0) == (488, 1000, 0, 512)


class _PositionStep:
    """A step that fills each hole pixel with its own position in the worked region:
    channels (row / 64, column / 64, 0.5), exact in float32."""

    def __init__(self):
        self.levels = []

    def __call__(self, level: Level) -> LevelResult:
        self.levels.append(level)
        rows, cols = np.mgrid[: level.hole.shape[0], : level.hole.shape[1]]
        code = np.stack([rows / 64, cols / 64, np.full(rows.shape, 0.5)], axis=-1)
        image = np.where(level.hole > 0, code, level.known).astype(np.float32)
        return LevelResult(image, None, ())


def test_the_fill_is_pasted_exactly_where_it_was_worked_in_a_large_photo():
    """Guards the paste into a large photo against a one-pixel shift from the worked crop."""
    photo = _photo(100, 120)
    mask = np.zeros((100, 120, 1), np.float32)
    mask[40:50, 70:80] = 1
    mask[45, 81] = 1  # an irregular hole: a lone pixel beside the box
    step = _PositionStep()
    config = presets.config("tiny", method="translate", content="mean")
    result = pyramid.run(np.where(mask > 0, 0.0, photo), mask, config=config, step=step,
                         first_reference=reference.first_reference(config))  # fmt: skip
    # Rows: (40 + 50 - 64) // 2 = 13; columns: (70 + 82 - 64) // 2 = 44. Worked at 64x64.
    top, bottom, left, right = result.region
    assert result.region == (13, 77, 44, 108)
    assert step.levels[-1].size == (64, 64)
    crop_hole = mask[top:bottom, left:right]
    np.testing.assert_array_equal(step.levels[-1].hole[:64, :64], crop_hole)
    ys, xs = np.nonzero(mask[..., 0])
    expected = np.stack([(ys - top) / 64, (xs - left) / 64, np.full(ys.shape, 0.5)], axis=-1)
    np.testing.assert_array_equal(result.image[ys, xs], expected.astype(np.float32))
    worked = result.scales[-1].image
    pasted = result.image[top:bottom, left:right]
    np.testing.assert_array_equal(pasted[crop_hole[..., 0] > 0], worked[crop_hole[..., 0] > 0])
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(result.image[known], photo[known])


def test_is_grey_needs_every_pixel_grey_not_the_average():
    """Guards is_grey against testing the mean channel spread instead of the largest."""
    pixels = np.full((1000, 3), 0.4, np.float32)
    assert pyramid.is_grey(pixels)
    pixels[:2] = [0.9, 0.3, 0.3]  # two strongly red pixels: mean spread 1.2 / 1000 < 1.5 / 255
    assert not pyramid.is_grey(pixels)
    pixels[:2] = [0.4, 0.4, 0.4 + 1 / 255]  # JPEG rounding: still grey
    assert pyramid.is_grey(pixels)


@pytest.mark.parametrize("shape", [(8, 1000), (3, 1000), (40, 480)])
def test_a_photo_of_an_extreme_aspect_ratio_is_filled_and_pasted(shape):
    # Worked at far below its size (3x1000 at 32 px: a 1 px high level), the fill is pasted
    # with its offset averaged over a Gaussian of 2 upsampling factors (62 px), far wider
    # than the photo is high: the paste's blur once failed there with JAX's "One input must
    # be smaller than the other" (as a 3x3000 photo did in the page, at 128 px).
    height, width = shape
    photo = np.full((height, width, 3), 0.6, np.float32)
    hole = np.zeros((height, width, 1), np.float32)
    hole[height // 4 : height - height // 4 or 1, width // 4 : width - width // 4] = 1
    config = presets.config("tiny", levels=1)  # worked at 32 px only, then pasted
    result = pyramid.run(photo, hole, config=config, step=Recorder([0.2]),
                         first_reference=reference.first_reference(config))  # fmt: skip
    # A flat photo and a flat fill: the offset (0.6 - 0.2) is spread over the hole by a
    # Laplace solve, so (maximum principle) every hole pixel lies between 0.2 and 0.6, and
    # the known pixels stay exactly as given.
    inside = hole[..., 0] > 0
    np.testing.assert_array_equal(result.image[~inside], np.float32(0.6))
    assert 0.2 - 1e-5 <= result.image[inside].min() and result.image.max() <= 0.6 + 1e-5
