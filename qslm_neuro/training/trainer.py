"""Training the shipped SLMs: an SST-2 classifier and a WikiText-2 language model.

Both runs are seeded and deterministic on the CPU (up to float summation order on a GPU). Model
selection never looks at the split a number is reported on: SST-2 keeps ``heldout`` training
sentences aside and reports dev accuracy; WikiText-2 early-stops on its held-out text and reports
test perplexity (see :func:`qslm_neuro.tasks.data.wikitext2_lm_splits` for which text that is).
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from qslm_neuro.tasks.data import load_sst2, wikitext2_lm_splits
from qslm_neuro.errors import BadInputError
from qslm_neuro.models import SpikingRWKV, build_model
from qslm_neuro.tasks.sst2 import split_heldout
from qslm_neuro.tasks import SST2Task, WikiText2Task, pad_batch
from qslm_neuro.tasks.tokenizer import Tokenizer

TASKS = ("sst2", "wikitext2")


@dataclass
class TrainConfig:
    """Everything that decides a training run (saved next to the checkpoint)."""

    task: str
    model: str = "small"
    vocab_size: int = 4096
    epochs: int = 3
    batch_size: int = 128
    lr: float = 2e-3
    min_lr_fraction: float = 0.05
    weight_decay: float = 0.01
    warmup_steps: int = 200
    grad_clip: float = 1.0
    dropout: float = 0.1
    seed: int = 0
    device: str = "cpu"
    heldout_seed: int = 0  # which sentences are held out (fixed, so runs with other seeds compare)
    heldout: int = 1000  # SST-2: full training sentences kept aside for selection; 0: train on
    #                      all rows and keep the last epoch (epoch count chosen by a held-out run)
    ctx_len: int = 128           # WikiText-2: training window length
    max_steps: int | None = None  # stop early (tests, smoke runs)
    time_budget_s: float | None = None  # stop after this much training time, keep the best
    stop_at_step: int | None = None  # stop there without changing the schedule (replays a run)
    monitor_report_split: bool = False  # log dev/test per epoch (diagnostics; never selects)
    ema_decay: float | None = None  # validate and keep an exponential moving average of weights
    token_dropout: float = 0.0      # SST-2: replace this share of input tokens by <unk>
    lowercase: bool = False
    model_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise BadInputError(f"task={self.task!r}; expected one of {TASKS}")
        from qslm_neuro.models.config import NAMED_CONFIGS
        if self.model not in NAMED_CONFIGS:
            raise BadInputError(f"model={self.model!r} is not a named config; choose one of "
                                f"{sorted(NAMED_CONFIGS)}")
        for key in ("epochs", "batch_size", "vocab_size", "ctx_len"):
            if getattr(self, key) < 1:
                raise BadInputError(f"{key}={getattr(self, key)} must be >= 1")
        if not 0 <= self.seed < 2**32:
            raise BadInputError(f"seed={self.seed} must be a whole number from 0 to 2**32 - 1")
        if not 0.0 <= self.dropout < 1.0:
            raise BadInputError(f"dropout={self.dropout} must lie in [0, 1)")
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise BadInputError(f"lr={self.lr} must be a finite number > 0 (e.g. 2e-3)")
        if not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise BadInputError(f"weight_decay={self.weight_decay} must be a finite number >= 0 "
                                "(e.g. 0.01)")
        for key in ("max_steps", "stop_at_step"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise BadInputError(f"{key}={value} must be >= 1 (a run with no step writes an "
                                    "untrained model); leave it out for no limit")
        if self.time_budget_s is not None and not (math.isfinite(self.time_budget_s)
                                                   and self.time_budget_s > 0):
            raise BadInputError(f"time_budget_s={self.time_budget_s} must be > 0 seconds; leave "
                                "it out for no limit")
        if self.model_overrides:
            from qslm_neuro.models.config import SLMConfig
            known = {f.name for f in fields(SLMConfig)}
            unknown = sorted(set(self.model_overrides) - known)
            if unknown:
                raise BadInputError(f"--set {unknown[0]}: the model config has no such field; "
                                    f"known fields: {sorted(known)}")
        if self.heldout < 0:
            raise BadInputError(f"heldout={self.heldout} must be >= 0 (0: no held-out selection)")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise BadInputError(f"ema_decay={self.ema_decay} must lie in (0, 1) or be None")
        if not 0.0 <= self.token_dropout < 1.0:
            raise BadInputError(f"token_dropout={self.token_dropout} must lie in [0, 1)")


@dataclass
class TrainResult:
    model: SpikingRWKV
    tokenizer: Tokenizer
    info: dict[str, Any]


def device_name(device: str) -> str:
    """Human-readable name of the training device, saved with the checkpoint."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    import platform

    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_fraction`` of the peak."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    floor = cfg.lr * cfg.min_lr_fraction
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay only on matrices (not on LayerNorms, decays, mixes, biases)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr,
                             betas=(0.9, 0.99))


