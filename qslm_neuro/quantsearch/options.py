"""The option objects of :func:`qslm_neuro.search`: small groups instead of a long keyword list.

* :class:`~qslm_neuro.quantsearch.hardware.budgets.Constraints` - constA, constM, hardware bounds;
* :class:`Evaluation` - how to read a plain evaluation function (direction, metric name, id),
  the spike trains a model other than the SLM is costed on, and the arithmetic candidates are
  scored in (float, or the chip's own integers: :mod:`qslm_neuro.quantsearch.arithmetic`);
* :class:`Calibration` - the cheaper evaluations sensitivity analysis uses;
* :class:`SearchSpace` - the precision ladder and the modules kept at fp32;
* :class:`StoreOptions` - the evaluation store and the run directory;
* :class:`Execution` - where evaluations run, progress bars, the cap on full evaluations.

Strategy options stay on the strategy objects (:mod:`qslm_neuro.quantsearch.strategies`), the
trade-off weights on :class:`~qslm_neuro.quantsearch.objective.TradeOff`. The keywords of the
flat signature (``const_perf=``, ``const_mem=``, ``alpha=``, ``hw=``, ``out=``, ...) are still
accepted and mapped onto these objects with a :class:`DeprecationWarning`
(:func:`apply_legacy_keywords`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from qslm_neuro.errors import BadInputError
from qslm_neuro.quantsearch.space import DEFAULT_LADDER, LadderLike


@dataclass(frozen=True)
class Evaluation:
    """A plain evaluation function with what the search must know about it (a task object says
    it itself): ``Evaluation(accuracy, higher_is_better=True, metric="accuracy")``. Also wraps a
    task to give ``hw_inputs`` or an ``id``."""

    function: Any
    higher_is_better: bool | None = None
    metric: str | None = None
    id: str | None = None          # names the evaluation in the store's keys
    hw_inputs: Any = None          # spike trains [time, batch, ...] to cost a non-SLM model on
    #: "float" (fake-quantized weights) or "chip" / ChipArithmetic(...): full evaluations of
    #: quantized plans in the chip's integer formats (qslm_neuro.quantsearch.arithmetic)
    arithmetic: Any = "float"


@dataclass(frozen=True)
class Calibration:
    """Sensitivity analysis' cheaper evaluations: a ``size`` subset of a task (examples or
    tokens; default: the task's own), or a ``calibrate(model)`` function; ``proxy(model)``
    gives the model's outputs on a fixed batch for the KL proxy (tasks: built in)."""

    size: int | None = None
    calibrate: Callable[[Any], Any] | None = None
    proxy: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class SearchSpace:
    """Precisions to search (``"fp32,int8,int6,int5,int4,int3,int2"``) and the block or module
    paths that stay at fp32."""

    ladder: LadderLike = DEFAULT_LADDER
    keep: Sequence[str] = ()


@dataclass(frozen=True)
class StoreOptions:
    """``out``: the run directory (report.json, candidates.csv, pareto.png and, unless ``store``
    says otherwise, evaluations.sqlite); ``store``: the SQLite evaluation store (a file, a
    directory or an open :class:`~qslm_neuro.quantsearch.store.EvaluationStore`); ``new_run``:
    start over when the store holds a search of something else (the old file is kept aside)."""

    out: Any = None
    store: Any = None
    new_run: bool = False

    @classmethod
    def of(cls, value: Any) -> "StoreOptions":
        """From itself, None, or a store (path or EvaluationStore) alone."""
        if value is None:
            return cls()
        if isinstance(value, StoreOptions):
            return value
        return cls(store=value)


@dataclass(frozen=True)
class Execution:
    """Where evaluations run (``None``: this process; ``"local:N"``; a scheduler address or a
    ``distributed.Client``, see :mod:`qslm_neuro.quantsearch.executor`), whether progress bars
    show, the cap on full evaluations per chip, and the device a checkpoint is loaded on
    (:func:`~qslm_neuro.quantsearch.checkpoint.search_checkpoint`; :func:`search` runs the model
    where it is)."""

    executor: Any = None
    progress: bool = True
    max_full_evaluations: int | None = None
    device: str = "cpu"


