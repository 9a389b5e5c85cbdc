"""Task accuracy as the chip computes it: calibration text, the twin, a progress bar.

Calibration uses training text only (SST-2: the first sentences of a stratified sample of the
train split; WikiText-2: windows of the LM's training text), never the split an accuracy is
reported on, so the formats are not fitted to the reported data.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qslm_neuro.chiparith.twin import ChipTwin, chip_twin
from qslm_neuro.hw.arithmetic import ArithmeticFormats

#: Calibration sizes: sentences (SST-2) or tokens (WikiText-2).
CALIBRATION_SENTENCES = 256
CALIBRATION_TOKENS = 8192


def calibration_batches(task_name: str, tokenizer: Any, data_dir: Any = None,
                        ctx_len: int = 128) -> list[tuple[torch.Tensor, Any]]:
    """(idx, lengths) batches of training text for :func:`~qslm_neuro.chiparith.calibrate`."""
    from qslm_neuro.tasks import make_task

    if task_name == "sst2":
        task = make_task("sst2", tokenizer, data_dir=data_dir, split="train",
                         max_examples=CALIBRATION_SENTENCES)
        return [(idx, lengths) for idx, lengths, _ in task.batches()]
    task = make_task(task_name, tokenizer, data_dir=data_dir, split="train", ctx_len=ctx_len,
                     max_tokens=CALIBRATION_TOKENS)
    windows = [task.ids[start: start + task.window_len] for start in task.starts]
    return [(torch.stack(windows[i: i + 8]), None) for i in range(0, len(windows), 8)]


class _Progress(nn.Module):
    """Wraps the twin so that each evaluated batch advances a tqdm bar."""

    def __init__(self, twin: ChipTwin, total: int, label: str) -> None:
        super().__init__()
        from tqdm.auto import tqdm

        self.twin = twin
        self.bar = tqdm(total=total, desc=label, unit="batch", leave=False)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        out = self.twin(idx, lengths) if lengths is not None else self.twin(idx)
        self.bar.update(1)
        return out


def _batch_count(task: Any) -> int:
    if hasattr(task, "batches"):
        return len(task.batches())
    return -(-len(task.starts) // task.batch_size)


def evaluate_chip(model: nn.Module, plan: Any, formats: ArithmeticFormats, task: Any,
                  calibration: list[tuple[torch.Tensor, Any]], per_item: bool = False,
                  progress: bool = True) -> dict[str, Any]:
    """``task.evaluate`` of the twin of ``model`` under ``plan`` in ``formats``."""
    twin = chip_twin(model, plan, formats, calibration)
    runner: nn.Module = _Progress(twin, _batch_count(task), "chip arithmetic") if progress \
        else twin
    try:
        result = task.evaluate(runner, per_item=per_item)
    finally:
        if progress:
            runner.bar.close()
    result["arithmetic"] = "chip"
    result["formats"] = formats.to_dict()
    return result
