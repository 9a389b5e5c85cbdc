"""Cheap checks of user input, run before anything expensive starts.

Every command and public function calls these first, so that a wrong output path, a number out
of range or a grid too large for memory is refused in milliseconds, with a message naming the
value and the fix (:class:`~qslm_neuro.errors.BadInputError`, CLI exit 2), instead of after
minutes of work or with a traceback from deep inside. This module sits at the bottom of the
package (it imports only :mod:`qslm_neuro.errors`), so the hardware side may use it too.
"""
from __future__ import annotations

import math
import numbers
import os
import re
import resource
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

from qslm_neuro.errors import BadInputError

#: Share of the available memory an in-memory table may take (``QSLM_MEMORY_BUDGET`` or
#: ``--max-memory`` set it explicitly).
MEMORY_FRACTION = 0.5
MEMORY_ENV = "QSLM_MEMORY_BUDGET"
#: Seconds allowed to open a TCP connection to a Dask scheduler before it counts as unreachable.
CONNECT_TIMEOUT_S = 2.0
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_budget_override: list[int] = []


# -- numbers --------------------------------------------------------------------------------
def finite_number(value: Any, name: str, *, positive: bool = False, minimum: float | None = None,
                  integer: bool = False, fix: str = "") -> float:
    """``value`` as a finite real number (an int if ``integer``), else BadInputError naming it.

    ``positive``: strictly above 0; ``minimum``: at least this. ``fix`` ends the message.
    """
    wanted = "a whole number" if integer else "a finite number"
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real) and \
        not isinstance(value, bool)
    if not ok_type or (not integer and not math.isfinite(float(value))):
        raise BadInputError(f"{name}={value!r}; expected {wanted}" + (f"; {fix}" if fix else ""))
    if positive and not value > 0:
        raise BadInputError(f"{name}={value!r}; expected a number above 0"
                            + (f"; {fix}" if fix else ""))
    if minimum is not None and value < minimum:
        raise BadInputError(f"{name}={value!r}; expected at least {minimum:g}"
                            + (f"; {fix}" if fix else ""))
    return int(value) if integer else float(value)


def parse_bytes(text: str, name: str = "--max-memory") -> int:
    """``"2GB"``, ``"512MiB"``, ``"1e9"`` -> bytes (a positive whole number)."""
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([kKmMgGtT]i?[bB]|[bB])?\s*", str(text))
    try:
        value = float(match.group(1)) * _UNITS[(match.group(2) or "").lower()] if match else -1
    except ValueError:
        value = -1
    if not math.isfinite(value) or value < 1:
        raise BadInputError(f"{name} {text!r}: expected a size such as 4GB, 512MiB or 1e9 "
                            "(bytes)")
    return int(value)


# -- memory ---------------------------------------------------------------------------------
def available_memory_bytes() -> int:
    """Memory this process can still take: the machine's available memory, capped by the
    address-space limit (``ulimit -v``) if one is set."""
    available = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 4 * 2**30
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1):
        available = min(available, soft)
    return int(available)


def memory_budget_bytes() -> int:
    """What one in-memory table may use: ``memory_budget(...)`` if active, else
    ``$QSLM_MEMORY_BUDGET`` (a size), else :data:`MEMORY_FRACTION` of the available memory."""
    if _budget_override:
        return _budget_override[-1]
    text = os.environ.get(MEMORY_ENV)
    if text:
        return parse_bytes(text, f"${MEMORY_ENV}")
    return int(available_memory_bytes() * MEMORY_FRACTION)


@contextmanager
def memory_budget(size: int | str | None) -> Iterator[None]:
    """Within the block, in-memory tables may use ``size`` bytes (``"8GB"``; None: default)."""
    if size is None:
        yield
        return
    _budget_override.append(parse_bytes(size) if isinstance(size, str) else
                            int(finite_number(size, "max_memory_bytes", positive=True)))
    try:
        yield
    finally:
        _budget_override.pop()


def check_table_fits(rows: int, columns: int, what: str, fix: str) -> None:
    """Refuse a table of ``rows`` x ``columns`` float64 values (x3: the arrays it is built from
    and pandas' copies) that would exceed :func:`memory_budget_bytes`."""
    need = 3 * 8 * rows * max(columns, 1)
    budget = memory_budget_bytes()
    if need > budget:
        raise BadInputError(
            f"{what}: {rows:,} rows would need about {_size(need)} of memory, more than the "
            f"budget of {_size(budget)} ({MEMORY_FRACTION:.0%} of the available memory, or "
            f"${MEMORY_ENV} / --max-memory); {fix}")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


