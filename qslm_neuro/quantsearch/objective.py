"""The trade-off score that picks the final candidate among those meeting both constraints.

QSLM weighs performance against memory with one knob ``alpha``; the paper's exact formula is not
public, so qslm-neuro defines its own (pluggable) default::

    score = normalised_performance + alpha * memory_saving + beta * energy_saving

* ``normalised_performance`` = metric / baseline for a higher-is-better metric (accuracy) and
  baseline / metric for a lower-is-better one (perplexity); 1.0 is the fp32 baseline, larger is
  better either way;
* ``memory_saving`` = 1 - footprint bytes / fp32 footprint bytes (0.875 for int4 everywhere,
  less the scales and the unquantized tensors);
* ``energy_saving`` = 1 - energy per token / the fp32 baseline's energy per token on the chosen
  hardware (0 when no hardware estimate exists; ``beta > 0`` then is an error).

``alpha = 0`` picks the best-performing feasible candidate; larger ``alpha`` trades performance
for memory (with ``alpha = 1`` one percent of relative performance is worth one percent of the
fp32 footprint). Ties go to the smaller footprint, then to the earlier evaluation.

Any callable ``objective(inputs: ScoreInputs) -> float`` (larger is better) can replace it.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Union

from qslm_neuro.errors import BadInputError


@dataclass(frozen=True)
class ScoreInputs:
    """What an objective sees of one candidate."""

    metric: float
    baseline_metric: float
    higher_is_better: bool
    total_bytes: float
    fp32_bytes: float
    energy_per_token_j: float | None = None
    baseline_energy_per_token_j: float | None = None

    @property
    def normalised_performance(self) -> float:
        """1.0 at the baseline, larger is better, 0 for a broken (NaN/inf) metric."""
        metric, base = self.metric, self.baseline_metric
        if not math.isfinite(metric):
            return 0.0
        if self.higher_is_better:
            return metric / base if base else 0.0
        return base / metric if metric > 0 else 0.0

    @property
    def memory_saving(self) -> float:
        return 1.0 - self.total_bytes / self.fp32_bytes if self.fp32_bytes else 0.0

    @property
    def energy_saving(self) -> float | None:
        if self.energy_per_token_j is None or not self.baseline_energy_per_token_j:
            return None
        return 1.0 - self.energy_per_token_j / self.baseline_energy_per_token_j


Objective = Callable[[ScoreInputs], float]
ObjectiveLike = Union[Objective, None]


@dataclass(frozen=True)
class TradeOff:
    """The default objective: performance + alpha x memory saving + beta x energy saving."""

    alpha: float = 1.0
    beta: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", check_weight("alpha", self.alpha))
        object.__setattr__(self, "beta", check_weight("beta", self.beta))

    def __call__(self, inputs: ScoreInputs) -> float:
        score = inputs.normalised_performance + self.alpha * inputs.memory_saving
        if self.beta:
            energy = inputs.energy_saving
            if energy is None:
                raise BadInputError(
                    f"beta={self.beta:g} weighs energy, but this candidate has no hardware "
                    "estimate (the model has no synapses() description, or --hw is off); use "
                    "beta=0 or a qslm-neuro SpikingRWKV")
            score += self.beta * energy
        return score

    def describe(self) -> str:
        text = f"normalised performance + {self.alpha:g} x memory saving"
        return text + (f" + {self.beta:g} x energy saving" if self.beta else "")

    def to_dict(self) -> dict:
        return {"name": "trade-off", "formula": self.describe(), "alpha": self.alpha,
                "beta": self.beta}


def check_weight(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(
            float(value)) or value < 0:
        raise BadInputError(
            f"{name}={value!r}: the trade-off weight must be a finite number >= 0 ({name} = 0 "
            f"ignores that term; larger values favour saving more), e.g. {name}=0.5")
    return float(value)


def make_objective(objective: ObjectiveLike) -> Objective:
    """The callable to score with: ``objective`` if given, else the default :class:`TradeOff`."""
    if objective is None:
        return TradeOff()
    if not callable(objective):
        raise BadInputError(f"objective={objective!r} is not callable; pass TradeOff(alpha=..., "
                            "beta=...) or a function f(inputs: ScoreInputs) -> float (larger is "
                            "better)")
    return objective


def describe_objective(objective: Objective) -> dict:
    if hasattr(objective, "to_dict"):
        return objective.to_dict()
    name = getattr(objective, "__qualname__", type(objective).__name__)
    return {"name": name, "formula": f"user objective {name}"}
