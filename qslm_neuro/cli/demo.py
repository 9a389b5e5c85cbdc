"""``qslm demo``: the whole story, search to chip cost, on the shipped SST-2 model.

Loads the shipped SST-2 classifier and runs one QSLM tiered search in chip terms: the plan must
fit one Loihi 2 chip (constM ``1chip``), lose at most 1 accuracy point (constA) and, among
those, spend the least energy per token on Loihi 2. To keep it quick the search scores
candidates on a stratified sample of the held-out training sentences (``QUICK``; the full-size
search is ``qslm search``, printed at the end). The chosen plan and fp32 are then reported on
all of SST-2 dev, sentences the search never saw, with the paired 95% interval, and costed on
Loihi, Loihi 2 and the embedded SoC. The chosen plan's dev accuracy is also computed as Loihi 2
computes it (the bit-exact twin of :mod:`qslm_neuro.chiparith` in the chip file's
``[arithmetic]`` formats, calibrated on training text), on the same dev sentences, paired with
fp32 and with the plan in float. The screen ends with the headline: plan, size, dev accuracy in
both arithmetics with their intervals, energy per token per chip, what fits.

The run directory (``runs/demo``, git-ignored) keeps the search's evaluation store, keyed by the
model, the data and the evaluation, and the chip-arithmetic score (``chip_arithmetic.json``,
keyed by weights, plan, formats, calibration text and dev data): a second ``make demo`` reuses
every evaluation and takes seconds; another model or data set is refused there rather than
mixed in.

Without SST-2 data it says where to get it and still shows the hardware estimates, from the
activity profile shipped next to the model.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from qslm_neuro.cli.common import add_data_dir, load_model_arg
from qslm_neuro.errors import DataNotFoundError

HELP = "search, cost and plot the shipped SST-2 model (`make demo`)"
DEFAULT_MODEL = "data/slm-small-sst2"
HARDWARE = ("loihi", "loihi2", "embedded-soc")
#: The chip whose own integer arithmetic the chosen plan is also scored in.
ARITHMETIC_CHIP = "loihi2"
#: The demo's search: fit one Loihi 2 chip at the lowest energy per token within 1 point.
SEARCH = {"accuracy": "1pt", "memory": "1chip", "alpha": 0.0, "beta": 1.0, "chips": "loihi2"}
#: What makes it quick: fewer selection sentences, a shorter ladder and the global and block
#: tiers (the module tier refines single weight matrices and costs most evaluations).
QUICK = {"select_size": 300, "ladder": "fp32,int8,int4,int3,int2", "tiers": ("global", "block"),
         "calibration_size": 128}
FULL_COMMAND = ("qslm search --model data/slm-small-sst2 --task sst2 --const-acc 1pt "
                "--const-mem 1chip --alpha 0 --beta 1 --hw loihi2 --out runs/full")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help="SST-2 checkpoint directory")
    p.add_argument("--out", default="runs/demo", help="run directory (reused when rerun)")
    add_data_dir(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)  # see `qslm search --threads`: one thread per process is safest
    return run_demo(args.model, args.out, args.data_dir, args.seed, not args.no_progress)


def cost_table(workloads: dict[str, Any], hardware: tuple[str, ...] = HARDWARE
               ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (candidate x chip), columns named in words, and the CostReports keyed
    ``"<candidate> on <chip>"``."""
    from qslm_neuro.hw import estimate

    rows, reports = [], {}
    for label, workload in workloads.items():
        for hw in hardware:
            report = estimate(workload, hw=hw)
            reports[f"{label} on {hw}"] = report
            rows.append({"plan": label, "chip": hw,
                         "model size (MB)": workload.total_bytes / 1e6,
                         "energy per token (uJ)": report.energy_per_token_j * 1e6,
                         "power (mW)": report.power_w * 1e3,
                         "tokens per second": report.tokens_per_s, "cores": report.cores,
                         "chips needed": report.chips, "fits": _fits(report, hw)})
    return rows, reports


def _fits(report: Any, hw: str) -> str:
    """"yes", or why not in words."""
    from qslm_neuro.hw import load_hardware

    if report.feasible:
        return "yes"
    chip = load_hardware(hw)
    allowed = int(chip.value("max_chips")) if "max_chips" in chip.params else 1
    if report.chips > allowed:
        return f"no ({report.chips} chips, {allowed} allowed)"
    return "no (a core limit; see costs.json)"


