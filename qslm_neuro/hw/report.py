"""CostReport: what one hardware estimate says, per token and per layer, plus why (flags)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qslm_neuro.hw.families.neuromorphic import PARTS

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class CostReport:
    """Cost of running one workload on one hardware model.

    Energies in joules per token, ``parts`` adds up to ``energy_per_token_j``. ``power_w`` is at
    ``tokens_per_s`` (the requested rate, or the fastest the chip sustains when none was given).
    ``flags`` says in words what the mapping had to do (split weights, extra chips, DRAM) and why
    an estimate is infeasible. ``layers`` is the per-layer table.
    """

    workload: str
    hardware: str
    family: str
    energy_per_token_j: float
    parts: dict[str, float]
    latency_per_token_s: float
    power_w: float
    tokens_per_s: float
    max_tokens_per_s: float
    synaptic_memory_bytes: float
    cores: int
    chips: int
    feasible: bool
    flags: list[str]
    params: dict[str, float]
    assumed_params: list[str]
    layers: "pd.DataFrame" = field(repr=False)
    details: dict[str, float] = field(default_factory=dict)
    #: Where the workload's spike counts came from (``Workload.activity_source``: ``snntorch``,
    #: ``lava``, ``profile:<file>``, ``borrowed:<model>``, ``assumed``) and a sentence on how.
    activity_source: str = "assumed"
    activity_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the layer table as a list of records)."""
        return {
            "workload": self.workload, "hardware": self.hardware, "family": self.family,
            "energy_per_token_j": self.energy_per_token_j, "parts": dict(self.parts),
            "latency_per_token_s": self.latency_per_token_s, "power_w": self.power_w,
            "tokens_per_s": self.tokens_per_s, "max_tokens_per_s": self.max_tokens_per_s,
            "synaptic_memory_bytes": self.synaptic_memory_bytes, "cores": self.cores,
            "chips": self.chips, "feasible": self.feasible, "flags": list(self.flags),
            "params": dict(self.params), "assumed_params": list(self.assumed_params),
            "details": dict(self.details),
            "activity_source": self.activity_source, "activity_note": self.activity_note,
            "layers": self.layers.to_dict(orient="records"),
        }

    def summary(self) -> str:
        """A few lines a person can read."""
        lines = [
            f"{self.workload} on {self.hardware} ({self.family}): "
            f"{'feasible' if self.feasible else 'NOT feasible'}",
            f"  energy/token {self.energy_per_token_j * 1e6:.3f} uJ, latency/token "
            f"{self.latency_per_token_s * 1e6:.2f} us, power {self.power_w * 1e3:.2f} mW at "
            f"{self.tokens_per_s:.4g} tokens/s (max {self.max_tokens_per_s:.4g})",
            f"  synaptic memory {self.synaptic_memory_bytes / 1024:.1f} KiB, cores {self.cores}, "
            f"chips {self.chips}",
            "  parts: " + ", ".join(
                f"{name} {self.parts[name] / self.energy_per_token_j:.1%}" for name in PARTS
                if self.energy_per_token_j > 0 and not math.isnan(self.parts[name])),
        ]
        lines += [f"  - {flag}" for flag in self.flags]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