#: Flat keyword -> (option, field): where each keyword of the old signature went.
LEGACY_KEYWORDS: dict[str, tuple[str, str | None]] = {
    "const_perf": ("constraints", "accuracy"), "const_acc": ("constraints", "accuracy"),
    "const_mem": ("constraints", "memory"), "const_energy": ("constraints", "energy"),
    "const_power": ("constraints", "power"), "const_latency": ("constraints", "latency"),
    "tokens_per_s": ("constraints", "tokens_per_s"), "hw": ("chips", None),
    "alpha": ("objective", "alpha"), "beta": ("objective", "beta"),
    "ladder": ("space", "ladder"), "keep": ("space", "keep"),
    "calibrate": ("calibration", "calibrate"), "calibration_size": ("calibration", "size"),
    "proxy": ("calibration", "proxy"), "out": ("store", "out"), "new_run": ("store", "new_run"),
    "executor": ("execution", "executor"), "progress": ("execution", "progress"),
    "max_full_evaluations": ("execution", "max_full_evaluations"),
    "device": ("execution", "device"),
    "higher_is_better": ("evaluate", "higher_is_better"), "metric": ("evaluate", "metric"),
    "evaluation_id": ("evaluate", "id"), "hw_inputs": ("evaluate", "hw_inputs"),
}
_NEW_SPELLING = {"constraints": "Constraints({field}=...)", "chips": "chips=...",
                 "objective": "objective=TradeOff({field}=...)",
                 "space": "space=SearchSpace({field}=...)",
                 "calibration": "calibration=Calibration({field}=...)",
                 "store": "store=StoreOptions({field}=...)",
                 "execution": "execution=Execution({field}=...)",
                 "evaluate": "Evaluation(function, {field}=...)"}


def apply_legacy_keywords(options: dict[str, Any], given: dict[str, Any],
                          stacklevel: int = 3, function: str = "search",
                          notes: Sequence[str] = ()) -> dict[str, Any]:
    """Move the old flat keywords out of ``options`` into the option objects of ``given``
    (``{"constraints": ..., "chips": ..., ...}``), with one DeprecationWarning naming the new
    spelling of each (and the caller's own ``notes``). A keyword given both ways is bad input.
    Returns the updated ``given``."""
    from qslm_neuro.quantsearch.hardware.budgets import Constraints
    from qslm_neuro.quantsearch.objective import TradeOff, check_weight

    old = {key: options.pop(key) for key in list(options) if key in LEGACY_KEYWORDS}
    if old or notes:
        warnings.warn(f"deprecated keywords of {function}(): " + "; ".join([*notes, *(
            f"{key}= -> "
            f"{_NEW_SPELLING[LEGACY_KEYWORDS[key][0]].format(field=LEGACY_KEYWORDS[key][1])}"
            for key in old)]), DeprecationWarning, stacklevel=stacklevel)
    if not old:
        return given
    if "const_perf" in old and "const_acc" in old:
        raise BadInputError("const_perf and const_acc both give constA; give accuracy once")
    makers: dict[str, Any] = {"constraints": Constraints.of, "space": _default(SearchSpace),
                              "calibration": _default(Calibration),
                              "store": StoreOptions.of, "execution": _default(Execution)}
    for key, value in old.items():
        target, name = LEGACY_KEYWORDS[key]
        current = given.get(target)
        if target == "chips":
            given["chips"] = value
        elif target == "objective":
            if current is not None and not isinstance(current, TradeOff):
                raise BadInputError(f"{key}={value!r} weighs the default trade-off, but "
                                    "objective= replaces it; give one of them")
            weight = check_weight(key, value)
            given["objective"] = replace(current or TradeOff(), **{str(name): weight})
        elif target == "evaluate":
            wrapped = current if isinstance(current, Evaluation) else Evaluation(current)
            given["evaluate"] = replace(wrapped, **{str(name): value})
        else:
            made = makers[target](current)
            if getattr(made, str(name)) != getattr(type(made)(), str(name)):
                raise BadInputError(f"{key}={value!r} and {target}= both set {name}; give it "
                                    f"once, as {target}")
            given[target] = replace(made, **{str(name): value})
    return given


def _default(cls: type) -> Callable[[Any], Any]:
    def make(value: Any) -> Any:
        if value is None:
            return cls()
        if not isinstance(value, cls):
            raise BadInputError(f"expected a {cls.__name__}(...), got {value!r}")
        return value
    return make


__all__ = ["Evaluation", "Calibration", "SearchSpace", "StoreOptions", "Execution",
           "LEGACY_KEYWORDS", "apply_legacy_keywords"]