class WeightAverage:
    """Exponential moving average of the parameters (evaluated instead of the raw weights).

    Averaging the last few hundred steps smooths the noise of small-batch training, which helps
    most on small data sets such as SST-2.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.params = [p for p in model.parameters()]
        self.shadow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1.0 - self.decay)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange live and averaged weights (call twice to restore)."""
        for live, avg in zip(self.params, self.shadow):
            tmp = live.detach().clone()
            live.copy_(avg)
            avg.copy_(tmp)


def _should_stop(cfg: TrainConfig, step: int, start: float) -> bool:
    """Time budget or replay stop reached (the learning-rate schedule is left as planned)."""
    if cfg.stop_at_step is not None and step >= cfg.stop_at_step:
        return True
    return cfg.time_budget_s is not None and time.time() - start > cfg.time_budget_s


def command_line(cfg: TrainConfig, out: str, stopped_at_step: int | None = None) -> str:
    """The ``qslm train`` command that replays ``cfg`` (with the step a time budget stopped at)."""
    defaults = TrainConfig(task=cfg.task)
    parts = ["qslm train", f"--task {cfg.task}"]
    flags = {"model": "--model", "vocab_size": "--vocab-size", "epochs": "--epochs",
             "batch_size": "--batch-size", "lr": "--lr", "dropout": "--dropout",
             "weight_decay": "--weight-decay", "ctx_len": "--ctx-len", "seed": "--seed",
             "heldout": "--heldout", "ema_decay": "--ema-decay",
             "token_dropout": "--token-dropout", "device": "--device"}
    for field_name, flag in flags.items():
        value = getattr(cfg, field_name)
        if value != getattr(defaults, field_name) or field_name == "device":
            parts.append(f"{flag} {value}")
    for key, value in cfg.model_overrides.items():
        parts.append(f"--set {key}={json.dumps(value)}")
    step = cfg.stop_at_step or stopped_at_step
    if step is not None:
        parts.append(f"--stop-at-step {step}")
    parts.append(f"--out {out}")
    return " ".join(parts)


