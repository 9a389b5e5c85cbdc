"""``qslm train``: train a spiking RWKV on SST-2 or WikiText-2 and save a checkpoint."""
from __future__ import annotations

import argparse
import json

from qslm_neuro.cli.common import EXIT_OK, add_data_dir, parse_overrides

HELP = "train a spiking RWKV on SST-2 or WikiText-2 and save a checkpoint"


def configure(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out if it is an existing, non-empty folder")
    add_data_dir(p)


def run(args: argparse.Namespace) -> int:
    from qslm_neuro.cli.checks import check_train_args
    from qslm_neuro.models.checkpoint import save_checkpoint
    from qslm_neuro.training.trainer import TrainConfig, train
    from qslm_neuro.validate import check_output_dir

    check_output_dir(args.out, overwrite=args.overwrite)  # before minutes of training
    check_train_args(args)
    cfg = TrainConfig(task=args.task, model=args.model, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, dropout=args.dropout,
                      weight_decay=args.weight_decay, vocab_size=args.vocab_size,
                      ctx_len=args.ctx_len, max_steps=args.max_steps, seed=args.seed,
                      time_budget_s=args.time_budget_s, device=args.device,
                      model_overrides=parse_overrides(args.set),
                      monitor_report_split=args.monitor_report_split,
                      ema_decay=args.ema_decay, token_dropout=args.token_dropout,
                      heldout=args.heldout, stop_at_step=args.stop_at_step)
    result = train(cfg, args.data_dir)
    out = save_checkpoint(args.out, result.model, result.tokenizer, result.info,
                          overwrite=args.overwrite)
    summary = {k: v for k, v in result.info.items() if k not in ("epochs_log", "train_config")}
    print(json.dumps(summary, indent=2))
    print(f"checkpoint written to {out}")
    return EXIT_OK
