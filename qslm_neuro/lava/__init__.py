"""Lava integration: map quantized candidates onto Lava processes and co-simulate.

Importing this package needs lava-nc (installed by ``make test``/``make demo``). The rest of
qslm-neuro never imports it unless a Lava feature is used.
"""
from __future__ import annotations

from qslm_neuro.errors import MissingDependencyError
from qslm_neuro.lava import compat as _compat

_compat.install()

try:  # lava-nc is optional for the rest of the package
    import lava.magma.compiler.var_model  # noqa: F401  (the module the compat fix patches)
except ImportError as exc:  # pragma: no cover - exercised only without lava-nc
    raise MissingDependencyError(
        "qslm_neuro.lava needs lava-nc 0.10.0, which is not installed "
        f"({exc}). Install it with: pip install --no-deps --ignore-requires-python "
        "lava-nc==0.10.0 'asteval<0.10' 'networkx<=2.8.7' scikit-learn scipy "
        "(or run `make test`, which bootstraps everything)."
    ) from exc
