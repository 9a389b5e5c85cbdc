"""Starting local Dask workers that compute as fast as this process does.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed memory
back to the system quickly). Setting any glibc malloc parameter also freezes the mmap threshold
at 128 KiB, so every activation tensor a torch forward allocates becomes an mmap/munmap pair
with fresh page faults: measured here, one SST-2 calibration evaluation of the shipped model ran
1.8x slower in such a worker than in the driver. Workers started by :func:`local_cluster` get a
large trim threshold and glibc's largest mmap threshold (32 MiB) instead, which measured as fast
as the driver. External workers take the same through Dask's config, e.g.
``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=1099511627776``.
"""
from __future__ import annotations

from typing import Any

#: Environment of worker processes (strings, as the nanny sets them).
WORKER_MALLOC_ENV = {"MALLOC_TRIM_THRESHOLD_": str(1 << 40),
                     "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


def local_cluster(workers: int, threads_per_worker: int = 1) -> Any:
    """A ``(LocalCluster, Client)`` of ``workers`` processes with the malloc settings above."""
    import dask
    from distributed import Client, LocalCluster

    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC_ENV.items()}
    with dask.config.set(environ):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                               processes=True, dashboard_address=None, silence_logs=40)
    return cluster, Client(cluster)
