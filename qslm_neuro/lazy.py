"""Public names a package imports only when first used, so importing it stays cheap (no torch,
matplotlib or Lava until a name that needs them is touched)."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, MutableMapping


def lazy_exports(package: str, exports: Mapping[str, str], namespace: MutableMapping[str, Any],
                 extra: tuple[str, ...] = ()) -> tuple[Callable[[str], Any],
                                                       Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps a public name to the module
    that defines it; a name is imported on first access and then kept in ``namespace``."""
    names = sorted(exports) + list(extra)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