def _fit(model: SpikingRWKV, cfg: TrainConfig, epoch_batches: Callable[[int], list],
         loss_of: Callable[[SpikingRWKV, Any], torch.Tensor],
         validate: Callable[[SpikingRWKV], float] | None, higher_is_better: bool,
         log: list[dict[str, Any]],
         monitor: Callable[[SpikingRWKV], float] | None = None) -> SpikingRWKV:
    """The shared loop: schedule, clipping, per-epoch validation, keep the best weights."""
    optimizer = make_optimizer(model, cfg)
    average = WeightAverage(model, cfg.ema_decay) if cfg.ema_decay else None
    steps_per_epoch = len(epoch_batches(0))
    total = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    best_score, best_state, step = None, None, 0
    start = time.time()
    for epoch in range(cfg.epochs):
        model.train()
        bar = tqdm(epoch_batches(epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   mininterval=5.0)
        running = 0.0
        for batch in bar:
            if step >= total or _should_stop(cfg, step, start):
                break
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total, cfg)
            loss = loss_of(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if average is not None:
                average.update()
            running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
            step += 1
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
        if average is not None:
            average.swap()  # validate (and keep) the averaged weights
        # without a validation set every epoch counts as "better": the final weights are kept
        score = validate(model) if validate is not None else float("nan")
        entry = {"epoch": epoch + 1, "step": step, "train_loss": running,
                 "validation": score, "elapsed_s": time.time() - start}
        if monitor is not None:
            entry["monitor_report_split"] = monitor(model)
        log.append(entry)
        tqdm.write(f"epoch {epoch + 1}: train loss {running:.4f}, validation {score:.4f}, "
                   + (f"report split (monitor only) {entry['monitor_report_split']:.4f}, "
                      if monitor is not None else "") + f"{time.time() - start:.0f} s")
        better = (validate is None or best_score is None
                  or (score > best_score if higher_is_better else score < best_score))
        if better:
            best_score = score
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if average is not None:
            average.swap()  # back to the live weights for training
        if step >= total or _should_stop(cfg, step, start):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model


# ----------------------------------------------------------------------------------- SST-2
def length_bucketed_batches(encoded: list[list[int]], labels: list[int], batch_size: int,
                            pad_id: int, seed: int) -> list[tuple[torch.Tensor, ...]]:
    """Batches of similar length (little padding), in a seeded random order."""
    rng = np.random.default_rng(seed)
    # sort by length with a random tie-break so batch membership changes between epochs
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), rng.random()))
    batches = []
    for begin in range(0, len(order), batch_size):
        rows = order[begin: begin + batch_size]
        idx, lengths = pad_batch([encoded[i] for i in rows], pad_id)
        batches.append((idx, lengths, torch.tensor([labels[i] for i in rows])))
    rng.shuffle(batches)
    return batches


