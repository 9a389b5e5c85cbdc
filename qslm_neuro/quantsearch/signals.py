"""Cheap sensitivity signals, to rank units against the calibration drop they predict.

The tiered search measures each unit's sensitivity as the calibration drop of quantizing it
alone (one calibration evaluation per unit and precision). Cheaper signals need no evaluation
per row:

* ``noise``: the squared quantization error of the unit's weights, ``sum (w - q(w))^2``, from
  the project's own quantizer (no data);
* ``fisher``: the empirical Fisher information of the unit's weights, ``sum E[g^2]`` (squared
  gradients of the task loss on the calibration subset; one backward pass per batch);
* ``hessian``: a Hutchinson estimate of the trace of the unit's loss Hessian,
  ``E[v . Hv]`` over Rademacher probes ``v`` (HAWQ-V2); one Hessian-vector product per probe
  for every unit at once, as a central difference of two gradients (the spiking neurons'
  surrogate gradient has no second derivative);
* ``fisher x noise`` = ``sum F_i (w_i - q(w_i))^2`` and ``hessian x noise`` =
  ``sum_m tr(H_m) / n_m * ||w_m - q(w_m)||^2`` (HAWQ-V2's second-order loss change), which
  depend on the precision like the drop does.

:func:`signal_table` computes them for the rows of a measured
:class:`~qslm_neuro.quantsearch.sensitivity.SensitivityTable`, :func:`rank_correlations` gives each
signal's Spearman rho against the measured drop (with the KL proxy's beside it).
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qslm_neuro.quant import Hierarchy, Precision, QuantPlan
from qslm_neuro.tasks.base import model_device

SIGNALS = ("kl", "noise", "fisher", "hessian", "fisher_x_noise", "hessian_x_noise")
LossBatches = Callable[[nn.Module], Iterable[torch.Tensor]]


def task_losses(task: Any) -> LossBatches:
    """``losses(model)`` yields the mean cross-entropy of each batch of ``task``: class logits
    of a classifier task (``batches()``), next-token logits of a language-model task."""
    if hasattr(task, "batches"):
        def classify(model: nn.Module) -> Iterable[torch.Tensor]:
            device = model_device(model)
            for idx, lengths, labels in task.batches():
                logits = model(idx.to(device), lengths.to(device))
                yield F.cross_entropy(logits.float(), labels.to(device))
        return classify

    def language(model: nn.Module) -> Iterable[torch.Tensor]:
        device = model_device(model)
        offsets = torch.arange(task.window_len)
        for begin in range(0, len(task.starts), task.batch_size):
            starts = torch.as_tensor(task.starts[begin: begin + task.batch_size])
            positions = starts[:, None] + offsets[None, :]
            logits = model(task.ids[positions].to(device)).float()
            targets = task.ids[positions + 1].to(device)
            yield F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return language


def weight_parameters(model: nn.Module, hierarchy: Hierarchy) -> dict[str, torch.nn.Parameter]:
    """Each quantizable module's weight Parameter (shared weights once, under their owner)."""
    named = dict(model.named_parameters(remove_duplicate=False))
    return {info.path: named[info.weight_name] for info in hierarchy.modules
            if info.tied_to is None and info.weight_name in named}


def fisher_diagonal(model: nn.Module, losses: LossBatches, weights: dict[str, nn.Parameter]
                    ) -> dict[str, torch.Tensor]:
    """Mean over batches of the squared gradient of each weight (the empirical Fisher)."""
    totals = {path: torch.zeros_like(w) for path, w in weights.items()}
    batches = 0
    params = list(weights.values())
    with _grad_mode(model):
        for loss in losses(model):
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for path, grad in zip(weights, grads):
                if grad is not None:
                    totals[path] += grad.detach() ** 2
            batches += 1
    return {path: total / max(batches, 1) for path, total in totals.items()}


def hutchinson_traces(model: nn.Module, losses: LossBatches, weights: dict[str, nn.Parameter],
                      probes: int = 8, seed: int = 0, step: float = 1e-2) -> dict[str, float]:
    """Per module, the Hutchinson estimate of its Hessian block's trace, mean of v.Hv over
    Rademacher probes. The model's spiking neurons have no second derivative (their surrogate
    gradient is a hand-written backward), so Hv is a central difference of gradients:
    ``(g(w + e*v) - g(w - e*v)) / 2`` with ``e_m = step * rms(w_m)`` per module, and
    ``tr(H_mm) ~ v_m . (H e v)_m / e_m`` (cross-module terms vanish in expectation)."""
    generator = torch.Generator().manual_seed(seed)
    originals = {path: w.detach().clone() for path, w in weights.items()}
    scale = {path: step * float(w.pow(2).mean().sqrt()) or step for path, w in originals.items()}
    sums = {path: 0.0 for path in weights}
    try:
        for _ in range(probes):
            vectors = {path: (torch.randint(0, 2, w.shape, generator=generator) * 2 - 1).to(w)
                       for path, w in originals.items()}
            grads = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    for path, w in weights.items():
                        w.copy_(originals[path] + sign * scale[path] * vectors[path])
                grads.append(_mean_gradients(model, losses, weights))
            for path in weights:
                hv = (grads[0][path] - grads[1][path]) / 2.0
                sums[path] += float((vectors[path] * hv).sum()) / scale[path]
    finally:
        with torch.no_grad():
            for path, w in weights.items():
                w.copy_(originals[path])
    return {path: total / probes for path, total in sums.items()}


