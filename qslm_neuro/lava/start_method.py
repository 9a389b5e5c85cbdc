"""Import Lava's runtime even when multiprocessing was used before.

Lava 0.10's ``lava/magma/runtime/message_infrastructure/multiprocessing.py`` calls
``multiprocessing.set_start_method('fork')`` when it is imported. Python raises "context has
already been set" if anything touched multiprocessing's default context first, even when that
context *is* fork, and plenty does: a tqdm progress bar creates a multiprocessing lock, so
recording activity or running a search before the first Lava import made Lava unimportable.

:func:`import_lava_runtime` imports that module once with ``set_start_method`` tolerating a
context that is already ``fork`` (what Lava asks for, so nothing changes); any other method
(``spawn``, ``forkserver``) is refused with an error that says what to do, since Lava's actors
rely on fork.
"""
from __future__ import annotations

import multiprocessing
import sys
from contextlib import contextmanager
from typing import Iterator

from qslm_neuro.errors import QSLMError

LAVA_MP_MODULE = "lava.magma.runtime.message_infrastructure.multiprocessing"


class StartMethodError(QSLMError):
    """multiprocessing was set to a start method Lava's runtime cannot use (exit code 2)."""

    exit_code = 2


@contextmanager
def _fork_already_set_is_fine() -> Iterator[None]:
    original = multiprocessing.set_start_method

    def set_start_method(method: str, force: bool = False) -> None:
        current = multiprocessing.get_start_method(allow_none=True)
        if current == method and not force:
            return  # already what is asked for
        original(method, force=force)

    multiprocessing.set_start_method = set_start_method  # type: ignore[assignment]
    try:
        yield
    finally:
        multiprocessing.set_start_method = original  # type: ignore[assignment]


def import_lava_runtime() -> None:
    """Import Lava's multiprocessing runtime module (idempotent)."""
    if LAVA_MP_MODULE in sys.modules:
        return
    current = multiprocessing.get_start_method(allow_none=True)
    if current not in (None, "fork"):
        raise StartMethodError(
            f"multiprocessing's start method is already {current!r}, but Lava's runtime needs "
            "'fork'; import qslm_neuro.lava before choosing a start method, or leave the "
            "default (fork) on Linux")
    with _fork_already_set_is_fine():
        __import__(LAVA_MP_MODULE)
