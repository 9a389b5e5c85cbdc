"""Accuracy as the chip computes it, the formats sweep, and twin vs Lava (issue 23).

Writes ``benchmarks/results/chip_arithmetic.json`` and prints the tables:

1. SST-2 dev (``data/slm-small-sst2``, the plan ``search_sst2.py`` chose): fp32, the plan with
   fake-quantized float weights, the plan in Loihi 2's arithmetic (the bit-exact twin), paired
   95% intervals chip-vs-fp32 and chip-vs-float; whether constA holds on the chip (the search's
   own threshold on the reporting split);
2. the sweep: state bits 16/20/24 and activation bits 8/12/16/24 (the other formats at Loihi
   2's values), SST-2 dev accuracy of the chosen plan in each, on a stratified subset of
   ``--sweep-examples`` dev sentences (seven twin evaluations; the JSON says how many);
3. WikiText-2 test perplexity (``data/slm-small-wt2``, the plan ``search_wt2.py`` chose) in the
   three arithmetics, on the whole test set (``--wt2-tokens all``, the default: about a quarter
   of an hour for the twin on one CPU thread) or its first ``--wt2-tokens`` scored tokens;
4. the whole SLM closed loop in Lava on ``--lava-tokens`` SST-2 dev tokens under the chosen
   plan, compared integer for integer with the twin, and both timed on the same tokens (CPU).

Formats are calibrated on training text only (:mod:`qslm_neuro.chiparith.evaluate`), on the CPU:
the integer program is compiled there and then moved to ``--device``, whose integer results
equal the CPU's (every twin operation is exact integer arithmetic; matrix products in float32
or float64 stay below 2**24 or 2**53, and TF32 is switched off here;
``tests/chiparith/test_twin_device.py``). Each part records the device it ran on, and the
twin's evaluation seconds and tokens per second.
Usage: ``QSLM_DATA_DIR=... python benchmarks/bench_chip_arithmetic.py [--sst2-examples N]``;
on a GPU (``tools/gpu_benchmarks.sh chiparith``): ``--device cuda --parts sst2,wt2 --base
benchmarks/results/chip_arithmetic.json --results $OUT/chip_arithmetic.json``.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _parts_asked(argv: list[str]) -> str:
    """``--parts`` as given on the command line (before argparse: Lava must come first)."""
    for i, arg in enumerate(argv):
        if arg.startswith("--parts="):
            return arg.split("=", 1)[1]
        if arg == "--parts" and i + 1 < len(argv):
            return argv[i + 1]
    return "sst2,wt2,lava"


if "lava" in _parts_asked(sys.argv):  # Lava's compat hook first; a GPU run of wt2 needs no Lava
    import qslm_neuro.lava  # noqa: E402,F401
import torch  # noqa: E402

from qslm_neuro.chiparith.evaluate import calibration_batches  # noqa: E402
from qslm_neuro.chiparith.twin import ChipTwin, chip_twin  # noqa: E402
from qslm_neuro.fileio import write_json_atomic  # noqa: E402
from qslm_neuro.hw import load_hardware  # noqa: E402
from qslm_neuro.models.checkpoint import load_model  # noqa: E402
from qslm_neuro.quant import load_plan  # noqa: E402
from qslm_neuro.quantsearch.paired import paired_accuracy, paired_perplexity  # noqa: E402
from qslm_neuro.tasks import make_task  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "chip_arithmetic.json"
STATE_BITS, ACTIVATION_BITS = (16, 20, 24), (8, 12, 16, 24)


def read_json(path: Any) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def _tokens(task: Any) -> int:
    """Tokens the model reads on ``task``: SST-2 sentence lengths, or every window position."""
    if hasattr(task, "batches"):
        return int(sum(int(lengths.sum()) for _, lengths, _ in task.batches()))
    return len(task.starts) * task.window_len


def _chip(model: Any, plan: Any, formats: Any, task: Any, calibration: Any,
          device: str) -> dict[str, Any]:
    """The twin's per-item result on ``task``, compiled on the CPU, run on ``device``."""
    twin = chip_twin(model, plan, formats, calibration).to(device)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = task.evaluate(twin, per_item=True)
    if device == "cuda":
        torch.cuda.synchronize()
    result["eval_s"] = time.perf_counter() - start
    tokens = _tokens(task)
    result["twin"] = {"device": device_name(device), "eval_s": result["eval_s"],
                      "tokens_read": tokens, "tokens_per_s": tokens / result["eval_s"],
                      "scored_per_s": len(task) / result["eval_s"]}
    return result


def _key(result: dict[str, Any]) -> str:
    return "per_example_correct" if "per_example_correct" in result else "per_token_nll"


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("per_example_correct", "per_token_nll")}


