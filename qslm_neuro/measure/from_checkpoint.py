"""From a checkpoint (and a plan) to a hardware Workload, choosing where activity comes from.

Activity depends on the weights: a quantized model spikes differently from its fp32 parent. So
by default the quantized model is run on real task data (SST-2 dev / WikiText-2 test tokens) with
the plan applied. Without the data, the activity profile shipped next to the checkpoint
(``data/activity-<model>.json``, measured in fp32) is used and the workload says so.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from qslm_neuro.errors import BadInputError, DataNotFoundError
from qslm_neuro.workload import Workload
from qslm_neuro.workload.profile import ACTIVITY_SOURCES

def shipped_profile_path(model_dir: str | Path) -> Path:
    """Where the fp32 activity profile of a shipped checkpoint lives."""
    model_dir = Path(model_dir)
    return model_dir.parent / f"activity-{model_dir.name}.json"


def checkpoint_workload(loaded: Any, plan: Any = None, activity: str = "snntorch",
                        data_dir: str | None = None, max_tokens: int = 4000
                        ) -> tuple[Workload, str]:
    """Workload of a loaded checkpoint under ``plan`` and a sentence saying where activity came from.

    ``activity``: ``snntorch`` (measure the quantized model on real tokens; falls back to the
    shipped profile when no data is found) or ``profile`` (the shipped fp32 profile). The task
    it is measured on is the registered task that scores its head
    (:func:`qslm_neuro.tasks.registry.task_for_head`). Lava counts (``lava``) come from
    :func:`qslm_neuro.candidate_costs.to_workload`: Lava sits above this package, so this package never
    imports it.
    """
    from qslm_neuro.measure.from_model import build_workload
    from qslm_neuro.measure.recorder import record_task_activity
    from qslm_neuro.quant import QuantPlan
    from qslm_neuro.tasks.registry import task_for_head
    from qslm_neuro.workload.profile import ActivityProfile

    if activity not in ACTIVITY_SOURCES:
        raise BadInputError(f"activity={activity!r}; expected one of {ACTIVITY_SOURCES}")
    if activity == "lava":
        raise BadInputError("checkpoint_workload does not run Lava: use "
                            "qslm_neuro.candidate_costs.to_workload((loaded, plan), activity='lava')")
    plan = plan if plan is not None else QuantPlan()
    task = task_for_head(loaded.config.head)
    if activity == "snntorch":
        try:
            with plan.applied(loaded.model):
                profile = record_task_activity(loaded, task, data_dir=data_dir,
                                               max_tokens=max_tokens, progress=False)
            workload = build_workload(loaded.model, plan, profile, name=loaded.path.name)
            return workload, (f"activity measured with the plan applied on {profile.tokens} tokens "
                              f"of {profile.data}")
        except DataNotFoundError as exc:
            fallback = f"no task data ({exc.args[0].splitlines()[0]}); "
    else:
        fallback = ""
    path = shipped_profile_path(loaded.path)
    if not path.is_file():
        raise DataNotFoundError(
            f"{fallback}no activity profile at {path}: set QSLM_DATA_DIR to the folder holding "
            "sst2/ and wikitext-2-raw/ so the activity can be measured")
    profile = ActivityProfile.load(path)
    workload = build_workload(loaded.model, plan, profile, name=loaded.path.name)
    workload = replace(workload, activity_source=f"profile:{path.name}")
    return workload, f"{fallback}activity from the shipped fp32 profile {path}"
