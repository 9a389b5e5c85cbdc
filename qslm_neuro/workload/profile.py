"""Measured activity as plain data: what a model did per time step, saved as JSON.

An :class:`ActivityProfile` is what :mod:`qslm_neuro.measure` records on a torch model and what
a :class:`~qslm_neuro.workload.Workload` is built from. It lives on the torch-free side so that
profiles can be read, compared and costed without torch (``data/activity-*.json``).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from qslm_neuro.errors import BadInputError
from qslm_neuro.fileio import write_json_atomic
from qslm_neuro.shipped import looks_like_name, shipped_names, shipped_profile_file
from qslm_neuro.workload.types import Activity

PROFILE_FORMAT = "qslm-activity/1"

#: Where the spike counts of a workload come from: measured with snntorch on task data,
#: simulated in Lava, or read from the fp32 profile shipped next to a checkpoint.
ACTIVITY_SOURCES = ("snntorch", "lava", "profile")
#: Not a source: snntorch and Lava on the same tokens, side by side (``qslm estimate``).
BOTH_SOURCES = "both"


@dataclass
class RunningStats:
    """Count, mean and spread of a per-token quantity, accumulated batch by batch."""

    count: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, values: Any) -> None:
        """Add an array of values (numpy, a list, or anything ``np.asarray`` reads)."""
        array = np.asarray(values, dtype=np.float64)
        self.add_totals(array.size, float(array.sum()), float(np.square(array).sum()))

    def add_totals(self, count: int, total: float, total_sq: float) -> None:
        """Add sums computed elsewhere (e.g. on a GPU tensor, without copying it here)."""
        self.count += int(count)
        self.total += float(total)
        self.total_sq += float(total_sq)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def std(self) -> float:
        if self.count < 2:
            return 0.0
        var = (self.total_sq - self.count * self.mean ** 2) / (self.count - 1)
        return math.sqrt(max(var, 0.0))


@dataclass
class LayerActivity:
    """Per-time-step traffic into one weight layer."""

    kind: str
    fan_in: int
    fan_out: int
    input_events_per_step: float
    input_events_std: float
    binary_share: float
    calls_per_step: float
    samples: int

    @property
    def input_rate(self) -> float:
        """Share of the inputs that are non-zero in a step (the firing rate for spikes)."""
        return self.input_events_per_step / self.fan_in if self.fan_in else 0.0

    def to_activity(self) -> Activity:
        """The hardware-facing :class:`~qslm_neuro.workload.Activity` of this layer."""
        return Activity(input_events_per_step=self.input_events_per_step,
                        input_events_std=self.input_events_std, binary_share=self.binary_share,
                        calls_per_step=self.calls_per_step, samples=self.samples)


@dataclass
class PopulationActivity:
    size: int
    output_spikes_per_step: float
    output_spikes_std: float
    samples: int

    @property
    def firing_rate(self) -> float:
        return self.output_spikes_per_step / self.size


@dataclass
class ActivityProfile:
    """Activity of one model on one data set, per time step (= per token for the SLM)."""

    model: str
    data: str
    tokens: int
    sequences: int
    layers: dict[str, LayerActivity]
    populations: dict[str, PopulationActivity] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_sequence_length(self) -> float:
        return self.tokens / self.sequences if self.sequences else 0.0

    def spike_driven_share(self, layers: Iterable[str] | None = None) -> float:
        """Share of the dense MACs of ``layers`` (default: every ``linear`` layer) whose inputs
        were binary spikes. The SLM's blocks contain exactly its ``linear`` layers."""
        names = list(layers) if layers is not None else [
            n for n, a in self.layers.items() if a.kind == "linear"]
        total = binary = 0.0
        for name in names:
            a = self.layers[name]
            macs = a.fan_in * a.fan_out * a.calls_per_step
            total += macs
            binary += macs * a.binary_share
        return binary / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"format": PROFILE_FORMAT, **asdict(self),
                "spike_driven_share": self.spike_driven_share()}

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ActivityProfile":
        if data.get("format") != PROFILE_FORMAT:
            raise BadInputError(
                f"not an activity profile (format {data.get('format')!r}, expected "
                f"{PROFILE_FORMAT!r}); make one with `qslm_neuro.measure.record_activity`")
        return cls(model=data["model"], data=data["data"], tokens=data["tokens"],
                   sequences=data["sequences"],
                   layers={k: LayerActivity(**v) for k, v in data["layers"].items()},
                   populations={k: PopulationActivity(**v)
                                for k, v in data.get("populations", {}).items()},
                   meta=data.get("meta", {}))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ActivityProfile":
        path = Path(path)
        if not path.is_file() and looks_like_name(path):  # a shipped profile by model name
            path = shipped_profile_file(str(path))
        if not path.is_file():
            raise BadInputError(f"activity profile {str(path)!r} does not exist; shipped profiles "
                                f"(by name): {shipped_names('data', 'activity-', '.json')}")
        return cls.from_dict(json.loads(path.read_text()))
