"""The fast path (Song et al. 2018): layers, networks, their training, and inference."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import load_photo
from npsynth import patches, translate
from npsynth.config import (
    Feature2ImageConfig,
    Feature2ImageLossConfig,
    Feature2ImageTrainingConfig,
    Image2FeatureConfig,
    Image2FeatureTrainingConfig,
    InpaintConfig,
)
from npsynth.fill import harmonic_fill
from npsynth.layers import StridedConvTranspose, strided_conv_transpose
from npsynth.synthesis import inpaint
from test_patches import reference_nn, reference_query, reference_windows
from train import common, feature2image, image2feature

TINY_F2I = Feature2ImageConfig(image_size=32, widths=(8, 8, 8), blocks=1)
TINY_I2F = Image2FeatureConfig(image_size=32, widths=(8, 16), dilations=(1, 2))
SKIP_WARNING = "ignore:skipping unreadable training photo"


# ----------------------------------------------------------------------------------------------
# The transposed convolution in phase form


def reference_conv_transpose(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """lax.conv_transpose(x, k, (2, 2), "SAME") by its definition, in float64 loops: the
    stride-2 dilated input, padded by 2, correlated with the (unflipped) 4x4 kernel:
    y[o] = sum_i x[i] k[2 i + 2 - o] per axis, taps outside 0..3 dropped."""
    n, h, w, _ = x.shape
    out = np.zeros((n, 2 * h, 2 * w, kernel.shape[-1]))
    for oy in range(2 * h):
        for ox in range(2 * w):
            for iy in range(h):
                ty = 2 * iy + 2 - oy
                if not 0 <= ty < 4:
                    continue
                for ix in range(w):
                    tx = 2 * ix + 2 - ox
                    if 0 <= tx < 4:
                        out[:, oy, ox] += x[:, iy, ix].astype(np.float64) @ kernel[ty, tx]
    return out


def test_strided_conv_transpose_matches_its_definition_and_flax():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    kernel = rng.normal(size=(4, 4, 4, 6)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    got = strided_conv_transpose(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(bias))
    np.testing.assert_allclose(got, reference_conv_transpose(x, kernel) + bias, atol=1e-5)

    ours = StridedConvTranspose(4, 6, rngs=nnx.Rngs(1))
    flax_layer = nnx.ConvTranspose(4, 6, (4, 4), strides=(2, 2), padding="SAME", rngs=nnx.Rngs(1))
    np.testing.assert_array_equal(ours.kernel[...], flax_layer.kernel[...])  # same parameters
    np.testing.assert_allclose(ours(jnp.asarray(x)), flax_layer(jnp.asarray(x)), atol=1e-5)
    with pytest.raises(ValueError, match="4x4"):
        strided_conv_transpose(jnp.asarray(x), jnp.zeros((3, 3, 4, 6)), None)


# ----------------------------------------------------------------------------------------------
# Networks


def test_network_shapes_ranges_and_errors():
    i2f = translate.ImageToFeature(TINY_I2F, rngs=nnx.Rngs(0))
    f2i = translate.FeatureToImage(TINY_F2I, rngs=nnx.Rngs(0))
    images = jnp.asarray(np.random.default_rng(0).random((2, 24, 36, 3), dtype=np.float32))
    mask = jnp.zeros((2, 24, 36, 1)).at[:, 8:16, 10:20].set(1.0)
    features = i2f(images, mask)
    assert features.shape == (2, 6, 9, 256) and float(features.min()) >= 0.0
    decoded = f2i(features)
    assert decoded.shape == (2, 24, 36, 3)
    assert 0.0 <= float(decoded.min()) and float(decoded.max()) <= 1.0
    # The hole's pixels are not seen: changing them changes nothing.
    scribbled = jnp.where(mask > 0, 1.0 - images, images)
    np.testing.assert_allclose(i2f(scribbled, mask), features, rtol=1e-5, atol=1e-3)

    with pytest.raises(ValueError, match="divisible by 4"):
        i2f(images[:, :22], mask[:, :22])
    with pytest.raises(ValueError, match="mask"):
        i2f(images, mask[..., :1][:, :, :-4])
    with pytest.raises(ValueError, match="relu3_1 features"):
        f2i(features[..., :128])
    with pytest.raises(ValueError, match="widths"):
        Feature2ImageConfig(widths=(8, 8))
    with pytest.raises(ValueError, match="power of two"):
        Image2FeatureConfig(image_size=48)


def test_export_round_trip_and_clear_load_errors(tmp_path):
    f2i = translate.FeatureToImage(TINY_F2I, rngs=nnx.Rngs(3))
    path = translate.save_feature2image(f2i, tmp_path / "f2i.npz", config=TINY_F2I, step=5)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["step"] == 5 and meta["format"] == translate.F2I_FORMAT
    features = jnp.asarray(np.random.default_rng(1).random((1, 4, 5, 256), dtype=np.float32) * 400)
    loaded = translate.load_feature2image(tmp_path / "f2i.npz")
    np.testing.assert_allclose(loaded(features), f2i(features), atol=2e-3)  # float16 weights

    with pytest.raises(ValueError, match="expected 'npsynth.image2feature/1'"):
        translate.load_image2feature(path)  # a Feature2Image file is not an Image2Feature one
    with pytest.raises(FileNotFoundError, match="train.image2feature"):
        translate.load_image2feature(tmp_path)  # folder without image2feature.npz
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an exported Feature2Image network"):
        translate.load_feature2image(tmp_path / "junk.npz")


# ----------------------------------------------------------------------------------------------
# Patch-swap as the networks see it


def reference_swap(features: np.ndarray, hole: np.ndarray, s: int = 3) -> np.ndarray:
    """Brute force: every hole cell = mean over the query windows covering it of the
    matched (best normalised cross-correlation) source window's value there."""
    nn = reference_nn(features, hole, s)
    windows = reference_windows(features, s)
    query = reference_query(hole, s)
    n, h, w, c = features.shape
    total, count = np.zeros((n, h, w, c)), np.zeros((n, h, w, 1))
    for b, y, x in zip(*np.nonzero(query)):
        sy, sx = divmod(int(nn[b, y, x]), w - s + 1)
        total[b, y : y + s, x : x + s] += windows[b, sy, sx].reshape(s, s, c)
        count[b, y : y + s, x : x + s] += 1
    return np.where(hole > 0.5, total / np.maximum(count, 1), features)