def _mean_gradients(model: nn.Module, losses: LossBatches, weights: dict[str, nn.Parameter]
                    ) -> dict[str, torch.Tensor]:
    totals = {path: torch.zeros_like(w) for path, w in weights.items()}
    batches = 0
    with _grad_mode(model):
        for loss in losses(model):
            grads = torch.autograd.grad(loss, list(weights.values()), allow_unused=True)
            for path, grad in zip(weights, grads):
                if grad is not None:
                    totals[path] += grad.detach()
            batches += 1
    return {path: total / max(batches, 1) for path, total in totals.items()}


def quantization_noise(model: nn.Module, weights: dict[str, nn.Parameter], plan: QuantPlan
                       ) -> dict[str, torch.Tensor]:
    """``(w - q(w))^2`` per weight of every module ``plan`` quantizes (the project's quantizer)."""
    originals = {path: w.detach().clone() for path, w in weights.items() if path in plan}
    with plan.applied(model):
        return {path: (weights[path].detach() - original) ** 2
                for path, original in originals.items()}


def signal_table(model: nn.Module, table: Any, task: Any, probes: int = 8, seed: int = 0
                 ) -> dict[str, Any]:
    """Every signal for every row of ``table`` (a measured SensitivityTable), and what each
    cost in seconds: ``{"rows": [...], "seconds": {...}}``."""
    hierarchy = Hierarchy.from_module(model)
    weights = weight_parameters(model, hierarchy)
    losses = task_losses(task)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    fisher = fisher_diagonal(model, losses, weights)
    seconds["fisher"] = time.perf_counter() - start
    start = time.perf_counter()
    traces = hutchinson_traces(model, losses, weights, probes, seed)
    seconds["hessian"] = time.perf_counter() - start
    units = _unit_modules(hierarchy)
    rows, noise_seconds = [], 0.0
    for row in table.rows:
        modules = [m for m in units.get((row.level, row.unit), []) if m in weights]
        start = time.perf_counter()
        plan = QuantPlan({m: Precision.parse(row.precision) for m in modules})
        noise = quantization_noise(model, weights, plan)
        noise_seconds += time.perf_counter() - start
        rows.append({
            "level": row.level, "unit": row.unit, "precision": row.precision, "drop": row.drop,
            "kl": row.kl, "noise": sum(float(n.sum()) for n in noise.values()),
            "fisher": sum(float(fisher[m].sum()) for m in modules),
            "hessian": sum(traces[m] for m in modules),
            "fisher_x_noise": sum(float((fisher[m] * noise[m]).sum()) for m in modules),
            "hessian_x_noise": sum(traces[m] / weights[m].numel() * float(noise[m].sum())
                                   for m in modules)})
    seconds["noise"] = noise_seconds
    return {"rows": rows, "seconds": seconds, "probes": probes}


def rank_correlations(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Spearman rho of each signal against the measured drop: pooled, per level, and within
    each precision (where precision-free signals can only rank units)."""
    from scipy.stats import spearmanr

    def rho(group: list[dict[str, Any]], signal: str) -> dict[str, Any]:
        pairs = [(r[signal], r["drop"]) for r in group if r.get(signal) is not None
                 and math.isfinite(r[signal]) and math.isfinite(r["drop"])]
        if len(pairs) < 3 or np.ptp([p[0] for p in pairs]) == 0 or \
                np.ptp([p[1] for p in pairs]) == 0:
            return {"rho": None, "n": len(pairs)}
        result = spearmanr([p[0] for p in pairs], [p[1] for p in pairs])
        return {"rho": float(result.statistic), "p_value": float(result.pvalue), "n": len(pairs)}

    out: dict[str, Any] = {}
    for signal in SIGNALS:
        precisions = sorted({r["precision"] for r in rows})
        within = [rho([r for r in rows if r["precision"] == p], signal)["rho"]
                  for p in precisions]
        within = [w for w in within if w is not None]
        out[signal] = {"pooled": rho(rows, signal),
                       "per_level": {level: rho([r for r in rows if r["level"] == level], signal)
                                     for level in sorted({r["level"] for r in rows})},
                       "mean_within_precision": float(np.mean(within)) if within else None}
    return out


def _unit_modules(hierarchy: Hierarchy) -> dict[tuple[str, str], list[str]]:
    units: dict[tuple[str, str], list[str]] = {}
    for info in hierarchy.modules:
        units.setdefault(("module", info.path), []).append(info.path)
        units.setdefault(("block", info.block), []).append(info.path)
    return units


class _grad_mode:
    """Gradients on, model in eval mode (no dropout), previous modes restored after."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.training = self.model.training
        self.grad = torch.is_grad_enabled()
        self.model.eval()
        torch.set_grad_enabled(True)

    def __exit__(self, *exc_info: object) -> None:
        self.model.train(self.training)
        torch.set_grad_enabled(self.grad)
