"""Tests for npsynth.methods.optimize: one level of L-BFGS on Eq. 1."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from npsynth import fill, presets
from npsynth.api import inpaint
from npsynth.config import OptimizeConfig, with_settings
from npsynth.methods import optimize
from npsynth.pyramid import Level
from npsynth.window import texture_window

TINY = presets.config("tiny")


def tiny(**settings):
    return presets.config("tiny", **settings)


def _level(index: int, count: int, **fields) -> Level:
    """A level of 8x8 zeros (for the per-level settings, which read no pixel)."""
    zeros = np.zeros((8, 8, 3), np.float32)
    return Level(index, count, (8, 8), zeros, zeros[..., :1], zeros, **fields)


@pytest.fixture(scope="module")
def result(photo, hole, vgg):
    return inpaint(np.where(hole > 0, 0.0, photo), hole, config=TINY, vgg=vgg)


def test_compiles_once_per_scale_shape(photo, hole, vgg, result):
    graphdef, _ = nnx.split(vgg)
    chunk = min(TINY.solver.chunk_iterations, 5)  # 5 iterations per scale
    solvers = [
        function
        for scale in result.scales
        # at 32 and 64 px the texture window is the whole image
        for function in optimize._programs(
            graphdef, scale.layers, TINY.texture.patch_size, TINY.solver, chunk, None, None, False
        )
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
    config = tiny(layers=("relu3_1",), nn_update=nn_update)
    assert texture_window(hole, config.texture.layers).size == (32, 32)
    guide = np.asarray(fill.harmonic_fill(photo, hole), np.float32)
    known = np.where(hole > 0, 0.0, photo).astype(np.float32)
    windowed = optimize.solve_level(known, hole, guide, vgg, config, 4)
    whole = optimize.solve_level(known, hole, guide, vgg, config, 4, use_window=False)
    np.testing.assert_allclose(windowed.losses, whole.losses, rtol=1e-4)
    np.testing.assert_allclose(windowed.image, whole.image, atol=1e-3)
    assert windowed.losses[-1] < windowed.losses[0]


def test_feature_content_term_solves_in_the_window_as_on_the_whole_image(vgg):
    # A 96 px photo, a hole in its corner, texture on relu3_1 and E_c on relu3_2: the window
    # must also cover relu3_2's wider receptive field (64 px, where relu3_1 alone needs 32).
    from conftest import sample_photo
    from npsynth import texture

    photo = sample_photo("coffee", size=96)
    hole = np.zeros((96, 96, 1), np.float32)
    hole[0:6, 90:96] = 1.0
    config = tiny(layers=("relu3_1",), content_layer="relu3_2", alpha=1e-4)
    assert texture_window(hole, config.texture.layers).size == (32, 32)
    assert texture_window(hole, ("relu3_1", "relu3_2")).size == (64, 64)
    guide = np.asarray(fill.harmonic_fill(photo, hole), np.float32)
    known = np.where(hole > 0, 0.0, photo).astype(np.float32)
    windowed = optimize.solve_level(known, hole, guide, vgg, config, 3)
    whole = optimize.solve_level(known, hole, guide, vgg, config, 3, use_window=False)
    np.testing.assert_allclose(windowed.losses, whole.losses, rtol=1e-4)
    np.testing.assert_allclose(windowed.image, whole.image, atol=1e-3)
    assert windowed.losses[-1] < windowed.losses[0]
    # The start is the guide itself, E_c's reference: E_c = 0 there, the rest as joint_loss.
    start = jnp.asarray(guide[None])
    nn = texture.matches(start, hole[None], vgg=vgg, layers=config.texture.layers)
    terms = texture.make_joint_loss(
        start, hole[None], vgg=vgg, alpha=config.alpha, beta=config.beta, layers=config.texture.layers,
        nn=nn, content_layer="relu3_2", terms=True,
    )(start)  # fmt: skip
    assert float(terms["content"]) == 0.0
    np.testing.assert_allclose(windowed.losses[0], float(terms["total"]), rtol=1e-5)


def test_feature_content_term_alone_where_no_texture_layer_is_usable(photo, vgg):
    # relu4_1 keeps no source window around this hole: E_c (at relu4_2) + beta * TV remain.
    hole = np.zeros((64, 64, 1), np.float32)
    hole[:48, :48] = 1
    config = tiny(layers=("relu4_1",), content_layer="relu4_2")
    noise = np.random.default_rng(0).random(photo.shape)  # (a harmonic fill minimises TV)
    guide = np.where(hole > 0, noise, photo).astype(np.float32)
    with pytest.warns(UserWarning, match="the texture term is off there"):
        result = optimize.solve_level(photo, hole, guide, vgg, config, 2)
    assert result.layers == ()
    from npsynth import losses

    start = guide[None]  # E_c = 0 at the start: its reference is the guide
    np.testing.assert_allclose(
        result.losses[0], config.beta * float(losses.tv_loss(start)), rtol=1e-5
    )
    assert result.losses[-1] < result.losses[0]
    known = hole[..., 0] == 0
    np.testing.assert_array_equal(result.image[known], photo[known])
    with pytest.warns(UserWarning):  # E_c on the pixels pulls elsewhere
        pixels = optimize.solve_level(
            photo, hole, guide, vgg, with_settings(config, content_layer=None), 2
        )
    assert np.abs(result.image - pixels.image).max() > 1e-2


def test_a_layer_without_source_patches_is_dropped_with_a_warning(photo, vgg):
    hole = np.zeros((64, 64, 1), np.float32)
    hole[:48, :48] = 1  # relu4_1 (8x8 cells) keeps no clear 3x3 window; relu3_1 does
    guide = np.asarray(fill.harmonic_fill(photo, hole), np.float32)
    with pytest.warns(UserWarning, match=r"no source patch at \['relu4_1'\]"):
        image, history, layers, _ = dataclasses.astuple(
            optimize.solve_level(photo, hole, guide, vgg, TINY, 2)
        )
    assert layers == ("relu3_1",)
    assert history[-1] < history[0]
    known = hole[..., 0] == 0
    np.testing.assert_array_equal(image[known], photo[known])


def test_chunks_of_iterations_give_the_iterates_of_one_solve(photo, hole, vgg):
    # With the matches fixed for the scale, reporting after every iteration (chunks of 1)
    # takes the same L-BFGS steps as one chunk of 6, and reports each of them with its loss.
    guide = np.asarray(fill.harmonic_fill(photo, hole), np.float32)
    known = np.where(hole > 0, 0.0, photo).astype(np.float32)
    reports = []
    fixed = with_settings(TINY, nn_update="per_scale")
    one = optimize.solve_level(known, hole, guide, vgg, with_settings(fixed, chunk_iterations=6), 6)
    each = optimize.solve_level(
        known, hole, guide, vgg, with_settings(fixed, chunk_iterations=1), 6,
        report=lambda *args: reports.append(args),
    )  # fmt: skip
    np.testing.assert_allclose(each.losses, one.losses, rtol=1e-5)
    np.testing.assert_allclose(each.image, one.image, atol=1e-4)
    assert [r[0] for r in reports] == [1, 2, 3, 4, 5, 6]
    assert [r[1] for r in reports] == [6] * 6
    np.testing.assert_allclose([r[2] for r in reports], each.losses[1:], rtol=1e-6)
    assert each.evaluations == one.evaluations >= 7  # at least one per iteration, plus x0
    np.testing.assert_allclose(reports[-1][4], each.image)


class _Stop(Exception):
    pass


def test_a_report_that_raises_stops_the_solve_at_that_iteration(photo, hole, vgg):
    # Cancel (issue 41): with the default settings the solve reports after every iteration,
    # so a report raising after iteration 2 of 5 stops it there, not at a chunk's end (with
    # chunks of 10 the first report came after all 5).
    guide = np.asarray(fill.harmonic_fill(photo, hole), np.float32)
    known = np.where(hole > 0, 0.0, photo).astype(np.float32)
    seen = []

    def report(iteration, *rest):
        seen.append(iteration)
        if iteration == 2:
            raise _Stop

    with pytest.raises(_Stop):
        optimize.solve_level(known, hole, guide, vgg, TINY, 5, report=report)
    assert seen == [1, 2]


def test_inpaint_reports_progress_after_every_iteration(photo, hole, vgg):
    # Each level: its start (iteration 0), one report per L-BFGS iteration, its end.
    events = []
    inpaint(np.where(hole > 0, 0.0, photo), hole, config=TINY, vgg=vgg, progress=events.append)
    for level in (0, 1):
        at = [(e.iteration, e.done) for e in events if e.level == level]
        done = at[-1][0]
        assert at == [(0, False)] + [(i, False) for i in range(1, done + 1)] + [(done, True)]
        assert done == 5  # tiny: 5 iterations per scale (none stops early here)


def _smoothed_in_numpy(known, hole, reference, beta):
    """Brute force: the minimiser over the hole pixels of E_c + beta * TV (Eq. 1 without E_t),
    a linear system per channel: (1 + beta deg_p) x_p - beta sum_{hole q ~ p} x_q =
    r_p + beta sum_{known q ~ p} known_q over each pixel p's 4 neighbours q in the image."""
    inside = hole[..., 0] > 0.5
    height, width = inside.shape
    index = -np.ones(inside.shape, int)
    index[inside] = np.arange(inside.sum())
    system = np.zeros((inside.sum(), inside.sum()))
    rhs = reference[inside].astype(np.float64).copy()
    for (i, j), p in zip(np.argwhere(inside), index[inside]):
        for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
            if 0 <= a < height and 0 <= b < width:
                system[p, p] += beta
                if inside[a, b]:
                    system[p, index[a, b]] -= beta
                else:
                    rhs[p] += beta * known[a, b]
    system += np.eye(len(system))
    out = known.astype(np.float64).copy()
    out[inside] = np.linalg.solve(system, rhs)
    return out