def test_training_swap_under_jit_matches_brute_force(random_vgg):
    task = translate.Feature2ImageTask(
        TINY_F2I, Feature2ImageTrainingConfig.tiny().loss, translate.vgg_parts(random_vgg),
        chunk_size=7,
    )  # fmt: skip
    rng = np.random.default_rng(2)
    images = rng.random((2, 32, 40, 3), dtype=np.float32)
    mask = np.zeros((2, 32, 40, 1), np.float32)
    mask[0, 8:20, 12:24] = 1.0
    mask[1, 20:28, 4:12] = 1.0
    swapped = jax.jit(task.swapped)({"image": jnp.asarray(images), "mask": jnp.asarray(mask)})
    initial = harmonic_fill(jnp.asarray(images), jnp.asarray(mask))  # the inference-time fill
    features = np.asarray(random_vgg(initial, ("relu3_1",))["relu3_1"])
    cells = np.asarray(patches.downsample_mask(jnp.asarray(mask), 4))
    np.testing.assert_allclose(swapped, reference_swap(features, cells), rtol=1e-4, atol=1e-3)


def test_feature2image_reconstruction_weighs_hole_known_and_perceptual(random_vgg):
    loss = Feature2ImageLossConfig(pixel=2.0, known=0.5, perceptual=0.25)
    task = translate.Feature2ImageTask(TINY_F2I, loss, translate.vgg_parts(random_vgg))
    rng = np.random.default_rng(5)
    image = rng.random((1, 32, 32, 3), dtype=np.float32)
    prediction = rng.random((1, 32, 32, 3), dtype=np.float32)
    mask = np.zeros((1, 32, 32, 1), np.float32)
    mask[0, 8:16, 4:28] = 1.0  # 192 hole pixels, 832 known
    rec, parts = task.reconstruction(jnp.asarray(prediction), {"image": image, "mask": mask})

    squared = (prediction.astype(np.float64) - image) ** 2
    hole = mask[..., 0] > 0
    assert float(parts["pixel"]) == pytest.approx(squared[hole].mean(), rel=1e-5)
    assert float(parts["known"]) == pytest.approx(squared[~hole].mean(), rel=1e-5)
    filled = np.where(mask > 0, prediction, image)
    feats = [np.asarray(random_vgg(jnp.asarray(x), ("relu3_1",))["relu3_1"], np.float64)
             for x in (filled, image)]  # fmt: skip
    perceptual = np.mean(((feats[0] - feats[1]) * translate.FEATURE_SCALE) ** 2)
    assert float(parts["perceptual"]) == pytest.approx(perceptual, rel=1e-4)
    expected = 2.0 * squared[hole].mean() + 0.5 * squared[~hole].mean() + 0.25 * perceptual
    assert float(rec) == pytest.approx(expected, rel=1e-4)