def _write_costs(out: Path, rows: list[dict[str, Any]], reports: dict[str, Any]) -> None:
    from qslm_neuro.fileio import write_json_atomic
    from qslm_neuro.viz import plot_energy_breakdown, save_figure

    write_json_atomic(out / "costs.json", {"rows": rows, "reports": {
        k: {key: value for key, value in r.to_dict().items() if key != "layers"}
        for k, r in reports.items()}})
    save_figure(plot_energy_breakdown(reports, title="Energy per token by part"),
                out / "energy_breakdown.png")


def candidate_rows(result: Any) -> list[dict[str, Any]]:
    """The search's candidates with every column named in words."""
    chosen = result.chosen.plan.key if result.chosen is not None else None
    rows = []
    for c in result.candidates:
        hw = c.hw or {}
        rows.append({
            "#": f"{c.order}{' chosen' if c.plan.key == chosen else ''}",
            "tier": c.tier, "step tried": c.label[:34],
            "selection accuracy": c.metric, "size (MB)": c.total_bytes / 1e6,
            "bits per weight": c.mean_weight_bits,
            "energy per token on loihi2 (uJ)": hw.get("energy_per_token_j", float("nan")) * 1e6,
            "cores": hw.get("cores", "-"),
            "within 1 pt": "yes" if c.meets_accuracy else "no",
            "fits one chip": "yes" if c.meets_mem and c.meets_hw else "no"})
    return rows


def run_demo(model_dir: str = DEFAULT_MODEL, out: str = "runs/demo", data_dir: Any = None,
             seed: int = 0, progress: bool = True, select_split: str | None = None,
             quick: dict[str, Any] | None = None) -> int:
    """Run the demo; returns the CLI exit code (0, or 3 when no candidate meets the constraints).

    ``select_split`` is the search's selection split (default: the task's own, SST-2's
    held-out training sentences; tests with a synthetic checkpoint pass ``dev``); ``quick``
    replaces :data:`QUICK`."""
    from qslm_neuro.tasks.data import load_sst2
    from qslm_neuro.viz import format_table

    start = time.time()
    quick = dict(QUICK if quick is None else quick)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    loaded = load_model_arg(model_dir)
    print(f"qslm demo: {model_dir} ({loaded.model.num_parameters():,} parameters, "
          f"{loaded.config.n_layers} spiking RWKV blocks of width {loaded.config.d_model})")
    try:
        load_sst2("dev", data_dir)
    except DataNotFoundError as exc:
        return _demo_without_data(loaded, out_dir, str(exc))

    from qslm_neuro.quantsearch import (Calibration, Constraints, Execution, SearchSpace,
                                        TradeOff)
    from qslm_neuro.quantsearch.checkpoint import Splits, search_checkpoint
    from qslm_neuro.viz import plot_precision_map, plot_sensitivity_heatmap, save_figure

    size = quick.get("select_size")
    tiers = ", ".join(quick.get("tiers") or ("global", "block", "module"))
    print(f"search (QSLM tiers: {tiers}): every weight matrix gets a precision from "
          f"{quick['ladder']}; the plan must "
          "lose at most 1 accuracy point (constA), fit one Loihi 2 chip (constM 1chip), and "
          "spend the least energy per token on Loihi 2 among those.\n"
          f"quick setting: candidates are scored on {size or 'all'} of the 1,000 held-out "
          "training sentences (selection accuracy); the result is reported on all of SST-2 dev "
          f"(dev accuracy). Results are kept in {out_dir}/ and reused when rerun.")
    tier_option = {"tiers": tuple(quick["tiers"])} if quick.get("tiers") else {}
    scores: dict[str, Any] = {}  # dev per-item results by plan key (chip arithmetic pairs)
    result = search_checkpoint(
        model_dir, "sst2", out=out_dir, seed=seed, chips=SEARCH["chips"],
        constraints=Constraints(accuracy=SEARCH["accuracy"], memory=SEARCH["memory"]),
        objective=TradeOff(alpha=SEARCH["alpha"], beta=SEARCH["beta"]),
        space=SearchSpace(ladder=quick["ladder"]),
        calibration=Calibration(size=quick.get("calibration_size")),
        splits=Splits(select=select_split, data_dir=data_dir, select_size=size),
        execution=Execution(progress=progress), report_scores=scores, **tier_option)
    print("\ncandidates, in the order the search tried them:")
    print(format_table(candidate_rows(result)))
    print()
    print(result.summary())
    report_entry = result.extra.get("report_split")  # summary() printed it
    chip = None
    if report_entry and "paired" in report_entry:
        chip = chip_on_dev(loaded, result, scores, data_dir, out_dir, progress)
        print(f"\n{chip_line(chip)}")
    if result.sensitivity is not None:
        # sensitivities are measured on the calibration sentences: one of them is 1/n of accuracy
        n = min(quick.get("calibration_size") or 128, size or 128)
        save_figure(plot_sensitivity_heatmap(
            result.sensitivity, level="block", noise=1.01 / n,
            title=f"accuracy drop per block quantized alone ({n} calibration sentences)"),
            out_dir / "sensitivity.png")
    workloads = {"fp32": result.baseline.to_workload()}
    if result.chosen is not None:
        save_figure(plot_precision_map(result.chosen.plan, loaded.model),
                    out_dir / "precision_map.png")
        workloads["chosen"] = result.chosen.to_workload()
    rows, reports = cost_table(workloads)
    print("\ncost on three chips (activity measured with each plan applied on the selection "
          "sentences):")
    print(format_table(rows))
    _write_costs(out_dir, rows, reports)
    from qslm_neuro.quant import Hierarchy

    print(headline(result, report_entry, rows, len(Hierarchy.from_module(loaded.model).modules),
                   chip))
    print(f"\nwritten to {out_dir}/: report.json, candidates.csv, pareto.png, "
          f"energy_breakdown.png, precision_map.png, sensitivity.png, costs.json, "
          f"chip_arithmetic.json "
          f"({time.time() - start:.0f} s)")
    print("the full-size search (all 1,000 selection sentences, the whole ladder, all three "
          f"tiers; many more evaluations): {FULL_COMMAND}")
    return 0 if result.found else 3


