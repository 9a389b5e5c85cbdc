"""``qslm demo``: the whole story in one command.

Loads the shipped SST-2 model, runs QSLM's tiered search (accuracy at most 1 point below fp32,
memory at most 15% of fp32, alpha 0.5) on SST-2 dev, prints the candidates and the chosen plan,
costs the chosen candidate and the fp32 baseline on Loihi, Loihi 2 and the embedded SoC, then
runs one hardware-targeted search over the same evaluation store ("fit one chip at the lowest
energy per token within 1 point", one plan for Loihi 2 and one for the embedded SoC) and prints
the plan per chip. Writes ``runs/demo/``: report.json, candidates.csv, pareto.png,
energy_breakdown.png, precision_map.png, sensitivity.png, costs.json, and ``hw/`` (one run
directory per chip and per_chip.csv).

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

HELP = "search, cost and plot the shipped SST-2 model (what `make demo` runs)"
DEFAULT_MODEL = "data/slm-small-sst2"
HARDWARE = ("loihi", "loihi2", "embedded-soc")
DEFAULTS = {"accuracy": "1pt", "memory": "15%", "alpha": 0.5}
#: The hardware-targeted search: one chip, lowest energy per token, accuracy within 1 point.
HW_SEARCH = {"accuracy": "1pt", "memory": "1chip", "alpha": 0.0, "beta": 1.0,
             "chips": "loihi2,embedded-soc"}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help="SST-2 checkpoint directory")
    p.add_argument("--out", default="runs/demo", help="run directory")
    add_data_dir(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)  # see `qslm search --threads`: one thread per process is safest
    return run_demo(args.model, args.out, args.data_dir, args.seed, not args.no_progress)


def cost_table(workloads: dict[str, Any], hardware: tuple[str, ...] = HARDWARE
               ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (candidate x chip) and the CostReports keyed ``"<candidate> on <chip>"``."""
    from qslm_neuro.hw import estimate

    rows, reports = [], {}
    for label, workload in workloads.items():
        for hw in hardware:
            report = estimate(workload, hw=hw)
            reports[f"{label} on {hw}"] = report
            rows.append({"candidate": label, "hw": hw,
                         "model_MB": workload.total_bytes / 1e6,
                         "energy_uJ/token": report.energy_per_token_j * 1e6,
                         "power_mW": report.power_w * 1e3,
                         "tokens/s": report.tokens_per_s, "cores": report.cores,
                         "chips": report.chips, "feasible": report.feasible})
    return rows, reports


def _write_costs(out: Path, rows: list[dict[str, Any]], reports: dict[str, Any]) -> None:
    from qslm_neuro.fileio import write_json_atomic
    from qslm_neuro.viz import plot_energy_breakdown, save_figure

    write_json_atomic(out / "costs.json", {"rows": rows, "reports": {
        k: {key: value for key, value in r.to_dict().items() if key != "layers"}
        for k, r in reports.items()}})
    save_figure(plot_energy_breakdown(reports, title="Energy per token by part"),
                out / "energy_breakdown.png")


