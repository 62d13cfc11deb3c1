"""npsynth.models.vgg (the architecture): an independent NumPy reference, layer truncation,
shapes, input checks, receptive fields. The real weights come through npsynth.hub (conftest)."""

from __future__ import annotations

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import sample_photo
from npsynth.models.vgg import CONVS, LAYERS, STRIDES, VGG19, receptive_field, vgg19_from_weights

# The network written out by hand for the reference: (kind, Keras group or None).
REFERENCE_NET = [
    ("conv", "block1_conv1"), ("conv", "block1_conv2"), ("pool", None),
    ("conv", "block2_conv1"), ("conv", "block2_conv2"), ("pool", None),
    ("conv", "block3_conv1"), ("conv", "block3_conv2"), ("conv", "block3_conv3"),
    ("conv", "block3_conv4"), ("pool", None),
    ("conv", "block4_conv1"),
]  # fmt: skip


def reference_features(image: np.ndarray, h5_path: str) -> dict[str, np.ndarray]:
    """relu3_1 and relu4_1 of one [H, W, 3] image, float64, via explicit im2col matmuls."""
    x = image.astype(np.float64)[:, :, [2, 1, 0]] * 255.0 - np.array([103.939, 116.779, 123.68])
    out = {}
    with h5py.File(h5_path, "r") as f:
        for kind, group in REFERENCE_NET:
            if kind == "pool":
                h, w, c = x.shape
                x = x[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))
                continue
            kernel = f[group][group]["kernel:0"][()].astype(np.float64)  # HWIO
            bias = f[group][group]["bias:0"][()].astype(np.float64)
            h, w, c = x.shape
            padded = np.zeros((h + 2, w + 2, c))
            padded[1:-1, 1:-1] = x
            columns = np.concatenate(
                [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=-1
            )
            x = np.maximum(columns @ kernel.reshape(9 * c, -1) + bias, 0.0)
            if group == "block3_conv1":
                out["relu3_1"] = x
            if group == "block4_conv1":
                out["relu4_1"] = x
    return out


def test_features_match_numpy_reference_on_real_photo(vgg, keras_vgg19_file):
    photo = sample_photo("astronaut")
    image = photo[200:264, 180:252]  # a 64x72 crop of a real 512x512 photo
    expected = reference_features(image, keras_vgg19_file)
    got = vgg(jnp.asarray(image[None]), layers=("relu3_1", "relu4_1"))
    for name in ("relu3_1", "relu4_1"):
        assert got[name].shape == (1, *expected[name].shape)
        error = np.abs(np.asarray(got[name][0], np.float64) - expected[name]).max()
        assert error / np.abs(expected[name]).max() < 1e-4, name
        assert expected[name].max() > 1.0  # the comparison is not between two zero maps


def count_convs(model: VGG19, layers) -> int:
    graphdef, state = nnx.split(model)

    def forward(state, x):
        return nnx.merge(graphdef, state)(x, layers=layers)

    jaxpr = jax.make_jaxpr(forward)(state, jnp.zeros((1, 32, 32, 3), jnp.float32))
    return str(jaxpr).count("conv_general_dilated")


@pytest.mark.parametrize(
    "layers, convs",
    [(("relu1_1",), 1), (("pool2",), 4), (("relu3_1",), 5), (("relu3_1", "relu4_1"), 9)],
)
def test_computes_nothing_past_deepest_requested_layer(random_vgg, layers, convs):
    assert count_convs(random_vgg, layers) == convs
    out = random_vgg(jnp.zeros((1, 32, 32, 3), jnp.float32), layers=layers)
    assert set(out) == set(layers)


@pytest.mark.parametrize("height, width", [(37, 53), (16, 17), (9, 31)])
def test_shapes_for_odd_sizes(random_vgg, height, width):
    out = random_vgg(jnp.zeros((2, height, width, 3), jnp.float32), layers=LAYERS)
    h, w = height, width
    for block, channels in zip(range(1, 6), (64, 128, 256, 512, 512)):
        assert out[f"relu{block}_1"].shape == (2, h, w, channels)
        if block < 5:
            h, w = h // 2, w // 2  # 2x2 pooling, stride 2, floors odd sizes
            assert out[f"pool{block}"].shape == (2, h, w, channels)


def test_average_pooling_option():
    model = VGG19(pooling="avg", rngs=nnx.Rngs(1))
    x = jax.random.uniform(jax.random.key(0), (1, 6, 8, 3), jnp.float32)
    out = model(x, layers=("relu1_2", "pool1"))
    relu = np.asarray(out["relu1_2"][0])
    expected = relu.reshape(3, 2, 4, 2, 64).mean(axis=(1, 3))
    np.testing.assert_allclose(np.asarray(out["pool1"][0]), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((8, 8, 3), np.float32), "shape"),
        (np.zeros((1, 8, 8, 4), np.float32), "shape"),
        (np.zeros((1, 8, 8, 3), np.uint8), "float32"),
        (np.zeros((1, 8, 8, 3), np.float64), "float32"),
        (np.full((1, 8, 8, 3), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_inputs_raise_clear_errors(random_vgg, images, message):
    with pytest.raises(ValueError, match=message):
        random_vgg(jnp.asarray(images) if images.dtype != np.float64 else images)


def test_unknown_layer_and_pooling_raise():
    model = VGG19(rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="unknown VGG-19 layers"):
        model(jnp.zeros((1, 8, 8, 3), jnp.float32), layers=("relu6_1",))
    with pytest.raises(ValueError, match="pooling"):
        VGG19(pooling="min", rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def positive_vgg():
    """VGG-19 (average pooling) whose ReLUs stay open on positive inputs: positive weights."""
    rng = np.random.default_rng(0)
    weights = {
        name: (
            np.abs(rng.normal(0, np.sqrt(1 / (9 * c_in)), (3, 3, c_in, c_out))).astype(np.float32),
            np.full(c_out, 0.1, np.float32),
        )
        for name, c_in, c_out in CONVS[:9]  # up to conv4_1
    }
    weights |= {name: (np.zeros((3, 3, c_in, c_out), np.float32), np.zeros(c_out, np.float32))
                for name, c_in, c_out in CONVS[9:]}  # fmt: skip
    return vgg19_from_weights(weights, pooling="avg")


# Worked out by hand from the architecture: each 3x3 convolution adds one input cell on both
# sides, each 2x2 pooling one cell after; relu3_1 sits after 4 + 1 convolutions and 2 poolings.
@pytest.mark.parametrize("layer, expected", [("relu3_1", (10, 13)), ("relu4_1", (30, 37))])
def test_receptive_field_is_the_support_of_the_gradient(positive_vgg, layer, expected):
    assert receptive_field(layer) == expected
    # With every ReLU open and average pooling spreading gradients to all four inputs, the
    # pixels with a non-zero gradient are exactly the field.
    x = jnp.asarray(np.random.default_rng(1).uniform(0.6, 1.0, (1, 80, 80, 3)), jnp.float32)
    cell, stride = 5, STRIDES[layer]
    grad = jax.jit(jax.grad(lambda x: positive_vgg(x, (layer,))[layer][0, cell, cell].sum()))(x)
    support = np.abs(np.asarray(grad[0])).sum(axis=-1) > 0
    rows, cols = np.flatnonzero(support.any(axis=1)), np.flatnonzero(support.any(axis=0))
    before, after = expected
    assert (rows[0], rows[-1]) == (stride * cell - before, stride * cell + after)
    assert (cols[0], cols[-1]) == (stride * cell - before, stride * cell + after)
    assert support[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()


def test_receptive_field_rejects_unknown_layers():
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        receptive_field("relu6_1")


def test_vgg19_from_weights_checks_names_and_shapes():
    weights = {
        name: (np.zeros((3, 3, c_in, c_out), np.float32), np.full(c_out, i, np.float32))
        for i, (name, c_in, c_out) in enumerate(CONVS)
    }
    model = vgg19_from_weights(weights)
    np.testing.assert_array_equal(np.asarray(model.conv5_4.bias[...]), np.full(512, 15.0))
    with pytest.raises(ValueError, match="lack layer conv3_1"):
        vgg19_from_weights({k: v for k, v in weights.items() if k != "conv3_1"})
    bad = dict(weights, conv1_1=(np.zeros((3, 3, 4, 64), np.float32), weights["conv1_1"][1]))
    with pytest.raises(ValueError, match=r"conv1_1: expected kernel \(3, 3, 3, 64\)"):
        vgg19_from_weights(bad)
