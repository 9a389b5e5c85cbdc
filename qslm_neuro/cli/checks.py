"""Checks the subcommands run on their arguments before any work (one line each in the command).

They cover what argparse cannot: text options that must name something (``--plan ''``,
``--layers ''``), output folders and files (``qslm_neuro.validate``), a plan made for another
model than the one it is applied to (a warning, or refused with ``--strict``), chips named by
commands that reach the hardware models only at the end (``qslm lava --hw``), and the numeric
ranges of ``qslm train``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qslm_neuro.errors import BadInputError


def nonempty_list(text: str | None, flag: str, example: str) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; None stays None; text naming nothing is refused."""
    if text is None:
        return None
    items = [part.strip() for part in str(text).split(",") if part.strip()]
    if not items:
        raise BadInputError(f"{flag} {text!r} names nothing; write e.g. {flag} {example}")
    return items


def plan_text(text: str | None, flag: str = "--plan") -> str | None:
    """A ``--plan`` value: None (fp32) or non-empty text that is not a folder."""
    if text is None:
        return None
    if not str(text).strip():
        raise BadInputError(f"{flag} {text!r} is empty; leave {flag} out for fp32, or give a "
                            "plan JSON, a search report.json or a precision such as int8")
    if Path(text).is_dir():
        raise BadInputError(f"{flag} {text!r} is a folder; pass the plan JSON or the search "
                            f"report inside it (e.g. {str(Path(text) / 'report.json')!r})")
    return str(text)


def plan_origin(plan_arg: str | None) -> dict[str, Any]:
    """What a search report says its plan was made for (checkpoint, task); {} for other plans."""
    if not plan_arg or Path(plan_arg).suffix != ".json" or not Path(plan_arg).is_file():
        return {}
    try:
        data = json.loads(Path(plan_arg).read_text())
    except (OSError, ValueError):
        return {}
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict):
        return {}
    return {k: settings[k] for k in ("checkpoint", "task") if settings.get(k)}


def check_plan_model(plan_arg: str | None, model_dir: Any, loaded: Any = None,
                     strict: bool = False) -> str | None:
    """Warn (stderr), or refuse with ``strict``, when ``--plan`` is a search report made on
    another checkpoint or task than ``model_dir``. Returns the warning, if any."""
    origin = plan_origin(plan_arg)
    if not origin or model_dir is None:
        return None
    problems = []
    made_on = origin.get("checkpoint")
    if made_on and Path(made_on).expanduser().resolve() != Path(model_dir).expanduser().resolve():
        problems.append(f"it was searched on {made_on}, not {model_dir}")
    head = getattr(getattr(loaded, "config", None), "task", None)
    task = origin.get("task")
    expected = {"sst2": "classify", "wikitext2": "lm"}.get(str(task))
    if head and expected and head != expected:
        problems.append(f"its task {task} needs a {expected!r} model, this one is {head!r}")
    if not problems:
        return None
    message = (f"--plan {plan_arg} was made for another model ({'; '.join(problems)}): its "
               "measured accuracy and memory do not carry over")
    if strict:
        raise BadInputError(message + "; search this model, or drop --strict to apply it anyway")
    warning = f"warning: {message}; pass --strict to refuse"
    print(warning, file=sys.stderr)
    return warning


def check_chips(names: Any, flag: str = "--hw") -> None:
    """Load every named chip model (cheap): an unknown name or a bad file fails before work."""
    from qslm_neuro.hw import load_hardware

    for name in ([names] if isinstance(names, str) else list(names or [])):
        if str(name).strip().lower() == "none":
            continue
        try:
            load_hardware(name)
        except BadInputError as exc:
            raise BadInputError(f"{flag} {name!r}: {exc}") from None


def check_train_args(args: argparse.Namespace) -> None:
    """``qslm train``'s numbers and device, checked before data is read or a step is taken."""
    from qslm_neuro.validate import finite_number

    for flag, value, minimum in (("--ctx-len", args.ctx_len, 1), ("--batch-size", args.batch_size, 1),
                                 ("--vocab-size", args.vocab_size, 1), ("--seed", args.seed, 0),
                                 ("--heldout", args.heldout, 0)):
        finite_number(value, flag, integer=True, minimum=minimum)
    for flag, value in (("--dropout", args.dropout), ("--token-dropout", args.token_dropout)):
        if not 0.0 <= finite_number(value, flag) < 1.0:
            raise BadInputError(f"{flag}={value!r}; expected a share from 0 up to (not "
                                "including) 1")
    if args.ema_decay is not None and not 0.0 < finite_number(args.ema_decay, "--ema-decay") < 1.0:
        raise BadInputError(f"--ema-decay={args.ema_decay!r}; expected a number between 0 and 1, "
                            "e.g. 0.999")
    if args.stop_at_step is not None:
        finite_number(args.stop_at_step, "--stop-at-step", integer=True, minimum=1)
    from qslm_neuro.models.checkpoint import checked_device

    try:
        checked_device(args.device)
    except BadInputError as exc:
        raise BadInputError(f"--device {args.device!r}: {exc}") from None


def check_lava_args(args: argparse.Namespace) -> None:
    """``qslm lava``: everything cheap (chip, plan text, layers, modes, output files) before
    the model loads and Lava starts."""
    from qslm_neuro.validate import check_output_file

    plan_text(args.plan)
    nonempty_list(args.layers, "--layers", "all or blocks.0")
    modes = nonempty_list(args.modes, "--modes", "float,fixed") or []
    unknown = sorted(set(modes) - {"float", "fixed"})
    if unknown:
        raise BadInputError(f"--modes {args.modes!r}: unknown {unknown}; use float, fixed or "
                            "float,fixed")
    if args.tokens < 1:
        raise BadInputError(f"--tokens {args.tokens}: expected a positive number of tokens")
    check_chips(args.hw)
    for flag, path in (("--csv", args.csv), ("--json", args.json)):
        if path:
            check_output_file(path, flag, overwrite=getattr(args, "overwrite", False))


def check_eval_args(args: argparse.Namespace) -> None:
    """``qslm eval``: ``--plan ''`` is a slip, not fp32."""
    plan_text(args.plan)
