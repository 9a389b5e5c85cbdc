"""The ``qslm`` command line.

Exit codes (documented in the README):
  0  success
  1  unexpected internal error (a bug: please report it with the traceback)
  2  bad input: a malformed value, a missing file or dataset, a changed checkpoint
  3  the search's constraints cannot be met (the report still lists the nearest candidates)
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

from qslm_neuro.cli.scale_options import add_scale_options, device_of
from qslm_neuro.errors import QSLMError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CONSTRAINTS = 0, 1, 2, 3

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[str, Configure, Run]] = {}


def register(name: str, help_text: str, configure: Configure, run: Run) -> None:
    """Add a subcommand: ``configure(parser)`` adds its options, ``run(args)`` returns an exit code."""
    _COMMANDS[name] = (help_text, configure, run)


# --------------------------------------------------------------------------------- train
def _configure_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, choices=["sst2", "wikitext2"])
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--model", default="small", help="named config (tiny, small, ...)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--ctx-len", type=int, default=128)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--monitor-report-split", action="store_true",
                   help="also log dev accuracy / test perplexity each epoch (diagnostics only; "
                   "model selection always uses held-out training data)")
    p.add_argument("--stop-at-step", type=int, default=None,
                   help="stop at this optimizer step without changing the schedule (replays a "
                   "run that a time budget stopped)")
    p.add_argument("--heldout", type=int, default=1000,
                   help="SST-2: full training sentences kept aside for model selection")
    p.add_argument("--ema-decay", type=float, default=None,
                   help="validate and keep an exponential moving average of the weights")
    p.add_argument("--token-dropout", type=float, default=0.0,
                   help="SST-2: replace this share of input tokens by <unk> while training")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model config field, e.g. --set spiking_att_output=false")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-budget-s", type=float, default=None,
                   help="stop training after this many seconds (the best epoch so far is kept)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $QSLM_DATA_DIR)")


def _run_train(args: argparse.Namespace) -> int:
    from qslm_neuro.models.checkpoint import save_checkpoint
    from qslm_neuro.training.trainer import TrainConfig, train

    cfg = TrainConfig(task=args.task, model=args.model, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, dropout=args.dropout,
                      weight_decay=args.weight_decay, vocab_size=args.vocab_size,
                      ctx_len=args.ctx_len, max_steps=args.max_steps, seed=args.seed,
                      time_budget_s=args.time_budget_s, device=args.device,
                      model_overrides=_parse_overrides(args.set),
                      monitor_report_split=args.monitor_report_split,
                      ema_decay=args.ema_decay, token_dropout=args.token_dropout,
                      heldout=args.heldout, stop_at_step=args.stop_at_step)
    result = train(cfg, args.data_dir)
    out = save_checkpoint(args.out, result.model, result.tokenizer, result.info)
    summary = {k: v for k, v in result.info.items() if k not in ("epochs_log", "train_config")}
    print(json.dumps(summary, indent=2))
    print(f"checkpoint written to {out}")
    return EXIT_OK


def _parse_overrides(items: list[str]) -> dict[str, object]:
    """``["d_model=256", "spiking_att_output=false"]`` -> typed values (JSON literals or text)."""
    from qslm_neuro.errors import BadInputError

    overrides: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise BadInputError(f"--set {item!r}: expected KEY=VALUE, e.g. --set dropout=0.2")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


register("train", "train a spiking RWKV on SST-2 or WikiText-2 and save a checkpoint",
         _configure_train, _run_train)


# ---------------------------------------------------------------------------------- eval
def _configure_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint directory (e.g. data/slm-small-sst2)")
    p.add_argument("--task", required=True, choices=["sst2", "wikitext2"])
    p.add_argument("--split", default=None, help="sst2: dev (default) | wikitext2: test (default)")
    p.add_argument("--plan", default=None, help="quantization plan (plan JSON or search report)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    add_scale_options(p)


def _run_eval(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.tasks import make_task

    loaded = load_checkpoint(args.model, device=device_of(args))
    task = make_task(args.task, loaded.tokenizer, data_dir=args.data_dir, split=args.split,
                     ctx_len=loaded.config.ctx_len)
    context = nullcontext()
    if args.plan:
        from qslm_neuro.quant.plan import load_plan
        context = load_plan(args.plan).applied(loaded.model)
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


register("eval", "evaluate a checkpoint (SST-2 dev accuracy or WikiText-2 perplexity)",
         _configure_eval, _run_eval)


# -------------------------------------------------------------------------------- search
def _configure_search(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint directory (e.g. data/slm-small-sst2)")
    p.add_argument("--task", required=True, choices=["sst2", "wikitext2"])
    p.add_argument("--const-acc", "--const-perf", "--const-ppl", dest="const_acc", default=None,
                   help="constA: 0.80, '>=0.80', '<=250', '1pt' or '5%%' (relative to fp32)")
    p.add_argument("--const-mem", default=None,
                   help="constM: '2.5MB', '400MB', '1.5MiB', '350kB', bytes, or '15%%' of fp32")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="weight of memory saving in the score (0 favours performance)")
    p.add_argument("--beta", type=float, default=0.0, help="weight of energy saving (default 0)")
    p.add_argument("--out", required=True, help="run directory (reused to resume a search)")
    p.add_argument("--strategy", default="tiered",
                   choices=["tiered", "exhaustive", "random", "ilp", "nsga2"])
    p.add_argument("--ladder", default="fp32,int8,int6,int5,int4,int3,int2",
                   help="precisions to search, highest first")
    p.add_argument("--tiers", default="global,block,module", help="tiers of the tiered search")
    p.add_argument("--module-sensitivity", choices=["needed", "all"], default="needed",
                   help="measure module sensitivities only for the modules the module tier can "
                        "lower (default), or all of them up front (full heat map)")
    p.add_argument("--keep", action="append", default=[], metavar="PATH",
                   help="block or module kept at fp32 (repeatable), e.g. --keep head")
    p.add_argument("--calib-size", type=int, default=None,
                   help="calibration set: SST-2 sentences (default 128) or tokens (default 4096)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-evals", type=int, default=None, help="cap on full evaluations")
    p.add_argument("--n-evals", type=int, default=None,
                   help="budget of random (evaluations) and nsga2 (trials)")
    p.add_argument("--level", choices=["block", "module"], default=None,
                   help="units of exhaustive/random/ilp/nsga2")
    p.add_argument("--hw", default="loihi2", help="hardware model for estimates, or 'none'")
    p.add_argument("--select-split", default=None,
                   help="split candidates are evaluated on (sst2: dev, wikitext2: heldout)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a small shared CPU, one thread per "
                   "process avoids OpenMP contention)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $QSLM_DATA_DIR)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_scale_options(p, workers=True)


def _run_search(args: argparse.Namespace) -> int:
    from qslm_neuro.cli.search import run_search_command

    return run_search_command(args)


register("search", "find a weight-precision plan meeting constA and constM (QSLM tiered search)",
         _configure_search, _run_search)


# ---------------------------------------------------------------------------------- lava
def _configure_lava(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--csv", default="lava-layers.csv", help="where to write the per-layer table")
    p.add_argument("--json", default=None, help="also write the full report as JSON")
    p.add_argument("--no-weight-readback", action="store_true",
                   help="take the bit-accurate weights from Lava's truncation functions instead "
                   "of reading them back (Lava 0.10 reads ~50,000 weights per second)")
    p.add_argument("--hw", default="loihi2",
                   help="hardware model for the Lava vs snntorch energy comparison ('none': skip)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $QSLM_DATA_DIR)")
    add_scale_options(p)


def _run_lava(args: argparse.Namespace) -> int:
    from qslm_neuro.cli.lava import run_lava_command  # needs lava-nc: imported on use

    return run_lava_command(args)


register("lava", "run a quantized model's spike-driven layers in Lava (float and bit-accurate) "
         "and compare with snntorch", _configure_lava, _run_lava)


# ------------------------------------------------------------------------------ estimate
def _add_candidate_options(p: argparse.ArgumentParser) -> None:
    """Options naming what to cost: a checkpoint (+ plan) or a named config (+ profile)."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="checkpoint directory, e.g. data/slm-small-sst2")
    what.add_argument("--config", help="named config costed without weights, e.g. spikegpt-216m "
                      "(needs --profile for firing rates)")
    what.add_argument("--workload", help="a workload .json file")
    p.add_argument("--plan", default=None,
                   help="plan JSON, search report.json, or a uniform precision (int4, fp16, ...)")
    p.add_argument("--profile", default=None,
                   help="activity profile JSON (default for --config: the SST-2 model's)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $QSLM_DATA_DIR)")
    p.add_argument("--hw", default="loihi2", help="loihi, loihi2, embedded-soc or a .toml path")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                   help="override a hardware parameter, e.g. --set e_syn_op_pj=30")
    p.add_argument("--tokens-per-s", type=float, default=None,
                   help="token rate for the power figure (default: the fastest the chip sustains)")


