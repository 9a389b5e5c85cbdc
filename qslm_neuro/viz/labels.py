"""Words and units for the columns that plots put on axes (instead of raw key names).

Each entry maps a column of a sweep or cost table to ``(label with unit, factor)``: the plot
multiplies the column by ``factor`` so that the axis reads in the unit of its label (bytes in
KiB, joules in µJ, watts in mW).
"""
from __future__ import annotations

COLUMN_LABELS: dict[str, tuple[str, float]] = {
    "syn_mem_per_core_bytes": ("synaptic memory per core (KiB)", 1 / 1024),
    "e_syn_op_pj": ("energy per synaptic operation (pJ)", 1.0),
    "p_static_core_mw": ("static power per powered core (mW)", 1.0),
    "p_static_chip_mw": ("static power per chip (mW)", 1.0),
    "cores_per_chip": ("cores per chip (count)", 1.0),
    "neurons_per_core": ("neurons per core (count)", 1.0),
    "t_syn_op_ns": ("time per synaptic operation (ns)", 1.0),
    "max_chips": ("chips allowed (count)", 1.0),
    "energy_per_token_j": ("energy per token (µJ)", 1e6),
    "energy_static_j": ("static energy per token (µJ)", 1e6),
    "energy_per_step_j": ("energy per time step (µJ)", 1e6),
    "power_w": ("power (mW)", 1e3),
    "latency_s": ("latency per token (ms)", 1e3),
    "chips": ("chips needed (count)", 1.0),
    "cores": ("cores used (count)", 1.0),
    "max_tokens_per_s": ("tokens per second (1/s)", 1.0),
}


def column_label(column: str) -> tuple[str, float]:
    """``(label, factor)`` for ``column``; unknown columns get a unit guessed from the suffix."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    words = column.replace("_", " ")
    for suffix, unit, factor in (("_j", "µJ", 1e6), ("_bytes", "KiB", 1 / 1024),
                                 ("_pj", "pJ", 1.0), ("_mw", "mW", 1.0), ("_ns", "ns", 1.0),
                                 ("_s", "s", 1.0), ("_w", "mW", 1e3)):
        if column.endswith(suffix):
            return f"{column[: -len(suffix)].replace('_', ' ')} ({unit})", factor
    return words, 1.0
