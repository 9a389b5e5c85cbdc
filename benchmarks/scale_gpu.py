"""GPU part of bench_scale.py: evaluation throughput of SpikeGPT-sized shapes, fused vs reference.

    python benchmarks/bench_scale.py --gpu --out DIR [--device cuda] [--tiny]

Random weights in this project's ``spikegpt-46m`` and ``spikegpt-216m`` shapes (no trained
SpikeGPT weights ship; speed and memory do not depend on the values). For each shape:

* exactness: logits and every population's spikes of the fused loops against the reference
  loops (step-by-step WKV, no parallel form) on one small batch;
* language modelling (``lm`` head, 1,024-token windows) and classification (``classify`` head,
  64-token rows, SST-2 dev = 872 sentences): tokens/s and peak GPU memory for several batch
  sizes, reference loops ("before") and fused loops ("after"), fp32 and with a fake-quantized
  uniform int4 plan applied;
* the projected wall time of the full SST-2 search at 216M, from the evaluation counts of the
  small model's search (benchmarks/results/search_sst2.json: full, calibration and proxy
  evaluations) times the measured time of one such evaluation (activity recorded, plan applied).

``--tiny`` swaps in the ``tiny`` shape and small batches: the same code path in seconds, for a
CPU check before the GPU run (``--device cpu --tiny``). Needs only torch, snntorch and this
package (no Dask). Writes DIR/scale_gpu.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"
WIKITEXT2_TEST_TOKENS = 290_000  # about: the figure for one test pass


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(run: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    run()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        _sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def _reference_loops():
    """The step-by-step loops: fused kernels off, WKV's parallel form off."""
    import contextlib

    from qslm_neuro.models import fused, wkv

    @contextlib.contextmanager
    def context():
        before = wkv.PARALLEL_MAX_ELEMENTS
        wkv.PARALLEL_MAX_ELEMENTS = -1
        try:
            with fused.fused_loops(False):
                yield
        finally:
            wkv.PARALLEL_MAX_ELEMENTS = before
    return context()


def exactness(model: torch.nn.Module, steps: int, device: torch.device) -> dict[str, Any]:
    idx = torch.randint(0, model.config.vocab_size, (2, steps), device=device)
    spikes: dict[str, list[torch.Tensor]] = {}
    hooks = [m.register_forward_hook(lambda _m, _a, out, n=name: spikes.setdefault(n, [])
                                     .append(out.detach().clone()))
             for name, m in model.populations().items()]
    try:
        with torch.no_grad():
            with _reference_loops():
                reference = model(idx)
            fast = model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    differing = [name for name, (a, b) in spikes.items() if not torch.equal(a, b)]
    return {"logits_equal": bool(torch.equal(fast, reference)),
            "max_abs_logit_difference": float((fast - reference).abs().max()),
            "populations": len(spikes), "populations_with_different_spikes": differing,
            "tokens": int(idx.numel())}


def throughput(model: torch.nn.Module, batch: int, steps: int, fused_on: bool,
               device: torch.device, repeats: int) -> dict[str, Any]:
    from contextlib import nullcontext

    idx = torch.randint(0, model.config.vocab_size, (batch, steps), device=device)
    lengths = torch.full((batch,), steps, device=device) if model.config.head == "classify" \
        else None
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)

    def run() -> None:
        with torch.no_grad(), (nullcontext() if fused_on else _reference_loops()):
            model(idx, lengths)
    try:
        seconds = _timed(run, device, repeats)
    except torch.cuda.OutOfMemoryError:
        return {"batch": batch, "steps": steps, "fused": fused_on, "out_of_memory": True}
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {"batch": batch, "steps": steps, "fused": fused_on, "seconds": seconds,
            "tokens_per_s": batch * steps / seconds, "peak_memory_bytes": peak}


def one_evaluation_s(model: torch.nn.Module, plan: Any, batch: int, steps: int,
                     device: torch.device) -> float:
    """One search evaluation: plan applied, activity recorded, one pass over ``batch`` rows."""
    from qslm_neuro.measure.recorder import ActivityRecorder

    idx = torch.randint(0, model.config.vocab_size, (batch, steps), device=device)
    lengths = torch.full((batch,), steps, device=device)

    def run() -> None:
        with plan.applied(model), torch.no_grad(), ActivityRecorder(model):
            model(idx, lengths)
    return _timed(run, device, 2)