def _candidate_workloads(args: argparse.Namespace, sources: list[str]) -> dict[str, Any]:
    """{activity source: (workload, note)} for the candidate the options name."""
    from qslm_neuro.workload import Workload

    if args.workload:
        return {"file": (Workload.load(args.workload), f"workload file {args.workload}")}
    if args.config:
        from qslm_neuro.measure.recorder import ActivityProfile
        from qslm_neuro.models import build_model
        from qslm_neuro.measure.from_model import workload_from_config

        profile_path = args.profile or "data/activity-slm-small-sst2.json"
        profile = ActivityProfile.load(profile_path)
        plan = load_plan_arg(args.plan, build_model(args.config, device="meta"))
        workload = workload_from_config(args.config, profile, plan)
        return {"borrowed": (workload, f"{args.config} without weights; firing rates borrowed "
                             f"from {profile_path}")}
    from qslm_neuro.measure.from_checkpoint import checkpoint_workload
    from qslm_neuro.models.checkpoint import load_checkpoint

    loaded = load_checkpoint(args.model, device=device_of(args))
    plan = load_plan_arg(args.plan, loaded.model)
    return {source: checkpoint_workload(loaded, plan, activity=source, data_dir=args.data_dir,
                                        lava_tokens=getattr(args, "lava_tokens", 64))
            for source in sources}