def part_task(model_dir: str, plan_path: str, task_name: str, hw: str, options: dict[str, Any],
              sweep_examples: int | None = None, device: str = "cpu") -> dict[str, Any]:
    started = time.perf_counter()
    loaded = load_model(model_dir)
    model, plan = loaded.model.eval(), load_plan(plan_path)
    task = make_task(task_name, loaded.tokenizer, ctx_len=loaded.config.ctx_len, **options)
    calibration = calibration_batches(task_name, loaded.tokenizer, None, loaded.config.ctx_len)
    on_device = copy.deepcopy(model).to(device)  # the float evaluations; the CPU one compiles
    float_start = time.perf_counter()
    fp32 = task.evaluate(on_device, per_item=True)
    with plan.applied(on_device):
        fake = task.evaluate(on_device, per_item=True)
    float_s = time.perf_counter() - float_start
    pair = paired_accuracy if _key(fp32) == "per_example_correct" else paired_perplexity
    base = load_hardware(hw)
    chip = _chip(model, plan, base.formats(), task, calibration, device)
    out = {"model": model_dir, "plan": plan_path, "plan_key": plan.key, "split": fp32["split"],
           "metric": fp32["metric"], "n": len(task), "fp32": _strip(fp32),
           "fake_quant": _strip(fake), "chip": _strip(chip),
           "chip_vs_fp32": pair(fp32[_key(fp32)], chip[_key(chip)]),
           "chip_vs_fake_quant": pair(fake[_key(fake)], chip[_key(chip)]),
           "fake_quant_vs_fp32": pair(fp32[_key(fp32)], fake[_key(fake)]),
           "formats": base.formats().to_dict(),
           "calibration": f"{task_name} training text, {len(calibration)} batches",
           "device": device_name(device), "twin": chip.pop("twin"),
           "float_eval_s": float_s, "batch_size": task.batch_size}
    print(f"{task_name}: fp32 {fp32['value']:.4f}, plan float {fake['value']:.4f}, plan chip "
          f"{chip['value']:.4f} ({chip['eval_s']:.0f} s)", flush=True)
    if sweep_examples is not None:
        sweep_task, sweep_fp32 = task, fp32
        if sweep_examples < len(task):  # a stratified subset: 7 twin evaluations on 2 cores
            sweep_task = make_task(task_name, loaded.tokenizer, max_examples=sweep_examples,
                                   **{k: v for k, v in options.items() if k == "batch_size"})
            sweep_fp32 = sweep_task.evaluate(on_device, per_item=True)
        out["sweep_n"] = len(sweep_task)
        rows = []
        for field, values in (("state_bits", STATE_BITS), ("activation_bits", ACTIVATION_BITS)):
            for bits in values:
                formats = load_hardware(hw, {field: bits}).formats()
                same = formats == base.formats() and sweep_task is task
                result = chip if same else _chip(model, plan, formats, sweep_task, calibration,
                                                 device)
                rows.append({"format": field, "bits": bits, "value": result["value"],
                             "vs_fp32": pair(sweep_fp32[_key(sweep_fp32)],
                                             result[_key(result)])})
                print(f"  {field}={bits}: {result['value']:.4f}", flush=True)
        out["sweep"] = rows
    out["wall_s"] = time.perf_counter() - started
    return out


def part_lava(model_dir: str, plan_path: str, hw: str, tokens: int) -> dict[str, Any]:
    from qslm_neuro.lava.closed_loop import closed_loop
    from qslm_neuro.lava.traces import task_token_stream

    loaded = load_model(model_dir)
    model, plan = loaded.model.eval(), load_plan(plan_path)
    calibration = calibration_batches("sst2", loaded.tokenizer, None, loaded.config.ctx_len)
    twin = chip_twin(model, plan, load_hardware(hw).formats(), calibration)
    ids, description = task_token_stream(loaded, tokens, None)
    stream = [int(t) for t in ids.reshape(-1)]
    report = closed_loop(twin, stream)
    twin_s = _time_twin(twin, stream)
    print(report.table(), flush=True)
    return {**report.to_dict(), "model": model_dir, "plan_key": plan.key, "data": description,
            "twin_best_s": twin_s, "speedup": report.lava_s / twin_s,
            "device": device_name("cpu")}


def _time_twin(twin: ChipTwin, stream: list[int]) -> float:
    """Best of 5 runs of the twin on the same stream (batch 1, CPU, no trace)."""
    idx = torch.tensor([stream])
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        twin.integer_logits(idx)
        best = min(best, time.perf_counter() - start)
    return best


