"""``qslm eval``: a checkpoint's SST-2 dev accuracy or WikiText-2 perplexity, under a plan."""
from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from typing import Any

from qslm_neuro.cli.scale_options import add_scale_options, device_of
from qslm_neuro.cli.common import EXIT_OK, add_data_dir, load_model_arg, plan_from_arg

HELP = "evaluate a checkpoint (SST-2 dev accuracy or WikiText-2 perplexity)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint directory (e.g. data/slm-small-sst2)")
    p.add_argument("--task", required=True, choices=["sst2", "wikitext2"])
    p.add_argument("--split", default=None, help="sst2: dev (default) | wikitext2: test (default)")
    p.add_argument("--plan", default=None, help="quantization plan (plan JSON or search report), "
                   "or one precision for every layer (e.g. int4)")
    add_data_dir(p, help_text=None)
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    add_scale_options(p)


def run(args: argparse.Namespace) -> int:
    from qslm_neuro.tasks import make_task
    from qslm_neuro.tasks.registry import check_model_for_task

    loaded = load_model_arg(args.model, device_of(args))
    check_model_for_task(loaded.config.head, args.task, str(args.model))
    plan = plan_from_arg(args.plan, loaded.model) if args.plan else None  # bad input first
    task = make_task(args.task, loaded.tokenizer, data_dir=args.data_dir, split=args.split,
                     ctx_len=loaded.config.ctx_len)
    context: Any = nullcontext() if plan is None else plan.applied(loaded.model)
    with context:
        result = task.evaluate(loaded.model)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        line = f"{result['split']}: {result['metric']} = {result['value']:.4f}"
        if "bits_per_byte" in result:
            line += f", bits per byte = {result['bits_per_byte']:.4f}"
        print(line)
        if result.get("note"):
            print(f"note: {result['note']}")
    return EXIT_OK
