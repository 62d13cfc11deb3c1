"""Tests for npsynth.compile_cache: JAX's persistent compilation cache, on by default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from npsynth import compile_cache

PROGRAM = """
import jax, jax.numpy as jnp
from npsynth import compile_cache
print(compile_cache.enable())
jax.jit(lambda x: jnp.sin(x) @ jnp.cos(x).T)(jnp.ones((64, 64))).block_until_ready()
print(jax.config.jax_compilation_cache_dir)
"""


def _run(env_value: str | None, home: Path) -> list[str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(home))
    env.pop(compile_cache.ENV_VAR, None)
    if env_value is not None:
        env[compile_cache.ENV_VAR] = env_value
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.split()


def test_the_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(compile_cache.ENV_VAR, raising=False)
    assert compile_cache.cache_folder() == tmp_path / "npsynth" / "jax"
    monkeypatch.setenv(compile_cache.ENV_VAR, str(tmp_path / "elsewhere"))
    assert compile_cache.cache_folder() == tmp_path / "elsewhere"
    for off in ("0", "off", "OFF", "no"):
        monkeypatch.setenv(compile_cache.ENV_VAR, off)
        assert compile_cache.cache_folder() is None


def test_compiled_programs_are_kept_in_the_user_cache(tmp_path):
    folder = tmp_path / "npsynth" / "jax"
    assert _run(None, tmp_path) == [str(folder), str(folder)]
    assert any(folder.iterdir())  # the program was written there


def test_turned_off_it_writes_nothing(tmp_path):
    assert _run("0", tmp_path) == ["None", "None"]
    assert not (tmp_path / "npsynth").exists()