# ----------------------------------------------------------------------------------------------
# Training runs: a few steps, stop, resume, export


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_feature2image_training_resumes_exactly_and_exports(tmp_path, photos):
    cfg = Feature2ImageTrainingConfig.tiny(data={"images": str(photos)}, loss={"known": 0.5})
    straight = feature2image.run(cfg, tmp_path / "straight", progress=False)
    assert straight["step"] == 2 and straight["export"] is not None

    stop = common.StopFlag()
    stop.request()
    first = feature2image.run(cfg, tmp_path / "resumed", stop=stop, progress=False)
    assert first["step"] == 1 and first["stopped"]
    with pytest.raises(FileExistsError, match="--resume"):
        feature2image.run(cfg, tmp_path / "resumed", progress=False)
    second = feature2image.run(cfg, tmp_path / "resumed", resume=True, progress=False)
    assert second["step"] == 2

    def metrics(run):
        return common.read_metrics(tmp_path / run / common.METRICS_FILE)

    keys = ("d_loss", "g_loss", "pixel", "known", "perceptual", "adv")
    assert all(np.isfinite(metrics("straight")[-1][k]) for k in keys)
    for a, b in zip(metrics("straight"), metrics("resumed")):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    lam = cfg.train.lam
    last = metrics("straight")[-1]
    rec = 1.0 * last["pixel"] + 0.5 * last["known"] + cfg.loss.perceptual * last["perceptual"]
    assert last["g_loss"] == pytest.approx(lam * rec + (1 - lam) * last["adv"], rel=1e-4)

    a = translate.load_feature2image(tmp_path / "straight")
    b = translate.load_feature2image(tmp_path / "resumed")
    features = jnp.ones((1, 4, 4, 256)) * 100.0
    np.testing.assert_array_equal(a(features), b(features))
    assert (tmp_path / "resumed" / "samples" / "step_0000002.png").exists()


@pytest.mark.filterwarnings(SKIP_WARNING)
def test_image2feature_training_steps_and_export(tmp_path, photos):
    cfg = Image2FeatureTrainingConfig.tiny(data={"images": str(photos)})
    result = image2feature.run(cfg, tmp_path / "run", progress=False)
    assert result["step"] == 2
    last = common.read_metrics(tmp_path / "run" / common.METRICS_FILE)[-1]
    assert all(np.isfinite(last[k]) for k in ("feat_l2", "hole_feat_l2", "adv", "d_loss"))
    net = translate.load_image2feature(tmp_path / "run")
    out = net(jnp.full((1, 32, 32, 3), 0.5), jnp.zeros((1, 32, 32, 1)))
    assert out.shape == (1, 8, 8, 256)
    # The command line: the export flag writes the newest checkpoint again.
    assert image2feature.main(["--workdir", str(tmp_path / "run"), "--export"]) == 0
    assert feature2image.main(["--workdir", str(tmp_path / "none"), "--export"]) == 2


def test_training_configs_reject_bad_values():
    with pytest.raises(ValueError, match="tiny"):
        Feature2ImageTrainingConfig.tiny(optimizer={})
    with pytest.raises(ValueError, match="perceptual"):
        Feature2ImageTrainingConfig.tiny(loss={"pixel": 0.0, "perceptual": 0.0})
    with pytest.raises(ValueError, match="known"):
        Feature2ImageLossConfig(known=-1.0)


# ----------------------------------------------------------------------------------------------
# Inference


@pytest.fixture(scope="module")
def tiny_f2i_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("f2i")
    model = translate.FeatureToImage(TINY_F2I, rngs=nnx.Rngs(0))
    return translate.save_feature2image(model, folder / "f2i.npz", config=TINY_F2I, dtype="float32")


