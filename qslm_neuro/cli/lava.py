"""What ``qslm lava`` does, and the helper behind ``qslm estimate --activity lava|both``.

The argument parsers live in :mod:`qslm_neuro.cli.main` (they must work without lava-nc); these
functions run only when a Lava feature is used.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Sequence

from qslm_neuro.errors import BadInputError


def resolve_plan(model: Any, plan: str | None) -> Any:
    """A QuantPlan from a plan/report JSON path, or a precision applied to every layer."""
    from qslm_neuro.quant.plan import Precision, QuantPlan, load_plan

    if plan is None:
        return QuantPlan()
    if Path(plan).suffix == ".json" or Path(plan).exists():
        return load_plan(plan)
    try:
        precision = Precision.parse(plan)
    except BadInputError as exc:
        raise BadInputError(f"--plan {plan!r} is neither a plan/report JSON file nor a "
                            f"precision ({exc})") from None
    return QuantPlan.uniform(model, precision)


def parse_layers(text: str | None) -> Sequence[str] | None:
    """``all``/None -> every spike-driven layer; else comma-separated paths or block prefixes."""
    if text is None or text.strip().lower() == "all":
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def load_and_record_inputs(model_dir: str, tokens: int, data_dir: Any,
                           device: str = "cpu") -> tuple[Any, Any, str]:
    """The checkpoint (on ``device``, where its traces are recorded) and the first ``tokens``
    tokens of its task data (SST-2 dev or WikiText-2 test) as one stream."""
    from qslm_neuro.lava.traces import task_token_stream
    from qslm_neuro.models.checkpoint import load_checkpoint

    loaded = load_checkpoint(model_dir, device=device)
    ids, description = task_token_stream(loaded, tokens, data_dir)
    return loaded, ids, description


def run_lava_command(args: argparse.Namespace) -> int:
    """``qslm lava``: co-simulate, print the per-layer table, write CSV (and JSON)."""
    from qslm_neuro.lava.workload import (energy_difference, lava_workload, side_by_side,
                                         snntorch_workload)
    from qslm_neuro.lava.cosim import cosimulate

    from qslm_neuro.cli.scale_options import device_of

    loaded, ids, description = load_and_record_inputs(args.model, args.tokens, args.data_dir,
                                                      device_of(args))
    plan = resolve_plan(loaded.model, args.plan)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    report = cosimulate(loaded.model, plan, ids, parse_layers(args.layers), modes=modes,
                        name=Path(args.model).name, data_description=description,
                        read_weights=not args.no_weight_readback)
    print(f"{Path(args.model).name} under plan {plan.key[:12]} on {description}")
    print(report.table())
    csv_path = report.save_csv(args.csv)
    print(f"per-layer table written to {csv_path}")
    if args.json:
        print(f"full report written to {report.save_json(args.json)}")
    if args.hw.lower() != "none" and "fixed" in report.modes:
        from qslm_neuro.hw import estimate

        reports = {"snntorch": estimate(snntorch_workload(loaded.model, plan, report), args.hw),
                   "lava": estimate(lava_workload(loaded.model, plan, ids, report=report),
                                    args.hw)}
        print(side_by_side(reports))
        diff = energy_difference(reports)
        print(f"energy per token: lava - snntorch = {diff['difference_j'] * 1e9:+.3f} nJ "
              f"({diff['relative']:+.3%})")
    return 0


def compare_activity_sources(model_dir: str | os.PathLike[str], plan: str | None,
                             hw: Any = "loihi2", activity: str = "both", tokens: int = 64,
                             layers: str | None = None, data_dir: Any = None,
                             tokens_per_s: float | None = None) -> tuple[dict[str, Any], str]:
    """For ``qslm estimate --activity lava|both``: cost reports by source and a printable table.

    Both sources see the same ``tokens`` tokens of the task data; ``layers`` as for
    ``qslm lava``.
    """
    from qslm_neuro.lava.workload import estimate_by_activity, side_by_side

    loaded, ids, _description = load_and_record_inputs(str(model_dir), tokens, data_dir)
    reports = estimate_by_activity(loaded.model, resolve_plan(loaded.model, plan), ids, hw,
                                   activity, parse_layers(layers), tokens_per_s)
    return reports, side_by_side(reports)