def run_demo(model_dir: str = DEFAULT_MODEL, out: str = "runs/demo", data_dir: Any = None,
             seed: int = 0, progress: bool = True, select_split: str | None = None) -> int:
    """Run the demo; returns the CLI exit code (0, or 3 when no candidate meets the constraints).

    ``select_split`` is the searches' selection split (default: the task's own, SST-2's
    held-out training sentences; tests with a synthetic checkpoint pass ``dev``)."""
    from qslm_neuro.tasks.data import load_sst2
    from qslm_neuro.viz import format_table

    start = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    loaded = load_model_arg(model_dir)
    print(f"qslm demo: {model_dir} ({loaded.model.num_parameters():,} parameters, "
          f"{loaded.config.n_layers} spiking RWKV blocks of width {loaded.config.d_model})")
    try:
        load_sst2("dev", data_dir)
    except DataNotFoundError as exc:
        return _demo_without_data(loaded, out_dir, str(exc))

    from qslm_neuro.viz import plot_precision_map, plot_sensitivity_heatmap, save_figure
    from qslm_neuro.quantsearch import Constraints, Execution, TradeOff
    from qslm_neuro.quantsearch.checkpoint import Splits, search_checkpoint

    print(f"searching: accuracy at most 1 point below fp32 (constA = {DEFAULTS['accuracy']}), "
          f"memory at most {DEFAULTS['memory']} of fp32 (constM), alpha = {DEFAULTS['alpha']}")
    result = search_checkpoint(
        model_dir, "sst2", out=out_dir, seed=seed, chips="loihi2",
        constraints=Constraints(accuracy=DEFAULTS["accuracy"], memory=DEFAULTS["memory"]),
        objective=TradeOff(alpha=DEFAULTS["alpha"]),
        splits=Splits(select=select_split, data_dir=data_dir),
        execution=Execution(progress=progress))
    print()
    print(result.table())
    print()
    print(result.summary())
    if result.sensitivity is not None:
        # block level: measured for every block (modules only where the module tier needed them)
        save_figure(plot_sensitivity_heatmap(result.sensitivity, level="block"),
                    out_dir / "sensitivity.png")
    workloads = {"fp32 baseline": result.baseline.to_workload()}
    if result.chosen is not None:
        print("\nchosen plan (module -> precision):")
        for path in result.chosen.plan:
            print(f"  {path:28s} {result.chosen.plan[path].name}")
        save_figure(plot_precision_map(result.chosen.plan, loaded.model),
                    out_dir / "precision_map.png")
        workloads["QSLM chosen"] = result.chosen.to_workload()
    rows, reports = cost_table(workloads)
    print("\ncost on three chips (activity measured on SST-2 dev with each plan applied):")
    print(format_table(rows))
    _write_costs(out_dir, rows, reports)
    hw_found = _hardware_search(model_dir, out_dir, data_dir, seed, select_split, progress)
    print(f"\nwritten to {out_dir}/: report.json, candidates.csv, pareto.png, "
          f"energy_breakdown.png, precision_map.png, sensitivity.png, costs.json, "
          f"hw/ ({time.time() - start:.0f} s)")
    return 0 if result.found and hw_found else 3


def _hardware_search(model_dir: str, out_dir: Path, data_dir: Any, seed: int,
                     select_split: str | None, progress: bool) -> bool:
    """The hardware-targeted search, sharing the byte search's evaluation store."""
    from qslm_neuro.quantsearch import Constraints, Execution, StoreOptions, TradeOff
    from qslm_neuro.quantsearch.checkpoint import Splits, search_checkpoint
    from qslm_neuro.quantsearch.store import EvaluationStore

    print(f"\nhardware-targeted search on {HW_SEARCH['chips']}: fit one chip "
          f"(--const-mem {HW_SEARCH['memory']}) at the lowest energy per token (beta 1, "
          f"alpha 0) within 1 point; steps ranked by the resource that binds; evaluations "
          "reused from the search above")
    per_chip = search_checkpoint(
        model_dir, "sst2", out=out_dir / "hw", seed=seed, chips=HW_SEARCH["chips"],
        constraints=Constraints(accuracy=HW_SEARCH["accuracy"], memory=HW_SEARCH["memory"]),
        objective=TradeOff(alpha=HW_SEARCH["alpha"], beta=HW_SEARCH["beta"]),
        splits=Splits(select=select_split, data_dir=data_dir),
        store=StoreOptions(store=EvaluationStore.at(out_dir)),
        execution=Execution(progress=progress))
    for chip, one in per_chip.items():
        print(f"\n[{chip}] " + one.summary().replace("\n", f"\n[{chip}] "))
    print("\nplan per chip:")
    print(per_chip.table())
    return per_chip.found


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