def load_plan_arg(text: str | None, model: Any) -> Any:
    from qslm_neuro.measure.from_checkpoint import load_plan_arg as load

    return load(text, model)


def _configure_estimate(p: argparse.ArgumentParser) -> None:
    _add_candidate_options(p)
    p.add_argument("--activity", default="snntorch", choices=["snntorch", "lava", "profile", "both"],
                   help="where spike counts come from (both: snntorch and lava side by side)")
    p.add_argument("--lava-tokens", type=int, default=64, help="tokens simulated in Lava")
    p.add_argument("--out", default=None, help="write the report(s) as JSON here")
    p.add_argument("--layers-csv", default=None, help="write the per-layer table as CSV here")
    add_scale_options(p)
    p.add_argument("--save-workload", default=None,
                   help="write the workload as JSON (reusable with --workload, sweep, notebooks)")


def _run_estimate(args: argparse.Namespace) -> int:
    from qslm_neuro.fileio import write_json_atomic
    from qslm_neuro.hw import estimate

    sources = ["snntorch", "lava"] if args.activity == "both" else [args.activity]
    workloads = _candidate_workloads(args, sources)
    overrides = _parse_overrides(args.set)
    reports = {}
    for source, (workload, note) in workloads.items():
        report = estimate(workload, hw=args.hw, tokens_per_s=args.tokens_per_s,
                          overrides=overrides)
        reports[source] = report
        print(f"[{source}] {note}")
        print(report.summary())
        print()
    if len(reports) == 2:
        (a, ra), (b, rb) = reports.items()
        diff = (rb.energy_per_token_j - ra.energy_per_token_j) / ra.energy_per_token_j
        print(f"energy per token: {a} {ra.energy_per_token_j * 1e6:.3f} uJ, {b} "
              f"{rb.energy_per_token_j * 1e6:.3f} uJ ({diff:+.1%})")
    if args.save_workload:
        workload = next(iter(workloads.values()))[0]
        workload.save(args.save_workload)
        print(f"written {args.save_workload}")
    if args.out:
        write_json_atomic(args.out, {k: r.to_dict() for k, r in reports.items()})
        print(f"written {args.out}")
    if args.layers_csv:
        from qslm_neuro.fileio import atomic_path

        with atomic_path(args.layers_csv) as tmp:
            next(iter(reports.values())).layers.to_csv(tmp, index=False)
        print(f"written {args.layers_csv}")
    return EXIT_OK


register("estimate", "energy, latency, power, memory and cores of a (quantized) model on a chip",
         _configure_estimate, _run_estimate)


