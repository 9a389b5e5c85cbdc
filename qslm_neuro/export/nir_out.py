"""The spiking parts of a quantized model as a NIR graph, weights at the plan's precision.

* Any snnTorch model (Linear / Conv2d / Flatten / AvgPool2d with ``Leaky`` / ``Synaptic``):
  :func:`export_nir` quantizes a copy under the plan and writes all of it with snnTorch's
  ``export_to_nir``.
* The project's SLM: :func:`export_slm_nir` writes its spike-driven fragments, one per LIF
  population that drives weight layers: ``<pop>.input -> <pop> (LIF) -> <layer> (Linear) ->
  <layer>.output``. LayerNorm, token shift, the WKV recurrence, sigmoid gates, squared ReLU,
  the embedding and the head have no NIR node; they are listed in the graph's metadata
  (``not_expressible``) and returned for printing.

Every weight node carries metadata ``weight_bits``, ``precision``, ``scale`` (the fp32 scales:
weight = integer level x scale) and, when it maps onto Loihi's 8-bit synapses (needs lava-nc),
``weight_exp``. Weights are stored as the dequantized values (``level x scale``), which is what
NIR readers expect; the integers are ``round(weight / scale)``.

LIF parameters follow snnTorch's export (dt = 1e-4 s): ``tau = dt / (1 - beta)``, ``r = tau /
dt`` (unit input gain), ``v_reset = 0``, ``v_leak = 0``. The project's neurons reset to zero
after a spike, which NIR's LIF expresses exactly.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from qslm_neuro.errors import BadInputError

DT_S = 1e-4
SLM_NOT_EXPRESSIBLE = ("emb (token lookup)", "LayerNorm (ln0, ln1, ln2, ln_out)",
                       "token shift / time mix", "WKV recurrence", "sigmoid gates (receptance)",
                       "squared ReLU", "residual adds", "head (float features)", "pooling")


def weight_metadata(weight: torch.Tensor, precision: Any, channel_axis: int = 0
                    ) -> dict[str, Any]:
    """``weight_bits``, ``precision``, ``scale`` and (Loihi, where it maps) ``weight_exp``."""
    from qslm_neuro.quant import quantize

    if not precision.is_integer:
        return {"weight_bits": int(precision.bits), "precision": precision.name}
    q = quantize(weight, precision, channel_axis=channel_axis)
    meta: dict[str, Any] = {"weight_bits": int(precision.bits), "precision": precision.name,
                            "scale": np.atleast_1d(q.scales.numpy()).astype(np.float32)}
    if precision.bits <= 8 and weight.dim() == 2:
        try:
            from qslm_neuro.lava.weights import loihi_weights

            meta["weight_exp"] = int(loihi_weights(weight, precision).weight_exp)
        except Exception:  # lava-nc missing, or the layer does not map: no exponent then
            pass
    return meta


def export_nir(model: nn.Module, plan: Any, sample: torch.Tensor,
               out: str | os.PathLike[str] | None = None) -> tuple[Any, list[str]]:
    """NIR graph of a whole snnTorch ``model`` under ``plan``; ``sample`` is one input
    ``[1, *input_shape]``. Returns (graph, modules NIR could not express)."""
    from qslm_neuro.measure.from_nir import require_nir
    from qslm_neuro.quant import Hierarchy

    nir = require_nir()
    from snntorch.export_nir import export_to_nir

    hierarchy = Hierarchy.from_module(model)
    plan.validate(hierarchy)
    quantized = plan.quantized_copy(model)
    graph = export_to_nir(quantized, sample, ignore_dims=[0])
    infos = {info.path: info for info in hierarchy.modules}
    for name, node in graph.nodes.items():
        info = infos.get(name)
        if info is not None:
            weight = model.get_submodule(name).weight.detach()
            node.metadata.update(weight_metadata(weight, plan.precision_of(name),
                                                 info.channel_axis))
    leaves = [n for n, m in model.named_modules() if n and not list(m.children())]
    missing = [n for n in leaves if n not in graph.nodes
               and not any(n.startswith(g + ".") for g in graph.nodes)]
    graph.metadata.update(_graph_meta(plan, missing))
    if out is not None:
        _write(nir, graph, out)
    return graph, missing


def export_slm_nir(model: nn.Module, plan: Any, out: str | os.PathLike[str] | None = None
                   ) -> tuple[Any, list[str]]:
    """NIR graph of the SLM's spike-driven fragments (LIF -> Linear) under ``plan``."""
    from qslm_neuro.measure.from_nir import require_nir

    nir = require_nir()
    if not hasattr(model, "synapses"):
        raise BadInputError(f"export_slm_nir needs a qslm-neuro SpikingRWKV, got "
                            f"{type(model).__name__}; use export_nir for other models")
    plan.validate(model)
    pops = model.populations()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    with plan.applied(model):
        for synapse in model.synapses():
            if not synapse.source or synapse.source not in pops:
                continue
            pop = pops[synapse.source]
            if synapse.source not in nodes:
                size = pop.size
                tau = DT_S / (1.0 - pop.beta)
                nodes[f"{synapse.source}.input"] = nir.Input(input_type=np.array([size]))
                nodes[synapse.source] = nir.LIF(
                    tau=np.full(size, tau), r=np.full(size, tau / DT_S),
                    v_leak=np.zeros(size), v_threshold=np.full(size, float(pop.threshold)),
                    v_reset=np.zeros(size))
                edges.append((f"{synapse.source}.input", synapse.source))
            layer = model.get_submodule(synapse.layer)
            weight = layer.weight.detach().cpu().numpy().astype(np.float32)
            node = (nir.Affine(weight=weight, bias=layer.bias.detach().cpu().numpy())
                    if layer.bias is not None else nir.Linear(weight=weight))
            nodes[synapse.layer] = node
            nodes[f"{synapse.layer}.output"] = nir.Output(output_type=np.array([weight.shape[0]]))
            edges += [(synapse.source, synapse.layer), (synapse.layer, f"{synapse.layer}.output")]
    for synapse in model.synapses():  # metadata from the fp32 weights (levels and scales)
        if synapse.layer in nodes:
            weight = model.get_submodule(synapse.layer).weight.detach()
            nodes[synapse.layer].metadata.update(
                weight_metadata(weight, plan.precision_of(synapse.layer)))
    if not nodes:
        raise BadInputError("the model has no spike-driven layer (LIF -> Linear) to export")
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    graph.metadata.update(_graph_meta(plan, list(SLM_NOT_EXPRESSIBLE)))
    if out is not None:
        _write(nir, graph, out)
    return graph, list(SLM_NOT_EXPRESSIBLE)


def fragment(graph: Any, population: str) -> Any:
    """The sub-graph ``<pop>.input -> <pop> -> its layers -> outputs`` of an exported SLM graph
    (one Input: what ``snntorch.import_nir`` and the simulator take)."""
    import nir

    keep = {f"{population}.input", population}
    keep |= {d for s, d in graph.edges if s == population}
    keep |= {d for s, d in graph.edges if s in keep and d.endswith(".output")}
    return nir.NIRGraph(nodes={k: graph.nodes[k] for k in keep},
                        edges=[(s, d) for s, d in graph.edges if s in keep and d in keep])


def _graph_meta(plan: Any, missing: list[str]) -> dict[str, Any]:
    return {"producer": "qslm-neuro", "plan": json.dumps(plan.to_dict(), sort_keys=True),
            "plan_key": plan.key, "dt_s": DT_S, "not_expressible": json.dumps(missing)}


def _write(nir: Any, graph: Any, out: str | os.PathLike[str]) -> None:
    from qslm_neuro.fileio import atomic_path

    with atomic_path(out) as tmp:
        nir.write(str(tmp), graph)
