"""Layers matched by role and relative depth, between two SLMs of one family.

A path ``blocks.<i>.<role>`` names block ``i``'s module of that role (``att.key``,
``ffn.value``); paths outside the blocks (``emb``, ``head``) match by name. A deeper or wider
model takes, for each of its modules, what the source model has for the same role at the nearest
relative depth. Used to carry a quantization plan (:mod:`qslm_neuro.quant.transfer`) and to
borrow firing rates (:mod:`qslm_neuro.measure.from_config`).
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping, TypeVar

from qslm_neuro.errors import BadInputError

T = TypeVar("T")

_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")


def block_role(path: str) -> tuple[int, str] | None:
    """``"blocks.3.att.key"`` -> ``(3, "att.key")``; None for paths outside the blocks."""
    match = _BLOCK.match(path)
    return (int(match.group(1)), match.group(2)) if match else None


def block_depth(paths: Iterable[str]) -> int:
    """Number of blocks the paths reach (1 + the deepest block index; 0 without blocks)."""
    return 1 + max((parsed[0] for parsed in map(block_role, paths) if parsed), default=-1)


def match_by_role(source: Mapping[str, T], target_paths: Iterable[str],
                  target_depth: int | None = None, source_name: str = "the source model",
                  what: str = "module") -> dict[str, T]:
    """For each target path, the ``source`` value of the same role at the nearest relative depth.

    ``target_depth`` defaults to the blocks the target paths reach. Ties go to the shallower
    source block. Raises :class:`BadInputError` when the source has no value for a role or name.
    """
    targets = list(target_paths)
    by_role: dict[str, list[tuple[int, T]]] = {}
    for path, value in source.items():
        parsed = block_role(path)
        if parsed:
            by_role.setdefault(parsed[1], []).append((parsed[0], value))
    source_depth = 1 + max((i for entries in by_role.values() for i, _ in entries), default=0)
    depth_of_target = block_depth(targets) if target_depth is None else target_depth
    matched: dict[str, T] = {}
    for path in targets:
        parsed = block_role(path)
        if parsed:
            index, role = parsed
            candidates = by_role.get(role)
            if not candidates:
                raise BadInputError(f"{source_name} has no {what} with role {role!r} "
                                    f"(needed for {path!r})")
            depth = index / max(depth_of_target - 1, 1) * max(source_depth - 1, 0)
            matched[path] = min(candidates, key=lambda entry: abs(entry[0] - depth))[1]
        elif path in source:
            matched[path] = source[path]
        else:
            raise BadInputError(f"{source_name} has no {what} {path!r} to take it from")
    return matched
