"""A chosen plan as a packed integer checkpoint: bytes on disk vs the footprint, same accuracy.

    QSLM_DATA_DIR=/work/shared/data python benchmarks/bench_export.py [REPORT.json] [--model DIR]

REPORT defaults to benchmarks/results/search_sst2.json (its ``chosen.plan``, made on
data/slm-small-sst2). The plan is exported with ``qslm export`` semantics
(:func:`qslm_neuro.export.export_packed`); then SST-2 dev accuracy is measured twice: the fp32
checkpoint with the plan applied (``qslm eval --plan``) and the packed checkpoint loaded back
(``qslm eval --model``), and their logits are compared on the whole dev set. Prints a table and
writes benchmarks/results/export_packed.json (with the sha256 of every file involved).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from qslm_neuro.export.packed import export_packed  # noqa: E402
from qslm_neuro.fileio import sha256_file, write_json_atomic  # noqa: E402
from qslm_neuro.models.checkpoint import load_checkpoint  # noqa: E402
from qslm_neuro.quant import load_plan  # noqa: E402
from qslm_neuro.tasks import make_task  # noqa: E402
from qslm_neuro.viz import format_table  # noqa: E402

OUT = Path("benchmarks/results/export_packed.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", default="benchmarks/results/search_sst2.json")
    parser.add_argument("--model", default="data/slm-small-sst2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    plan = load_plan(args.report)
    fp32 = load_checkpoint(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        summary = export_packed(fp32, plan, Path(tmp) / "packed")
        packed = load_checkpoint(Path(tmp) / "packed")
        task = make_task("sst2", fp32.tokenizer, ctx_len=fp32.config.ctx_len)
        with plan.applied(fp32.model):
            with_plan = task.evaluate(fp32.model)["value"]
            with torch.no_grad():
                same_logits = all(torch.equal(fp32.model(idx, lengths),
                                              packed.model(idx, lengths))
                                  for idx, lengths, _ in task.batches())
        from_packed = task.evaluate(packed.model)["value"]
        files = {name: sha256_file(Path(tmp) / "packed" / name)
                 for name in ("model.safetensors", "plan.json")}
    total_tensors = summary["weight_bytes_on_disk"] + (summary["footprint_total_bytes"]
                                                       - summary["footprint_weight_bytes"])
    result = {
        "benchmark": "export_packed", "report": args.report, "report_sha256":
        sha256_file(args.report), "model": args.model,
        "model_sha256": sha256_file(Path(args.model) / "model.safetensors"),
        "plan_key": plan.key, **summary, "tensor_bytes_on_disk": total_tensors,
        "file_vs_footprint": summary["safetensors_file_bytes"] / summary["footprint_total_bytes"],
        "accuracy_eval_plan": with_plan, "accuracy_packed": from_packed,
        "logits_equal_on_dev": same_logits, "packed_files_sha256": files,
    }
    write_json_atomic(OUT, result)
    print(format_table([
        {"quantity": "weight bytes on disk / footprint weight bytes",
         "value": f"{summary['weight_bytes_on_disk']:,} / {summary['footprint_weight_bytes']:,}"},
        {"quantity": "model.safetensors / footprint total",
         "value": f"{summary['safetensors_file_bytes']:,} / {summary['footprint_total_bytes']:,}"
                  f" ({result['file_vs_footprint']:.4f}x)"},
        {"quantity": "SST-2 dev accuracy: eval --plan vs packed",
         "value": f"{with_plan:.4f} vs {from_packed:.4f}"},
        {"quantity": "logits equal on every dev batch", "value": str(same_logits)}]))
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
