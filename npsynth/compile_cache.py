"""JAX's persistent compilation cache, so a second run on the same sizes skips compiling.

`npsynth.inpaint` and the command-line tools call `enable()` before their first
compilation. The compiled programs go to `$NPSYNTH_COMPILATION_CACHE` when it names a
folder, else `<user cache>/jax` (`npsynth.hub.cache_dir`, e.g. `~/.cache/npsynth/jax`);
`NPSYNTH_COMPILATION_CACHE=0` (or `off`) turns the cache off. A cache folder that the user
set up in JAX itself (`jax_compilation_cache_dir`) is left as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "NPSYNTH_COMPILATION_CACHE"
OFF = ("0", "off", "false", "no")
# Cache every program: npsynth compiles many small ones (resizes, fills, searches) whose
# compile times add up to most of a small run.
MIN_COMPILE_SECONDS = 0.0


def cache_folder() -> Path | None:
    """Where compiled programs are kept, or None when the cache is turned off."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen.lower() in OFF:
        return None
    if chosen:
        return Path(chosen).expanduser()
    from npsynth.hub import cache_dir

    return cache_dir() / "jax"


def enable() -> Path | None:
    """Turn the persistent cache on (idempotent); returns its folder, or None when off.

    JAX reads these settings when it first compiles, so call this early; later calls only
    report the folder.
    """
    import jax

    folder = cache_folder()
    current = jax.config.jax_compilation_cache_dir
    if folder is None or (current and Path(current) != folder):
        return Path(current) if current else None
    if not current:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:  # a read-only home: run without the cache rather than fail
            return None
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
