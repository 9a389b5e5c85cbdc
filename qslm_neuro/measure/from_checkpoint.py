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

ACTIVITY_SOURCES = ("snntorch", "lava", "profile")
TASK_OF = {"classify": "sst2", "lm": "wikitext2"}


def shipped_profile_path(model_dir: str | Path) -> Path:
    """Where the fp32 activity profile of a shipped checkpoint lives."""
    model_dir = Path(model_dir)
    return model_dir.parent / f"activity-{model_dir.name}.json"


def checkpoint_workload(loaded: Any, plan: Any = None, activity: str = "snntorch",
                        data_dir: str | None = None, max_tokens: int = 4000,
                        lava_tokens: int = 64, lava_layers: list[str] | None = None
                        ) -> tuple[Workload, str]:
    """Workload of a loaded checkpoint under ``plan`` and a sentence saying where activity came from.

    ``activity``: ``snntorch`` (measure the quantized model on real tokens; falls back to the
    shipped profile when no data is found), ``profile`` (the shipped fp32 profile) or ``lava``
    (spike counts from a Lava simulation of the spike-driven layers; see qslm_neuro.lava).
    """
    from qslm_neuro.measure.recorder import ActivityProfile, record_task_activity
    from qslm_neuro.quant import QuantPlan
    from qslm_neuro.measure.from_model import build_workload

    if activity not in ACTIVITY_SOURCES:
        raise BadInputError(f"activity={activity!r}; expected one of {ACTIVITY_SOURCES}")
    plan = plan if plan is not None else QuantPlan()
    task = TASK_OF[loaded.config.task]
    if activity == "lava":
        from qslm_neuro.lava import lava_workload  # needs lava-nc

        workload = lava_workload(loaded, plan, tokens=lava_tokens, layers=lava_layers,
                                 data_dir=data_dir)
        return workload, f"activity from a Lava simulation ({lava_tokens} tokens)"
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


def load_plan_arg(text: str | None, model: Any = None) -> Any:
    """A plan from a CLI argument: None (fp32), a JSON plan/report path, or a uniform precision."""
    from qslm_neuro.quant import Precision, QuantPlan, load_plan

    if text is None:
        return QuantPlan()
    if Path(text).suffix == ".json" or Path(text).is_file():
        return load_plan(text)
    try:
        precision = Precision.parse(text)
    except BadInputError as exc:
        raise BadInputError(
            f"--plan {text!r} is neither a plan/report JSON file nor a precision ({exc})") from exc
    if model is None:
        raise BadInputError("a uniform --plan needs the model")
    return QuantPlan.uniform(model, precision)