def train_sst2(cfg: TrainConfig, data_dir: str | None = None) -> TrainResult:
    seed_everything(cfg.seed)
    examples = load_sst2("train", data_dir)
    train, heldout = split_heldout(examples, cfg.heldout, cfg.heldout_seed) if cfg.heldout else \
        (examples, [])
    if len(heldout) < cfg.heldout:
        raise BadInputError(
            f"only {len(heldout)} full training sentences (>= 8 words, contained in no other row) "
            f"could be held out for model selection, {cfg.heldout} were asked; lower --heldout")
    tokenizer = Tokenizer.train([s for s, _ in train], cfg.vocab_size, lowercase=cfg.lowercase)
    encoded = [ids or [tokenizer.eos_id] for ids in tokenizer.encode_batch([s for s, _ in train])]
    labels = [label for _, label in train]
    model = build_model(cfg.model, head="classify", vocab_size=tokenizer.vocab_size,
                        dropout=cfg.dropout, seed=cfg.seed, **cfg.model_overrides).to(cfg.device)
    heldout_task = SST2Task.from_examples(tokenizer, heldout, name="sst2/train-heldout") \
        if heldout else None
    device = torch.device(cfg.device)

    def loss_of(m: SpikingRWKV, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        idx, lengths, y = (t.to(device) for t in batch)
        if cfg.token_dropout > 0:
            drop = torch.rand(idx.shape, device=device) < cfg.token_dropout
            idx = idx.masked_fill(drop & (idx != tokenizer.pad_id), tokenizer.unk_id)
        return F.cross_entropy(m(idx, lengths), y)

    log: list[dict[str, Any]] = []
    dev_task = SST2Task(tokenizer, data_dir, split="dev")
    start = time.time()
    _fit(model, cfg, lambda epoch: length_bucketed_batches(
        encoded, labels, cfg.batch_size, tokenizer.pad_id, cfg.seed + epoch),
        loss_of, (lambda m: heldout_task.evaluate(m)["value"]) if heldout_task else None, True, log,
        monitor=(lambda m: dev_task.evaluate(m)["value"]) if cfg.monitor_report_split else None)
    train_time = time.time() - start
    dev = dev_task.evaluate(model)
    info = {"task": "sst2", "train_config": asdict(cfg), "device_name": device_name(cfg.device), "train_examples": len(train),
            "heldout_examples": len(heldout), "epochs_log": log, "train_time_s": train_time,
            "dev_accuracy": dev["value"], "dev_examples": dev["n"],
            "selection": (f"best epoch by accuracy on {len(heldout)} held-out full training "
                          "sentences (their phrases removed from training)") if heldout else
                         ("none: trained on every training row for a fixed number of epochs "
                          "(chosen beforehand on a held-out run) and kept the final weights")}
    return TrainResult(model.cpu().eval(), tokenizer, info)


# ------------------------------------------------------------------------------- WikiText-2
def random_windows(ids: torch.Tensor, ctx_len: int, batch_size: int, seed: int
                   ) -> list[torch.Tensor]:
    """One epoch of [B, ctx_len + 1] windows starting at random offsets (seeded)."""
    n_windows = max(1, (len(ids) - 1) // ctx_len)
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - ctx_len - 1, (n_windows,), generator=gen)
    offsets = torch.arange(ctx_len + 1)
    windows = ids[starts[:, None] + offsets[None, :]]
    return list(windows.split(batch_size))


def train_wikitext2(cfg: TrainConfig, data_dir: str | None = None) -> TrainResult:
    seed_everything(cfg.seed)
    splits = wikitext2_lm_splits(data_dir)
    tokenizer = Tokenizer.train(splits.train.splitlines(keepends=True), cfg.vocab_size, lowercase=cfg.lowercase)
    train_ids = torch.tensor(tokenizer.encode(splits.train), dtype=torch.long)
    if len(train_ids) < cfg.ctx_len + 2:
        raise BadInputError(f"training text has {len(train_ids)} tokens; need > ctx_len + 1")
    model = build_model(cfg.model, head="lm", vocab_size=tokenizer.vocab_size,
                        ctx_len=cfg.ctx_len, dropout=cfg.dropout, seed=cfg.seed,
                        **cfg.model_overrides).to(cfg.device)
    heldout_task = WikiText2Task.from_text(tokenizer, splits.heldout, ctx_len=cfg.ctx_len,
                                           batch_size=64, name="wikitext2/heldout",
                                           note=splits.note)
    device = torch.device(cfg.device)

    def loss_of(m: SpikingRWKV, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(device)
        logits = m(batch[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))

    log: list[dict[str, Any]] = []
    start = time.time()
    _fit(model, cfg, lambda epoch: random_windows(train_ids, cfg.ctx_len, cfg.batch_size,
                                                  cfg.seed + epoch),
         loss_of, lambda m: heldout_task.evaluate(m)["value"], False, log)
    train_time = time.time() - start
    model = model.eval()
    test = WikiText2Task.from_text(tokenizer, splits.test, ctx_len=cfg.ctx_len, batch_size=64,
                                   name="wikitext2/test", note=splits.note).evaluate(model)
    info = {"task": "wikitext2", "train_config": asdict(cfg), "device_name": device_name(cfg.device), "train_tokens": len(train_ids),
            "epochs_log": log, "train_time_s": train_time, "test_perplexity": test["value"],
            "test_bits_per_byte": test["bits_per_byte"], "test_tokens": test["tokens"],
            "data_note": splits.note,
            "selection": "best epoch by perplexity on the held-out text"}
    return TrainResult(model.cpu().eval(), tokenizer, info)


def train(cfg: TrainConfig, data_dir: str | None = None) -> TrainResult:
    """Train the model ``cfg`` describes."""
    return (train_sst2 if cfg.task == "sst2" else train_wikitext2)(cfg, data_dir)
