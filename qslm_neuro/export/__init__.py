"""What a chosen plan becomes for deployment: packed integer checkpoints and quantized NIR.

* :mod:`~.packed` - :func:`export_packed`: safetensors with integer levels packed at the plan's
  width, their scales and a sha256 manifest; ``load_checkpoint`` reads it back;
* :mod:`~.nir_out` - :func:`export_nir`: the spiking parts of a quantized model as a NIR graph
  with ``weight_bits`` / ``scale`` / ``weight_exp`` metadata.

Public names are imported lazily (this package does not load torch on import).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"export_packed": "qslm_neuro.export.packed",
            "load_packed_state": "qslm_neuro.export.packed",
            "export_nir": "qslm_neuro.export.nir_out"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qslm_neuro.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
