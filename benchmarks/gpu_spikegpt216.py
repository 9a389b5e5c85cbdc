"""The full-scale path on a GPU: a random-weight SpikeGPT-216M (its own block) through eval and
a short tiered search on SST-2 subsets, timed.

    QSLM_DATA_DIR=... python benchmarks/gpu_spikegpt216.py --device cuda \\
        --out benchmarks/results/gpu_spikegpt216.json [--tokenizer 20B_tokenizer.json]

Weights are random (SpikeGPT's are not available here), so accuracy is chance level: this
measures that ``spikegpt-216m-original`` (its 216M network with a 2-class head on the mean-pooled
features in place of the 50,277-way LM head, as the shipped classifier has: 176,788,226
parameters) runs through ``SST2Task.evaluate`` and
:func:`qslm_neuro.search` on the device, and how long each takes. Token ids come from
``--tokenizer`` (default: the shipped SST-2 model's 8192-id tokenizer, whose ids index the
50,277-row embedding). The search selects on a stratified subset of SST-2 *train*; the eval
reports on a subset of *dev* (never the same sentences). ``--tiny`` shrinks the network so the
CPU path can be tested.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from qslm_neuro.fileio import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
TINY = {"d_model": 32, "n_layers": 2, "d_ffn": 128, "ctx_len": 64}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def build(config: str, tiny: bool, vocab: int, device: str, seed: int) -> torch.nn.Module:
    """Random weights initialised on the device itself (215M normal draws on a CPU are slow)."""
    from qslm_neuro.models import construct_model, get_config

    overrides = dict(TINY, vocab_size=vocab) if tiny else {}
    cfg = get_config(config, head="classify", n_classes=2, **overrides)
    if cfg.vocab_size < vocab:
        raise SystemExit(f"the tokenizer has {vocab} ids but {config} only {cfg.vocab_size} rows")
    torch.manual_seed(seed)
    with torch.device(device):
        model = construct_model(cfg)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    from qslm_neuro.quantsearch import (Calibration, Constraints, Execution, SearchSpace,
                                        StoreOptions, search)
    from qslm_neuro.tasks import SST2Task
    from qslm_neuro.tasks.neox_tokenizer import load_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--config", default="spikegpt-216m-original")
    parser.add_argument("--tiny", action="store_true", help="tiny widths (CPU test of the path)")
    parser.add_argument("--tokenizer", default=str(ROOT / "data/slm-small-sst2/tokenizer.json"))
    parser.add_argument("--data-dir", default=None, help="dataset folder ($QSLM_DATA_DIR)")
    parser.add_argument("--eval-sentences", type=int, default=872, help="SST-2 dev subset")
    parser.add_argument("--search-sentences", type=int, default=256, help="SST-2 train subset")
    parser.add_argument("--calib-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ladder", default="fp32,int8,int4")
    parser.add_argument("--tiers", default="global,block")
    parser.add_argument("--max-full-evaluations", type=int, default=24)
    parser.add_argument("--const-acc", default="5pt")
    parser.add_argument("--const-mem", default="30%")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default="runs/gpu-spikegpt216",
                        help="search run directory; emptied first so the timing is a full search")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but torch sees no GPU; use --device cpu --tiny to test")

    torch.set_num_threads(1 if args.device == "cpu" else torch.get_num_threads())
    if Path(args.run_dir).exists():
        shutil.rmtree(args.run_dir)
    tokenizer = load_tokenizer(args.tokenizer)
    start = time.perf_counter()
    model = build(args.config, args.tiny, tokenizer.vocab_size, args.device, args.seed)
    _sync(args.device)
    build_s = time.perf_counter() - start
    dev = SST2Task(tokenizer, args.data_dir, split="dev", batch_size=args.batch_size,
                   max_examples=args.eval_sentences, seed=args.seed)
    train = SST2Task(tokenizer, args.data_dir, split="train", batch_size=args.batch_size,
                     max_examples=args.search_sentences, seed=args.seed)
    dev_tokens = sum(int(lengths.sum()) for _, lengths, _ in dev.batches())

    start = time.perf_counter()
    dev.evaluate(model)  # warm-up: kernels, allocator
    _sync(args.device)
    warm_s = time.perf_counter() - start
    start = time.perf_counter()
    result = dev.evaluate(model)
    _sync(args.device)
    eval_s = time.perf_counter() - start

    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    found = search(model, train,
                   constraints=Constraints(accuracy=args.const_acc, memory=args.const_mem),
                   space=SearchSpace(ladder=args.ladder), tiers=tuple(args.tiers.split(",")),
                   calibration=Calibration(size=args.calib_size),
                   execution=Execution(progress=False,
                                       max_full_evaluations=args.max_full_evaluations),
                   store=StoreOptions(out=args.run_dir), seed=args.seed, chips="loihi2")
    _sync(args.device)
    search_s = time.perf_counter() - start
    chosen = found.chosen
    record = {
        "benchmark": "gpu_spikegpt216", "config": model.config.to_dict(),
        "parameters": model.num_parameters(), "weights": f"random (seed {args.seed})",
        "device": args.device, "device_name": torch.cuda.get_device_name()
        if args.device.startswith("cuda") else platform.processor() or platform.machine(),
        "torch": torch.__version__, "python": sys.version.split()[0],
        "tokenizer": {"file": args.tokenizer, "vocab_size": tokenizer.vocab_size},
        "build_s": build_s,
        "eval": {"split": result["split"], "sentences": result["n"], "tokens": dev_tokens,
                 "accuracy": result["value"], "warmup_s": warm_s, "wall_s": eval_s,
                 "tokens_per_s": dev_tokens / eval_s},
        "search": {"selection": train.name, "sentences": len(train), "ladder": args.ladder,
                   "tiers": args.tiers, "const_acc": args.const_acc, "const_mem": args.const_mem,
                   "wall_s": search_s, "cpu_s": found.cpu_time_s, "counts": found.counts,
                   "baseline_accuracy": found.baseline.metric,
                   "chosen": None if chosen is None else {
                       "label": chosen.label, "accuracy": chosen.metric,
                       "bytes": chosen.total_bytes, "memory_saving": chosen.memory_saving,
                       "energy_per_token_j": chosen.energy_per_token_j}},
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated()
        if args.device.startswith("cuda") else None,
        "note": "random weights: accuracies are chance level; the numbers are timings",
    }
    write_json_atomic(args.out, record)
    print(f"{args.config} ({record['parameters']:,} parameters) on {record['device_name']}: "
          f"build {build_s:.1f} s; eval {result['n']} dev sentences {eval_s:.2f} s "
          f"({record['eval']['tokens_per_s']:,.0f} tokens/s, accuracy {result['value']:.4f}); "
          f"search on {len(train)} train sentences {search_s:.1f} s "
          f"({found.counts.get('full_evaluations')} full evaluations), chosen "
          f"{chosen.label if chosen else 'none'}")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