def chip_on_dev(loaded: Any, result: Any, scores: dict[str, Any], data_dir: Any,
                out_dir: Path, progress: bool) -> dict[str, Any]:
    """The chosen (else nearest) plan's SST-2 dev accuracy in :data:`ARITHMETIC_CHIP`'s integer
    arithmetic, paired with fp32 and the plan in float on the same sentences (their per-item
    results from the search's report, ``scores``). Kept in ``chip_arithmetic.json`` under a key
    of everything that produced it, and read back from there when it matches."""
    import hashlib
    import json

    from qslm_neuro.chiparith.evaluate import calibration_batches
    from qslm_neuro.cli.eval import chip_result
    from qslm_neuro.fileio import write_json_atomic
    from qslm_neuro.hw import load_hardware
    from qslm_neuro.quantsearch.arithmetic import batches_digest
    from qslm_neuro.quantsearch.fingerprints import weights_digest
    from qslm_neuro.tasks import make_task

    picked = result.chosen or result.nearest[0]
    task = make_task("sst2", loaded.tokenizer, data_dir=data_dir, split="dev",
                     ctx_len=loaded.config.ctx_len)
    formats = load_hardware(ARITHMETIC_CHIP).formats()
    calibration = calibration_batches("sst2", loaded.tokenizer, data_dir, loaded.config.ctx_len)
    key = hashlib.sha256(json.dumps({
        "weights": weights_digest(loaded.model), "plan": picked.plan.key,
        "formats": formats.to_dict(), "calibration": batches_digest(calibration),
        "data": task.data_digest()}, sort_keys=True).encode()).hexdigest()
    path = out_dir / "chip_arithmetic.json"
    if path.is_file():
        kept = json.loads(path.read_text())
        if kept.get("key") == key:
            return kept["result"]
    known = {"fp32": scores.get(result.baseline.plan.key), "fake_quant": scores.get(
        picked.plan.key)}
    chip = chip_result(loaded, picked.plan, formats, task, "sst2", data_dir, progress=progress,
                       known={k: v for k, v in known.items() if v is not None})
    chip["hw"] = ARITHMETIC_CHIP
    write_json_atomic(path, {"key": key, "result": chip})
    return chip


def chip_line(chip: dict[str, Any]) -> str:
    """The chosen plan's dev accuracy in the chip's arithmetic and in float, paired with fp32."""
    def pair(name: str) -> str:
        p = chip[name]
        lo, hi = p["ci95"]
        return (f"{100 * p['difference']:+.2f} pt (95% interval {100 * lo:+.2f} to "
                f"{100 * hi:+.2f} pt)")

    return (f"dev accuracy in {chip['hw']} chip arithmetic (bit-exact integer twin, formats "
            f"calibrated on training text; the same {chip['n']} SST-2 dev sentences): "
            f"{chip['chip']:.4f} vs fake-quant float {chip['fake_quant']:.4f} and fp32 "
            f"{chip['fp32']:.4f}; chip - fp32 {pair('chip_vs_fp32')}, chip - float "
            f"{pair('chip_vs_fake_quant')}")


