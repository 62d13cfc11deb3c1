"""The content network, its discriminator, export/load and the training-step maths."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from npsynth import export, steps
from npsynth.config import ContentNetConfig, ContentTrainingConfig
from npsynth.content_net import (
    ContentNet,
    Discriminator,
    composite,
    load_content_net,
    make_content_net,
    make_discriminator,
    paper_mask,
    predict,
    save_content_net,
)

TINY = ContentTrainingConfig.tiny().model  # 32x32, widths 8-16


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, size, size, 3), dtype=np.float32)


def _box_mask(n: int, size: int) -> np.ndarray:
    mask = np.zeros((n, size, size, 1), np.float32)
    mask[:, 3:11, 5:20] = 1.0
    return mask


TRAIN = ContentTrainingConfig.tiny().train
ADAM = {"lr": TRAIN.lr, "b1": TRAIN.b1, "b2": TRAIN.b2}
# The shardings of a training run on this machine's devices.
REPLICATED = NamedSharding(Mesh(np.asarray(jax.devices()), ("data",)), PartitionSpec())
SPLIT = NamedSharding(REPLICATED.mesh, PartitionSpec("data"))


def _tiny_state():
    """A fresh training state of the tiny config, compiled like `train.content` runs do."""
    return steps.make_init(TINY, **ADAM, seed=TRAIN.seed, sharding=REPLICATED)()


@pytest.fixture(scope="module")
def tiny_net() -> ContentNet:
    return steps.generator_from_state(steps.graphs_for(TINY), _tiny_state())


def _zero_net(config: ContentNetConfig) -> ContentNet:
    """A network of `config` with all-zero weights (no random initialisation to compile)."""
    net = nnx.eval_shape(lambda: make_content_net(config, rngs=nnx.Rngs(0)))
    state = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), nnx.state(net))
    nnx.update(net, state)
    return net


def test_freeform_shapes_and_known_pixels_kept(tiny_net):
    images, mask = _images(2, 32), _box_mask(2, 32)
    out = nnx.eval_shape(lambda m, x, k: m(x, k), tiny_net, jnp.asarray(images), jnp.asarray(mask))
    assert out.shape == (2, 32, 32, 3)

    filled = predict(tiny_net, images, mask)
    assert filled.shape == (2, 32, 32, 3) and filled.dtype == np.float32
    assert filled.min() >= 0.0 and filled.max() <= 1.0
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(filled[known], images[known])  # bit for bit
    one = predict(tiny_net, images[0], mask[0, ..., 0])  # unbatched, [H, W] mask
    assert one.shape == (32, 32, 3)


def test_freeform_input_hole_pixels_are_ignored(tiny_net):
    images, mask = _images(1, 32), _box_mask(1, 32)
    scribbled = np.where(mask > 0, 0.123, images).astype(np.float32)
    np.testing.assert_allclose(
        predict(tiny_net, images, mask), predict(tiny_net, scribbled, mask), atol=1e-6
    )


def test_paper_mode_predicts_the_central_half():
    # The paper's setting: 128x128 in, a centred 64x64 hole, the central 64x64 out. Shapes
    # only (eval_shape), so the full-width network costs nothing.
    config = ContentNetConfig(mode="paper")
    net = nnx.eval_shape(lambda: make_content_net(config, rngs=nnx.Rngs(0)))
    assert net.encoder[0].in_features == 3  # no mask channel
    assert net.fc_in.in_features == 4 * 4 * 512 and net.fc_in.out_features == 4000
    mask = paper_mask(128)[None]
    assert mask[0, 32:96, 32:96].min() == 1.0 and mask.sum() == 64 * 64
    images = jax.ShapeDtypeStruct((2, 128, 128, 3), jnp.float32)
    masks = jnp.asarray(np.repeat(mask, 2, axis=0))
    prediction = nnx.eval_shape(lambda m, x: m(x, masks), net, images)
    assert prediction.shape == (2, 64, 64, 3)

    disc = nnx.eval_shape(lambda: make_discriminator(config, rngs=nnx.Rngs(1)))
    assert disc.input_size == 64
    assert [conv.out_features for conv in disc.convs] == [64, 128, 256, 512]
    assert nnx.eval_shape(lambda d, x: d(x), disc, prediction).shape == (2,)


def test_paper_mode_composite_pastes_the_centre():
    images = jnp.asarray(_images(1, 16))
    prediction = jnp.full((1, 8, 8, 3), 0.5)
    full = np.asarray(composite("paper", images, jnp.asarray(paper_mask(16)[None]), prediction))
    np.testing.assert_array_equal(full[0, 4:12, 4:12], 0.5)
    outside = paper_mask(16)[..., 0] == 0
    np.testing.assert_array_equal(full[0][outside], np.asarray(images)[0][outside])


def test_paper_mode_refuses_other_holes():
    net = _zero_net(ContentNetConfig(mode="paper", image_size=16, channels=(4, 4), bottleneck=4))
    image = _images(1, 16)[0]
    assert predict(net, image, paper_mask(16)).shape == (16, 16, 3)
    off_centre = np.zeros((16, 16, 1), np.float32)
    off_centre[0:8, 0:8] = 1.0
    with pytest.raises(ValueError, match="paper mode"):
        predict(net, image, off_centre)


def test_discriminator_logits_and_widths():
    disc = nnx.eval_shape(
        lambda: Discriminator(input_size=32, width=4, max_width=8, rngs=nnx.Rngs(0))
    )
    assert [conv.out_features for conv in disc.convs] == [4, 8, 8]
    assert disc.head.in_features == 4 * 4 * 8
    logits = nnx.eval_shape(
        lambda d, x: d(x), disc, jax.ShapeDtypeStruct((3, 32, 32, 3), jnp.float32)
    )
    assert logits.shape == (3,)
    with pytest.raises(ValueError, match=r"\[N, 32, 32, 3\]"):
        nnx.eval_shape(lambda d, x: d(x), disc, jax.ShapeDtypeStruct((1, 16, 16, 3), jnp.float32))


def test_widths_and_bottleneck_are_configurable():
    net = nnx.eval_shape(
        lambda: ContentNet(image_size=32, channels=(4, 8, 12), bottleneck=7, rngs=nnx.Rngs(0))
    )
    assert [conv.out_features for conv in net.encoder] == [4, 8, 12]
    assert net.encoder[0].in_features == 4  # RGB + mask
    assert net.fc_in.out_features == 7 and net.fc_in.in_features == 4 * 4 * 12
    assert [deconv.out_features for deconv in net.decoder] == [8, 4, 3]


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="one entry per halving"):
        ContentNetConfig(image_size=64)  # five default widths, but 64 needs four
    with pytest.raises(ValueError, match="power of two"):
        ContentNetConfig(image_size=100)
    with pytest.raises(ValueError, match="mode"):
        ContentNetConfig(mode="square")
    net = nnx.eval_shape(lambda: make_content_net(TINY, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match="images"):
        net(jnp.zeros((1, 64, 64, 3)), jnp.zeros((1, 64, 64, 1)))


def test_export_round_trip(tmp_path, tiny_net):
    path = save_content_net(tiny_net, tmp_path / "net.npz", config=TINY, step=7)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["step"] == 7 and meta["dtype"] == "float16"
    assert meta["config"]["channels"] == [8, 16, 16]
    with np.load(path) as archive:
        assert all(archive[k].dtype == np.float16 for k in archive.files if k != "__config__")

    loaded = load_content_net(tmp_path / "net.npz")
    assert loaded.mode == "freeform" and loaded.image_size == 32
    images, mask = _images(2, 32), _box_mask(2, 32)
    np.testing.assert_allclose(
        predict(loaded, images, mask), predict(tiny_net, images, mask), atol=5e-3
    )
    # A folder holding content_net.npz loads too.
    save_content_net(tiny_net, tmp_path / "run" / "content_net.npz", config=TINY, dtype="float32")
    exact = load_content_net(tmp_path / "run")
    np.testing.assert_allclose(
        predict(exact, images, mask), predict(tiny_net, images, mask), atol=1e-6
    )


def test_int8_quantization_on_a_hand_computed_kernel():
    from npsynth.export import quantize_int8

    # Two output channels: peaks 2.54 and 0.0 (an all-zero channel keeps scale 1).
    weights = np.array([[[1.27, 0.0], [-2.54, 0.0]], [[0.005, 0.0], [2.0, 0.0]]], np.float32)
    q, scale = quantize_int8(weights)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    np.testing.assert_allclose(scale, [0.02, 1.0], rtol=1e-6)
    # 1.27 / 0.02 = 63.5 rounds to even (64); 0.005 / 0.02 = 0.25 -> 0; 2.0 / 0.02 = 100.
    np.testing.assert_array_equal(q[..., 0], [[64, -127], [0, 100]])
    np.testing.assert_array_equal(q[..., 1], 0)


def test_int8_export_is_a_quarter_of_float32_and_close(tmp_path, tiny_net):
    small = save_content_net(tiny_net, tmp_path / "q.npz", config=TINY, dtype="int8")
    full = save_content_net(tiny_net, tmp_path / "f.npz", config=TINY, dtype="float32")
    with np.load(small) as archive:
        kinds = {k: archive[k].dtype for k in archive.files if k != "__config__"}
    kernels = [k for k in kinds if k.endswith("kernel")]
    assert kernels and all(kinds[k] == np.int8 for k in kernels)
    assert all(kinds[k + "::scale"] == np.float32 for k in kernels)
    assert small.stat().st_size < 0.4 * full.stat().st_size
    assert json.loads(small.with_suffix(".json").read_text())["dtype"] == "int8"
    # Each loaded kernel is within half a step of the original, channel by channel.
    loaded = load_content_net(small)
    original = dict(nnx.to_flat_state(nnx.state(tiny_net, nnx.Param)))
    for path, value in nnx.to_flat_state(nnx.state(loaded, nnx.Param)):
        if path[-1] == "kernel":
            w = np.asarray(original[path].get_value())
            step = np.abs(w).reshape(-1, w.shape[-1]).max(0) / 127
            assert np.all(np.abs(np.asarray(value.get_value()) - w) <= step / 2 + 1e-7)
    images, mask = _images(2, 32), _box_mask(2, 32)
    np.testing.assert_allclose(
        predict(loaded, images, mask), predict(tiny_net, images, mask), atol=2e-2
    )
    with pytest.raises(ValueError, match="int8"):
        save_content_net(tiny_net, tmp_path / "x.npz", config=TINY, dtype="int4")


def test_load_errors_are_clear(tmp_path, tiny_net):
    with pytest.raises(FileNotFoundError, match="--export"):
        load_content_net(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not an exported content network"):
        load_content_net(tmp_path / "junk.npz")
    path = save_content_net(tiny_net, tmp_path / "net.npz", config=TINY)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays.pop("__config__")))
    meta["config"]["bottleneck"] = 16  # the arrays are for 32
    np.savez(tmp_path / "bad.npz", __config__=np.asarray(json.dumps(meta)), **arrays)
    with pytest.raises(ValueError, match="shape"):
        load_content_net(tmp_path / "bad.npz")


def test_hole_l2_known_values_and_gradient_only_in_hole():
    prediction = jnp.zeros((1, 2, 2, 3))
    target = jnp.ones((1, 2, 2, 3)) * jnp.asarray([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    mask = jnp.asarray([[1.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 2, 1)
    # Two hole pixels, each with squared errors 1, 4, 9: mean 14 / 3.
    assert float(jax.jit(steps.hole_l2)(prediction, target, mask)) == pytest.approx(14 / 3)
    grad = jax.grad(steps.hole_l2)(prediction, target, mask)
    assert float(jnp.abs(grad * (1.0 - mask)).max()) == 0.0
    assert float(jnp.abs(grad)[mask[..., 0] > 0].min()) > 0.0
    assert float(steps.hole_l2(prediction, target, jnp.zeros_like(mask))) == 0.0


def test_one_training_step_updates_both_networks():
    # The settings and shardings of `ContentTrainingConfig.tiny()` runs, so the compiled
    # steps are shared with tests/test_train_content.py.
    state = _tiny_state()
    before = jax.tree.map(np.asarray, state)
    d_step, g_step = steps.make_steps(
        TINY, **ADAM, lam=TRAIN.lam, seed=TRAIN.seed, state_sharding=REPLICATED,
        batch_sharding=SPLIT,
    )  # fmt: skip
    batch = jax.device_put({"image": _images(4, 32), "mask": _box_mask(4, 32)}, SPLIT)
    state, d_metrics = d_step(state, batch)
    state, g_metrics = g_step(state, batch)
    assert int(state["step"]) == 1
    metrics = jax.device_get(d_metrics | g_metrics)
    assert set(metrics) == {"d_loss", "d_real", "d_fake", "g_loss", "l2", "adv"}
    assert all(np.isfinite(v) for v in metrics.values())
    lam = TRAIN.lam
    assert metrics["g_loss"] == pytest.approx(
        lam * metrics["l2"] + (1 - lam) * metrics["adv"], rel=1e-5
    )

    def changed(a, b):
        return any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    for net in ("generator", "discriminator"):
        assert changed(before[net]["params"], state[net]["params"])
        assert changed(before[net]["batch_stats"], state[net]["batch_stats"])


def test_l2_only_steps_skip_the_discriminator_and_take_one_adam_step_on_the_hole_l2():
    # lam = 1 (the paper's L2-only ablation): D neither trains nor runs, and the generator's
    # update is one Adam step on the hole L2, worked out here with optax directly.
    state = _tiny_state()
    before = jax.tree.map(np.asarray, state)
    d_step, g_step = steps.make_steps(
        TINY, **ADAM, lam=1.0, seed=TRAIN.seed, state_sharding=REPLICATED, batch_sharding=SPLIT
    )
    images, mask = _images(4, 32, seed=9), _box_mask(4, 32)
    batch = jax.device_put({"image": images, "mask": mask}, SPLIT)
    state, d_metrics = d_step(state, batch)
    assert d_metrics == {}
    state, g_metrics = g_step(state, batch)
    metrics = jax.device_get(g_metrics)
    assert set(metrics) == {"g_loss", "l2"} and metrics["g_loss"] == metrics["l2"]
    for part in ("discriminator", "opt_d"):
        for a, b in zip(jax.tree.leaves(before[part]), jax.tree.leaves(state[part])):
            np.testing.assert_array_equal(a, b)

    graphs = steps.graphs_for(TINY)
    params, stats = jax.tree.map(
        jnp.asarray, (before["generator"]["params"], before["generator"]["batch_stats"])
    )

    def hole_l2_of(params):
        net = nnx.merge(graphs.generator, params, stats, copy=True)
        return steps.hole_l2(net(jnp.asarray(images), jnp.asarray(mask)), images, mask)

    adam = optax.adam(ADAM["lr"], b1=ADAM["b1"], b2=ADAM["b2"])
    _, expected = adam.update(jax.grad(hole_l2_of)(params), adam.init(params), params)
    assert float(hole_l2_of(params)) == pytest.approx(metrics["l2"], rel=1e-5)
    # Adam's moments after one step are (1 - b1)·g and (1 - b2)·g², so they carry the gradient
    # itself (the parameter update is about ±lr per entry whatever its size). Biases just
    # before a batch norm have a zero gradient in exact arithmetic and ±1e-9 of rounding noise
    # that depends on the reduction order, hence the absolute tolerance.
    for want, got in zip(jax.tree.leaves(expected), jax.tree.leaves(state["opt_g"])):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-3, atol=1e-8)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(state["generator"]["params"]))
    )


# ----------------------------------------------------------------------------------------------
# fill="harmonic": a learned correction on top of the harmonic fill


def _laplace_reference(image: np.ndarray, hole: np.ndarray, sweeps: int = 4000) -> np.ndarray:
    """Harmonic fill by plain Jacobi sweeps (5-point stencil, zero-flux border) in NumPy."""
    out = np.where(hole[..., None], image.mean(axis=(0, 1)), image).astype(np.float64)
    for _ in range(sweeps):
        padded = np.pad(out, ((1, 1), (1, 1), (0, 0)), mode="edge")
        average = (
            padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
        ) / 4.0
        out = np.where(hole[..., None], average, image)
    return out


@pytest.mark.parametrize("mode, skips", [("freeform", False), ("paper", False), ("freeform", True)])
def test_harmonic_fill_network_starts_at_the_harmonic_fill(mode, skips):
    config = ContentNetConfig(
        mode=mode, image_size=16, channels=(8, 8), bottleneck=8, fill="harmonic", skips=skips
    )
    net = make_content_net(config, rngs=nnx.Rngs(3))
    images = _images(2, 16, seed=4)
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[:, 4:12, 4:12] = 1.0
    out = np.asarray(net(jnp.asarray(images), jnp.asarray(mask)))
    expected = np.stack([_laplace_reference(im, m[..., 0] > 0) for im, m in zip(images, mask)])
    if mode == "paper":
        expected = expected[:, 4:12, 4:12]
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_harmonic_fill_network_learns_a_correction():
    # A few L2 steps on one batch move the prediction off the harmonic fill, towards the truth.
    config = ContentNetConfig(image_size=16, channels=(8, 8), bottleneck=8, fill="harmonic")
    net = make_content_net(config, rngs=nnx.Rngs(0))
    images = jnp.asarray(_images(4, 16, seed=5))
    mask = np.zeros((4, 16, 16, 1), np.float32)
    mask[:, 4:12, 4:12] = 1.0
    mask = jnp.asarray(mask)

    def loss(model):
        return steps.hole_l2(model(images, mask), images, mask)

    start = float(loss(net))
    optimizer = nnx.Optimizer(net, optax.adam(1e-2), wrt=nnx.Param)
    for _ in range(20):
        optimizer.update(net, nnx.grad(loss)(net))
    assert float(loss(net)) < 0.9 * start
    # Known pixels still come back exactly after compositing.
    filled = predict(net, np.asarray(images), np.asarray(mask))
    known = np.asarray(mask)[..., 0] == 0
    np.testing.assert_array_equal(filled[known], np.asarray(images)[known])


def test_fill_is_exported_and_old_exports_load_as_mean(tmp_path):
    config = ContentNetConfig(image_size=16, channels=(8, 8), bottleneck=8, fill="harmonic")
    net = make_content_net(config, rngs=nnx.Rngs(0))
    path = save_content_net(net, tmp_path / "h.npz", config=config)
    assert load_content_net(path).fill == "harmonic"
    mean_config = ContentNetConfig(image_size=16, channels=(8, 8), bottleneck=8)
    with pytest.raises(ValueError, match="fill"):
        save_content_net(net, tmp_path / "x.npz", config=mean_config)
    # An export written before `fill` existed has no such key: it is a mean-fill network.
    mean_net = make_content_net(mean_config, rngs=nnx.Rngs(0))
    path = save_content_net(mean_net, tmp_path / "m.npz", config=mean_config)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays.pop("__config__")))
    del meta["config"]["fill"]
    np.savez(tmp_path / "old.npz", __config__=np.asarray(json.dumps(meta)), **arrays)
    assert load_content_net(tmp_path / "old.npz").fill == "mean"
    with pytest.raises(ValueError, match="fill"):
        ContentNetConfig(fill="zeros")


# ----------------------------------------------------------------------------------------------
# skips=True: U-Net skip connections (free-form mode)

SKIPS = ContentNetConfig(image_size=16, channels=(4, 6), bottleneck=5, fill="harmonic", skips=True)


def test_skips_widen_each_decoder_input_by_the_encoder_features():
    net = nnx.eval_shape(lambda: make_content_net(SKIPS, rngs=nnx.Rngs(0)))
    # Decoder inputs: bottleneck 6 + encoder 6 at 4x4, then 4 + encoder 4 at 8x8.
    assert [deconv.in_features for deconv in net.decoder] == [12, 8]
    assert [deconv.out_features for deconv in net.decoder] == [4, 3]
    with pytest.raises(ValueError, match="skips need mode 'freeform'"):
        ContentNetConfig(mode="paper", image_size=16, channels=(4, 6), skips=True)


def test_skips_carry_the_input_past_a_cut_bottleneck():
    # With the bottleneck's first layer zeroed, its output no longer depends on the input:
    # without skips the decoder's output is then the same for every image; with skips it is not.
    images = jnp.asarray(_images(2, 16, seed=6))
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[:, 5:9, 2:14] = 1.0
    outputs = {}
    for skips in (False, True):
        config = ContentNetConfig(image_size=16, channels=(4, 6), bottleneck=5, skips=skips)
        net = export.eval_mode(make_content_net(config, rngs=nnx.Rngs(1)))
        net.fc_in.kernel[...] = jnp.zeros_like(net.fc_in.kernel[...])
        outputs[skips] = np.asarray(net(images, jnp.asarray(mask)))
    np.testing.assert_allclose(outputs[False][0], outputs[False][1], atol=1e-6)
    assert np.abs(outputs[True][0] - outputs[True][1]).max() > 1e-3


def test_skips_network_round_trips(tmp_path):
    net = make_content_net(SKIPS, rngs=nnx.Rngs(2))
    images = _images(2, 16, seed=7)
    mask = np.zeros((2, 16, 16, 1), np.float32)
    mask[:, 2:7, 3:13] = 1.0
    # Give the last layer (zero at initialisation) weights: a non-trivial network to compare.
    last = net.decoder[-1]
    last.kernel[...] = 0.05 * jax.random.normal(jax.random.key(0), last.kernel[...].shape)
    path = save_content_net(net, tmp_path / "skips.npz", config=SKIPS, dtype="float32")
    loaded = load_content_net(path)
    assert loaded.skips and json.loads(path.with_suffix(".json").read_text())["config"]["skips"]
    np.testing.assert_allclose(predict(loaded, images, mask), predict(net, images, mask), atol=1e-6)
    with pytest.raises(ValueError, match="skips"):
        save_content_net(net, tmp_path / "x.npz", config=dataclasses.replace(SKIPS, skips=False))


def test_shipped_network_beats_the_harmonic_fill_on_eval512(shared):
    """The shipped paper-mode network against the harmonic fill on all 80 eval512 photos at
    128 px (centred 64x64 hole), scored here with a plain NumPy hole PSNR."""
    from conftest import load_photo
    from npsynth import fill, synthesis

    path = synthesis.SHIPPED_CONTENT_NET
    assert path.exists() and path.stat().st_size <= 25 * 2**20
    model = load_content_net(path)
    assert model.mode == "paper" and model.image_size == 128
    photos = sorted((shared / "data" / "eval512").glob("*.png"))
    assert len(photos) == 80
    truth = np.stack([load_photo(p, size=128) for p in photos])
    hole = paper_mask(128)
    known = np.where(hole > 0, 0.0, truth).astype(np.float32)
    by_network = predict(model, known, np.broadcast_to(hole, truth.shape[:3] + (1,)))
    by_harmonic = np.stack([np.asarray(fill.harmonic_fill(k, hole)) for k in known])
    inside = hole[..., 0] > 0

    def hole_psnr(filled):
        errors = (np.clip(filled, 0, 1) - truth)[:, inside]  # [N, hole pixels, 3]
        return 10 * np.log10(1.0 / np.mean(errors**2, axis=(1, 2)))

    gain = hole_psnr(by_network) - hole_psnr(by_harmonic)
    # Measured at export (README): +0.17 dB on average, better on 43 of 80 photos.
    assert gain.mean() > 0.1
    assert (gain > 0).sum() >= 40


def test_shipped_freeform_network_beats_the_harmonic_fill_on_irregular_holes(shared):
    """The shipped free-form network against the harmonic fill at 128 px: all 80 eval512
    photos, photo i with the i-th (mod 50) 30-40 % irregular mask of ../shared/data/masks,
    scored here with a plain NumPy hole PSNR."""
    from PIL import Image

    from conftest import load_photo
    from npsynth import fill, synthesis

    path = synthesis.SHIPPED_FREEFORM_NET
    both = path.stat().st_size + synthesis.SHIPPED_CONTENT_NET.stat().st_size
    assert both <= 25 * 2**20  # the budget for the content networks
    model = load_content_net(path)
    assert model.mode == "freeform" and model.image_size == 128
    photos = sorted((shared / "data" / "eval512").glob("*.png"))
    masks = sorted((shared / "data" / "masks").glob("hole30-40_*.png"))
    assert len(photos) == 80 and len(masks) == 50
    truth = np.stack([load_photo(p, size=128) for p in photos])
    holes = np.stack([
        np.asarray(Image.open(masks[i % 50]).convert("L").resize((128, 128)), np.float32)[..., None]
        > 127
        for i in range(80)
    ]).astype(np.float32)  # fmt: skip
    known = np.where(holes > 0, 0.0, truth).astype(np.float32)
    by_network = predict(model, known, holes)
    by_harmonic = np.stack([np.asarray(fill.harmonic_fill(k, h)) for k, h in zip(known, holes)])

    def hole_psnr(filled):
        inside = holes[..., 0] > 0
        errors = [(np.clip(f, 0, 1) - t)[m] for f, t, m in zip(filled, truth, inside)]
        return np.array([10 * np.log10(1.0 / np.mean(e**2)) for e in errors])

    gain = hole_psnr(by_network) - hole_psnr(by_harmonic)
    # Measured at export: +0.11 dB on average, better on 53 of 80 photos (median +0.07).
    assert gain.mean() > 0.08
    assert (gain > 0).sum() >= 45
