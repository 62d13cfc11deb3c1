"""Tests of npsynth.patches against brute-force NumPy references (loops over windows)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from npsynth import patches
from references import (
    first_best,
    photo_and_mask,
    random_case,
    reference_downsample,
    reference_nn,
    reference_query,
    reference_scores,
    reference_windows,
)

# ---------------------------------------------------------------- windows


def test_query_windows_and_patches_match_reference():
    features, hole = random_case()
    np.testing.assert_array_equal(
        patches.query_windows(jnp.asarray(hole), patch_size=3), reference_query(hole, 3)
    )
    windows = reference_windows(features, 3)
    np.testing.assert_allclose(patches.extract_patches(jnp.asarray(features)), windows, rtol=1e-6)
    nn = reference_nn(features, hole)
    hw, ww = windows.shape[1:3]
    expected = windows.reshape(2, hw * ww, -1)[np.arange(2)[:, None], nn.reshape(2, -1)]
    np.testing.assert_allclose(
        patches.gather_patches(jnp.asarray(features), jnp.asarray(nn)),
        expected.reshape(windows.shape),
        rtol=1e-6,
    )


# ---------------------------------------------------------------- nearest_neighbours


@pytest.mark.parametrize("chunk_size", [1, 7, patches.DEFAULT_CHUNK_SIZE])
def test_nearest_neighbours_matches_brute_force(chunk_size):
    features, hole = random_case()
    got = patches.nearest_neighbours(jnp.asarray(features), hole, chunk_size=chunk_size)
    assert got.dtype == jnp.int32 and got.shape == (2, 10, 9)
    np.testing.assert_array_equal(got, reference_nn(features, hole))


@pytest.mark.parametrize("patch_size", [2, 5])
def test_nearest_neighbours_other_patch_sizes(patch_size):
    features, hole = random_case(seed=3)
    got = patches.nearest_neighbours(jnp.asarray(features), hole, patch_size=patch_size)
    np.testing.assert_array_equal(got, reference_nn(features, hole, patch_size))


def test_nearest_neighbours_stride_samples_sources():
    features, hole = random_case(seed=4)
    got = patches.nearest_neighbours(jnp.asarray(features), hole, stride=2, chunk_size=5)
    np.testing.assert_array_equal(got, reference_nn(features, hole, stride=2))


def test_traced_hole_gives_the_same_indices():
    """A traced hole scores every window; a concrete one only its box. Same result."""
    features, hole = random_case(seed=5)
    search = jax.jit(lambda f, m: patches.nearest_neighbours(f, m, chunk_size=16))
    np.testing.assert_array_equal(search(features, hole), reference_nn(features, hole))


def test_ties_go_to_the_smallest_index():
    features = np.ones((1, 7, 7, 4), np.float32)  # every window scores the same
    hole = np.zeros((1, 7, 7, 1), np.float32)
    hole[0, 4:6, 4:6] = 1
    query = reference_query(hole, 3)[0]
    first_source = int(np.flatnonzero(~query.reshape(-1))[0])
    for chunk_size in (1, 4):  # ties inside a chunk and across chunks
        got = np.asarray(patches.nearest_neighbours(features, hole, chunk_size=chunk_size))[0]
        assert np.all(got[query] == first_source)
    np.testing.assert_array_equal(got, reference_nn(features, hole)[0])
    # All-zero features: every score is 0, still no NaN, still the first source.
    got = np.asarray(patches.nearest_neighbours(np.zeros_like(features), hole, chunk_size=4))[0]
    assert np.all(got[query] == first_source)


def test_zero_norm_sources_score_zero():
    features, hole = random_case(seed=6, n=1)
    features[0, :3, :3] = 0  # window 0 is a zero-norm source
    np.testing.assert_array_equal(
        patches.nearest_neighbours(features, hole), reference_nn(features, hole)
    )


def test_empty_hole_gives_own_indices():
    features, _ = random_case()
    got = patches.nearest_neighbours(features, np.zeros((2, 12, 11, 1), np.float32))
    np.testing.assert_array_equal(got, np.broadcast_to(np.arange(90).reshape(10, 9), (2, 10, 9)))


def test_batch_of_two_equals_each_apart():
    features, hole = random_case(seed=7)
    both = patches.nearest_neighbours(features, hole)
    for b in range(2):
        np.testing.assert_array_equal(
            both[b : b + 1], patches.nearest_neighbours(features[b : b + 1], hole[b : b + 1])
        )


def test_jit_traces_once_per_shape():
    traces = []

    @jax.jit
    def search(features, hole):
        traces.append(features.shape)
        return patches.nearest_neighbours(features, hole, chunk_size=32)

    features, hole = random_case(seed=8)
    for seed in (8, 9):
        search(random_case(seed=seed)[0], hole).block_until_ready()
    assert len(traces) == 1
    search(features[:1], hole[:1]).block_until_ready()
    assert len(traces) == 2


def test_no_gradient_through_the_search():
    features, hole = random_case(seed=10)

    def f(features):
        nn = patches.nearest_neighbours(features, hole).astype(jnp.float32)
        return jnp.sum(nn) + jnp.sum(features)

    np.testing.assert_array_equal(jax.grad(f)(jnp.asarray(features)), np.ones_like(features))


def test_patch_swap_averages_the_matched_windows_in_the_hole_only():
    features, hole = random_case(seed=11)
    nn = reference_nn(features, hole)
    windows = reference_windows(features, 3)
    query = reference_query(hole, 3)
    n, h, w, c = features.shape
    total, count = np.zeros((n, h, w, c)), np.zeros((n, h, w, 1))
    for b, y, x in zip(*np.nonzero(query)):
        sy, sx = divmod(int(nn[b, y, x]), w - 2)
        total[b, y : y + 3, x : x + 3] += windows[b, sy, sx].reshape(3, 3, c)
        count[b, y : y + 3, x : x + 3] += 1
    hole_cells = np.asarray(hole) > 0.5
    assert (count[hole_cells] > 0).all()
    expected = np.where(hole_cells, total / np.maximum(count, 1), features)
    got = patches.patch_swap(jnp.asarray(features), hole, jnp.asarray(nn))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Known cells, including those inside query windows, keep their own features.
    np.testing.assert_array_equal(
        np.asarray(got)[~hole_cells[..., 0]], features[~hole_cells[..., 0]]
    )
    # The one-call form finds the same matches.
    swapped = patches.swap_hole_features(jnp.asarray(features), jnp.asarray(hole), chunk_size=7)
    np.testing.assert_allclose(swapped, expected, rtol=1e-6)


# ---------------------------------------------------------------- validation


def test_hole_leaving_no_source_raises():
    features, _ = random_case(n=1)
    hole = np.zeros((1, 12, 11, 1), np.float32)
    hole[0, 2::3, 2::3] = 1  # every 3x3 window touches a hole cell
    with pytest.raises(ValueError, match="no source window"):
        patches.nearest_neighbours(features, hole)


def test_bad_inputs_raise():
    features, hole = random_case()
    with pytest.raises(ValueError, match=r"hole must have shape \[N, h, w, 1\]"):
        patches.nearest_neighbours(features, hole[:, :-1])
    with pytest.raises(ValueError, match="0 .known. or 1 .hole."):
        patches.nearest_neighbours(features, hole * 0.5)
    bad = features.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        patches.nearest_neighbours(bad, hole)
    with pytest.raises(ValueError, match="no 3x3 window"):
        patches.nearest_neighbours(features[:, :2], hole[:, :2])
    with pytest.raises(ValueError, match="chunk_size"):
        patches.nearest_neighbours(features, hole, chunk_size=0)


# ---------------------------------------------------------------- real photo


def test_real_photo_relu_features_match_brute_force(vgg):
    photo, mask = photo_and_mask()
    features = vgg(jnp.asarray(photo), ("relu3_1", "relu4_1"))
    for layer, factor in (("relu3_1", 4), ("relu4_1", 8)):
        feats = np.asarray(features[layer])
        hole = reference_downsample(mask, factor)
        query = reference_query(hole, 3)
        assert 0 < query.sum() < query.size, "the test mask should leave queries and sources"
        got = np.asarray(patches.nearest_neighbours(feats, hole))
        # float32 search vs float64 reference: indices may differ only at near-ties.
        table = reference_scores(feats, hole)[0]
        same = 0
        for (y, x), scored in table.items():
            scores = {index: score for score, index in scored}
            best = max(scores.values())
            assert scores[int(got[0, y, x])] >= best - 1e-5, (layer, y, x)
            same += int(got[0, y, x]) == first_best(scored)
        assert same >= 0.98 * len(table), (layer, same, len(table))


def test_has_source_patch_by_hand():
    hole = np.zeros((3, 4, 4, 1), np.float32)
    hole[0, 1, 1] = 1  # every 3x3 window of a 4x4 map contains cell (1, 1): no source
    hole[1, 0, 0] = 1  # the window at (1, 1) stays clear
    # image 2: no hole at all, every window is a source
    np.testing.assert_array_equal(patches.has_source_patch(hole, 3), [False, True, True])
    assert not patches.has_source_patch(np.zeros((1, 2, 2, 1)), 3).any()  # map < patch
