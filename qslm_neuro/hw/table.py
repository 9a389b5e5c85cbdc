"""The per-layer table of a :class:`~qslm_neuro.hw.report.CostReport`: one row per place work
happens (each synaptic layer, each spike-input and population core group, the non-synaptic
processors and the chip itself), so that every energy column sums to the report's part."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.families.base import Family
from qslm_neuro.hw.families.common import PARTS, StepCosts, TokenCosts

if TYPE_CHECKING:
    import pandas as pd

_INT_COLUMNS = ("cores", "synapses_per_weight", "fan_in_split", "fan_out_split",
                "bits_per_synapse")


def layer_table(wa: WorkloadArrays, step: StepCosts, tok: TokenCosts,
                params: dict[str, float], family: Family) -> "pd.DataFrame":
    """Rows for layers then the other rows; energy in J per token, time in s, static included
    (each row's share by the family's static-power rule)."""
    import pandas as pd

    steps = wa.time_steps_per_token
    rate = float(tok.tokens_per_s)
    n = wa.layer_count
    table: dict[str, Any] = {
        "name": list(wa.layer_names), "kind": list(wa.layer_kinds),
        "fan_in": wa.fan_in.astype(int), "fan_out": wa.fan_out.astype(int),
        "weight_bits": wa.weight_bits.astype(int), "weight_format": list(wa.weight_formats),
        "zero_fraction": 1.0 - wa.density, "input_events_per_step": wa.input_events,
        "binary_share": wa.binary_share,
    }
    for key, values in step.layers.items():
        values = np.broadcast_to(np.asarray(values), wa.fan_in.shape)
        table[key] = values
    frame = pd.DataFrame(table)
    extra = [{"name": name, **{k: (v if isinstance(v, str) else float(np.asarray(v)))
                               for k, v in row.items()}}
             for name, row in step.rows.items()]
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    for part in PARTS[:-1]:
        column = f"{part}_pj"
        frame[column] = frame[column].astype(float).fillna(0.0) if column in frame else 0.0
    cores = frame["cores"].astype(float).fillna(0.0) if "cores" in frame else pd.Series(0.0, frame.index)
    static_w = family.static_mw(params, step, frame["kind"], cores) * 1e-3
    out = frame.drop(columns=[c for c in frame if c.endswith("_pj") or c.endswith("_ns")])
    for part in PARTS[:-1]:
        out[f"{part}_j_per_token"] = frame[f"{part}_pj"] * steps * 1e-12
    out["static_j_per_token"] = static_w / rate
    out["energy_j_per_token"] = out[[f"{p}_j_per_token" for p in PARTS]].sum(axis=1)
    for column in [c for c in frame if c.endswith("_ns")]:
        out[column[:-3] + "_s"] = frame[column].astype(float) * 1e-9
    for column in _INT_COLUMNS:
        if column in out:
            out[column] = out[column].fillna(0).astype(int)
    out.loc[n:, "synapse_format"] = out.loc[n:, "synapse_format"].fillna("") \
        if "synapse_format" in out else ""
    return out
