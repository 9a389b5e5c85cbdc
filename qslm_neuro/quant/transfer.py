"""Carry a quantization plan from one SLM to a deeper or wider one of the same family.

A plan found on the shipped 4-block model says, per module role (``att.key``, ``ffn.value``,
``emb``, ``head``) and depth, which precision the search could afford. Applied to SpikeGPT-216M
(18 blocks) each module takes the precision of the module with the same role at the nearest
relative depth. This is a transfer of *structure*, not a search result for the large model: its
accuracy is not measured (no weights), only its memory and hardware cost.
"""
from __future__ import annotations

import re

from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant.hierarchy import Hierarchy
from qslm_neuro.quant.plan import QuantPlan

_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")


def transfer_plan(plan: QuantPlan, source: nn.Module, target: nn.Module) -> QuantPlan:
    """The plan for ``target`` that gives each module its role's precision at the same depth."""
    source_modules = Hierarchy.from_module(source).module_paths
    by_role: dict[str, list[tuple[int, str]]] = {}
    for path in source_modules:
        match = _BLOCK.match(path)
        if match:
            by_role.setdefault(match.group(2), []).append((int(match.group(1)), path))
    source_depth = 1 + max((i for entries in by_role.values() for i, _ in entries), default=0)
    target_depth = target.config.n_layers if hasattr(target, "config") else None
    entries = {}
    for path in Hierarchy.from_module(target).module_paths:
        match = _BLOCK.match(path)
        if match:
            role = match.group(2)
            if role not in by_role:
                raise BadInputError(f"the source model has no module with role {role!r} "
                                    f"(needed for {path!r})")
            depth = int(match.group(1)) / max((target_depth or 1) - 1, 1) * (source_depth - 1)
            _, source_path = min(by_role[role], key=lambda entry: abs(entry[0] - depth))
        elif path in source_modules:
            source_path = path
        else:
            raise BadInputError(f"no module {path!r} in the source model to take a precision from")
        entries[path] = plan.precision_of(source_path)
    return QuantPlan(entries, default=plan.default)
