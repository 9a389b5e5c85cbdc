"""``qslm eval``: a checkpoint's SST-2 dev accuracy or WikiText-2 perplexity, under a plan.

``--arithmetic chip`` evaluates the bit-exact twin (:mod:`qslm_neuro.chiparith`) in the number
formats of ``--hw`` (``--set state_bits=16`` changes one), and pairs it with fp32 and with the
plan's fake-quantized float model on the same items (95% intervals, McNemar for accuracy).
"""
from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from typing import Any

from qslm_neuro.cli.scale_options import add_scale_options, device_of
from qslm_neuro.cli.common import (EXIT_OK, add_data_dir, load_model_arg, parse_overrides,
                                   plan_from_arg)

HELP = "evaluate a checkpoint (SST-2 dev accuracy or WikiText-2 perplexity)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint directory (e.g. data/slm-small-sst2)")
    p.add_argument("--task", default=None, choices=["sst2", "wikitext2"],
                   help="default: the model's own (classify -> sst2, lm -> wikitext2)")
    p.add_argument("--split", default=None, help="sst2: dev (default) | wikitext2: test (default)")
    p.add_argument("--plan", default=None, help="quantization plan (plan JSON or search report), "
                   "or one precision for every layer (e.g. int4)")
    p.add_argument("--arithmetic", default="float", choices=["float", "chip"],
                   help="float: fake-quantized weights in float (default); chip: the bit-exact "
                   "twin in the chip's integer formats (--hw), paired with fp32 and float")
    p.add_argument("--hw", default="loihi2", help="chip whose [arithmetic] formats --arithmetic "
                   "chip uses (built-in name or .toml)")
    p.add_argument("--set", action="append", default=[], metavar="FORMAT=VALUE",
                   help="override a number format, e.g. --set state_bits=16 --set "
                   "activation_bits=12")
    p.add_argument("--max-examples", type=int, default=None,
                   help="evaluate a subset: this many sentences (sst2, stratified) or scored "
                   "tokens (wikitext2)")
    add_data_dir(p, help_text=None)
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    add_scale_options(p)


def _task(args: argparse.Namespace, loaded: Any, name: str) -> Any:
    from qslm_neuro.tasks import make_task

    options: dict[str, Any] = {}
    if args.max_examples:
        options["max_examples" if name == "sst2" else "max_tokens"] = args.max_examples
    return make_task(name, loaded.tokenizer, data_dir=args.data_dir, split=args.split,
                     ctx_len=loaded.config.ctx_len, **options)


def chip_result(loaded: Any, plan: Any, formats: Any, task: Any, task_name: str,
                data_dir: Any, progress: bool = True,
                known: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The chip-arithmetic score, fp32 and the plan in float on the same items, and the pairs.
    ``known``: per-item results of ``"fp32"`` and ``"fake_quant"`` already computed on ``task``
    (not evaluated again)."""
    from qslm_neuro.chiparith.evaluate import calibration_batches, evaluate_chip
    from qslm_neuro.quantsearch.paired import paired_accuracy, paired_perplexity

    model = loaded.model
    calibration = calibration_batches(task_name, loaded.tokenizer, data_dir,
                                      loaded.config.ctx_len)
    chip = evaluate_chip(model, plan, formats, task, calibration, per_item=True,
                         progress=progress)
    known = known or {}
    fp32 = known.get("fp32") or task.evaluate(model, per_item=True)
    fake = known.get("fake_quant")
    if fake is None:
        with plan.applied(model):
            fake = task.evaluate(model, per_item=True)
    key = "per_example_correct" if "per_example_correct" in chip else "per_token_nll"
    pair = paired_accuracy if key == "per_example_correct" else paired_perplexity
    result = {"metric": chip["metric"], "split": chip["split"], "n": chip.get("n"),
              "chip": chip["value"], "fake_quant": fake["value"], "fp32": fp32["value"],
              "chip_vs_fp32": pair(fp32[key], chip[key]),
              "chip_vs_fake_quant": pair(fake[key], chip[key]),
              "formats": chip["formats"], "plan_key": plan.key,
              "calibration": f"{task_name} training text ({len(calibration)} batches)"}
    return result


def run(args: argparse.Namespace) -> int:
    from qslm_neuro.tasks.registry import check_model_for_task

    from qslm_neuro.cli.checks import check_eval_args

    check_eval_args(args)
    loaded = load_model_arg(args.model, device_of(args))
    task_name = args.task or ("sst2" if loaded.config.head == "classify" else "wikitext2")
    check_model_for_task(loaded.config.head, task_name, str(args.model))
    plan = plan_from_arg(args.plan, loaded.model) if args.plan else None  # bad input first
    if args.arithmetic == "chip":
        from qslm_neuro.hw import load_hardware
        from qslm_neuro.quant import QuantPlan

        formats = load_hardware(args.hw, parse_overrides(args.set)).formats()
        task = _task(args, loaded, task_name)
        result = chip_result(loaded, plan or QuantPlan(), formats, task, task_name,
                             args.data_dir, progress=not args.json)
        if args.json:
            print(json.dumps(result, indent=2))
            return EXIT_OK
        print(f"{result['split']}: {result['metric']} in chip arithmetic ({args.hw}) = "
              f"{result['chip']:.4f}; plan in float {result['fake_quant']:.4f}; fp32 "
              f"{result['fp32']:.4f}")
        for name in ("chip_vs_fp32", "chip_vs_fake_quant"):
            pair = result[name]
            value = pair.get("difference", pair.get("relative_change"))
            low, high = pair["ci95"]
            print(f"  {name.replace('_', ' ')}: {value:+.4f} (95% interval {low:+.4f} .. "
                  f"{high:+.4f})")
        return EXIT_OK
    if args.set:
        from qslm_neuro.errors import BadInputError

        raise BadInputError("--set changes number formats; it needs --arithmetic chip")
    task = _task(args, loaded, task_name)
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
