"""Post-training weight quantization: precisions, the quantizer, plans and their footprints.

* :class:`Precision` - ``fp32``, ``fp16``, ``bf16`` or ``intN`` (per tensor or per channel);
* :func:`quantize` / :func:`fake_quantize` - symmetric abs-max, round-to-nearest-even;
* :class:`QuantPlan` - module path -> precision; applying it to a model (restorable);
* :func:`footprint` - bytes a model occupies under a plan;
* :mod:`~.hierarchy` - the global ▸ block ▸ module tree of any ``nn.Module``;
* :mod:`~.transfer` - carrying a plan between model sizes by role and depth.

Import public names from this package; the modules behind it are an implementation detail.
"""
from __future__ import annotations

from qslm_neuro.quant.hierarchy import Hierarchy, as_hierarchy, format_bytes
from qslm_neuro.quant.plan import (BF16, FP16, FP32, QUANTIZER_ID, SCALE_BITS, Footprint,
                                   ModelOrHierarchy, Precision, PrecisionLike, QuantizedTensor,
                                   QuantPlan, TensorBytes, clear_quantization_cache,
                                   fake_quantize, footprint, load_plan, quantize)

__all__ = ["Precision", "PrecisionLike", "FP32", "FP16", "BF16", "SCALE_BITS", "QUANTIZER_ID",
           "QuantizedTensor", "quantize", "fake_quantize", "QuantPlan", "load_plan",
           "clear_quantization_cache", "TensorBytes", "Footprint", "footprint",
           "ModelOrHierarchy", "Hierarchy", "as_hierarchy", "format_bytes"]
