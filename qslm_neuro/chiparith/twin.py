"""The bit-exact twin: the whole SLM computed in the chip's integers, batched, in torch.

``ChipTwin(program)(idx, lengths)`` returns logits like :class:`~qslm_neuro.models.rwkv.
SpikingRWKV` (so every task evaluates it unchanged), computed as the chip computes them:

* spike-driven layers as Lava's bit-accurate Dense (exact integer sums of the levels, Lava's
  weight-exponent shift) and LIF (``du = 4095``: no synaptic current state; 12-bit ``dv``, 24-bit
  state, ``vth << 6``) or the project's squared-ReLU LIF (per-neuron 24-bit thresholds);
* the non-synaptic stages in fixed point (:mod:`qslm_neuro.chiparith.fixed`): embedding rows
  times an integer row multiplier; LayerNorm with an integer square root and an integer
  division; token shift by one step and the mixes ``prev + ((x - prev) * m >> 12)``; WKV in the
  max-exponent form with ``exp`` by a 64-entry table; sigmoid gates from the same table; the
  gated products and residual adds saturated to ``activation_bits``;
* the head as an integer matrix product with 64-bit accumulators; a classifier sums the final
  LayerNorm outputs over the true length, requantizes and divides by the length (floor).

The logits returned are the integers divided by ``2**frac`` (exact in float64). Passing a dict
as ``trace`` records every integer tensor by stage name (the closed-loop test compares them).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qslm_neuro.chiparith.fixed import (ExpTable, floor_div, layernorm_fixed, lif_fixed,
                                        saturate, shift_round, sigmoid_fixed,
                                        squared_relu_lif_fixed, wkv_fixed)
from qslm_neuro.chiparith.program import ChipProgram


def token_shift(x: torch.Tensor) -> torch.Tensor:
    """The previous token's values at every position (zeros at t = 0), integers kept."""
    shifted = torch.zeros_like(x)
    shifted[..., 1:, :] = x[..., :-1, :]
    return shifted


