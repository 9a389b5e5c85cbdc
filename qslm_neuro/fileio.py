"""Small file helpers: atomic writes (temp file + rename), staged folders and checksums.

Reports, stores and checkpoints are written atomically so that a crash or a kill never leaves a
half-written file that a later run would trust; a folder (a checkpoint) is written into a
staging folder beside it and renamed in at the end, and never replaces an existing folder unless
the caller says ``overwrite``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from qslm_neuro.errors import BadInputError


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` if the block succeeds.

    The temporary file's name carries the writer's process id; temporary files of ``path`` left
    by a process that no longer runs (killed mid-write) are removed before writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; give normal permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def staged_directory(target: Any, *, overwrite: bool = False) -> Iterator[Path]:
    """Write a folder through a staging folder beside it, renamed in when the block succeeds.

    A failure removes the staging folder (nothing is left). An existing non-empty ``target`` is
    refused unless ``overwrite``; it is then moved aside, replaced and only then deleted.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise BadInputError(f"{str(target)!r} is a file, not a folder; choose another path")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise BadInputError(f"{str(target)!r} exists and is not empty; choose a new folder, or "
                            "pass --overwrite (Python: overwrite=True) to replace it")
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.staging."))
    done = False
    try:
        yield staging
        os.chmod(staging, 0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
            os.replace(target, old / "replaced")
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
        done = True
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        for folder in made if not done else ():  # parents made for nothing: gone again
            try:
                folder.rmdir()
            except OSError:
                break


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete ``.<name>.<pid>.*.tmp`` siblings of ``path`` whose writing process is gone."""
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        pid_text = candidate.name[len(path.name) + 2:].split(".", 1)[0]
        if pid_text.isdigit() and _process_alive(int(pid_text)):
            continue  # another live writer's file (or our own): leave it
        try:
            candidate.unlink()
            removed.append(candidate)
        except FileNotFoundError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (numpy/torch scalars and arrays allowed)."""
    return write_text_atomic(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
