"""The non-synaptic stages' integer parameters and the neurons' registers (see program.py)."""
from __future__ import annotations

import math

import torch
from torch import nn

from qslm_neuro.chiparith.program import (ChipProgram, IntLinear, LayerNormParams, LIFParams,
                                          Requant, SquaredLIFParams, frac_bits)
from qslm_neuro.errors import BadInputError
from qslm_neuro.hw.arithmetic import ArithmeticFormats


def _round(t: torch.Tensor, frac: int) -> torch.Tensor:
    return torch.round(t.detach().cpu().to(torch.float64).reshape(-1) * 2.0 ** frac
                       ).to(torch.int64)


def _layernorm(module: nn.LayerNorm, in_frac: int, out_frac: int,
               formats: ArithmeticFormats) -> LayerNormParams:
    channels = module.normalized_shape[0]
    # |normalised value| <= sqrt(C - 1): that many integer bits, the rest fraction
    norm_frac = formats.activation_bits - 1 - math.ceil(math.log2(math.sqrt(channels)))
    gamma = _round(module.weight, formats.lut_bits)
    beta = _round(module.bias, norm_frac + formats.lut_bits)
    eps = round(channels * channels * module.eps * 2.0 ** (2 * in_frac))
    return LayerNormParams(gamma, beta, eps, norm_frac, in_frac, out_frac)


def _lif(name: str, population: nn.Module, source_frac: int, bound: float,
         formats: ArithmeticFormats) -> LIFParams:
    """Input format of a LIF fed by graded values: fits the current's range in the synaptic
    input width and the state (after the MSB shift), and the threshold in its register."""
    state_max = (1 << (formats.state_bits - 1)) - 1
    limit = state_max >> formats.threshold_shift
    vth_max = min((1 << formats.threshold_bits) - 1, limit)
    current_max = min((1 << (formats.synaptic_input_bits - 1)) - 1, limit)
    threshold = float(population.threshold)
    frac = min(source_frac, math.floor(math.log2(vth_max / threshold)))
    if bound > 0:
        frac = min(frac, math.floor(math.log2(current_max / bound)))
    vth = round(threshold * 2.0 ** frac)
    if vth < 1:
        raise BadInputError(f"{name}: threshold {threshold} rounds to 0 with state_bits="
                            f"{formats.state_bits}; widen the state")
    dv = round((1.0 - float(population.beta)) * (1 << formats.decay_bits))
    return LIFParams(name, frac, current_max, dv, vth)


def _squared(name: str, population: nn.Module, linear: IntLinear,
             formats: ArithmeticFormats) -> SquaredLIFParams:
    """Per-channel scales folded into per-neuron thresholds (as qslm_neuro.lava.mapping)."""
    state_max = (1 << (formats.state_bits - 1)) - 1
    threshold = float(population.threshold)
    unit_sq = (linear.row_scales / 2.0 ** linear.gain) ** 2
    shift = math.floor(math.log2((state_max - 1) * float(unit_sq.min()) / threshold))
    vth = torch.round(threshold * 2.0 ** shift / unit_sq).to(torch.int64)
    if int(vth.min()) < 1:
        raise BadInputError(f"{name}: threshold rounds to 0 in {formats.state_bits} bits")
    dv = round((1.0 - float(population.beta)) * (1 << formats.decay_bits))
    return SquaredLIFParams(name, dv, vth, shift)


def _mix_bound(mixes: list[torch.Tensor]) -> float:
    """Largest factor a token-shift mix ``prev + m (x - prev)`` puts on its inputs' range."""
    return max(float((m.abs() + (1 - m).abs()).max()) for m in mixes)