def measure_shape(name: str, args: argparse.Namespace, device: torch.device,
                  save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    from qslm_neuro.models import build_model
    from qslm_neuro.quant import QuantPlan

    lm_steps, cls_steps = (32, 16) if args.tiny else (1024, 64)
    lm_batches = [2, 4] if args.tiny else [16, 64, 128, 256]
    ref_batches = [2, 4] if args.tiny else [16, 64]
    cls_batches = [8, 16] if args.tiny else [872, 3488]
    shape = "tiny" if args.tiny else name
    entry: dict[str, Any] = {"shape": shape, "weights": "random (seed 0): speed and memory "
                             "only, no trained SpikeGPT weights"}
    for task, steps, batches in (("lm", lm_steps, lm_batches),
                                 ("classify", cls_steps, cls_batches)):
        torch.manual_seed(0)
        model = build_model(shape, head=task, dropout=0.0, device=device).eval()
        entry.setdefault("parameters", model.num_parameters())
        part: dict[str, Any] = {"steps": steps, "exactness": exactness(model, min(steps, 128),
                                                                        device)}
        runs = []
        for fused_on in (False, True):
            for batch in (ref_batches if (not fused_on and task == "lm") else batches):
                runs.append(throughput(model, batch, steps, fused_on, device, args.repeats))
                print(f"  {shape} {task} {'fused' if fused_on else 'reference'} batch {batch}: "
                      f"{runs[-1].get('tokens_per_s', 0):,.0f} tokens/s", flush=True)
        plan = QuantPlan.uniform(model, "int4")
        fastest = max((r for r in runs if r.get("fused") and "tokens_per_s" in r),
                      key=lambda r: r["tokens_per_s"])
        try:  # one failing part must not lose the numbers measured so far
            with plan.applied(model):
                quantized = throughput(model, fastest["batch"], steps, True, device,
                                       args.repeats)
        except Exception as exc:  # noqa: BLE001
            quantized = {"batch": fastest["batch"], "error": f"{type(exc).__name__}: {exc}"}
        quantized["plan"] = "uniform int4 (fake-quantized weights)"
        part["runs"] = runs + [quantized]
        part["best_fused_fp32"] = fastest
        best_ref = max((r for r in runs if not r.get("fused") and "tokens_per_s" in r),
                       key=lambda r: r["tokens_per_s"])
        part["best_reference_fp32"] = best_ref
        part["fused_speedup"] = fastest["tokens_per_s"] / best_ref["tokens_per_s"]
        if task == "lm":
            part["wikitext2_test_pass_s"] = WIKITEXT2_TEST_TOKENS / fastest["tokens_per_s"]
        else:
            try:
                part["search_projection"] = project_search(model, plan, cls_steps, args, device)
            except Exception as exc:  # noqa: BLE001
                part["search_projection"] = {"error": f"{type(exc).__name__}: {exc}"}
        entry[task] = part
        save(entry)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return entry


def project_search(model: torch.nn.Module, plan: Any, steps: int, args: argparse.Namespace,
                   device: torch.device) -> dict[str, Any]:
    """Projected SST-2 search time at this shape from the small model's evaluation counts."""
    counts_path = Path(args.counts)
    counts = json.loads(counts_path.read_text())["counts"] if counts_path.is_file() else {
        "full_evaluations": 19, "calibration_evaluations": 37, "proxy_evaluations": 37}
    sizes = (16, 8, 4) if args.tiny else (872, 128, 32)  # dev sentences, calibration, proxy
    seconds = {kind: one_evaluation_s(model, plan, size, steps, device)
               for kind, size in zip(("full", "calibration", "proxy"), sizes)}
    total = (counts["full_evaluations"] * seconds["full"]
             + counts["calibration_evaluations"] * seconds["calibration"]
             + counts["proxy_evaluations"] * seconds["proxy"])
    return {"counts_from": str(counts_path), "counts": {k: counts[k] for k in (
                "full_evaluations", "calibration_evaluations", "proxy_evaluations")},
            "rows": dict(zip(("full", "calibration", "proxy"), sizes)), "steps": steps,
            "seconds_per_evaluation": seconds, "projected_search_s": total,
            "excluded": "hardware estimates per candidate (CPU, ~0.1 s each) and data loading"}


def print_table(result: dict[str, Any]) -> None:
    print(f"\n{'shape':<15} {'task':<9} {'ref tok/s':>11} {'fused tok/s':>12} {'x':>6} "
          f"{'int4 tok/s':>11} {'peak GiB':>9} exact")
    for entry in result["shapes"]:
        for task in ("lm", "classify"):
            part = entry[task]
            q = part["runs"][-1]
            peak = part["best_fused_fp32"].get("peak_memory_bytes")
            print(f"{entry['shape']:<15} {task:<9} "
                  f"{part['best_reference_fp32']['tokens_per_s']:>11,.0f} "
                  f"{part['best_fused_fp32']['tokens_per_s']:>12,.0f} "
                  f"{part['fused_speedup']:>6.1f} {q.get('tokens_per_s', 0):>11,.0f} "
                  f"{(peak or 0) / 2**30:>9.1f} {part['exactness']['logits_equal']}")
        projection = entry["classify"]["search_projection"]
        print(f"{entry['shape']}: projected SST-2 search "
              f"{projection.get('projected_search_s', float('nan')):.1f} s ("
              f"{projection.get('error', 'from measured evaluations')}); WikiText-2 test pass "
              f"{entry['lm']['wikitext2_test_pass_s']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for scale_gpu.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny shape, small batches")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", default="spikegpt-46m,spikegpt-216m")
    parser.add_argument("--counts", default=str(RESULTS / "search_sst2.json"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but this torch sees no GPU (use --device cpu --tiny)")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
    torch.backends.cudnn.allow_tf32 = False
    from qslm_neuro.models import fused

    result: dict[str, Any] = {
        "benchmark": "scale_gpu", "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "gpu_memory_bytes": (torch.cuda.get_device_properties(device).total_memory
                             if device.type == "cuda" else None),
        "torch": torch.__version__, "python": platform.python_version(),
        "fused_lif_used": fused.usable(torch.zeros(1, device=device), "lif"),
        "fused_wkv_used": fused.usable(torch.zeros(1, device=device), "wkv"),
        "tf32": False, "tiny": args.tiny, "shapes": []}
    shapes = ["tiny"] if args.tiny else [s.strip() for s in args.shapes.split(",") if s.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save(entry: dict[str, Any]) -> None:  # after every part: a crash keeps what was measured
        result["shapes"] = [e for e in result["shapes"] if e is not entry] + [entry]
        result["fused_status"] = fused.status()
        (out / "scale_gpu.json").write_text(json.dumps(result, indent=2))

    for name in shapes:
        print(f"{name} ...", flush=True)
        save(measure_shape(name, args, device, save))
    print_table(result)
    print(f"\nwritten {Path(args.out) / 'scale_gpu.json'}")
    return 0
