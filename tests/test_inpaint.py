"""End-to-end multi-scale neural patch synthesis at small scales (32, 64) on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from conftest import load_photo
from npsynth import fill, losses, masks, resize, synthesis
from npsynth.config import InpaintConfig
from npsynth.synthesis import inpaint

TINY = InpaintConfig.tiny()  # scales (32, 64), 5 iterations, harmonic content


@pytest.fixture(scope="module")
def photo(shared):
    return load_photo(shared / "data" / "eval512" / "img_002.png", size=64)


@pytest.fixture(scope="module")
def hole():
    return masks.center_mask(64, 64, fraction=0.25)


@pytest.fixture(scope="module")
def result(photo, hole, vgg):
    return inpaint(np.where(hole > 0, 0.0, photo), hole, config=TINY, vgg=vgg)


def test_known_pixels_are_exactly_the_input(result, photo, hole):
    known = hole[..., 0] == 0
    np.testing.assert_array_equal(result.image[known], photo[known])


def test_loss_decreases_at_each_scale(result):
    assert [s.size for s in result.scales] == [(32, 32), (64, 64)]
    for scale in result.scales:
        assert scale.layers  # the texture term is active at both scales
        assert len(scale.losses) >= 2
        assert scale.losses[-1] < scale.losses[0]
        assert np.all(np.diff(scale.losses) <= 1e-4 * abs(scale.losses[0]))  # L-BFGS descends


def test_output_is_finite_in_range_and_fills_the_hole(result, photo, hole):
    assert result.image.shape == photo.shape and result.image.dtype == np.float32
    assert np.isfinite(result.image).all()
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0
    inside = hole[..., 0] > 0
    # The fill is closer to the truth than the blanked (black) hole it started from.
    assert np.abs(result.image[inside] - photo[inside]).mean() < 0.5 * np.abs(photo[inside]).mean()


def test_deterministic(result, photo, hole, vgg):
    again = inpaint(np.where(hole > 0, 0.0, photo), hole, config=TINY, vgg=vgg)
    np.testing.assert_array_equal(again.image, result.image)


def test_compiles_once_per_scale_shape(photo, hole, vgg, result):
    graphdef, _ = nnx.split(vgg)
    solvers = [
        synthesis._scale_solver(
            graphdef, scale.layers, TINY.patch_size, TINY.iterations, TINY.tol, None
        )  # at 32 and 64 px the texture window is the whole image
        for scale in result.scales
    ]
    compiled = [solve._cache_size() for solve in solvers]
    assert all(count >= 1 for count in compiled)
    other = np.ascontiguousarray(photo[::-1])  # another photo of the same size
    inpaint(other, hole, config=TINY, vgg=vgg)
    assert [solve._cache_size() for solve in solvers] == compiled  # no new trace


@pytest.mark.parametrize("nn_update", ["per_scale", "every_eval"])
def test_texture_window_solves_as_the_whole_image_does(photo, vgg, nn_update):
    # A hole in a corner of a 64 px photo, texture on relu3_1: VGG-19 sees only 32x32 of it.
    # With "every_eval" the search runs on the windowed features at every evaluation.
    hole = np.zeros((64, 64, 1), np.float32)
    hole[2:10, 54:64] = 1.0
    config = InpaintConfig.tiny(layers=("relu3_1",), nn_update=nn_update)
    assert losses.texture_window(hole, config.layers).size == (32, 32)
    guide = np.asarray(fill.harmonic_fill(photo, hole), np.float32)
    known = np.where(hole > 0, 0.0, photo).astype(np.float32)
    windowed = synthesis._solve_level(known, hole, guide, vgg, config, 4)
    whole = synthesis._solve_level(known, hole, guide, vgg, config, 4, use_window=False)
    np.testing.assert_allclose(windowed[1], whole[1], rtol=1e-4)  # loss histories
    np.testing.assert_allclose(windowed[0], whole[0], atol=1e-3)
    assert windowed[1][-1] < windowed[1][0]


def test_non_square_odd_size_photo(shared, vgg):
    photo = load_photo(shared / "data" / "eval512" / "img_005.png")[100:145, 200:263]  # 45x63
    mask = masks.random_boxes_mask(45, 63, rng=3, count=(2, 2), max_fraction=0.3)
    out = inpaint(np.where(mask > 0, 0.0, photo), mask, config=TINY, vgg=vgg)
    assert out.image.shape == (45, 63, 3)
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(out.image[known], photo[known])
    # Fits the last scale: worked at its own size, and at half that (22.5 -> 22, 31.5 -> 32).
    assert [s.size for s in out.scales] == [(22, 32), (45, 63)]
    assert np.isfinite(out.image).all()


def test_large_photo_is_worked_on_in_a_window_at_full_resolution(photo, vgg):
    height, width = 1600, 2560
    big = np.tile(photo, (height // 64, width // 64, 1))  # a large, real-textured picture
    mask = np.zeros((height, width, 1), np.float32)
    mask[1000:1012, 2000:2014] = 1.0  # a small object
    out = inpaint(np.where(mask > 0, 0.0, big), mask, config=TINY, vgg=vgg)
    top, bottom, left, right = out.region
    assert (bottom - top, right - left) == (64, 64)  # the last scale, at full resolution
    assert top <= 1000 and bottom >= 1012 and left <= 2000 and right >= 2014
    assert out.scales[-1].size == (64, 64)
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(out.image[known], big[known])
    hole_px = out.image[1000:1012, 2000:2014]
    assert np.abs(hole_px - big[1000:1012, 2000:2014]).mean() < 0.25


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.zeros((32, 64, 1), np.float32), "size"),
        (np.zeros((64, 64, 1), np.float32), "no hole"),
        (np.ones((64, 64, 1), np.float32), "whole image"),
    ],
)
def test_bad_masks_raise_clear_errors(photo, vgg, mask, message):
    with pytest.raises(ValueError, match=message):
        inpaint(photo, mask, config=TINY, vgg=vgg)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"scales": (64, 32)}, "increasing"),
        ({"scales": (64, 64)}, "increasing"),
        ({"iterations": 0}, "iterations"),
        ({"content": "magic"}, "content"),
        ({"nn_update": "sometimes"}, "nn_update"),
    ],
)
def test_bad_settings_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        InpaintConfig(**overrides)


def test_bad_images_raise_clear_errors(photo, hole, vgg):
    with pytest.raises(ValueError, match="RGB"):
        inpaint(photo[..., 0], hole, config=TINY, vgg=vgg)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        inpaint(photo * 255.0, hole, config=TINY, vgg=vgg)
    with pytest.raises(ValueError, match="NaN"):
        inpaint(np.full_like(photo, np.nan), hole, config=TINY, vgg=vgg)
    with pytest.raises(ValueError, match="too small"):
        inpaint(photo[:20, :20], masks.center_mask(20, 20), config=TINY, vgg=vgg)


def test_context_window_and_level_sizes_by_hand():
    hole = np.zeros((1000, 3000), bool)
    hole[100:140, 2900:2960] = True  # 40x60 box near the right edge
    top, bottom, left, right = synthesis._context_window(hole, 512, 1.0)
    assert (bottom - top, right - left) == (512, 512)  # grown to the last scale
    assert right == 3000 and top == 0  # shifted to stay inside the photo
    big = np.zeros((2000, 2000), bool)
    big[200:1800, 500:700] = True  # a hole taller than the last scale
    top, bottom, left, right = synthesis._context_window(big, 512, 0.25)
    assert (top, bottom) == (0, 2000) and (right - left) == 512
    assert synthesis._level_sizes((2000, 512), (128, 256, 512)) == [
        (128, 33),
        (256, 66),
        (512, 131),
    ]
    assert synthesis._level_sizes((300, 200), (128, 256, 512)) == [(75, 50), (150, 100), (300, 200)]


def test_auto_uses_a_paper_mode_network_only_for_the_centred_square(photo, tmp_path):
    from npsynth import content_net
    from npsynth.config import ContentNetConfig

    arch = ContentNetConfig(mode="paper", image_size=32, channels=(8, 16, 16), bottleneck=32)
    model = content_net.make_content_net(arch, rngs=nnx.Rngs(0))
    path = content_net.save_content_net(model, tmp_path / "paper.npz", config=arch, dtype="float32")
    known = resize.resize_image(photo, (32, 32))
    square = np.zeros((32, 32, 1), np.float32)
    square[8:24, 8:24] = 1.0  # the central half: the paper's hole at 32 px
    off_centre = np.roll(square, 3, axis=1)
    auto = InpaintConfig.tiny(content="auto", content_checkpoint=str(path))
    # The centred square: the network's prediction (its own call, independent of inpaint).
    reference = synthesis.content_reference(np.where(square > 0, 0.0, known), square, auto)
    predicted = content_net.predict(content_net.load_content_net(path), known, square)
    np.testing.assert_allclose(reference, predicted, atol=1e-5)
    # Any other hole: exactly the harmonic fill, not an error.
    blank = np.where(off_centre > 0, 0.0, known)
    reference = synthesis.content_reference(blank, off_centre, auto)
    harmonic = np.asarray(fill.harmonic_fill(blank, off_centre), np.float32)
    np.testing.assert_array_equal(reference, harmonic)
    # Asking for the network explicitly on such a hole says why it cannot.
    network = InpaintConfig.tiny(content="network", content_checkpoint=str(path))
    with pytest.raises(ValueError, match="paper mode"):
        synthesis.content_reference(blank, off_centre, network)
    assert content_net.fills(model, square[..., 0]) and not content_net.fills(model, off_centre)


def test_auto_picks_the_shipped_network_that_fills_the_hole(photo, tmp_path, monkeypatch):
    """Shipped: a paper-mode network (centred square) and a free-form one (any other hole);
    without the free-form one, other holes get the harmonic fill."""
    from npsynth import content_net
    from npsynth.config import ContentNetConfig

    def shipped(mode, seed):
        arch = ContentNetConfig(mode=mode, image_size=32, channels=(8, 16, 16), bottleneck=32)
        model = content_net.make_content_net(arch, rngs=nnx.Rngs(seed))
        path = tmp_path / f"{mode}.npz"
        return content_net.save_content_net(model, path, config=arch, dtype="float32")

    paper, freeform = shipped("paper", 0), shipped("freeform", 1)
    monkeypatch.delenv("NPSYNTH_CONTENT_NET", raising=False)
    monkeypatch.setattr(synthesis, "SHIPPED_CONTENT_NET", paper)
    monkeypatch.setattr(synthesis, "SHIPPED_FREEFORM_NET", freeform)
    known = resize.resize_image(photo, (32, 32))
    square = np.zeros((32, 32, 1), np.float32)
    square[8:24, 8:24] = 1.0
    strokes = masks.make_mask("strokes", 32, 32, rng=np.random.default_rng(0))
    auto = InpaintConfig.tiny(content="auto")
    for hole, expected in ((square, paper), (strokes, freeform)):
        blank = np.where(hole > 0, 0.0, known)
        reference = synthesis.content_reference(blank, hole, auto)
        predicted = content_net.predict(content_net.load_content_net(expected), blank, hole)
        np.testing.assert_allclose(reference, predicted, atol=1e-5)
    blank = np.where(strokes > 0, 0.0, known)
    monkeypatch.setattr(synthesis, "SHIPPED_FREEFORM_NET", tmp_path / "not_shipped.npz")
    np.testing.assert_array_equal(
        synthesis.content_reference(blank, strokes, auto),
        np.asarray(fill.harmonic_fill(blank, strokes), np.float32),
    )


def test_content_network_prediction_is_the_first_reference(photo, hole, vgg, tmp_path, monkeypatch):
    from flax import nnx as flax_nnx

    from npsynth import content_net
    from npsynth.config import ContentNetConfig

    arch = ContentNetConfig(image_size=32, channels=(8, 16, 16), bottleneck=32)
    model = content_net.make_content_net(arch, rngs=flax_nnx.Rngs(0))
    path = content_net.save_content_net(model, tmp_path / "net.npz", config=arch, dtype="float32")
    blank = np.where(hole > 0, 0.0, photo)
    out = inpaint(
        blank, hole, config=TINY, vgg=vgg, content="network", content_checkpoint=str(path)
    )
    # Independently: the network at its own size (32), resized to the first scale (32).
    reloaded = content_net.load_content_net(path)
    known32 = synthesis._known_at(blank, hole, (32, 32))  # the first level's known pixels
    hole32 = resize.resize_mask(hole, (32, 32))
    predicted = content_net.predict(reloaded, known32, hole32)
    inside = hole32[..., 0] > 0
    np.testing.assert_allclose(out.reference[inside], predicted[inside], atol=1e-5)
    harmonic = inpaint(blank, hole, config=TINY, vgg=vgg, content="harmonic").reference
    assert np.abs(harmonic[inside] - out.reference[inside]).max() > 1e-3  # not the fallback
    # Without any checkpoint (none given, none in the environment, none shipped) "network"
    # is an error that says how to get one.
    monkeypatch.delenv("NPSYNTH_CONTENT_NET", raising=False)
    monkeypatch.setattr(synthesis, "SHIPPED_CONTENT_NET", tmp_path / "not_shipped.npz")
    monkeypatch.setattr(synthesis, "SHIPPED_FREEFORM_NET", tmp_path / "not_shipped_either.npz")
    with pytest.raises(ValueError, match="content_checkpoint"):
        inpaint(blank, hole, config=TINY, vgg=vgg, content="network")
