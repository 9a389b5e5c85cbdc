"""QSLM's tiered quantization search and the baselines it is measured against.

``search(model, evaluate, constraints=Constraints(accuracy="1pt", memory="15%"),
strategy=Tiered())`` finds a weight-precision plan meeting an accuracy constraint (constA), a
memory constraint (constM) and any hardware bounds for any ``nn.Module``; see
:mod:`qslm_neuro.quantsearch.driver` and the option objects in :mod:`~.options`. Parts, one job
each:

* :mod:`~.constraints` - parse and resolve constA / constM;
* :mod:`~.hardware` - the one hardware seam: ``budgets`` (bounds in the chip's terms: chips,
  cores, mapped synaptic memory, energy per token, power at a rate, latency; and
  ``Constraints``), ``units`` (the one number/unit parser), ``summary`` (``HardwareSummary``,
  the fields a candidate carries), ``coster`` (one ``ChipCoster`` per chip: estimates stored by
  chip identity beside chip-free evaluations), ``chips`` (chip lists);
* :mod:`~.resources` - the resource one greedy step saves, predicted analytically (what the
  tiers rank by);
* :mod:`~.per_chip` - one plan per chip over one evaluation store, ``per_chip.csv``;
* :mod:`~.objective` - the trade-off score (pluggable);
* :mod:`~.store` - the SQLite evaluation store (resume);
* :mod:`~.evaluator` - plan -> metric, footprint, activity, hardware estimate;
* :mod:`~.sensitivity` - per-unit calibration drops, KL proxy, rank correlation, damage model;
* :mod:`~.strategies` - one module per strategy: tiered (global ▸ block ▸ module), exhaustive,
  random, ILP (scipy milp), NSGA-II (optuna), each an object carrying its options;
* :mod:`~.checkpoint` - search a shipped checkpoint on its task, report on another split;
* :mod:`~.result` - Candidate, SearchResult, report.json / candidates.csv / pareto.png.

The names below are imported on first use, so that ``qslm_neuro.quantsearch.hardware`` (budgets
and their parser, which the CLI's parser reads) loads without torch.
"""
from __future__ import annotations

from qslm_neuro.lazy import lazy_exports

_EXPORTS = {
    "search": "qslm_neuro.quantsearch.driver",
    "build_evaluator": "qslm_neuro.quantsearch.driver",
    "task_proxy": "qslm_neuro.quantsearch.driver",
    "MemConstraint": "qslm_neuro.quantsearch.constraints",
    "PerfConstraint": "qslm_neuro.quantsearch.constraints",
    "EvaluationSets": "qslm_neuro.quantsearch.evaluator",
    "Evaluator": "qslm_neuro.quantsearch.evaluator",
    "Constraints": "qslm_neuro.quantsearch.hardware.budgets",
    "HardwareConstraints": "qslm_neuro.quantsearch.hardware.budgets",
    "HardwareSummary": "qslm_neuro.quantsearch.hardware.summary",
    "Calibration": "qslm_neuro.quantsearch.options",
    "ChipArithmetic": "qslm_neuro.quantsearch.arithmetic",
    "Evaluation": "qslm_neuro.quantsearch.options",
    "Execution": "qslm_neuro.quantsearch.options",
    "SearchSpace": "qslm_neuro.quantsearch.options",
    "StoreOptions": "qslm_neuro.quantsearch.options",
    "Splits": "qslm_neuro.quantsearch.checkpoint",
    "search_checkpoint": "qslm_neuro.quantsearch.checkpoint",
    "PerChipResults": "qslm_neuro.quantsearch.per_chip",
    "ScoreInputs": "qslm_neuro.quantsearch.objective",
    "TradeOff": "qslm_neuro.quantsearch.objective",
    "Candidate": "qslm_neuro.quantsearch.result",
    "SearchResult": "qslm_neuro.quantsearch.result",
    "SensitivityTable": "qslm_neuro.quantsearch.sensitivity",
    "measure_sensitivity": "qslm_neuro.quantsearch.sensitivity",
    "EvaluationStore": "qslm_neuro.quantsearch.store",
    "ILP": "qslm_neuro.quantsearch.strategies",
    "NSGA2": "qslm_neuro.quantsearch.strategies",
    "STRATEGIES": "qslm_neuro.quantsearch.strategies",
    "Exhaustive": "qslm_neuro.quantsearch.strategies",
    "Random": "qslm_neuro.quantsearch.strategies",
    "Strategy": "qslm_neuro.quantsearch.strategies",
    "Tiered": "qslm_neuro.quantsearch.strategies",
    "make_strategy": "qslm_neuro.quantsearch.strategies",
    "DEFAULT_LADDER": "qslm_neuro.quantsearch.space",
    "parse_ladder": "qslm_neuro.quantsearch.space",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
