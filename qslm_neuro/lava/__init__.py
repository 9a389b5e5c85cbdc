"""Lava integration: map quantized candidates onto Lava processes and co-simulate.

Importing this package needs lava-nc (installed by ``make test``/``make demo``). The rest of
qslm-neuro never imports it unless a Lava feature is used.

Public names (imported lazily): :func:`map_candidate`, :func:`map_linear` (mapping),
:func:`cosimulate` and :class:`CosimReport` (co-simulation), :func:`record_traces` and
:func:`task_token_stream` (recorded spike trains, real tokens), :func:`lava_workload`,
:func:`estimate_by_activity`, :func:`side_by_side` and :func:`energy_difference` (cost models),
:func:`loihi_weights` (weight format), :func:`closed_loop` (the whole SLM in Lava vs the
bit-exact twin).
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

from qslm_neuro.lava.start_method import import_lava_runtime  # noqa: E402

import_lava_runtime()  # Lava sets the 'fork' start method on import; tolerate it being set

from qslm_neuro.lazy import lazy_exports  # noqa: E402

_EXPORTS = {
    "map_candidate": "qslm_neuro.lava.mapping",
    "map_linear": "qslm_neuro.lava.mapping",
    "LavaMapping": "qslm_neuro.lava.mapping",
    "NeuronSpec": "qslm_neuro.lava.mapping",
    "cosimulate": "qslm_neuro.lava.cosim",
    "compare": "qslm_neuro.lava.cosim",
    "CosimReport": "qslm_neuro.lava.cosim",
    "run_mapping": "qslm_neuro.lava.network",
    "record_traces": "qslm_neuro.lava.traces",
    "sst2_token_stream": "qslm_neuro.lava.traces",
    "task_token_stream": "qslm_neuro.lava.traces",
    "SnnTraces": "qslm_neuro.lava.traces",
    "LayerTrace": "qslm_neuro.lava.traces",
    "loihi_weights": "qslm_neuro.lava.weights",
    "LoihiWeights": "qslm_neuro.lava.weights",
    "lava_workload": "qslm_neuro.lava.workload",
    "snntorch_workload": "qslm_neuro.lava.workload",
    "estimate_by_activity": "qslm_neuro.lava.workload",
    "energy_difference": "qslm_neuro.lava.workload",
    "side_by_side": "qslm_neuro.lava.workload",
    "closed_loop": "qslm_neuro.lava.closed_loop",
    "ClosedLoopReport": "qslm_neuro.lava.closed_loop",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
