"""``qslm lava``: run a quantized model's spike-driven layers in Lava and compare with snntorch.

The options are defined without lava-nc (``qslm --help`` works everywhere); Lava is imported
only when the command runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from qslm_neuro.cli.scale_options import add_scale_options
from qslm_neuro.cli.common import (EXIT_OK, add_data_dir, load_model_arg, parse_overrides,
                                   plan_from_arg)

HELP = ("run a quantized model's spike-driven layers in Lava (float and bit-accurate) "
        "and compare with snntorch")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint directory (e.g. data/slm-small-sst2)")
    p.add_argument("--plan", default=None,
                   help="plan JSON or search report, or one precision for every layer (e.g. "
                   "int4); default fp32, which the chip's 8-bit synapses cap at int8")
    p.add_argument("--tokens", type=int, default=64,
                   help="task tokens replayed, one time step each (SST-2 dev or WikiText-2 test)")
    p.add_argument("--layers", default="all",
                   help="'all' spike-driven layers, or comma-separated layer paths / block "
                   "prefixes, e.g. blocks.0")
    p.add_argument("--modes", default="float,fixed",
                   help="Lava models to run: float (floating point), fixed (bit-accurate)")
    p.add_argument("--csv", default=None,
                   help="also write the per-layer table as CSV (nothing is written unless asked)")
    p.add_argument("--json", default=None, help="also write the full report as JSON")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --csv / --json files that already exist")
    p.add_argument("--no-weight-readback", action="store_true",
                   help="take the bit-accurate weights from Lava's truncation functions instead "
                   "of reading them back (Lava 0.10 reads ~50,000 weights per second)")
    p.add_argument("--hw", default="loihi2",
                   help="hardware model for the Lava vs snntorch energy comparison ('none': skip)"
                   "; with --closed-loop, the chip whose [arithmetic] formats are used")
    p.add_argument("--closed-loop", action="store_true",
                   help="run the whole SLM in Lava (every layer fed by the previous Lava "
                   "process, non-synaptic stages as bit-accurate Lava processes) on --tokens "
                   "task tokens and compare every integer with the bit-exact twin")
    p.add_argument("--set", action="append", default=[], metavar="FORMAT=VALUE",
                   help="with --closed-loop: override a number format (e.g. state_bits=16)")
    add_data_dir(p)
    add_scale_options(p)


def parse_layers(text: str | None) -> Sequence[str] | None:
    """``all``/None -> every spike-driven layer; else comma-separated paths or block prefixes."""
    if text is None or text.strip().lower() == "all":
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def load_and_record_inputs(model_dir: str, tokens: int, data_dir: Any,
                           device: str = "cpu") -> tuple[Any, Any, str]:
    """The checkpoint (on ``device``, where its traces are recorded) and the first ``tokens``
    tokens of its task data (SST-2 dev or WikiText-2 test) as one stream."""
    from qslm_neuro.lava.traces import task_token_stream

    loaded = load_model_arg(model_dir, device)
    ids, description = task_token_stream(loaded, tokens, data_dir)
    return loaded, ids, description


def run_closed_loop(args: argparse.Namespace) -> int:
    """The whole SLM in Lava vs the twin, integer for integer."""
    from qslm_neuro.chiparith.evaluate import calibration_batches
    from qslm_neuro.chiparith.twin import chip_twin
    from qslm_neuro.fileio import write_json_atomic
    from qslm_neuro.hw import load_hardware
    from qslm_neuro.lava.closed_loop import closed_loop

    formats = load_hardware(args.hw, parse_overrides(args.set)).formats()  # bad input first
    loaded, ids, description = load_and_record_inputs(args.model, args.tokens, args.data_dir)
    plan = plan_from_arg(args.plan, loaded.model)
    task = "sst2" if loaded.config.head == "classify" else "wikitext2"
    twin = chip_twin(loaded.model, plan, formats,
                     calibration_batches(task, loaded.tokenizer, args.data_dir,
                                         loaded.config.ctx_len))
    stream = [int(t) for t in ids.reshape(-1)]
    report = closed_loop(twin, stream)
    print(f"{Path(args.model).name} under plan {plan.key[:12]} on {description}, closed loop "
          f"in Lava ({args.hw} formats)")
    print(report.table())
    if args.json:
        payload = {**report.to_dict(), "model": Path(args.model).name, "plan_key": plan.key,
                   "data": description, "formats": formats.to_dict()}
        print(f"report written to {write_json_atomic(args.json, payload)}")
    return EXIT_OK if report.bit_exact else 1


def run(args: argparse.Namespace) -> int:
    """Co-simulate, print the per-layer table, write CSV (and JSON)."""
    if args.closed_loop:
        return run_closed_loop(args)
    from qslm_neuro.lava.cosim import cosimulate
    from qslm_neuro.lava.workload import (energy_difference, lava_workload, side_by_side,
                                         snntorch_workload)

    from qslm_neuro.cli.checks import check_lava_args
    from qslm_neuro.cli.scale_options import device_of

    check_lava_args(args)  # chip, plan, layers, modes, files: before the model and Lava
    loaded, ids, description = load_and_record_inputs(args.model, args.tokens, args.data_dir,
                                                      device_of(args))
    plan = plan_from_arg(args.plan, loaded.model)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    report = cosimulate(loaded.model, plan, ids, parse_layers(args.layers), modes=modes,
                        name=Path(args.model).name, data_description=description,
                        read_weights=not args.no_weight_readback)
    print(f"{Path(args.model).name} under plan {plan.key[:12]} on {description}")
    print(report.table())
    if args.csv:
        print(f"per-layer table written to {report.save_csv(args.csv)}")
    if args.json:
        print(f"full report written to {report.save_json(args.json)}")
    if args.hw.lower() != "none" and "fixed" in report.modes:
        from qslm_neuro.hw import estimate

        reports = {"snntorch": estimate(snntorch_workload(loaded.model, plan, report), args.hw),
                   "lava": estimate(lava_workload(loaded.model, plan, ids, report=report),
                                    args.hw)}
        print(side_by_side(reports))
        diff = energy_difference(reports)
        print(f"energy per token: lava - snntorch = {diff['difference_j'] * 1e9:+.3f} nJ "
              f"({diff['relative']:+.3%})")
    return EXIT_OK