class ChipTwin(nn.Module):
    """A :class:`ChipProgram` run as a model (see the module docstring)."""

    def __init__(self, program: ChipProgram) -> None:
        super().__init__()
        self.program = program
        self.table = ExpTable(program.formats.lut_bits)
        self._anchor = nn.Parameter(torch.zeros(()), requires_grad=False)  # device probe

    def _apply(self, fn, *args, **kwargs):  # .to(device) moves the integer program too
        result = super()._apply(fn, *args, **kwargs)
        device = self._anchor.device
        self.program = self.program.to(device)
        self.table = self.table.to(device)
        return result

    # -- stages ------------------------------------------------------------------------------
    def layernorm(self, name: str, x: torch.Tensor) -> torch.Tensor:
        p = self.program.norms[name]
        out = layernorm_fixed(x, p.gamma, p.beta, p.eps, p.norm_frac,
                              self.program.formats.lut_bits,
                              p.norm_frac + self.program.formats.lut_bits - p.out_frac,
                              self.program.nearest)
        return saturate(out, self.program.formats.activation_bits)

    def mix(self, name: str, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        m = self.program.mixes[name]
        return prev + shift_round((x - prev) * m, self.program.formats.lut_bits,
                                  self.program.nearest)

    def current(self, lif: str, x: torch.Tensor, frac: int) -> torch.Tensor:
        """A graded value in ``Q(frac)`` as a LIF's input current (its format, saturated)."""
        p = self.program.lifs[lif]
        c = shift_round(x, frac - p.frac, self.program.nearest)
        return c.clamp(-p.current_max, p.current_max)

    def lif(self, names: list[str], currents: list[torch.Tensor], trace: dict | None
            ) -> list[torch.Tensor]:
        """Populations of equal ``dv`` stepped side by side (one loop over tokens)."""
        f = self.program.formats
        params = [self.program.lifs[n] for n in names]
        vth = torch.cat([torch.full((c.shape[-1],), p.vth, dtype=torch.int64, device=c.device)
                         for p, c in zip(params, currents)])
        spikes, volts = lif_fixed(torch.cat(currents, dim=-1), params[0].dv, vth,
                                  f.state_bits, f.decay_bits, f.threshold_shift)
        sizes = [c.shape[-1] for c in currents]
        out = list(spikes.split(sizes, dim=-1))
        if trace is not None:
            for n, c, s, v in zip(names, currents, out, volts.split(sizes, dim=-1)):
                trace[f"{n}.current"], trace[f"{n}.spikes"], trace[f"{n}.v"] = c, s, v
        return out

    def dense(self, name: str, spikes: torch.Tensor, trace: dict | None) -> torch.Tensor:
        a = self.program.linears[name].dense(spikes)
        if trace is not None:
            trace[f"{name}.a"] = a
        return a

    def requant(self, name: str, a: torch.Tensor) -> torch.Tensor:
        return self.program.requants[name](a, self.program.formats.activation_bits,
                                           self.program.nearest)

    # -- the model ---------------------------------------------------------------------------
    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        p, act = self.program.requants["emb"], self.program.formats.activation_bits
        levels = self.program.linears["emb"].levels[idx]
        return saturate(shift_round(levels * p.mult[idx].unsqueeze(-1), p.shift,
                                    self.program.nearest), act)

    def time_mix(self, i: int, x: torch.Tensor, trace: dict | None) -> torch.Tensor:
        prog, att = self.program, f"blocks.{i}.att"
        f = prog.formats
        h = self.layernorm(f"blocks.{i}.ln1", x)
        prev, frac = token_shift(h), prog.norms[f"blocks.{i}.ln1"].out_frac
        names = [f"{att}.spike_{n}" for n in "kvr"]
        currents = [self.current(name, self.mix(f"{att}.mix_{n}", h, prev), frac)
                    for name, n in zip(names, "kvr")]
        s_k, s_v, s_r = self.lif(names, currents, trace)
        k = self.requant(f"{att}.key", self.dense(f"{att}.key", s_k, trace))
        v = self.requant(f"{att}.value", self.dense(f"{att}.value", s_v, trace))
        r = self.requant(f"{att}.receptance", self.dense(f"{att}.receptance", s_r, trace))
        mixed = wkv_fixed(k, v, prog.decays[att], prog.bonuses[att], prog.fracs[f"{att}.key"],
                          self.table, prog.nearest)
        gate = sigmoid_fixed(r, prog.fracs[f"{att}.receptance"], self.table)
        gated = saturate(shift_round(gate * mixed, f.lut_bits, prog.nearest), f.activation_bits)
        if prog.spiking_att_output:
            current = self.current(f"{att}.spike_o", gated, prog.fracs[f"{att}.value"])
            (s_o,) = self.lif([f"{att}.spike_o"], [current], trace)
            out = self.requant(f"{att}.output", self.dense(f"{att}.output", s_o, trace))
        else:
            out = self.requant(f"{att}.output", prog.linears[f"{att}.output"].graded(gated))
        if trace is not None:
            trace.update({f"blocks.{i}.ln1": h, f"{att}.key_q": k, f"{att}.value_q": v,
                          f"{att}.receptance_q": r,
                          f"{att}.wkv": mixed, f"{att}.gate": gate, f"{att}.gated": gated,
                          f"{att}.out": out})
        return out

    def channel_mix(self, i: int, x: torch.Tensor, trace: dict | None) -> torch.Tensor:
        prog, ffn = self.program, f"blocks.{i}.ffn"
        f = prog.formats
        h = self.layernorm(f"blocks.{i}.ln2", x)
        prev, frac = token_shift(h), prog.norms[f"blocks.{i}.ln2"].out_frac
        names = [f"{ffn}.spike_{n}" for n in "kr"]
        currents = [self.current(name, self.mix(f"{ffn}.mix_{n}", h, prev), frac)
                    for name, n in zip(names, "kr")]
        s_k, s_r = self.lif(names, currents, trace)
        a_key = self.dense(f"{ffn}.key", s_k, trace)
        sq = prog.squared[f"{ffn}.spike_h"]
        s_h, v_h = squared_relu_lif_fixed(a_key, sq.dv, sq.vth, sq.square_shift, f.state_bits,
                                          f.decay_bits)
        value = self.requant(f"{ffn}.value", self.dense(f"{ffn}.value", s_h, trace))
        rec = self.requant(f"{ffn}.receptance", self.dense(f"{ffn}.receptance", s_r, trace))
        gate = sigmoid_fixed(rec, prog.fracs[f"{ffn}.receptance"], self.table)
        out = saturate(shift_round(gate * value, f.lut_bits + prog.fracs[f"{ffn}.value"]
                                   - prog.fracs["res"], prog.nearest), f.activation_bits)
        if trace is not None:
            trace.update({f"blocks.{i}.ln2": h, f"{ffn}.spike_h.spikes": s_h,
                          f"{ffn}.spike_h.v": v_h, f"{ffn}.value_q": value,
                          f"{ffn}.gate": gate, f"{ffn}.out": out})
        return out

    def integer_logits(self, idx: torch.Tensor, lengths: torch.Tensor | None = None,
                       trace: dict | None = None) -> torch.Tensor:
        """Logits as integers in ``Q(fracs['head'])``: [B, T, V] (lm) or [B, n_classes]."""
        prog, act = self.program, self.program.formats.activation_bits
        x = self.layernorm("ln0", self.embed(idx))
        if trace is not None:
            trace["embed"] = x
        for i in range(prog.n_layers):
            x = saturate(x + self.time_mix(i, x, trace), act)
            x = saturate(x + self.channel_mix(i, x, trace), act)
            if trace is not None:
                trace[f"blocks.{i}.residual"] = x
        h = self.layernorm("ln_out", x)
        head, bias = prog.linears["head"], prog.head_bias
        if prog.task == "lm":
            logits = self.requant("head", head.graded(h))
        else:
            steps = torch.arange(idx.shape[1], device=idx.device)
            count = (torch.full((idx.shape[0],), idx.shape[1], device=idx.device)
                     if lengths is None else lengths.to(idx.device))
            mask = (steps[None, :] < count[:, None]).to(torch.int64).unsqueeze(-1)
            pooled = head.graded((h * mask).sum(dim=1))
            req = prog.requants["head"]
            scaled = shift_round(pooled * req.mult, req.shift, prog.nearest)
            logits = floor_div(scaled, count.clamp(min=1).unsqueeze(-1))
        if bias is not None:
            logits = logits + bias
        logits = saturate(logits, act)
        if trace is not None:
            trace.update({"ln_out": h, "logits": logits})
        return logits

    @torch.no_grad()
    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.integer_logits(idx, lengths)
        return logits.to(torch.float64) * 2.0 ** -self.program.fracs["head"]


def chip_twin(model: nn.Module, plan: Any, formats: Any, calibration: Any) -> ChipTwin:
    """Calibrate ``model`` under ``plan`` on ``calibration`` batches, compile, wrap."""
    from qslm_neuro.chiparith.calibrate import calibrate
    from qslm_neuro.chiparith.program import compile_program

    ranges = calibrate(model, plan, calibration)
    twin = ChipTwin(compile_program(model, plan, formats, ranges))
    return twin.to(next(model.parameters()).device)
