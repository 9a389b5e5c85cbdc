"""Post-training weight quantization: precisions, the quantizer, plans and their footprints.

* :mod:`~.precision` - :class:`Precision`: ``fp32``, ``fp16``, ``bf16`` or ``intN`` (per tensor
  or per channel), and parsing the names users write;
* :mod:`~.quantizer` - :func:`quantize` / :func:`fake_quantize`: symmetric abs-max,
  round-to-nearest-even;
* :mod:`~.plan` - :class:`QuantPlan` (module path -> precision) and the plan file format;
* :mod:`~.apply` - applying a plan to a model (restorable) and the quantized-weight cache;
* :mod:`~.footprint` - :func:`footprint`: bytes a model occupies under a plan;
* :mod:`~.hierarchy` - the global ▸ block ▸ module tree of any ``nn.Module``;
* :mod:`~.transfer` - carrying a plan between model sizes by role and depth;
* :mod:`~.zeros` - :func:`zero_fractions`: the share of weights a plan quantizes to zero.

Import public names from this package; the modules behind it are an implementation detail.
"""
from __future__ import annotations

from qslm_neuro.quant.apply import clear_quantization_cache
from qslm_neuro.quant.footprints import Footprint, TensorBytes, footprint
from qslm_neuro.quant.hierarchy import (GLOBAL, BlockInfo, Hierarchy, ModelOrHierarchy,
                                        ModuleInfo, TensorInfo, as_hierarchy, format_bytes)
from qslm_neuro.quant.plan import QuantPlan, load_plan
from qslm_neuro.quant.precision import (BF16, FP16, FP32, MAX_INT_BITS, MIN_INT_BITS, Precision,
                                        PrecisionLike)
from qslm_neuro.quant.quantizer import (QUANTIZER_ID, SCALE_BITS, QuantizedTensor,
                                        fake_quantize, quantize)
from qslm_neuro.quant.zeros import zero_fraction, zero_fractions

__all__ = ["Precision", "PrecisionLike", "FP32", "FP16", "BF16", "MIN_INT_BITS", "MAX_INT_BITS",
           "SCALE_BITS", "QUANTIZER_ID", "QuantizedTensor", "quantize", "fake_quantize",
           "QuantPlan", "load_plan", "clear_quantization_cache", "TensorBytes", "Footprint",
           "footprint", "ModelOrHierarchy", "Hierarchy", "ModuleInfo", "BlockInfo", "TensorInfo",
           "GLOBAL", "as_hierarchy", "format_bytes", "zero_fraction", "zero_fractions"]