def wt2_tokens(text: str) -> int | None:
    """``--wt2-tokens``: a positive count, or ``all`` (None: the whole test set)."""
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of scored "
                                         "tokens or 'all'")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", default="loihi2")
    parser.add_argument("--sst2-model", default="data/slm-small-sst2")
    parser.add_argument("--sst2-plan", default="benchmarks/results/search_sst2.json")
    parser.add_argument("--wt2-model", default="data/slm-small-wt2")
    parser.add_argument("--wt2-plan", default="benchmarks/results/search_wt2.json")
    parser.add_argument("--sst2-examples", type=int, default=None,
                        help="stratified subset of SST-2 dev (default: all 872 sentences)")
    parser.add_argument("--sweep-examples", type=int, default=300,
                        help="stratified subset of SST-2 dev for the formats sweep (7 twin "
                        "evaluations; the machine has 2 shared cores)")
    parser.add_argument("--wt2-tokens", type=wt2_tokens, default=None,
                        help="scored WikiText-2 test tokens, or 'all' (the whole test set)")
    parser.add_argument("--lava-tokens", type=int, default=64)
    parser.add_argument("--parts", default="sst2,wt2,lava")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where the twin and the float evaluations run (Lava: CPU)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="sentences or windows per batch (default: the task's own; results "
                        "do not depend on it)")
    parser.add_argument("--results", "--out", dest="results", default=str(OUT),
                        help="the JSON written (default: benchmarks/results/chip_arithmetic.json)")
    parser.add_argument("--base", default=None,
                        help="a results JSON whose other parts are kept (default: --results "
                        "itself when it exists)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts <= {"sst2", "wt2", "lava"}:
        parser.error(f"--parts {args.parts!r}: expected some of sst2,wt2,lava")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    if args.device == "cuda":  # exact float32 products: no TF32 (see the module docstring)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
    parts = set(args.parts.split(","))
    base = args.base or (args.results if Path(args.results).is_file() else None)
    previous = read_json(base) if base else {}
    result: dict[str, Any] = {**previous, "benchmark": "bench_chip_arithmetic", "hw": args.hw,
                              "platform": platform.platform(), "torch_threads": 1}
    batch = {"batch_size": args.batch_size} if args.batch_size else {}
    start = time.perf_counter()
    if "sst2" in parts:
        options = {"max_examples": args.sst2_examples} if args.sst2_examples else {}
        result["sst2"] = part_task(args.sst2_model, args.sst2_plan, "sst2", args.hw,
                                   {**options, **batch}, sweep_examples=args.sweep_examples,
                                   device=args.device)
        search = read_json(ROOT / "benchmarks" / "results" / "search_sst2.json")
        held = search["const_acc_on_report_split"]
        result["sst2"]["const_acc"] = {
            "text": held["text"], "threshold": held["threshold"],
            "holds_in_float": held["holds"],
            "holds_on_chip": result["sst2"]["chip"]["value"] >= held["threshold"]}
    if "wt2" in parts:
        tokens = {"max_tokens": args.wt2_tokens} if args.wt2_tokens else {}
        result["wt2"] = part_task(args.wt2_model, args.wt2_plan, "wikitext2", args.hw,
                                  {**tokens, **batch}, device=args.device)
        result["wt2"]["subset"] = (f"first {args.wt2_tokens} scored tokens of WikiText-2 test"
                                   if args.wt2_tokens else "the whole WikiText-2 test set")
        result["wt2"]["whole_split"] = args.wt2_tokens is None
        result["wt2"]["const_acc"] = wt2_const_acc(result["wt2"])
    if "lava" in parts:
        result["lava"] = part_lava(args.sst2_model, args.sst2_plan, args.hw, args.lava_tokens)
    result.pop("wall_s", None)  # each part keeps its own; this run's parts and time:
    result["last_run"] = {"parts": sorted(parts), "device": device_name(args.device),
                          "wall_s": time.perf_counter() - start}
    write_json_atomic(args.results, result)
    sys.path.insert(0, str(ROOT / "tools"))
    from results_chip_arithmetic import section_chip_arithmetic

    print(section_chip_arithmetic(result))
    print(f"written to {args.results}")
    return 0


def wt2_const_acc(part: dict[str, Any]) -> dict[str, Any]:
    """constA of the WikiText-2 search (its own text, e.g. 5%) on this part's fp32 perplexity:
    whether the chosen plan keeps it in float and in chip arithmetic, on the same tokens."""
    from qslm_neuro.quantsearch.constraints import PerfConstraint

    search = read_json(ROOT / "benchmarks" / "results" / "search_wt2.json")
    text = search["const_ppl"]
    resolved = PerfConstraint.parse(text).resolve(part["fp32"]["value"], False, "perplexity")
    return {"text": text, "threshold": resolved.threshold,
            "holds_in_float": bool(resolved.ok(part["fake_quant"]["value"])),
            "holds_on_chip": bool(resolved.ok(part["chip"]["value"]))}


if __name__ == "__main__":
    sys.exit(main())