def headline(result: Any, entry: dict[str, Any] | None, rows: list[dict[str, Any]],
             n_modules: int | None = None, chip: dict[str, Any] | None = None) -> str:
    """The demo's last lines: plan, size, dev accuracy with its 95% interval (in float and, given
    ``chip``, in the chip's own arithmetic), energy per chip. ``n_modules``: the model's
    quantizable modules (those the plan leaves out stay fp32)."""
    picked = result.chosen or (result.nearest[0] if result.nearest else None)
    lines = ["", "=" * 78, "headline" if result.chosen else
             "headline: NO plan met every constraint; the nearest one"]
    if picked is None:
        return "\n".join(lines + ["no candidate"])
    base = result.baseline.total_bytes
    rest = (n_modules or 0) - len(list(picked.plan))
    kept = f", fp32 x{rest}" if rest > 0 and picked.plan.default.name == "fp32" else ""
    lines.append(f"plan:  {picked.precisions()}{kept} weight matrices "
                 f"({picked.mean_weight_bits:.2f} bits per weight on average)")
    lines.append(f"size:  {picked.total_bytes / 1e6:.2f} MB, fp32 {base / 1e6:.2f} MB "
                 f"({1 - picked.total_bytes / base:.1%} smaller)")
    if entry and "paired" in entry:
        role = "chosen" if "chosen" in entry else "nearest"
        lo, hi = entry["paired"]["ci95"]
        same = entry.get("protocol") == "selected on the reported split"
        lines.append(f"dev accuracy, float arithmetic (fake-quantized weights; SST-2 dev, "
                     f"{entry[role]['details'].get('n', '?')} sentences "
                     f"{'the search also selected on' if same else 'the search never saw'}): "
                     f"{entry[role]['value']:.4f} vs fp32 "
                     f"{entry['baseline']['value']:.4f}, difference "
                     f"{100 * entry['paired']['difference']:+.2f} pt (95% interval "
                     f"{100 * lo:+.2f} to {100 * hi:+.2f} pt)")
    if chip is not None:
        lo, hi = chip["chip_vs_fp32"]["ci95"]
        lines.append(f"dev accuracy, {chip['hw']} chip arithmetic (bit-exact integer twin; the "
                     f"same {chip['n']} sentences): {chip['chip']:.4f} vs fp32 "
                     f"{chip['fp32']:.4f}, difference "
                     f"{100 * chip['chip_vs_fp32']['difference']:+.2f} pt (95% interval "
                     f"{100 * lo:+.2f} to {100 * hi:+.2f} pt)")
    lines.append(f"selection accuracy (float arithmetic; what the search chose on: "
                 f"{result.settings.get('selection_split', '')}): {picked.metric:.4f} vs fp32 "
                 f"{result.baseline.metric:.4f}")
    label = "chosen" if result.chosen else "fp32"
    for row in rows:
        if row["plan"] == label:
            lines.append(f"  on {row['chip']:<13} {row['energy per token (uJ)']:>9.2f} uJ per token, "
                         f"{row['cores']} core{'s' * (row['cores'] != 1)}, "
                         f"{row['chips needed']} chip{'s' * (row['chips needed'] != 1)}; "
                         f"fits: {row['fits']}")
    return "\n".join(lines)


def _demo_without_data(loaded: Any, out_dir: Path, reason: str) -> int:
    from qslm_neuro.measure.from_checkpoint import checkpoint_workload
    from qslm_neuro.quant import QuantPlan
    from qslm_neuro.viz import format_table

    print("\nNo SST-2 data found, so the search cannot evaluate accuracy:")
    print(f"  {reason.splitlines()[0]}")
    print("To run the search: download GLUE SST-2 (train.tsv, dev.tsv), put them in <dir>/sst2/ "
          "and set QSLM_DATA_DIR=<dir> (or install the Hugging Face `datasets` package on a "
          "machine with internet access). Meanwhile, the hardware side:\n")
    workloads = {}
    for label, plan in (("fp32", QuantPlan()), ("int8", QuantPlan.uniform(loaded.model, "int8")),
                        ("int4", QuantPlan.uniform(loaded.model, "int4"))):
        workloads[label], note = checkpoint_workload(loaded, plan, activity="profile")
    print(f"({note})")
    rows, reports = cost_table(workloads)
    print(format_table(rows))
    _write_costs(out_dir, rows, reports)
    print(f"\nwritten to {out_dir}/: energy_breakdown.png, costs.json")
    return 0