def test_beta_last_is_the_tv_weight_of_the_last_scale_only(photo, vgg):
    # With alpha = 0 each level minimises E_c + beta * TV towards its guide (here the photo),
    # a quadratic whose minimiser NumPy solves exactly.
    from npsynth.pyramid import Level

    hole = np.zeros((64, 64, 1), np.float32)
    hole[26:36, 22:34] = 1.0
    known = np.where(hole > 0, 0.0, photo).astype(np.float32)
    config = tiny(layers=("relu3_1",), alpha=0.0, beta=0.25, beta_last=4.0,
                                iterations=60)  # fmt: skip
    step = optimize.OptimizeStep(config, vgg)
    results = {}
    for index, count, beta in ((0, 2, 0.25), (1, 2, 4.0), (0, 1, 4.0)):  # (0, 1): a small
        level = Level(index, count, (64, 64), known, hole, photo.astype(np.float32))  # photo
        results[index, count] = step(level).image  # works at the last scale only
        wanted = _smoothed_in_numpy(known, hole, photo, beta)
        np.testing.assert_allclose(results[index, count], wanted, atol=2e-3)
    assert np.abs(results[0, 2] - results[1, 2]).max() > 0.05  # the two weights differ
    # None: beta at the last scale too; a level short of the pyramid's end keeps beta.
    same = with_settings(config, beta_last=None)
    assert optimize.level_config(same, Level(1, 2, (64, 64), known, hole, photo)).beta == 0.25
    short = Level(0, 1, (64, 64), known, hole, photo, scale=-2)
    assert optimize.level_config(config, short).beta == 0.25
    with pytest.raises(ValueError, match="beta_last"):
        tiny(beta_last=-1.0)


