"""Tests for npsynth.reference: the first scale's content reference."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from npsynth import export, fill, hub, masks, presets, pyramid, resize
from npsynth.api import inpaint
from npsynth.config import ContentNetConfig
from npsynth.models import content_net
from npsynth.reference import content_reference, content_source, patchmatch_fill

TINY = presets.config("tiny")


def test_auto_uses_a_paper_mode_network_only_for_the_centred_square(photo, tmp_path):

    arch = ContentNetConfig(mode="paper", image_size=32, channels=(8, 16, 16), bottleneck=32)
    model = content_net.make_content_net(arch, rngs=nnx.Rngs(0))
    path = export.save_content_net(model, tmp_path / "paper.npz", config=arch, dtype="float32")
    known = resize.resize_image(photo, (32, 32))
    square = np.zeros((32, 32, 1), np.float32)
    square[8:24, 8:24] = 1.0  # the central half: the paper's hole at 32 px
    off_centre = np.roll(square, 3, axis=1)
    auto = presets.config("tiny", content="auto", content_checkpoint=str(path))
    # The centred square: the network's prediction (its own call, independent of inpaint).
    reference = content_reference(np.where(square > 0, 0.0, known), square, auto)
    predicted = content_net.predict(export.load_content_net(path), known, square)
    np.testing.assert_allclose(reference, predicted, atol=1e-5)
    assert content_source(square, auto) == "network"
    # Any other hole: exactly PatchMatch's fill (its own call), not an error.
    blank = np.where(off_centre > 0, 0.0, known)
    reference = content_reference(blank, off_centre, auto)
    np.testing.assert_array_equal(
        reference,
        patchmatch_fill(blank, off_centre, base_sigma=auto.reference.patchmatch_base_sigma),
    )
    assert content_source(off_centre, auto) == "patchmatch"
    # Asking for the network explicitly on such a hole says why it cannot.
    network = presets.config("tiny", content="network", content_checkpoint=str(path))
    with pytest.raises(ValueError, match="paper mode"):
        content_reference(blank, off_centre, network)
    assert content_net.fills(model, square[..., 0]) and not content_net.fills(model, off_centre)


def test_auto_uses_only_the_shipped_paper_network_and_network_the_free_form_one(
    photo, tmp_path, monkeypatch
):
    """Shipped: a paper-mode network (centred square) and a free-form one. "auto" takes the
    paper-mode one for the centred square and PatchMatch for any other hole; "network"
    takes the free-form one there, and so does "auto" when that network is given."""

    def shipped(mode, seed):
        arch = ContentNetConfig(mode=mode, image_size=32, channels=(8, 16, 16), bottleneck=32)
        model = content_net.make_content_net(arch, rngs=nnx.Rngs(seed))
        path = tmp_path / f"{mode}.npz"
        return export.save_content_net(model, path, config=arch, dtype="float32")

    paper, freeform = shipped("paper", 0), shipped("freeform", 1)
    monkeypatch.delenv("NPSYNTH_CONTENT_NET", raising=False)
    monkeypatch.setitem(hub.SHIPPED, "content_net", (paper, freeform))
    known = resize.resize_image(photo, (32, 32))
    square = np.zeros((32, 32, 1), np.float32)
    square[8:24, 8:24] = 1.0
    strokes = masks.make_mask("strokes", 32, 32, rng=np.random.default_rng(0))
    auto, network = (
        presets.config("tiny", content="auto"),
        presets.config("tiny", content="network"),
    )
    given = presets.config("tiny", content="auto", content_checkpoint=str(freeform))
    cases = [
        (square, auto, paper), (square, network, paper),
        (strokes, network, freeform), (strokes, given, freeform),
    ]  # fmt: skip
    for hole, config, expected in cases:
        blank = np.where(hole > 0, 0.0, known)
        reference = content_reference(blank, hole, config)
        predicted = content_net.predict(export.load_content_net(expected), blank, hole)
        np.testing.assert_allclose(reference, predicted, atol=1e-5)
        assert content_source(hole, config) == "network"
    blank = np.where(strokes > 0, 0.0, known)
    np.testing.assert_array_equal(
        content_reference(blank, strokes, auto),
        patchmatch_fill(blank, strokes, base_sigma=auto.reference.patchmatch_base_sigma),
    )
    assert content_source(strokes, auto) == "patchmatch"
    for name in ("harmonic", "mean", "patchmatch"):
        assert content_source(strokes, presets.config("tiny", content=name)) == name


def test_content_network_prediction_is_the_first_reference(photo, hole, vgg, tmp_path, monkeypatch):

    arch = ContentNetConfig(image_size=32, channels=(8, 16, 16), bottleneck=32)
    model = content_net.make_content_net(arch, rngs=nnx.Rngs(0))
    path = export.save_content_net(model, tmp_path / "net.npz", config=arch, dtype="float32")
    blank = np.where(hole > 0, 0.0, photo)
    out = inpaint(
        blank, hole, config=TINY, vgg=vgg, content="network", content_checkpoint=str(path)
    )
    # Independently: the network at its own size (32), resized to the first scale (32).
    reloaded = export.load_content_net(path)
    known32 = pyramid.known_at(blank, hole, (32, 32))  # the first level's known pixels
    hole32 = resize.resize_mask(hole, (32, 32))
    predicted = content_net.predict(reloaded, known32, hole32)
    inside = hole32[..., 0] > 0
    np.testing.assert_allclose(out.reference[inside], predicted[inside], atol=1e-5)
    harmonic = inpaint(blank, hole, config=TINY, vgg=vgg, content="harmonic").reference
    assert np.abs(harmonic[inside] - out.reference[inside]).max() > 1e-3  # not the fallback
    # Without any checkpoint (none given, none in the environment, none shipped) "network"
    # is an error that says how to get one.
    monkeypatch.delenv("NPSYNTH_CONTENT_NET", raising=False)
    monkeypatch.setitem(hub.SHIPPED, "content_net", (tmp_path / "not_shipped.npz",))
    with pytest.raises(ValueError, match="content_checkpoint"):
        inpaint(blank, hole, config=TINY, vgg=vgg, content="network")


def test_patchmatch_reference_copies_the_texture_around_the_hole(monkeypatch):
    # A periodic texture (period 8 px) with a hole: PatchMatch can copy the truth from the
    # known periods, so its fill is near it, where the smooth harmonic fill is not.
    y, x = np.mgrid[:48, :48]
    truth = (
        np.stack([(x // 4) % 2, (y // 4) % 2, ((x + y) // 4) % 2], axis=-1).astype(np.float32) * 0.8
        + 0.1
    )
    hole = np.zeros((48, 48, 1), np.float32)
    hole[18:30, 16:30] = 1.0
    known = np.where(hole > 0, 0.0, truth).astype(np.float32)
    config = presets.config("tiny", content="patchmatch", patchmatch_base_sigma=0.0)  # its pixels
    reference = content_reference(known, hole, config)
    inside = hole[..., 0] > 0
    assert reference.dtype == np.float32 and reference.shape == known.shape
    np.testing.assert_array_equal(reference[~inside], known[~inside])
    np.testing.assert_array_equal(reference, content_reference(known, hole, config))  # seeded
    harmonic = np.asarray(fill.harmonic_fill(known, hole))
    error = np.abs(reference - truth)[inside].mean()
    assert error < 0.1 and error < 0.25 * np.abs(harmonic - truth)[inside].mean()  # 0.05, 0.36
    np.testing.assert_allclose(
        reference[inside] * 255, np.round(reference[inside] * 255), atol=1e-3
    )
    # Without the package: an ImportError that says how to install it.
    monkeypatch.setitem(__import__("sys").modules, "patchmatch", None)
    with pytest.raises(ImportError, match="pip install pypatchmatch"):
        content_reference(known, hole, config)


def test_detail_on_harmonic_base_keeps_texture_and_takes_the_borders_colour():
    """A fill = harmonic + zero-mean checkerboard + a colour offset: the offset (a seam) goes,
    the checkerboard (texture) stays, known pixels are untouched; a fill that is the harmonic
    fill itself comes back as it is (the two blurs cancel)."""
    from scipy import ndimage

    from npsynth.reference import detail_on_harmonic_base

    yy, xx = np.mgrid[0:96, 0:96] / 95.0
    known = np.stack([0.3 + 0.2 * xx, 0.4 + 0.1 * yy, 0.5 + 0.0 * xx], -1).astype(np.float32)
    hole = np.zeros((96, 96, 1), np.float32)
    hole[16:80, 16:80] = 1.0
    inside = hole[..., 0] > 0
    # Independently of npsynth: the linear ramps are harmonic, so Laplace's fill is the ramp.
    harmonic = known
    checker = 0.05 * np.where((np.add.outer(np.arange(96), np.arange(96)) % 2) == 0, 1, -1)
    offset = np.array([0.15, -0.1, 0.2], np.float32)
    seamy = np.where(hole > 0, harmonic + checker[..., None] + offset, known).astype(np.float32)
    based = detail_on_harmonic_base(seamy, hole, sigma=4.0)
    np.testing.assert_array_equal(based[~inside], known[~inside])
    centre = np.zeros_like(inside)
    centre[32:64, 32:64] = True  # farther than 4 sigma from the border: the offset is gone
    wanted = harmonic + checker[..., None]
    np.testing.assert_allclose(based[centre], wanted[centre], atol=2e-3)
    assert np.abs(seamy[centre] - wanted[centre]).max() > 0.19  # the input had the offset
    # Near the border the offset is gone only partly, but the mean gap shrinks.
    ring = inside & ~ndimage.binary_erosion(inside, iterations=4)
    assert (
        np.abs(based[ring] - wanted[ring]).mean() < 0.5 * np.abs(seamy[ring] - wanted[ring]).mean()
    )
    smooth = np.where(hole > 0, harmonic, known).astype(np.float32)
    np.testing.assert_allclose(detail_on_harmonic_base(smooth, hole, sigma=4.0), smooth, atol=2e-3)


def test_patchmatch_base_sigma_gives_the_detail_on_the_harmonic_base(photo):
    from npsynth.reference import detail_on_harmonic_base

    hole = np.zeros((32, 32, 1), np.float32)
    hole[6:20, 10:26] = 1.0
    blank = np.where(hole > 0, 0.0, photo[:32, :32]).astype(np.float32)
    config = presets.config("tiny", content="patchmatch", patchmatch_base_sigma=3.0)
    np.testing.assert_array_equal(
        content_reference(blank, hole, config),
        detail_on_harmonic_base(patchmatch_fill(blank, hole), hole, sigma=3.0),
    )
    np.testing.assert_array_equal(
        patchmatch_fill(blank, hole, base_sigma=3.0), content_reference(blank, hole, config)
    )