# -- paths ----------------------------------------------------------------------------------
def path_like(value: Any, name: str, example: str = "out/file") -> Path:
    """``value`` as a Path, if it is non-empty text or an ``os.PathLike``; else BadInputError."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        raise BadInputError(f"{name}={value!r}: expected a file or folder path such as "
                            f"{example!r}")
    return Path(value)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def _probe_writable(path: Path, flag: str) -> None:
    """Make (and remove) a temporary folder where ``path`` would be written."""
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise BadInputError(f"{flag} {str(path)!r}: {str(existing)!r} is a file, so nothing can "
                            "be written under it; choose a path in a folder")
    try:
        probe = tempfile.mkdtemp(dir=existing, prefix=".qslm-probe.")
    except OSError as exc:
        raise BadInputError(f"{flag} {str(path)!r}: cannot write in {str(existing)!r} "
                            f"({exc.strerror or exc}); choose a writable folder") from None
    os.rmdir(probe)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_dir(path: Any, flag: str = "--out", *, overwrite: bool = False,
                     sources: tuple[Any, ...] = ()) -> Path:
    """A folder about to be written: not empty text, not a file, writable, not an existing
    non-empty folder unless ``overwrite``, and never equal to, inside or around a ``source``
    (the checkpoint being read), whatever ``overwrite`` says."""
    if path is None or not str(path).strip():
        raise BadInputError(f"{flag} {path!r}: empty; name the folder to write, e.g. "
                            f"{flag} out/checkpoint")
    target = Path(path).expanduser()
    resolved = target.resolve()
    for source in sources:
        if source is None:
            continue
        src = Path(source).expanduser().resolve()
        if _inside(resolved, src) or _inside(src, resolved):
            where = "the same folder as" if resolved == src else \
                "inside" if _inside(resolved, src) else "a folder holding"
            raise BadInputError(
                f"{flag} {str(path)!r} is {where} the source checkpoint {str(source)!r}; "
                "writing there would destroy what is being read (refused even with "
                "--overwrite); choose a folder outside it")
    if target.exists() and not target.is_dir():
        raise BadInputError(f"{flag} {str(path)!r} is a file, not a folder; choose a folder "
                            "name that does not exist yet")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise BadInputError(f"{flag} {str(path)!r} exists and is not empty; choose a new folder, "
                            "or pass --overwrite (Python: overwrite=True) to replace it")
    _probe_writable(resolved, flag)
    return target


def check_output_file(path: Any, flag: str = "--out", *, overwrite: bool | None = None) -> Path:
    """A file about to be written (atomically): not empty text, not a folder, writable; with
    ``overwrite=False`` also not an existing file (``None``: the caller owns that decision)."""
    if path is None or not str(path).strip():
        raise BadInputError(f"{flag} {path!r}: empty; name the file to write")
    target = Path(path).expanduser()
    if target.is_dir():
        raise BadInputError(f"{flag} {str(path)!r} is a folder; name a file inside it, e.g. "
                            f"{str(target / 'out')!r} with the right suffix")
    if overwrite is False and target.exists():
        raise BadInputError(f"{flag} {str(path)!r} exists; choose a new file name or pass "
                            "--overwrite to replace it")
    _probe_writable(target.resolve(), flag)
    return target


def check_input_file(path: Any, flag: str, what: str = "file") -> Path:
    """An input that must be a file: missing and folder are told apart."""
    if path is None or not str(path).strip():
        raise BadInputError(f"{flag} {path!r}: empty; name the {what}")
    target = Path(path).expanduser()
    if target.is_dir():
        raise BadInputError(f"{flag} {str(path)!r} is a folder; pass the {what} itself")
    if not target.is_file():
        from qslm_neuro.errors import DataNotFoundError

        raise DataNotFoundError(f"{flag} {str(path)!r} does not exist; pass the {what}")
    return target


# -- services -------------------------------------------------------------------------------
def check_scheduler_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A quick TCP connect to a ``tcp://host:port`` scheduler: a closed port or unknown host is
    refused within ``timeout_s`` instead of after Dask's own 30 s timeout."""
    text = str(address)
    parsed = urlparse(text if "://" in text else f"tcp://{text}")
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname:
        return  # other transports (inproc, ucx): Dask checks them itself
    try:
        port = parsed.port or 8786
    except ValueError:
        raise BadInputError(f"--scheduler {address!r}: the port is not a number; write e.g. "
                            "tcp://10.0.0.5:8786") from None
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise BadInputError(
            f"cannot reach the Dask scheduler at {address!r} ({exc.strerror or exc}); start one "
            "with `dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`, or use "
            "--workers N for a local cluster") from None
