"""Carry a quantization plan from one SLM to a deeper or wider one of the same family.

A plan found on the shipped 4-block model says, per module role (``att.key``, ``ffn.value``,
``emb``, ``head``) and depth, which precision the search could afford. Applied to SpikeGPT-216M
(18 blocks) each module takes the precision of the module with the same role at the nearest
relative depth. This is a transfer of *structure*, not a search result for the large model: its
accuracy is not measured (no weights), only its memory and hardware cost.
"""
from __future__ import annotations

from torch import nn

from qslm_neuro.models.roles import match_by_role
from qslm_neuro.quant.hierarchy import Hierarchy
from qslm_neuro.quant.plan import QuantPlan


def transfer_plan(plan: QuantPlan, source: nn.Module, target: nn.Module) -> QuantPlan:
    """The plan for ``target`` that gives each module its role's precision at the same depth."""
    source_modules = {path: path for path in Hierarchy.from_module(source).module_paths}
    matched = match_by_role(source_modules, Hierarchy.from_module(target).module_paths)
    return QuantPlan({path: plan.precision_of(source_path)
                      for path, source_path in matched.items()}, default=plan.default)
