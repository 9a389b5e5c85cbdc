"""Make lava-nc 0.10.0 importable on Python 3.11 without editing site-packages.

lava-nc 0.10.0 declares Python < 3.11. On 3.11 exactly one thing breaks: in
``lava/magma/compiler/var_model.py`` the dataclass ``ByteEncoder`` (eq=True, so ``__hash__`` is
None) is used as a field default of ``CoreEncoder``, ``ChipEncoder`` and ``AxonEncoder``.
Python 3.11 rejects unhashable instances as defaults ("mutable default ... use default_factory"),
while 3.10 only rejected list/dict/set. We restore the 3.10 behaviour for that one class by
compiling the module with ``@dataclass(unsafe_hash=True)`` on ``ByteEncoder``: the shared default
instance is what Lava always had on 3.10, and nothing in Lava hashes or mutates it.

The patch is applied by an import hook (a meta-path finder), only to that module, only when its
source still contains the exact pattern, and it never writes bytecode caches.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

PATCHED_MODULE = "lava.magma.compiler.var_model"
_ORIGINAL = "@dataclass\nclass ByteEncoder:"
_REPLACEMENT = "@dataclass(unsafe_hash=True)\nclass ByteEncoder:"


def patch_source(source: str) -> str:
    """Return ``source`` with ``ByteEncoder`` made hashable (unchanged if the pattern is absent)."""
    return source.replace(_ORIGINAL, _REPLACEMENT, 1)


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    """Loads var_model.py from source with the ByteEncoder fix; bypasses the .pyc cache."""

    def get_code(self, fullname: str):  # type: ignore[override]
        source = self.get_data(self.path).decode("utf-8")
        return compile(patch_source(source), self.path, "exec", dont_inherit=True)


class _VarModelFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[override]
        if fullname != PATCHED_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        spec.loader = _PatchingLoader(spec.loader.name, spec.loader.path)
        return spec


def needs_patch() -> bool:
    """True on interpreters where the unpatched module fails (Python >= 3.11)."""
    return sys.version_info >= (3, 11)


def install() -> bool:
    """Install the import hook once (idempotent). Returns True if the hook is active.

    Must run before anything imports Lava's compiler; if the module was already imported
    successfully (e.g. on Python 3.10) nothing is needed.
    """
    if not needs_patch():
        return False
    if any(isinstance(f, _VarModelFinder) for f in sys.meta_path):
        return True
    loaded: ModuleType | None = sys.modules.get(PATCHED_MODULE)
    if loaded is not None:
        return True
    sys.meta_path.insert(0, _VarModelFinder())
    return True
