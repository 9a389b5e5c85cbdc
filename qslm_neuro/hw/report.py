"""CostReport: what one hardware estimate says, per token and per layer, plus why (flags)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

from qslm_neuro.hw.families.common import PARTS

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class CostReport:
    """Cost of running one workload on one hardware model.

    Energies in joules per token, ``parts`` adds up to ``energy_per_token_j``. ``power_w`` is at
    ``tokens_per_s`` (the requested rate, or the fastest the chip sustains when none was given).
    ``latency_per_token_s`` is the time one token takes to cross the network (pipeline depth x
    step on a layer-pipelined chip); ``max_tokens_per_s`` the sustained rate (one token per step
    while the pipeline is full); ``throughput_bound`` / ``latency_bound`` name what limits each
    (``time_parts_s`` holds the step's parts). For autoregressive generation of one sequence a
    token must leave before the next enters: ``generation_tokens_per_s`` = 1 / latency.
    ``flags`` says in words what the mapping had to do (split weights, formats, extra chips,
    DRAM) and why an estimate is infeasible. ``layers`` is the per-layer table: one row per
    layer, input, population, the non-synaptic processors and the chip; each
    ``<part>_j_per_token`` column sums to ``parts[part]``.
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
    #: builds :attr:`layers` on first use: most estimates (a search's, a sweep loop's) never
    #: read the per-layer table, and building it took most of an estimate's time
    layer_source: "Callable[[], pd.DataFrame]" = field(repr=False, compare=False)
    details: dict[str, float] = field(default_factory=dict)
    #: Where the workload's spike counts came from (``Workload.activity_source``: ``snntorch``,
    #: ``lava``, ``profile:<file>``, ``borrowed:<model>``, ``assumed``) and a sentence on how.
    activity_source: str = "assumed"
    activity_note: str = ""
    step_s: float = math.nan
    pipeline_depth: int = 1
    time_parts_s: dict[str, float] = field(default_factory=dict)
    throughput_bound: str = ""
    latency_bound: str = ""

    @cached_property
    def layers(self) -> "pd.DataFrame":
        """The per-layer table (see the class docstring), built on first use."""
        return self.layer_source()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (Dask, copies) with the table built: its source holds the chip family's
        functions, which pickle refuses."""
        state = dict(self.__dict__)
        state["layers"] = self.layers
        state["layer_source"] = None
        return state

    @property
    def layer_rows(self) -> "pd.DataFrame":
        """The rows of the table that are synaptic layers (no input, population, chip rows)."""
        from qslm_neuro.workload.types import LAYER_KINDS

        return self.layers[self.layers["kind"].isin(LAYER_KINDS)]

    @property
    def generation_tokens_per_s(self) -> float:
        """Token rate of autoregressive generation (one token in flight at a time)."""
        return 1.0 / self.latency_per_token_s

    def to_frame(self) -> "pd.DataFrame":
        """One row of headline figures (what a side-by-side comparison of chips shows)."""
        import pandas as pd

        row: dict[str, Any] = {
            "hardware": self.hardware, "family": self.family, "workload": self.workload,
            "energy_per_token_uj": self.energy_per_token_j * 1e6,
            **{f"{name}_uj": value * 1e6 for name, value in self.parts.items()},
            "latency_per_token_us": self.latency_per_token_s * 1e6,
            "latency_bound": self.latency_bound, "step_us": self.step_s * 1e6,
            "max_tokens_per_s": self.max_tokens_per_s, "throughput_bound": self.throughput_bound,
            "generation_tokens_per_s": self.generation_tokens_per_s,
            "power_mw": self.power_w * 1e3, "tokens_per_s": self.tokens_per_s,
            "synaptic_memory_mb": self.synaptic_memory_bytes / 1e6, "cores": self.cores,
            "chips": self.chips, "feasible": self.feasible,
            "assumed_params": len(self.assumed_params),
        }
        return pd.DataFrame([row])

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
            "details": dict(self.details), "step_s": self.step_s,
            "pipeline_depth": self.pipeline_depth, "time_parts_s": dict(self.time_parts_s),
            "throughput_bound": self.throughput_bound, "latency_bound": self.latency_bound,
            "generation_tokens_per_s": self.generation_tokens_per_s,
            "activity_source": self.activity_source, "activity_note": self.activity_note,
            "layers": self.layers.to_dict(orient="records"),
        }

    def summary(self) -> str:
        """A few lines a person can read."""
        lines = [
            f"{self.workload} on {self.hardware} ({self.family}): "
            f"{'feasible' if self.feasible else 'NOT feasible'}",
            f"  energy/token {self.energy_per_token_j * 1e6:.3f} uJ, power "
            f"{self.power_w * 1e3:.2f} mW at {self.tokens_per_s:.4g} tokens/s",
            f"  throughput {self.max_tokens_per_s:.4g} tokens/s (step {self.step_s * 1e6:.2f} us, "
            f"bound by {self.throughput_bound}); latency/token "
            f"{self.latency_per_token_s * 1e6:.2f} us ({self.latency_bound}; autoregressive "
            f"generation {self.generation_tokens_per_s:.4g} tokens/s)",
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