@pytest.mark.parametrize("base_sigma", [0.0, 4.0])
def test_patchmatch_at_every_scale_is_e_c_reference_but_not_the_start(photo, vgg, base_sigma):
    # Where the first reference was PatchMatch (`OptimizeConfig.reference_every_scale`).
    # Reference from public pieces: L-BFGS from the guide on Eq. 1 with E_c pulling towards
    # PatchMatch's fill of the level (matches searched on the guide).
    import jax.numpy as jnp

    from npsynth import solver, texture
    from npsynth.pyramid import Level
    from npsynth.reference import content_source, patchmatch_fill

    hole = np.zeros((64, 64, 1), np.float32)
    hole[24:40, 20:44] = 1.0
    config = tiny(
        layers=("relu3_1",),
        iterations=3,
        content="patchmatch",
        patchmatch_base_sigma=base_sigma,
        beta_last=None,  # one TV weight: only E_c's reference differs between the levels
    )
    guide = np.asarray(fill.harmonic_fill(photo, hole), np.float32)
    known = np.where(hole > 0, 0.0, photo).astype(np.float32)
    patchmatch = patchmatch_fill(known, hole, base_sigma=base_sigma)  # with its own test
    known_b, hole_b, guide_b, content_b = (
        jnp.asarray(a[None]) for a in (known, hole, guide, patchmatch)
    )

    def compose(z):
        return known_b * (1 - hole_b) + hole_b * z

    nn = texture.matches(compose(guide_b), hole_b, vgg=vgg, layers=config.texture.layers)
    loss = texture.make_joint_loss(
        content_b, hole_b, vgg=vgg, alpha=config.alpha, beta=config.beta, layers=config.texture.layers,
        nn=nn,
    )  # fmt: skip
    z, info = solver.minimize(
        lambda z: loss(compose(z)), guide_b, max_iter=3, options=config.solver
    )
    step = optimize.OptimizeStep(config, vgg, use_window=False)
    second = step(Level(1, 2, (64, 64), known, hole, guide, first_hole=hole))
    np.testing.assert_allclose(second.losses, np.asarray(info.values), rtol=1e-5)
    np.testing.assert_allclose(second.image, np.clip(np.asarray(compose(z)[0]), 0, 1), atol=1e-4)
    # At the first scale the guide is the content reference already: E_c pulls towards it.
    first = step(Level(0, 2, (64, 64), known, hole, guide, first_hole=hole))
    plain = optimize.solve_level(known, hole, guide, vgg, config, 3, use_window=False)
    np.testing.assert_allclose(first.image, plain.image, atol=1e-6)
    # After another first reference E_c's reference is the guide: a harmonic one, or the
    # network that content="auto" gives for the centred square (PatchMatch for other holes).
    harmonic = optimize.OptimizeStep(
        with_settings(config, content="harmonic"), vgg, use_window=False
    )
    after_harmonic = harmonic(Level(1, 2, (64, 64), known, hole, guide, first_hole=hole))
    np.testing.assert_allclose(after_harmonic.image, plain.image, atol=1e-6)
    auto = with_settings(config, content="auto")
    centred = np.zeros((64, 64, 1), np.float32)
    centred[16:48, 16:48] = 1.0
    assert content_source(centred, auto) == "network"
    assert content_source(hole, auto) == "patchmatch"
    step = optimize.OptimizeStep(auto, vgg, use_window=False)
    after_network = step(Level(1, 2, (64, 64), known, hole, guide, first_hole=centred))
    np.testing.assert_allclose(after_network.image, plain.image, atol=1e-6)


