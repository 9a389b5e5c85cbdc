"""QSLM's tiered quantization search and the baselines it is measured against.

``search(model, evaluate, const_perf=..., const_mem=..., alpha=..., strategy=Tiered())`` finds a
weight-precision plan meeting a performance constraint (constA) and a memory constraint (constM)
for any ``nn.Module``; see :mod:`qslm_neuro.quantsearch.driver`. Parts, one job each:

* :mod:`~.constraints` - parse and resolve constA / constM;
* :mod:`~.hardware.budgets` - bounds in the chip's terms (chips, cores, mapped synaptic memory,
  energy per token, power at a rate, latency), checked on each candidate's own estimate;
* :mod:`~.resources` - a plan's cost on the search's chip, and the resource one greedy step
  saves, predicted analytically (what the tiers rank by);
* :mod:`~.per_chip` - one plan per chip over one evaluation store, ``per_chip.csv``;
* :mod:`~.objective` - the trade-off score (pluggable);
* :mod:`~.store` - the SQLite evaluation store (resume);
* :mod:`~.evaluator` - plan -> metric, footprint, activity, hardware estimate;
* :mod:`~.sensitivity` - per-unit calibration drops, KL proxy, rank correlation, damage model;
* :mod:`~.strategies` - one module per strategy: tiered (global ▸ block ▸ module), exhaustive,
  random, ILP (scipy milp), NSGA-II (optuna), each an object carrying its options;
* :mod:`~.checkpoint` - search a shipped checkpoint on its task, report on another split;
* :mod:`~.result` - Candidate, SearchResult, report.json / candidates.csv / pareto.png.
"""
from __future__ import annotations

from qslm_neuro.quantsearch.driver import build_evaluator, search, task_proxy
from qslm_neuro.quantsearch.constraints import MemConstraint, PerfConstraint
from qslm_neuro.quantsearch.evaluator import Evaluator
from qslm_neuro.quantsearch.hardware.budgets import HardwareConstraints
from qslm_neuro.quantsearch.per_chip import PerChipResults
from qslm_neuro.quantsearch.objective import ScoreInputs, TradeOff
from qslm_neuro.quantsearch.result import Candidate, SearchResult
from qslm_neuro.quantsearch.sensitivity import SensitivityTable, measure_sensitivity
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.quantsearch.strategies import (ILP, NSGA2, STRATEGIES, Exhaustive, Random,
                                               Strategy, Tiered, make_strategy)
from qslm_neuro.quantsearch.space import DEFAULT_LADDER, parse_ladder

__all__ = ["search", "Candidate", "SearchResult", "STRATEGIES", "PerfConstraint",
           "MemConstraint", "TradeOff", "ScoreInputs", "Evaluator", "EvaluationStore",
           "SensitivityTable", "measure_sensitivity", "DEFAULT_LADDER", "parse_ladder",
           "build_evaluator", "task_proxy", "Strategy", "Tiered", "Exhaustive", "Random", "ILP",
           "NSGA2", "make_strategy", "HardwareConstraints", "PerChipResults"]
