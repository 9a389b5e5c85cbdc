"""A deployable checkpoint: integer weights packed at the plan's width, with their scales.

What the search returns is a plan plus fake-quantized float weights; a chip or an MCU needs the
integers. :func:`export_packed` writes a checkpoint directory like
:func:`~qslm_neuro.models.checkpoint.save_checkpoint`'s (same file names, so the sha256 manifest
check is the same), whose ``model.safetensors`` holds:

* ``<weight>.q`` - uint8, the weight's integer levels (two's complement, ``bits`` wide) packed
  densely little-endian bit first: ``ceil(count * bits / 8)`` bytes, exactly what
  :func:`qslm_neuro.quant.footprint` counts;
* ``<weight>.scale`` - float32 scales (one per output channel, or one per tensor);
* fp16 / bf16 weights in that dtype, everything else (biases, LayerNorms, decays) as fp32.

The safetensors metadata ``qslm_packed`` (JSON) gives each packed weight's shape, bits and
channel axis, and which weights are tied. Loading (:func:`load_packed`, used by
``load_checkpoint`` / ``qslm eval --model``) computes ``levels * scale`` in float64 and rounds
to float32: the same arithmetic as :func:`~qslm_neuro.quant.fake_quantize`, so outputs equal the
fake-quantized model's exactly.
"""
from __future__ import annotations

import json
import os
from typing import Any

import torch

from qslm_neuro.models.packed import (PACKED_FORMAT, load_packed_state, pack_levels,
                                      unpack_levels)

__all__ = ["export_packed", "pack_levels", "unpack_levels", "load_packed_state",
           "PACKED_FORMAT"]


def export_packed(loaded: Any, plan: Any, out_dir: str | os.PathLike[str], *,
                  overwrite: bool = False) -> dict[str, Any]:
    """Write ``loaded`` (a LoadedModel) under ``plan`` as a packed checkpoint; return a summary
    with the weight bytes on disk next to the plan's footprint.

    ``out_dir`` is written through a staging folder beside it (nothing is left if writing fails);
    an existing non-empty folder is replaced only with ``overwrite=True``, and never when it is,
    holds or lies inside the source checkpoint."""
    from safetensors.torch import save_file

    from qslm_neuro.fileio import staged_directory, write_json_atomic
    from qslm_neuro.models.checkpoint import (CONFIG, TOKENIZER, TRAINING, WEIGHTS,
                                              _is_neuron_constant, write_manifest)
    from qslm_neuro.quant import Hierarchy, footprint, quantize
    from qslm_neuro.validate import check_output_dir

    check_output_dir(out_dir, "out_dir", overwrite=overwrite,
                     sources=(getattr(loaded, "path", None),))
    model = loaded.model
    hierarchy = Hierarchy.from_module(model)
    plan.validate(hierarchy)
    infos = {info.weight_name: info for info in hierarchy.modules}
    tensors: dict[str, torch.Tensor] = {}
    packed_meta: dict[str, Any] = {}
    tied: dict[str, str] = {}
    weight_bytes = 0
    for name, tensor in model.state_dict().items():
        if _is_neuron_constant(name):
            continue
        info = infos.get(name)
        if info is None:
            tensors[name] = tensor.detach().to("cpu", torch.float32).contiguous()
            continue
        if info.tied_to is not None:
            tied[name] = hierarchy.module(info.tied_to).weight_name
            continue
        precision = plan.precision_of(info.path)
        w = tensor.detach().cpu()
        if precision.is_integer:
            q = quantize(w, precision, channel_axis=info.channel_axis, name=name)
            tensors[f"{name}.q"] = pack_levels(q.values, precision.bits)
            tensors[f"{name}.scale"] = q.scales.to(torch.float32).reshape(-1).contiguous()
            packed_meta[name] = {"bits": precision.bits, "shape": list(w.shape),
                                 "channel_axis": info.channel_axis,
                                 "per_tensor": q.scales.ndim == 0, "precision": precision.name}
            weight_bytes += tensors[f"{name}.q"].numel() + 4 * tensors[f"{name}.scale"].numel()
        else:
            dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision.kind,
                                                                        torch.float32)
            tensors[name] = w.to(dtype).contiguous()
            weight_bytes += tensors[name].numel() * tensors[name].element_size()
    fp = footprint(hierarchy, plan)
    summary = {"weight_bytes_on_disk": weight_bytes, "footprint_weight_bytes": fp.weight_bytes,
               "footprint_total_bytes": fp.total_bytes,
               "weight_bytes_ratio": weight_bytes / fp.weight_bytes if fp.weight_bytes else 1.0,
               "plan_key": plan.key, "source_checkpoint": str(loaded.path)}
    with staged_directory(out_dir, overwrite=overwrite) as staging:
        save_file(tensors, str(staging / WEIGHTS), metadata={
            "format": PACKED_FORMAT, "qslm_packed": json.dumps(packed_meta, sort_keys=True),
            "qslm_tied": json.dumps(tied, sort_keys=True)})
        (staging / CONFIG).write_text(loaded.config.to_json() + "\n")
        loaded.tokenizer.save(staging)
        plan.save(staging / "plan.json")
        files = [WEIGHTS, CONFIG, TOKENIZER, "plan.json"]
        if loaded.training:
            write_json_atomic(staging / TRAINING, loaded.training)
            files.append(TRAINING)
        summary["safetensors_file_bytes"] = (staging / WEIGHTS).stat().st_size
        write_manifest(staging, files, {"format": PACKED_FORMAT, "summary": summary})
    return summary
