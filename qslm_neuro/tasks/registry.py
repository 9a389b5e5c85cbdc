"""Tasks by name, as the command line spells them; a new task registers itself here.

``register_task(cls)`` adds a class that follows :class:`~qslm_neuro.tasks.base.Task` and has a
``name_in_registry``, a ``model_head`` (``classify`` or ``lm``: which model kind it scores) and a
``create(tokenizer, data_dir, split, ctx_len, **options)`` classmethod.
"""
from __future__ import annotations

from typing import Any

from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks.sst2 import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer
from qslm_neuro.tasks.wikitext2 import WikiText2Task

TASKS: dict[str, type] = {}


def register_task(cls: type) -> type:
    """Add a task class to the registry (usable as a class decorator)."""
    for attr in ("name_in_registry", "model_head", "create", "evaluate", "calibration_subset",
                 "proxy", "default_calibration_size", "default_proxy_size"):
        if not hasattr(cls, attr):
            raise BadInputError(f"task class {cls.__name__} has no {attr!r}; see "
                                "qslm_neuro.tasks.base.Task for what a task provides")
    TASKS[cls.name_in_registry] = cls
    return cls


register_task(SST2Task)
register_task(WikiText2Task)
TASK_NAMES = tuple(TASKS)


def task_for_head(head: str) -> str:
    """The registered task that scores models with this head (``classify`` -> ``sst2``)."""
    for name, cls in TASKS.items():
        if cls.model_head == head:
            return name
    raise BadInputError(f"no registered task scores a model with head {head!r}; registered: "
                        + ", ".join(f"{n} ({c.model_head})" for n, c in TASKS.items()))


def check_model_for_task(model_head: str, name: str, where: str = "the model") -> None:
    """Refuse to score a model with the wrong head (a classifier on perplexity, ...)."""
    cls = TASKS.get(name)
    if cls is not None and cls.model_head != model_head:
        raise BadInputError(
            f"{where} is a {model_head!r} model but task {name!r} scores {cls.model_head!r} "
            f"models; use task {task_for_head(model_head)!r} for it, or a {cls.model_head!r} "
            "checkpoint for this task")


def make_task(name: str, tokenizer: Tokenizer, data_dir=None, split: str | None = None,
              ctx_len: int = 128, **options: Any) -> Any:
    """The evaluator for a task name (``sst2`` or ``wikitext2``, or any registered one).

    Default splits are the ones results are reported on: SST-2 ``dev``, WikiText-2 ``test``.
    """
    cls = TASKS.get(name)
    if cls is None:
        raise BadInputError(f"unknown task {name!r}; expected one of {tuple(TASKS)}")
    return cls.create(tokenizer, data_dir, split=split, ctx_len=ctx_len, **options)