# --------------------------------------------------------------------------------- sweep
def _configure_sweep(p: argparse.ArgumentParser) -> None:
    _add_candidate_options(p)
    p.add_argument("--param", action="append", required=True, metavar="NAME=VALUES",
                   help="a swept hardware parameter: NAME=v1,v2,... or NAME=start:stop:count "
                   "(linear) or NAME=start:stop:countlog (log-spaced); repeat for a grid")
    p.add_argument("--activity", default="snntorch", choices=["snntorch", "profile"])
    p.add_argument("--out", required=True, help="CSV file for the grid")
    p.add_argument("--plot", default=None, help="PNG: a line (1 parameter) or heat map (2+)")
    p.add_argument("--value", default="energy_per_token_j", help="column to plot")
    add_scale_options(p, workers=True)


def parse_sweep_values(text: str) -> tuple[str, list[float]]:
    """``name=1,2,3`` | ``name=0:10:5`` | ``name=1:1000:4log`` -> (name, values)."""
    import numpy as np

    from qslm_neuro.errors import BadInputError

    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise BadInputError(f"--param {text!r}: expected NAME=v1,v2 or NAME=start:stop:count")
    try:
        if ":" in spec:
            start, stop, count = spec.split(":")
            log = count.endswith("log")
            n = int(count[:-3] if log else count)
            if n < 1:
                raise ValueError("count must be >= 1")
            values = (np.geomspace if log else np.linspace)(float(start), float(stop), n)
            return name, values.tolist()
        return name, [float(v) for v in spec.split(",")]
    except ValueError as exc:
        raise BadInputError(f"--param {text!r}: {exc}; expected NAME=v1,v2,... or "
                            "NAME=start:stop:count (add 'log' to the count for log spacing)") from exc


def _run_sweep(args: argparse.Namespace) -> int:
    from qslm_neuro.fileio import atomic_path
    from qslm_neuro.hw import sweep

    (source, (workload, note)), = _candidate_workloads(args, [args.activity]).items()
    grid = dict(parse_sweep_values(text) for text in args.param)
    if args.workers is not None or args.scheduler is not None:  # in blocks, CSV as they finish
        from qslm_neuro.cli.scale_options import executor_of
        from qslm_neuro.hw.chunked_sweep import sweep_chunked

        summary = sweep_chunked(workload, args.hw, executor=executor_of(args), out=args.out,
                                tokens_per_s=args.tokens_per_s,
                                overrides=_parse_overrides(args.set), **grid)
        print(f"[{source}] {note}\n{summary.points} hardware variants ({summary.feasible} "
              f"feasible) in {summary.chunks} blocks; written {args.out}\nleast energy: "
              f"{summary.best}")
        return EXIT_OK
    table = sweep(workload, args.hw, tokens_per_s=args.tokens_per_s,
                  overrides=_parse_overrides(args.set), **grid)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"[{source}] {note}")
    print(f"{len(table)} hardware variants of {workload.name} on {args.hw}; written {args.out}")
    print(table.describe().loc[["min", "max"]].T.to_string())
    if args.plot:
        from qslm_neuro.viz.plots import plot_sweep_heatmap, plot_sweep_lines, save_figure

        names = list(grid)
        fig = (plot_sweep_lines(table, names[0], args.value) if len(names) == 1 else
               plot_sweep_heatmap(table, names[0], names[1], args.value))
        save_figure(fig, args.plot)
        print(f"written {args.plot}")
    return EXIT_OK


register("sweep", "cost a candidate on a grid of hardware variants (numpy broadcasting)",
         _configure_sweep, _run_sweep)


# ---------------------------------------------------------------------------------- demo
def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="data/slm-small-sst2", help="SST-2 checkpoint directory")
    p.add_argument("--out", default="runs/demo", help="run directory")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $QSLM_DATA_DIR)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def _run_demo(args: argparse.Namespace) -> int:
    import torch

    from qslm_neuro.cli.demo import run_demo

    torch.set_num_threads(1)  # see `qslm search --threads`: one thread per process is safest
    return run_demo(args.model, args.out, args.data_dir, args.seed, not args.no_progress)


register("demo", "search, cost and plot the shipped SST-2 model (what `make demo` runs)",
         _configure_demo, _run_demo)


# ---------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qslm", description="Quantize spike-driven language models and cost them on "
        "neuromorphic hardware.", epilog="exit codes: 0 ok, 1 internal error, 2 bad input, "
        "3 constraints cannot be met")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure, _run) in _COMMANDS.items():
        configure(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _help, _configure, run = _COMMANDS[args.command]
    try:
        return run(args)
    except QSLMError as exc:
        print(f"qslm {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"qslm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
