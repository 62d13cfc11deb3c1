"""Tests of the joint loss (npsynth.losses, on feature maps; npsynth.texture, through VGG-19)
against brute-force NumPy references."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth import losses, patches, texture
from references import (
    photo_and_mask,
    reference_downsample,
    reference_nn,
    reference_query,
    reference_windows,
)

LAYERS = ("relu3_1", "relu4_1")
STRIDES = {"relu3_1": 4, "relu4_1": 8}
ALPHA, BETA = 1e-3, 0.5


# ---------------------------------------------------------------- brute-force references


def reference_content(x, reference, mask) -> float:
    n, height, width, channels = x.shape
    per_image = np.zeros(n)
    for b in range(n):
        for i in range(height):
            for j in range(width):
                if mask[b, i, j, 0] == 1:
                    for c in range(channels):
                        per_image[b] += (float(x[b, i, j, c]) - float(reference[b, i, j, c])) ** 2
    return per_image.mean()


def reference_feature_content(features, reference_features) -> float:
    """Feature-space E_c: per image the mean of the squared differences over every cell and
    channel, then the mean over the batch."""
    features = np.asarray(features, np.float64)
    reference_features = np.asarray(reference_features, np.float64)
    n, h, w, c = features.shape
    per_image = np.zeros(n)
    for b in range(n):
        total = 0.0
        for i in range(h):
            for j in range(w):
                total += np.sum((features[b, i, j] - reference_features[b, i, j]) ** 2)
        per_image[b] = total / (h * w * c)
    return per_image.mean()


def reference_tv(x) -> float:
    x = np.asarray(x, np.float64)
    n, height, width, _ = x.shape
    per_image = np.zeros(n)
    for b in range(n):
        for i in range(height):
            for j in range(width):
                if j + 1 < width:
                    per_image[b] += np.sum((x[b, i, j + 1] - x[b, i, j]) ** 2)
                if i + 1 < height:
                    per_image[b] += np.sum((x[b, i + 1, j] - x[b, i, j]) ** 2)
    return per_image.mean()


def reference_texture(features, hole, nn, s=3) -> float:
    windows = reference_windows(features, s)
    query = reference_query(hole, s)
    n, _, ww, _ = windows.shape
    per_image = np.zeros(n)
    for b in range(n):
        count = query[b].sum()
        for y, x in zip(*np.nonzero(query[b])):
            sy, sx = divmod(int(nn[b, y, x]), ww)
            per_image[b] += np.sum((windows[b, y, x] - windows[b, sy, sx]) ** 2) / count
    return per_image.mean()


def reference_joint(x, reference, mask, features, *, alpha, beta, layers=LAYERS):
    """All terms, with the matches searched by the brute-force reference on `features`."""
    texture = 0.0
    for layer in layers:
        feats = np.asarray(features[layer])
        hole = reference_downsample(mask, STRIDES[layer])
        texture += reference_texture(feats, hole, reference_nn(feats, hole))
    content, tv = reference_content(x, reference, mask), reference_tv(x)
    total = content + alpha * texture + beta * tv
    return {"content": content, "texture": texture, "tv": tv, "total": total}


def random_images(size=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((2, size, size, 3)).astype(np.float32)
    reference = rng.random((2, size, size, 3)).astype(np.float32)
    mask = np.zeros((2, size, size, 1), np.float32)
    mask[0, size // 4 : size // 2, size // 4 : size // 2] = 1
    mask[1, 4:12, size // 2 : size - 4] = 1
    mask[1, size - 9, 3] = 1
    return x, reference, mask


_COMPILED = {}
TRACES = []  # shapes traced by traced_mask_loss's functions


def traced_mask_loss(vgg):
    """Jitted x, reference, mask -> (terms, gradient of the total) with the mask as an argument
    (traced: the search scores every window), shared by the tests to save compilations."""
    if id(vgg) not in _COMPILED:

        def total(x, reference, mask):
            features = vgg(x, LAYERS)
            terms = losses.joint_loss_terms(
                x, reference, mask, features=features, alpha=ALPHA, beta=BETA
            )
            return terms["total"], terms

        def terms_and_grad(x, reference, mask):
            TRACES.append(x.shape)
            (_, terms), grad = jax.value_and_grad(total, has_aux=True)(x, reference, mask)
            return terms, grad

        _COMPILED[id(vgg)] = jax.jit(terms_and_grad)
    return _COMPILED[id(vgg)]


def assert_terms_close(got, expected, rtol=1e-4):
    assert set(got) == {"content", "texture", "tv", "total"}
    for key, value in expected.items():
        np.testing.assert_allclose(float(got[key]), value, rtol=rtol, err_msg=key)


# ---------------------------------------------------------------- content and TV


def test_content_loss_known_values():
    x = np.ones((2, 4, 4, 3), np.float32)
    reference = np.zeros_like(x)
    mask = np.zeros((2, 4, 4, 1), np.float32)
    mask[0, :2, :2] = 1  # 4 pixels x 3 channels
    mask[1, 0, 0] = 1  # 1 pixel x 3 channels
    assert float(losses.content_loss(x, reference, mask)) == pytest.approx((12 + 3) / 2)


def test_content_loss_matches_reference_and_has_no_gradient_outside_the_hole():
    x, reference, mask = random_images(size=16)
    got = losses.content_loss(x, reference, mask)
    np.testing.assert_allclose(float(got), reference_content(x, reference, mask), rtol=1e-5)
    grad = np.asarray(jax.grad(losses.content_loss)(jnp.asarray(x), reference, mask))
    assert np.all(grad[np.broadcast_to(mask, x.shape) == 0] == 0)
    assert np.all(grad[np.broadcast_to(mask, x.shape) == 1] != 0)


def test_tv_loss_known_values():
    x = np.array([[0.0, 1.0], [2.0, 4.0]], np.float32).reshape(1, 2, 2, 1)
    # horizontal (1-0)^2 + (4-2)^2 = 5, vertical (2-0)^2 + (4-1)^2 = 13
    assert float(losses.tv_loss(x)) == pytest.approx(18.0)
    assert float(losses.tv_loss(np.concatenate([x, 0 * x]))) == pytest.approx(9.0)
    x, _, _ = random_images(size=9)
    np.testing.assert_allclose(float(losses.tv_loss(x)), reference_tv(x), rtol=1e-5)


def finite_difference_check(f, x, *, where=None, directions=3, eps=1e-6, seed=0):
    """Directional derivatives of f at x (float64) against jax.grad, along random directions
    that are zero outside `where`."""
    grad = np.asarray(jax.grad(f)(x))
    rng = np.random.default_rng(seed)
    for _ in range(directions):
        v = rng.standard_normal(x.shape)
        if where is not None:
            v = v * where
        numeric = (float(f(x + eps * v)) - float(f(x - eps * v))) / (2 * eps)
        np.testing.assert_allclose(np.sum(grad * v), numeric, rtol=1e-6, atol=1e-8)


def test_tv_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(0).random((2, 6, 5, 3)))
        finite_difference_check(losses.tv_loss, x)


# ---------------------------------------------------------------- content in feature space
# E_c at a VGG-19 layer (`content_layer`, the authors' released code: relu4_2), on 32 px
# images and the random-weight VGG-19, the features computed once per session.

CONTENT_LAYER = "relu4_2"


@functools.cache
def _content_case(vgg_id, vgg):
    """x, reference, a corner hole (32 px, relu3_1 keeps source windows) and their relu3_1 and
    relu4_2 features."""
    x, reference, _ = random_images(size=32, seed=5)
    mask = np.zeros((2, 32, 32, 1), np.float32)
    mask[0, 20:30, 22:32] = 1
    mask[1, 0:6, 0:12] = 1
    layers = ("relu3_1", CONTENT_LAYER)
    features = {k: np.asarray(v) for k, v in vgg(jnp.asarray(x), layers).items()}
    reference_features = {k: np.asarray(v) for k, v in vgg(jnp.asarray(reference), layers).items()}
    return x, reference, mask, features, reference_features


def content_case(vgg):
    return _content_case(id(vgg), vgg)


def test_feature_content_loss_matches_reference(random_vgg):
    _, _, _, features, reference_features = content_case(random_vgg)
    f, g = features[CONTENT_LAYER], reference_features[CONTENT_LAYER]
    assert f.shape == (2, 4, 4, 512) and np.abs(f - g).max() > 0
    expected = reference_feature_content(f, g)
    got = losses.feature_content_loss(f, g)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    # Per image, then the batch: a batch of one is that image's own mean.
    np.testing.assert_allclose(
        float(losses.feature_content_loss(f[1:], g[1:])),
        reference_feature_content(f[1:], g[1:]),
        rtol=1e-5,
    )
    assert float(losses.feature_content_loss(g, g)) == 0.0
    with pytest.raises(ValueError, match="of one shape"):
        losses.feature_content_loss(f, g[:, :2])


def test_feature_content_gradient_matches_finite_differences():
    rng = np.random.default_rng(6)
    features, target = rng.random((2, 3, 4, 5)), rng.random((2, 3, 4, 5))
    with jax.enable_x64(True):
        target = jnp.asarray(target)
        f = functools.partial(losses.feature_content_loss, reference_features=target)
        finite_difference_check(f, jnp.asarray(features))
        # The reference's features are a target: no gradient flows into them.
        into_target = jax.grad(losses.feature_content_loss, argnums=1)(
            jnp.asarray(features), target
        )
        assert np.all(np.asarray(into_target) == 0)


def test_joint_loss_with_content_layer_is_the_sum_of_its_parts(random_vgg):
    x, reference, mask, features, reference_features = content_case(random_vgg)
    options = {"alpha": ALPHA, "beta": BETA, "layers": ("relu3_1",)}
    given = texture.reference_features(reference, vgg=random_vgg, content_layer=CONTENT_LAYER)
    np.testing.assert_array_equal(given, reference_features[CONTENT_LAYER])
    in_features = {"content_layer": CONTENT_LAYER, "content_features": given}
    terms = losses.joint_loss_terms(x, reference, mask, features=features, **in_features, **options)
    # Each part on its own: E_c from the features above, E_t from relu3_1 alone, TV.
    content = reference_feature_content(features[CONTENT_LAYER], reference_features[CONTENT_LAYER])
    texture_term = losses.texture_loss(features["relu3_1"], reference_downsample(mask, 4))
    expected = {"content": content, "texture": float(texture_term), "tv": reference_tv(x)}
    expected["total"] = content + ALPHA * expected["texture"] + BETA * expected["tv"]
    assert content > 0 and expected["texture"] > 0
    assert_terms_close(terms, expected)
    total = losses.joint_loss(x, reference, mask, features=features, **in_features, **options)
    np.testing.assert_allclose(float(total), expected["total"], rtol=1e-4)
    # The maths takes the reference's features; it has no network to compute them with.
    with pytest.raises(ValueError, match="needs content_features"):
        losses.joint_loss(x, reference, mask, features=features, content_layer=CONTENT_LAYER,
                          **options)  # fmt: skip
    # make_joint_loss computes the reference's features once, then one VGG-19 call per
    # evaluation gives both layers, and the same value; the reference's pixels in the hole
    # no longer enter E_c, only its features do.
    calls = []

    def counting_vgg(images, layers):
        calls.append(tuple(layers))
        return random_vgg(images, layers)

    loss = texture.make_joint_loss(
        reference, mask, vgg=counting_vgg, content_layer=CONTENT_LAYER, **options
    )
    assert calls == [(CONTENT_LAYER,)]
    np.testing.assert_allclose(float(loss(jnp.asarray(x))), expected["total"], rtol=1e-4)
    assert calls == [(CONTENT_LAYER,), ("relu3_1", CONTENT_LAYER)]
    np.testing.assert_allclose(float(jax.jit(loss)(jnp.asarray(x))), expected["total"], rtol=1e-4)


def test_content_layer_none_is_todays_pixel_loss(random_vgg):
    x, reference, mask, features, _ = content_case(random_vgg)
    options = {"features": features, "alpha": ALPHA, "beta": BETA, "layers": ("relu3_1",)}
    today = losses.joint_loss_terms(x, reference, mask, **options)
    none = losses.joint_loss_terms(x, reference, mask, content_layer=None, **options)
    assert {k: float(v) for k, v in none.items()} == {k: float(v) for k, v in today.items()}
    assert float(none["content"]) == float(losses.content_loss(x, reference, mask))
    np.testing.assert_allclose(
        float(none["content"]), reference_content(x, reference, mask), rtol=1e-5
    )


def test_an_unknown_content_layer_is_a_clear_error(random_vgg):
    x, reference, mask, features, _ = content_case(random_vgg)
    options = {"alpha": ALPHA, "beta": BETA, "layers": ("relu3_1",)}
    for call in (
        lambda: losses.joint_loss(
            x, reference, mask, features=features, content_layer="relu4_5", **options
        ),
        lambda: texture.make_joint_loss(
            reference, mask, vgg=random_vgg, content_layer="relu4_5", **options
        ),
    ):
        with pytest.raises(ValueError, match="content_layer must be None .* got 'relu4_5'"):
            call()


# ---------------------------------------------------------------- texture


def random_features(seed=0, n=2, h=10, w=9, c=4):
    rng = np.random.default_rng(seed)
    features = rng.random((n, h, w, c)).astype(np.float32)
    hole = np.zeros((n, h, w, 1), np.float32)
    hole[0, 2:5, 3:5] = 1
    hole[1, 7:9, 0:2] = 1
    return features, hole


def test_texture_loss_matches_reference():
    features, hole = random_features()
    expected = reference_texture(features, hole, reference_nn(features, hole))
    np.testing.assert_allclose(float(losses.texture_loss(features, hole)), expected, rtol=1e-5)
    # Same value with the matches given, and with a patch size of 2.
    nn = patches.nearest_neighbours(features, hole)
    np.testing.assert_allclose(
        float(losses.texture_loss(features, hole, nn=nn)), expected, rtol=1e-5
    )
    expected2 = reference_texture(features, hole, reference_nn(features, hole, 2), 2)
    got2 = losses.texture_loss(features, hole, patch_size=2)
    np.testing.assert_allclose(float(got2), expected2, rtol=1e-5)


def test_texture_gradient_matches_finite_differences_with_fixed_nn():
    features, hole = random_features(seed=1)
    nn = np.asarray(patches.nearest_neighbours(features, hole))
    # The matched windows are stop_gradient targets: perturb only cells outside all of them,
    # where the loss as a function equals the one the gradient is taken of.
    target = np.zeros(features.shape[:3] + (1,))
    query = reference_query(hole, 3)
    for b, y, x in zip(*np.nonzero(query)):
        sy, sx = divmod(int(nn[b, y, x]), features.shape[2] - 2)
        target[b, sy : sy + 3, sx : sx + 3] = 1
    assert np.any(target == 0)
    with jax.enable_x64(True):
        f = functools.partial(losses.texture_loss, hole=hole, nn=nn)
        finite_difference_check(f, jnp.asarray(features, jnp.float64), where=1 - target)


def test_texture_gradient_ignores_the_search_and_the_targets():
    """With nn=None the gradient equals that with nn fixed: nothing flows through the search
    nor into the matched (source) windows, which are stop_gradient targets."""
    features, hole = random_features(seed=2)
    nn = patches.nearest_neighbours(features, hole)
    searched = jax.grad(lambda f: losses.texture_loss(f, hole))(jnp.asarray(features))
    fixed = jax.grad(lambda f: losses.texture_loss(f, hole, nn=nn))(jnp.asarray(features))
    np.testing.assert_allclose(searched, fixed, rtol=1e-6)
    # Cells covered by no query window get no gradient.
    query = reference_query(hole, 3)
    covered = np.zeros(features.shape[:3], bool)
    for b, y, x in zip(*np.nonzero(query)):
        covered[b, y : y + 3, x : x + 3] = True
    assert np.all(np.asarray(searched)[~covered] == 0)


def test_texture_loss_of_an_empty_hole_is_zero_without_nan():
    features, hole = random_features(seed=3)
    hole[1] = 0  # image 1 has no query patch: E_t = 0 there
    value, grad = jax.value_and_grad(losses.texture_loss)(jnp.asarray(features), hole)
    query = reference_query(hole, 3)
    expected = reference_texture(features[:1], hole[:1], reference_nn(features[:1], hole[:1])) / 2
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)
    assert np.all(np.isfinite(grad)) and np.all(np.asarray(grad)[1] == 0)
    assert query[1].sum() == 0
    zero = np.zeros_like(hole)
    value, grad = jax.value_and_grad(losses.texture_loss)(jnp.asarray(features), zero)
    assert float(value) == 0.0 and np.all(np.asarray(grad) == 0)


def test_texture_loss_rejects_bad_nn():
    features, hole = random_features()
    with pytest.raises(ValueError, match="nn must be integer window indices"):
        losses.texture_loss(features, hole, nn=np.zeros((2, 8, 8), np.int32))


# ---------------------------------------------------------------- joint loss
# These use the session's real VGG-19 (`vgg`), which loads faster than `random_vgg` builds.


def test_joint_loss_matches_reference(vgg):
    x, reference, mask = random_images()
    features = vgg(jnp.asarray(x), LAYERS)
    expected = reference_joint(x, reference, mask, features, alpha=ALPHA, beta=BETA)
    assert expected["texture"] > 0 and expected["content"] > 0
    # A traced mask (the search scores every window); the real-photo test below checks a
    # concrete, closed-over one (the search scores the hole's box only).
    terms, grad = traced_mask_loss(vgg)(x, reference, mask)
    assert_terms_close(terms, expected)
    assert np.all(np.isfinite(grad))


def test_fixed_nn_agrees_with_the_paper_variant(vgg):
    x, reference, mask = random_images(seed=1)
    options = {"alpha": ALPHA, "beta": BETA}
    features = vgg(jnp.asarray(x), LAYERS)
    nn = losses.nearest_neighbours_for(features, mask)
    assert {k: v.shape for k, v in nn.items()} == {"relu3_1": (2, 14, 14), "relu4_1": (2, 6, 6)}
    through_vgg = texture.matches(jnp.asarray(x), mask, vgg=vgg)
    for layer in LAYERS:
        np.testing.assert_array_equal(through_vgg[layer], nn[layer])
        hole = reference_downsample(mask, STRIDES[layer])
        np.testing.assert_array_equal(nn[layer], reference_nn(np.asarray(features[layer]), hole))
    # At the x the matches were computed for, fixing them changes neither value nor gradient.
    fixed = texture.make_joint_loss(reference, mask, vgg=vgg, nn=nn, **options)
    value, grad = jax.jit(jax.value_and_grad(fixed))(jnp.asarray(x))
    searched, searched_grad = traced_mask_loss(vgg)(x, reference, mask)
    np.testing.assert_allclose(float(value), float(searched["total"]), rtol=1e-5)
    np.testing.assert_allclose(
        grad, searched_grad, rtol=1e-4, atol=1e-5 * float(jnp.abs(grad).max())
    )
    total = losses.joint_loss(x, reference, mask, features=features, nn=nn, **options)
    np.testing.assert_allclose(float(total), float(value), rtol=1e-5)


def test_batch_of_two_equals_the_two_apart(vgg):
    x, reference, mask = random_images(seed=2)
    loss = traced_mask_loss(vgg)
    both, grad = loss(x, reference, mask)
    apart = [loss(x[b : b + 1], reference[b : b + 1], mask[b : b + 1]) for b in range(2)]
    for key in both:
        mean = (float(apart[0][0][key]) + float(apart[1][0][key])) / 2
        np.testing.assert_allclose(float(both[key]), mean, rtol=1e-5, err_msg=key)
    for b in range(2):  # the batch mean gives each image half of its own gradient
        scale = float(np.abs(grad).max())
        np.testing.assert_allclose(2 * grad[b], apart[b][1][0], rtol=1e-4, atol=1e-6 * scale)


def test_jit_traces_once_per_shape(vgg):
    loss = traced_mask_loss(vgg)
    before = len(TRACES)
    for seed in (3, 4):  # new images and masks of one shape: at most one trace
        x, reference, mask = random_images(seed=seed)
        mask = np.roll(mask, 7 * seed, axis=2)
        loss(x, reference, mask)[0]["total"].block_until_ready()
    assert len(TRACES) - before <= 1
    assert TRACES.count((2, 64, 64, 3)) == 1


def test_empty_hole_gives_zero_content_and_texture(vgg):
    x, reference, _ = random_images()
    mask = np.zeros((2, 64, 64, 1), np.float32)
    terms, grad = traced_mask_loss(vgg)(x, reference, mask)
    assert float(terms["content"]) == 0 and float(terms["texture"]) == 0
    np.testing.assert_allclose(float(terms["total"]), BETA * reference_tv(x), rtol=1e-5)
    np.testing.assert_allclose(grad, jax.grad(lambda x: BETA * losses.tv_loss(x))(x), rtol=1e-5)


# ---------------------------------------------------------------- validation


def test_invalid_inputs_raise_clear_errors(vgg):
    x, reference, mask = random_images(size=32)
    options = {"features": vgg(jnp.asarray(x), LAYERS), "alpha": ALPHA, "beta": BETA}
    with pytest.raises(ValueError, match=r"mask must have shape \[N, H, W, 1\]"):
        losses.joint_loss(x, reference, mask[..., 0], **options)
    with pytest.raises(ValueError, match=r"mask must have shape"):
        losses.joint_loss(x, reference, mask[:, :16], **options)
    with pytest.raises(ValueError, match="0 .known. or 1 .hole."):
        losses.joint_loss(x, reference, mask * 255, **options)
    bad = x.copy()
    bad[1, 3, 3, 0] = np.inf
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        losses.joint_loss(bad, reference, mask, **options)
    with pytest.raises(ValueError, match="reference contains NaN or infinite"):
        texture.make_joint_loss(bad, mask, vgg=vgg, alpha=ALPHA, beta=BETA)
    with pytest.raises(ValueError, match=r"features lack layers \['relu4_1'\]"):
        losses.joint_loss(x, reference, mask, **(options | {"features": {"relu3_1": None}}))
    with pytest.raises(ValueError, match="float32"):
        losses.joint_loss(x.astype(np.float64), reference, mask, **options)
    with pytest.raises(ValueError, match="nn lacks layers"):
        losses.joint_loss(x, reference, mask, nn={"relu3_1": None}, **options)
    # 32 px: relu4_1 is 4x4 with two 3x3 windows a row, which a centred hole both touches.
    big = np.zeros_like(mask)
    big[0, 12:20, 12:20] = 1
    with pytest.raises(ValueError, match="no source patch at relu4_1"):
        losses.joint_loss(x, reference, big, **options)
    small = x[:, :16, :16]
    options["features"] = vgg(jnp.asarray(small), LAYERS)
    with pytest.raises(ValueError, match="too small"):
        losses.joint_loss(small, reference[:, :16, :16], 0 * mask[:, :16, :16], **options)


# ---------------------------------------------------------------- real photo, real VGG


def test_real_photo_joint_loss_matches_reference(vgg):
    photo, mask = photo_and_mask()
    noise = np.random.default_rng(0).random(photo.shape).astype(np.float32)
    x = np.where(mask == 1, noise, photo).astype(np.float32)  # the hole filled with noise
    features = vgg(jnp.asarray(x), LAYERS)
    expected = reference_joint(x, photo, mask, features, alpha=ALPHA, beta=BETA)
    loss = texture.make_joint_loss(photo, mask, vgg=vgg, alpha=ALPHA, beta=BETA, terms=True)

    def total(x):
        terms = loss(x)
        return terms["total"], terms

    (_, terms), grad = jax.jit(jax.value_and_grad(total, has_aux=True))(jnp.asarray(x))
    assert_terms_close(terms, expected, rtol=2e-4)
    assert np.all(np.isfinite(grad))


def test_usable_layers_by_hand():
    # A 64 px image, hole rows and columns 0..47: relu3_1 (stride 4, 16x16 cells) keeps 4
    # clear rows, enough for a 3x3 window; relu4_1 (8x8 cells) keeps only 2.
    hole = np.zeros((64, 64, 1), np.float32)
    hole[:48, :48] = 1
    assert losses.usable_layers(hole, LAYERS, 3) == ("relu3_1",)
    small = np.zeros((64, 64, 1), np.float32)
    small[8:24, 8:24] = 1
    assert losses.usable_layers(small, LAYERS, 3) == LAYERS
    assert losses.usable_layers(small[None], LAYERS, 3) == LAYERS  # batched
    assert losses.usable_layers(small[:16, :16], LAYERS, 3) == ()  # relu4_1 is 2x2 there


def test_hole_l2_by_hand():
    prediction = jnp.asarray([[[[1.0, 3.0]], [[5.0, 0.0]]]])  # [1, 2, 1, 2]
    target = jnp.zeros_like(prediction)
    mask = jnp.asarray([[[[1.0]], [[0.0]]]])
    np.testing.assert_allclose(losses.hole_l2(prediction, target, mask), (1 + 9) / 2)
    np.testing.assert_allclose(losses.hole_l2(prediction, target, 0 * mask), 0.0)


def test_synthesis_grid_and_its_coverage_by_hand():
    # A 6x7 map, 3x3 windows, stride 2: corners 0, 2 and the last (3) down, 0, 2, 4 across
    # (4 is the last); CNNMRF's computegrid adds the last corner when the grid misses it.
    grid = losses.synthesis_grid((4, 5), 2)
    np.testing.assert_array_equal(np.argwhere(grid.any(axis=1)).ravel(), [0, 2, 3])
    np.testing.assert_array_equal(np.argwhere(grid.any(axis=0)).ravel(), [0, 2, 4])
    rows, cols = np.array([1, 1, 2, 2, 2, 1]), np.array([1, 1, 2, 1, 2, 1, 1])
    np.testing.assert_array_equal(losses.grid_coverage((6, 7), 3, 2), np.outer(rows, cols))
    every = np.outer([1, 2, 3, 3, 2, 1], [1, 2, 3, 3, 3, 2, 1])  # stride 1: every window
    np.testing.assert_array_equal(losses.grid_coverage((6, 7), 3, 1), every)
