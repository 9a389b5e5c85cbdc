"""The chips a search costs candidates on: one parser for every way of naming them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from qslm_neuro.errors import BadInputError


def chip_label(hw: Any) -> str:
    """A short name for a chip: its name, or a TOML path's stem."""
    name = str(getattr(hw, "name", hw))
    return Path(name).stem if name.endswith(".toml") else name


def parse_chips(hw: Any) -> list[Any]:
    """The chips named by ``hw``: one name, path or model; a comma-separated string
    (``"loihi2,embedded-soc"``); or a list of those (``["loihi2", "loihi,my.toml"]``, as a
    repeated ``--hw`` gives it). ``None`` or ``"none"`` alone: ``[None]`` (no hardware)."""
    if hw is None:
        return [None]
    raw = list(hw) if isinstance(hw, (list, tuple)) else [hw]
    if not raw:
        raise BadInputError("hw=[] names no chip; give at least one, e.g. ['loihi2']")
    items: list[Any] = []
    for item in raw:
        if isinstance(item, str):
            parts = [part.strip() for part in item.split(",")]
            if not any(parts) or (len(parts) > 1 and not all(parts)):
                raise BadInputError(f"hw={hw!r} has an empty chip name; use e.g. 'loihi2' or "
                                    "'loihi2,embedded-soc' (or None for no hardware)")
            items += parts
        else:
            items.append(item)
    names = [item.lower() if isinstance(item, str) else item for item in items]
    if "none" in names or None in names:
        if len(items) > 1:
            raise BadInputError(f"hw={hw!r}: 'none' cannot be listed beside chips")
        return [None]
    labels = [chip_label(item) for item in items]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise BadInputError(f"hw={hw!r} lists {duplicates} more than once; name each chip once")
    from qslm_neuro.hw import load_hardware

    for item in items:  # fail before any evaluation: a bad name is bad input, for any model
        load_hardware(item)
    return items
