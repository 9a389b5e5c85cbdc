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
from pathlib import Path
from typing import Callable, Sequence

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
    from qslm_neuro.train import TrainConfig, train

    cfg = TrainConfig(task=args.task, model=args.model, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, dropout=args.dropout,
                      weight_decay=args.weight_decay, vocab_size=args.vocab_size,
                      ctx_len=args.ctx_len, max_steps=args.max_steps, seed=args.seed,
                      time_budget_s=args.time_budget_s, device=args.device,
                      model_overrides=_parse_overrides(args.set),
                      monitor_report_split=args.monitor_report_split,
                      ema_decay=args.ema_decay, token_dropout=args.token_dropout,
                      heldout=args.heldout)
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


def _run_eval(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.tasks import make_task

    loaded = load_checkpoint(args.model)
    task = make_task(args.task, loaded.tokenizer, data_dir=args.data_dir, split=args.split,
                     ctx_len=loaded.config.ctx_len)
    context = nullcontext()
    if args.plan:
        from qslm_neuro.quant import load_plan
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