def test_a_per_scale_setting_applies_to_the_scales_worked_at_when_coarse_ones_are_skipped():
    """Guards `at_level` against indexing the per-scale values by level alone."""
    zeros = np.zeros((8, 8, 3), np.float32)

    def level(index, count):
        return Level(index, count, (8, 8), zeros, zeros[..., :1], zeros)

    config = OptimizeConfig(scales=(128, 256, 512), iterations=(100, 50, 20))
    step = optimize.OptimizeStep(config, vgg=None)
    # A small photo works at the last two scales only (128 px is under MIN_LEVEL_SIZE there):
    # its levels 0 and 1 are the scales 256 and 512, so they take 50 and 20 iterations.
    assert [step._iterations(level(i, 2)) for i in range(2)] == [50, 20]
    assert [step._iterations(level(i, 3)) for i in range(3)] == [100, 50, 20]
    assert optimize.at_level((7, 8, 9), level(0, 1)) == 9


def test_a_pyramid_stopped_early_takes_the_per_scale_values_of_the_scales_it_works_at():
    """`levels=1` (the fast choice) works the first scale of a 3-level pyramid: it takes the
    first scale's iterations, not the last's."""
    zeros = np.zeros((8, 8, 3), np.float32)
    first = Level(0, 1, (8, 8), zeros, zeros[..., :1], zeros, scale=-3)
    config = OptimizeConfig(scales=(128, 256, 512), iterations=(100, 50, 20))
    assert optimize.OptimizeStep(config, vgg=None)._iterations(first) == 100
    assert optimize.at_level((7, 8, 9), first) == 7