def compile_stages(model: nn.Module, formats: ArithmeticFormats, ranges: dict[str, float],
                   linears: dict[str, IntLinear]) -> ChipProgram:
    cfg = model.config
    act = formats.activation_bits
    missing = [k for k in ("emb", "res", "head") if k not in ranges]
    if missing:
        raise BadInputError(f"calibration ranges lack {missing}; run calibrate() first")
    fracs = {key: frac_bits(value, act) for key, value in ranges.items()}
    populations = model.populations()
    requants: dict[str, Requant] = {}
    lifs: dict[str, LIFParams] = {}
    squared: dict[str, SquaredLIFParams] = {}
    mixes: dict[str, torch.Tensor] = {}
    decays: dict[str, torch.Tensor] = {}
    bonuses: dict[str, torch.Tensor] = {}
    norms = {"ln0": _layernorm(model.ln0, fracs["emb"], fracs["res"], formats),
             "ln_out": _layernorm(model.ln_out, fracs["res"], fracs["ln_out"], formats)}
    requants["emb"] = Requant.of(linears["emb"].row_scales, fracs["emb"])
    for i, block in enumerate(model.blocks):
        att, ffn = f"blocks.{i}.att", f"blocks.{i}.ffn"
        for ln in ("ln1", "ln2"):
            norms[f"blocks.{i}.{ln}"] = _layernorm(getattr(block, ln), fracs["res"],
                                                   fracs[f"blocks.{i}.{ln}"], formats)
        for prefix, module, names, ln in ((att, block.att, "kvr", "ln1"),
                                          (ffn, block.ffn, "kr", "ln2")):
            tensors = [getattr(module, f"time_mix_{n}").detach().cpu().reshape(-1)
                       for n in names]
            bound = ranges[f"blocks.{i}.{ln}"] * _mix_bound(tensors)
            for n, tensor in zip(names, tensors):
                mixes[f"{prefix}.mix_{n}"] = _round(tensor, formats.lut_bits)
                lifs[f"{prefix}.spike_{n}"] = _lif(f"{prefix}.spike_{n}",
                                                   populations[f"{prefix}.spike_{n}"],
                                                   fracs[f"blocks.{i}.{ln}"], bound, formats)
        for n in ("key", "value", "receptance"):
            layer = linears[f"{att}.{n}"]
            requants[f"{att}.{n}"] = Requant.of(layer.row_scales / 2.0 ** layer.gain,
                                                fracs[f"{att}.{n}"])
        frac_k, frac_v = fracs[f"{att}.key"], fracs[f"{att}.value"]
        decays[att] = _round(torch.exp(block.att.time_decay.detach().double()), frac_k)
        bonuses[att] = _round(block.att.time_first, frac_k)
        out = linears[f"{att}.output"]
        if cfg.spiking_att_output:
            lifs[f"{att}.spike_o"] = _lif(f"{att}.spike_o", populations[f"{att}.spike_o"],
                                          frac_v, ranges[f"{att}.value"], formats)
            requants[f"{att}.output"] = Requant.of(out.row_scales / 2.0 ** out.gain,
                                                   fracs["res"])
        else:  # graded input: an integer matrix product on the embedded cores
            requants[f"{att}.output"] = Requant.of(out.row_scales * 2.0 ** -frac_v,
                                                   fracs["res"])
        for n in ("receptance", "value"):
            layer = linears[f"{ffn}.{n}"]
            requants[f"{ffn}.{n}"] = Requant.of(layer.row_scales / 2.0 ** layer.gain,
                                                fracs[f"{ffn}.{n}"])
        squared[f"{ffn}.spike_h"] = _squared(f"{ffn}.spike_h", populations[f"{ffn}.spike_h"],
                                             linears[f"{ffn}.key"], formats)
    head = linears["head"]
    requants["head"] = Requant.of(head.row_scales * 2.0 ** -fracs["ln_out"], fracs["head"])
    bias = None if model.head.bias is None else _round(model.head.bias, fracs["head"])
    return ChipProgram(formats=formats, task=cfg.head, n_layers=cfg.n_layers,
                       spiking_att_output=cfg.spiking_att_output, linears=linears,
                       requants=requants, lifs=lifs, squared=squared, norms=norms, mixes=mixes,
                       decays=decays, bonuses=bonuses, fracs=fracs, head_bias=bias,
                       ranges=dict(ranges))
