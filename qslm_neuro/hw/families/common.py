"""What every family's cost function returns, and how a time step becomes a token.

Energy parts (the same names for every family):

``synaptic_ops``    synaptic events (accumulates / multiply-accumulates) minus their memory read
``memory_reads``    reading weights (the stored bits of each synapse) and state
``neuron_updates``  compartment / LIF state updates
``spike_messages``  generating spikes and sending/receiving spike messages
``noc_hops``        moving messages across the mesh and between chips
``nonsynaptic``     LayerNorm, WKV, gates, ... and moving graded values to where they are used
``static``          static power x time per token (added by :func:`per_token`)

Time: a step's *period* (what sets the sustained token rate) is the sum of named components
(``time_parts_ns``); the components that run in parallel (``parallel``) enter as their maximum.
A token's *latency*: on a layer-pipelined chip a token crosses one pipeline stage per step, so
latency = (``pipeline_depth`` + steps per token - 1) x period (no pipeline: depth 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DYNAMIC_PARTS = ("synaptic_ops", "memory_reads", "neuron_updates", "spike_messages", "noc_hops",
                 "nonsynaptic")
PARTS = DYNAMIC_PARTS + ("static",)

#: A cross-field rule of a chip file: (where it fails, the keys involved, how to fix it).
Rule = tuple[Any, tuple[str, ...], str]


@dataclass
class StepCosts:
    """Costs of one time step (arrays over the grid, or scalars)."""

    energy_pj: dict[str, np.ndarray]
    time_ns: np.ndarray
    static_mw: np.ndarray
    cores: np.ndarray
    chips: np.ndarray
    synaptic_memory_bytes: np.ndarray
    feasible: np.ndarray
    time_parts_ns: dict[str, np.ndarray] = field(default_factory=dict)  # named period parts
    parallel: tuple[str, ...] = ()       # parts that overlap (the period takes their max)
    pipeline_depth: int = 1              # stages a token crosses, one per step (1: none)
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # only when per_layer=True
    rows: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # non-layer table rows
    extra: dict[str, np.ndarray] = field(default_factory=dict)   # family-specific scalars


@dataclass
class TokenCosts:
    """Per-token figures derived from :class:`StepCosts` and the token rate."""

    energy_per_token_j: np.ndarray
    parts_j: dict[str, np.ndarray]
    latency_per_token_s: np.ndarray
    step_s: np.ndarray
    max_tokens_per_s: np.ndarray
    tokens_per_s: np.ndarray
    power_w: np.ndarray
    rate_ok: np.ndarray


def per_token(step: StepCosts, time_steps_per_token: int,
              tokens_per_s: float | None) -> TokenCosts:
    """Scale a time step to a token; add static energy at the given (or fastest) token rate."""
    parts = {name: np.asarray(step.energy_pj[name]) * time_steps_per_token * 1e-12
             for name in DYNAMIC_PARTS}
    step_s = np.asarray(step.time_ns) * 1e-9
    max_rate = 1.0 / (step_s * time_steps_per_token)
    rate = max_rate if tokens_per_s is None else np.full_like(max_rate, float(tokens_per_s))
    static_w = np.asarray(step.static_mw) * 1e-3
    parts["static"] = static_w / rate
    total = sum(parts.values())
    return TokenCosts(energy_per_token_j=total, parts_j=parts,
                      latency_per_token_s=step_s * float(step.pipeline_depth
                                                         + time_steps_per_token - 1),
                      step_s=step_s,
                      max_tokens_per_s=max_rate, tokens_per_s=rate, power_w=total * rate,
                      rate_ok=rate <= max_rate * (1.0 + 1e-9))


def bound_index(step: StepCosts) -> tuple[list[str], np.ndarray]:
    """Names of the period's parts and, per grid point, the index of the one that dominates.

    The parallel parts count with their maximum (only the slowest of them is on the path).
    """
    names = list(step.time_parts_ns)
    shape = np.shape(step.time_ns)
    stacked = np.stack([np.broadcast_to(np.asarray(step.time_parts_ns[n], dtype=float), shape)
                        for n in names])
    if step.parallel:
        idx = [names.index(n) for n in step.parallel]
        slowest = stacked[idx].max(0)
        for i in idx:
            stacked[i] = np.where(stacked[i] >= slowest, stacked[i], 0.0)
    return names, np.argmax(stacked, axis=0)


def max_last(values: np.ndarray) -> np.ndarray:
    """Max over the trailing axis; 0 for an empty axis."""
    values = np.asarray(values)
    return values.max(-1) if values.shape[-1] else np.zeros(values.shape[:-1])


def name_list(names: list[str], shown: int = 4) -> str:
    """'a, b, c, d and 26 more (30 layers)' - short enough for a flag line."""
    head = ", ".join(names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{head}{more} ({len(names)} layer{'s' if len(names) != 1 else ''})"
