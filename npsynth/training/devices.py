"""Devices and data parallelism for training: one mesh axis "data", parameters replicated,
batches split over it (`jit` with `NamedSharding`s; no `pmap`), explicit host transfers."""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def setup_devices(*, distributed: bool = False) -> Mesh:
    """Initialise JAX (multi-host when `distributed`) and return a 1-D mesh over all devices.

    The mesh axis is "data": batches are split over it, parameters are replicated.
    """
    if distributed:
        jax.distributed.initialize()
    return Mesh(np.asarray(jax.devices()), ("data",))


def shardings(mesh: Mesh) -> tuple[NamedSharding, NamedSharding]:
    """(replicated, batch-split) `NamedSharding`s of `mesh`."""
    return NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("data"))


def global_batch(batch: dict, sharding) -> dict:
    """This process's NumPy batch -> global jax.Arrays split over the mesh (explicit transfer)."""
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


def abstract_with_sharding(abstract, sharding):
    """ShapeDtypeStructs of `abstract` placed on `sharding` (a restore target for Orbax)."""
    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract
    )


def to_host(tree):
    """NumPy copies of replicated arrays, on any host (reads this process's first replica)."""

    def fetch(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            x = x.addressable_data(0)
        return np.asarray(jax.device_get(x))

    return jax.tree.map(fetch, tree)


def is_main_process() -> bool:
    """Whether this is process 0 (the one that writes files and notes)."""
    return jax.process_index() == 0
