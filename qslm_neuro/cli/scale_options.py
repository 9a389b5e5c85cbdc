"""The options that say where work runs, shared by every command that can scale out.

``--device`` (cpu, cuda, cuda:N) moves the model before it runs (eval, search, estimate's
activity recording, lava's trace recording); ``--workers N`` starts a local Dask cluster of N
single-threaded processes and ``--scheduler ADDRESS`` joins a running one (search, sweep). A
command adds them with one line, ``add_scale_options(parser, workers=True)``, and reads them
back with :func:`device_of` and :func:`executor_of`. Nothing here imports torch or Dask until
the value is used.
"""
from __future__ import annotations

import argparse
from typing import Any

from qslm_neuro.errors import BadInputError


def add_scale_options(parser: argparse.ArgumentParser, *, device: bool = True,
                      workers: bool = False) -> None:
    """Add ``--device`` and (with ``workers``) ``--workers`` / ``--scheduler``."""
    group = parser.add_argument_group("where it runs")
    if device:
        group.add_argument("--device", default="cpu",
                           help="torch device for the model: cpu (default), cuda or cuda:N")
    if workers:
        group.add_argument("--workers", type=int, default=None, metavar="N",
                           help="evaluate on a local Dask cluster of N worker processes "
                           "(one thread each); needs qslm-neuro[dask]")
        group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                           help="evaluate on the workers of a running Dask scheduler, e.g. "
                           "tcp://10.0.0.5:8786 (workers need qslm-neuro installed)")


def device_of(args: argparse.Namespace) -> str:
    """The ``--device`` value, checked: the device must exist on this machine."""
    text = str(getattr(args, "device", "cpu") or "cpu").strip().lower()
    if text == "cpu":
        return text
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise BadInputError(f"--device {text!r}: expected cpu, cuda or cuda:N") from None
    if device.type != "cuda":
        raise BadInputError(f"--device {text!r}: expected cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise BadInputError(f"--device {text}: this torch ({torch.__version__}) sees no CUDA "
                            "GPU; use --device cpu, or install a CUDA build of torch")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise BadInputError(f"--device {text}: only {torch.cuda.device_count()} GPU(s) are "
                            f"visible (cuda:0 .. cuda:{torch.cuda.device_count() - 1})")
    return text


def executor_of(args: argparse.Namespace) -> Any:
    """What ``--workers`` / ``--scheduler`` ask for, as ``search(executor=...)`` takes it."""
    if getattr(args, "scheduler", None) is not None and getattr(args, "workers", None) is None:
        from qslm_neuro.validate import check_scheduler_reachable

        check_scheduler_reachable(args.scheduler)  # in ~2 s, before torch is even imported
    from qslm_neuro.quantsearch.executor import executor_from_options

    return executor_from_options(getattr(args, "workers", None),
                                 getattr(args, "scheduler", None))
