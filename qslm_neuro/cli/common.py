"""What several ``qslm`` subcommands share: exit codes, options, plan and model arguments.

Each helper is written once here so that ``--plan int4`` means the same in ``eval``,
``estimate``, ``sweep`` and ``lava``. Heavy packages (torch, lava) are imported inside the
functions that need them, so building the parser stays fast and works without lava-nc.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from qslm_neuro.cli.nir_options import add_nir_options, file_workloads, nir_workloads
from qslm_neuro.errors import BadInputError, QSLMError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CONSTRAINTS = 0, 1, 2, 3
DATA_DIR_HELP = "dataset folder (default: $QSLM_DATA_DIR)"


def add_data_dir(p: argparse.ArgumentParser, help_text: str | None = DATA_DIR_HELP) -> None:
    """``--data-dir``: where SST-2 and WikiText-2 live (else ``$QSLM_DATA_DIR``)."""
    p.add_argument("--data-dir", default=None, help=help_text)


def run_command(command: str, run: Callable[[argparse.Namespace], int],
                args: argparse.Namespace) -> int:
    """Run one subcommand; our errors become their exit code and a one-line message."""
    try:
        return run(args)
    except QSLMError as exc:
        print(f"qslm {command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"qslm {command}: interrupted", file=sys.stderr)
        return 130


def parse_overrides(items: list[str]) -> dict[str, object]:
    """``["d_model=256", "spiking_att_output=false"]`` -> typed values (JSON literals or text)."""
    overrides: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BadInputError(f"--set {item!r}: expected KEY=VALUE, e.g. --set dropout=0.2")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


def plan_from_arg(text: str | None, model: Any = None, strict: bool = False) -> Any:
    """``--plan``: None (fp32), a plan JSON or search report.json, or one precision (``int4``)
    given to every layer of ``model``. A report searched on another checkpoint than ``model``'s
    warns (refused with ``strict``: :func:`qslm_neuro.cli.checks.check_plan_model`)."""
    from qslm_neuro.cli.checks import check_plan_model, plan_text
    from qslm_neuro.quant import Precision, QuantPlan, load_plan

    text = plan_text(text)  # '' and folders are refused, not read as fp32 or a file
    if text is None:
        return QuantPlan()
    if Path(text).suffix == ".json" or Path(text).exists():
        plan = load_plan(text)
        if model is not None:
            from qslm_neuro.models.checkpoint import loaded_from

            origin = loaded_from(model)
            check_plan_model(text, origin.path if origin else None, origin, strict=strict)
        return plan
    try:
        precision = Precision.parse(text)
    except BadInputError as exc:
        raise BadInputError(
            f"--plan {text!r} is neither a plan/report JSON file nor a precision ({exc})") from None
    if model is None:
        raise BadInputError("a uniform --plan needs the model")
    return QuantPlan.uniform(model, precision)


def load_model_arg(path: str, device: str = "cpu") -> Any:
    """``--model``: a verified checkpoint directory (:func:`qslm_neuro.load_model`), on
    ``device`` (``--device``: :func:`qslm_neuro.cli.scale_options.device_of`)."""
    from qslm_neuro.models import load_model

    return load_model(path, device)


# -- what to cost: shared by `estimate` and `sweep` ----------------------------------------
def add_candidate_options(p: argparse.ArgumentParser) -> None:
    """Options naming what to cost: a checkpoint (+ plan) or a named config (+ profile)."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="checkpoint directory, e.g. data/slm-small-sst2")
    what.add_argument("--config", help="named config costed without weights, e.g. spikegpt-216m "
                      "(needs --profile for firing rates)")
    what.add_argument("--workload", help="a workload .json file")
    add_nir_options(p, what)  # --nir graph (+ --inputs / --rates): qslm_neuro.cli.nir_options
    p.add_argument("--plan", default=None,
                   help="plan JSON, search report.json, or a uniform precision (int4, fp16, ...)")
    p.add_argument("--profile", default=None,
                   help="activity profile JSON or a shipped model's name, e.g. slm-small-wt2 "
                   "(default for --config: the SST-2 model's)")
    add_data_dir(p)
    p.add_argument("--hw", action="append", default=None,
                   help="loihi, loihi2 (loihi2-board), embedded-soc, stm32h7a3 or a .toml path "
                   "(default loihi2); several "
                   "as --hw loihi,loihi2,my.toml: one comparison table (estimate) or one more "
                   "sweep axis")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                   help="override a hardware parameter, e.g. --set e_syn_op_pj=30")
    p.add_argument("--tokens-per-s", type=float, default=None,
                   help="token rate for the power figure (default: the fastest the chip sustains)")


def candidate_workloads(args: argparse.Namespace, sources: list[str]) -> dict[str, Any]:
    """{activity source: (workload, note)} for the candidate the options name, read the way
    :func:`qslm_neuro.estimate` reads it (:func:`qslm_neuro.candidate_costs.to_workload`)."""
    from qslm_neuro.candidate_costs import to_workload

    if args.workload:  # a .json path or a shipped model's name
        return {"file": (to_workload(args.workload), f"workload file {args.workload}")}
    if args.nir:  # a NIR graph: activity simulated on --inputs or from --rates
        return nir_workloads(args)
    if getattr(args, "tflite", None) or getattr(args, "netx", None):
        return file_workloads(args)  # qslm_neuro.cli.nir_options
    if args.config:
        from qslm_neuro.measure.candidate import config_workload
        from qslm_neuro.measure.from_config import shipped_profile_for
        from qslm_neuro.models import build_model

        profile = args.profile or str(shipped_profile_for("classify"))
        model = build_model(args.config, device="meta")
        plan = plan_from_arg(args.plan, model)
        workload = config_workload(model.config, activity=profile, plan=plan)
        return {"borrowed": (workload, f"{args.config} without weights; firing rates borrowed "
                             f"from {profile}")}
    from qslm_neuro.cli.scale_options import device_of

    loaded = load_model_arg(args.model, device_of(args))
    plan = plan_from_arg(args.plan, loaded.model)
    workloads = {source: to_workload((loaded, plan), activity=source, data_dir=args.data_dir,
                                     lava_tokens=getattr(args, "lava_tokens", 64))
                 for source in sources}
    return {source: (w, w.meta.get("activity_note", "")) for source, w in workloads.items()}