def test_translate_level_is_swap_then_decode(random_vgg, tiny_f2i_path):
    rng = np.random.default_rng(4)
    known = rng.random((32, 32, 3), dtype=np.float32)
    hole = np.zeros((32, 32, 1), np.float32)
    hole[12:22, 8:20] = 1.0
    fill = np.where(hole > 0, 0.5, known).astype(np.float32)
    f2i = translate.load_feature2image(tiny_f2i_path)
    got = translate.translate_level(fill, known, hole, vgg=random_vgg, feature2image=f2i)

    features = np.asarray(random_vgg(jnp.asarray(fill[None]), ("relu3_1",))["relu3_1"])
    cells = np.asarray(patches.downsample_mask(jnp.asarray(hole[None]), 4))
    decoded = np.asarray(f2i(jnp.asarray(reference_swap(features, cells), jnp.float32)))[0]
    expected = np.where(hole > 0, decoded, known)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_array_equal(got[hole[..., 0] == 0], known[hole[..., 0] == 0])
    # swap=False decodes the fill's own features.
    unswapped = translate.translate_level(
        fill, known, hole, vgg=random_vgg, feature2image=f2i, swap=False
    )
    decoded = np.asarray(f2i(jnp.asarray(features)))[0]
    np.testing.assert_allclose(unswapped, np.where(hole > 0, decoded, known), atol=1e-4)
    assert not np.allclose(unswapped, got, atol=1e-3)  # the swap does change the hole


def test_a_hole_without_sources_is_decoded_unswapped_with_a_warning(random_vgg, tiny_f2i_path):
    known = np.full((16, 16, 3), 0.25, np.float32)
    hole = np.zeros((16, 16, 1), np.float32)
    hole[4:12, 4:12] = 1.0  # 4x4 cells, every 3x3 window touches the hole
    assert not translate.has_sources(hole)
    f2i = translate.load_feature2image(tiny_f2i_path)
    with pytest.warns(UserWarning, match="no known 3x3 patch"):
        got = translate.translate_level(known, known, hole, vgg=random_vgg, feature2image=f2i)
    features = random_vgg(jnp.asarray(known[None]), ("relu3_1",))["relu3_1"]
    decoded = np.asarray(f2i(features))[0]
    np.testing.assert_allclose(got, np.where(hole > 0, decoded, known), atol=1e-5)


def test_inpaint_translate_on_a_real_photo(shared, random_vgg, tiny_f2i_path):
    photo = load_photo(shared / "data" / "eval512" / "img_005.png", 96)
    mask = np.zeros((96, 96, 1), np.float32)
    mask[30:60, 40:70] = 1.0
    config = InpaintConfig(
        method="translate", translate_scales=(48, 96), content="harmonic",
        feature2image_checkpoint=str(tiny_f2i_path),
    )  # fmt: skip
    result = inpaint(photo, mask, config=config, vgg=random_vgg)
    assert [s.size for s in result.scales] == [(48, 48), (96, 96)]
    assert all(s.layers == ("relu3_1",) for s in result.scales)
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(result.image[known], photo[known])
    hole = result.image[~known]
    assert np.isfinite(hole).all() and hole.min() >= 0.0 and hole.max() <= 1.0
    # The last scale's output is exactly what fills the hole (same size, no resize).
    np.testing.assert_array_equal(result.image[~known], result.scales[-1].image[~known])


def test_inpaint_translate_bad_inputs(monkeypatch, tmp_path, random_vgg, tiny_f2i_path):
    monkeypatch.delenv("NPSYNTH_FEATURE2IMAGE", raising=False)
    monkeypatch.delenv("NPSYNTH_IMAGE2FEATURE", raising=False)
    monkeypatch.setattr(translate, "SHIPPED_F2I", tmp_path / "none.npz")
    monkeypatch.setattr(translate, "SHIPPED_I2F", tmp_path / "none.npz")
    image = np.full((64, 64, 3), 0.5, np.float32)
    mask = np.zeros((64, 64, 1), np.float32)
    mask[20:40, 20:40] = 1
    with pytest.raises(FileNotFoundError, match="Feature2Image"):
        inpaint(image, mask, method="translate", vgg=random_vgg)
    with pytest.raises(FileNotFoundError, match="Image2Feature"):
        inpaint(
            image, mask, method="translate", image2feature="network", vgg=random_vgg,
            feature2image_checkpoint=str(tiny_f2i_path),
        )  # fmt: skip
    with pytest.raises(ValueError, match="no hole pixels"):
        inpaint(image, np.zeros_like(mask), method="translate", vgg=random_vgg)
    with pytest.raises(ValueError, match="method"):
        InpaintConfig(method="fast")
    with pytest.raises(ValueError, match="increasing"):
        InpaintConfig(translate_scales=(512, 256))
    with pytest.raises(ValueError, match="image2feature"):
        InpaintConfig(image2feature="maybe")
