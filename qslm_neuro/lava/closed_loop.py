"""The whole SLM closed loop in Lava, compared bit for bit with the twin.

Every layer is fed by the previous Lava process's output: a token stream enters
:class:`~qslm_neuro.lava.procs.stages.EmbedStage`; per block a MixStage drives Lava's own
bit-accurate ``LIF`` processes, whose spikes drive Lava's bit-accurate ``Dense`` processes (the
chip's integer levels, converted with Lava's weight utilities), whose outputs drive the WKV stage,
the output neurons and Dense, the residual add, the channel-mix neurons, the squared-ReLU LIF
hidden neurons (:class:`~qslm_neuro.lava.procs.squared_relu_lif.SquaredReLULIF`), its Dense and
the gate; the head reads the last block. Nothing is replayed from snntorch.

Timing: Lava's Dense delivers at step ``s + 1`` what its input spiked at step ``s``; every other
process answers within the step. Each stage therefore has an offset (the Dense delays in front of
it) and queues inputs that arrive earlier (a residual skip). A token stream of ``T`` tokens runs
``T + last offset + 1`` steps.

:func:`closed_loop` runs it, reads every integer that Lava computed (stage values from the
stages' records, spikes from taps, LIF voltages from Monitors) and compares each with the twin's
trace on the same stream: :class:`ClosedLoopReport`.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor

from qslm_neuro.chiparith.twin import ChipTwin
from qslm_neuro.lava.procs.squared_relu_lif import SquaredReLULIF
from qslm_neuro.lava.procs.stages import (AttCoreStage, EmbedStage, FfnOutStage, HeadStage,
                                          MixStage, ResidualStage, Tap)
from qslm_neuro.lava.weights import _to_loihi


@dataclass
class ClosedLoopReport:
    """Per compared value: elements, mismatches; plus timings."""

    tokens: int
    rows: list[dict[str, Any]]
    lava_s: float
    twin_s: float
    steps: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def bit_exact(self) -> bool:
        return all(row["mismatches"] == 0 for row in self.rows)

    @property
    def compared_values(self) -> int:
        return sum(row["elements"] for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "steps": self.steps, "bit_exact": self.bit_exact,
                "compared_values": self.compared_values, "lava_s": self.lava_s,
                "twin_s": self.twin_s, "meta": self.meta, "values": self.rows}

    def table(self) -> str:
        lines = [f"{'value':<34} {'shape':>12} {'mismatches':>10}"]
        for row in self.rows:
            lines.append(f"{row['name']:<34} {str(tuple(row['shape'])):>12} "
                         f"{row['mismatches']:>10}")
        verdict = "bit for bit" if self.bit_exact else "MISMATCH"
        lines.append(f"{len(self.rows)} values ({self.compared_values} integers) over "
                     f"{self.tokens} tokens: Lava closed loop vs twin {verdict}; Lava "
                     f"{self.lava_s:.1f} s, twin {self.twin_s:.3f} s")
        return "\n".join(lines)


def _dense(twin: ChipTwin, name: str) -> Dense:
    layer = twin.program.linears[name]
    weights = _to_loihi(name, layer.plan_precision, layer.chip_precision, False,
                        layer.levels.cpu().numpy(), layer.row_scales.cpu().numpy(),
                        np.zeros(tuple(layer.levels.shape)))
    return Dense(weights=weights.dense_weights, weight_exp=weights.weight_exp + layer.gain,
                 num_weight_bits=weights.num_weight_bits, sign_mode=weights.sign_mode,
                 name=name)


class _Builder:
    """Creates and wires the processes; remembers what to read back."""

    def __init__(self, twin: ChipTwin, ids: list[int], record_dir: str) -> None:
        self.twin, self.ids, self.dir = twin, ids, record_dir
        self.tokens = len(ids)
        prog = twin.program
        self.per_block = 2 if not prog.spiking_att_output else 3
        self.steps = self.tokens + 1 + prog.n_layers * (self.per_block + 2)
        self.taps: dict[str, tuple[Tap, int]] = {}
        self.monitors: dict[str, tuple[Monitor, Any, int]] = {}
        self.procs: list[Any] = []

    def stage(self, cls: type, name: str, ins: dict[str, tuple[int, int]],
              outs: dict[str, int], spec: dict[str, Any]) -> Any:
        offset = max([o for _, o in ins.values()], default=0)
        proc = cls(ins=ins, outs=outs, twin=self.twin, spec={**spec, "outs": outs},
                   offset=offset, tokens=self.tokens, steps=self.steps, record_dir=self.dir,
                   name=name)
        self.procs.append(proc)
        return proc

    def tap(self, key: str, port: Any, size: int, offset: int) -> None:
        tap = Tap(size=size, steps=self.steps, path=str(Path(self.dir) / f"tap-{key}.npy"),
                  name=f"tap:{key}")
        port.connect(tap.a_in)
        self.taps[key] = (tap, offset)

    def lif(self, name: str, source_port: Any, size: int, offset: int) -> LIF:
        p = self.twin.program.lifs[name]
        neuron = LIF(shape=(size,), du=4095, dv=p.dv, vth=p.vth, name=name)
        source_port.connect(neuron.a_in)
        self.tap(f"{name}.spikes", neuron.s_out, size, offset)
        monitor = Monitor()
        monitor.probe(neuron.v, self.steps)
        self.monitors[f"{name}.v"] = (monitor, neuron, offset)
        return neuron

    def mix(self, prefix: str, ln: str, names: str, x_port: Any, size: int,
            offset: int) -> list[LIF]:
        stage = self.stage(MixStage, f"{prefix}.mix", {"x": (size, offset)},
                           {"c0": size, "c1": size, "c2": size},
                           {"ln": ln, "mixes": [(f"{prefix}.mix_{n}", f"{prefix}.spike_{n}")
                                                for n in names]})
        x_port.connect(stage.x)
        return [self.lif(f"{prefix}.spike_{n}", getattr(stage, f"c{j}"), size, offset)
                for j, n in enumerate(names)]

    def block(self, i: int, x_port: Any, size: int, offset: int) -> tuple[Any, int]:
        prog, att, ffn = self.twin.program, f"blocks.{i}.att", f"blocks.{i}.ffn"
        neurons = self.mix(att, f"blocks.{i}.ln1", "kvr", x_port, size, offset)
        core = self.stage(AttCoreStage, f"{att}.core",
                          {p: (size, offset + 1) for p in ("ak", "av", "ar")},
                          {"c0": size, "g": size}, {"att": att, "size": size})
        for neuron, n, port in zip(neurons, ("key", "value", "receptance"), ("ak", "av", "ar")):
            dense = _dense(self.twin, f"{att}.{n}")
            neuron.s_out.connect(dense.s_in)
            dense.a_out.connect(getattr(core, port))
        if prog.spiking_att_output:
            neuron = self.lif(f"{att}.spike_o", core.c0, size, offset + 1)
            dense = _dense(self.twin, f"{att}.output")
            neuron.s_out.connect(dense.s_in)
            branch, branch_offset = dense.a_out, offset + 2
        else:
            branch, branch_offset = core.g, offset + 1
        residual = self.stage(ResidualStage, f"{att}.residual",
                              {"x": (size, offset), "a": (size, branch_offset)},
                              {"x_out": size}, {"att": att})
        x_port.connect(residual.x)
        branch.connect(residual.a)
        offset = branch_offset
        s_k, s_r = self.mix(ffn, f"blocks.{i}.ln2", "kr", residual.x_out, size, offset)
        key, value, rec = (_dense(self.twin, f"{ffn}.{n}") for n in ("key", "value",
                                                                     "receptance"))
        sq = prog.squared[f"{ffn}.spike_h"]
        hidden = SquaredReLULIF(shape=(sq.vth.numel(),), dv=sq.dv, vth=sq.vth.cpu().numpy(),
                                square_shift=sq.square_shift, name=f"{ffn}.spike_h")
        s_k.s_out.connect(key.s_in)
        key.a_out.connect(hidden.a_in)
        self.tap(f"{ffn}.key.a", key.a_out, sq.vth.numel(), offset + 1)
        self.tap(f"{ffn}.spike_h.spikes", hidden.s_out, sq.vth.numel(), offset + 1)
        monitor = Monitor()
        monitor.probe(hidden.v, self.steps)
        self.monitors[f"{ffn}.spike_h.v"] = (monitor, hidden, offset + 1)
        hidden.s_out.connect(value.s_in)
        s_r.s_out.connect(rec.s_in)
        out = self.stage(FfnOutStage, f"{ffn}.out",
                         {"x": (size, offset), "a_value": (size, offset + 2),
                          "a_rec": (size, offset + 1)}, {"x_out": size},
                         {"ffn": ffn, "block": i})
        residual.x_out.connect(out.x)
        value.a_out.connect(out.a_value)
        rec.a_out.connect(out.a_rec)
        return out.x_out, offset + 2

    def build(self) -> Any:
        size = self.twin.program.norms["ln0"].gamma.numel()
        embed = self.stage(EmbedStage, "embed", {}, {"x": size}, {"ids": self.ids})
        port, offset = embed.x, 0
        for i in range(self.twin.program.n_layers):
            port, offset = self.block(i, port, size, offset)
        head = self.stage(HeadStage, "head", {"x": (size, offset)}, {}, {})
        port.connect(head.x)
        return embed


def _twin_trace(twin: ChipTwin, ids: list[int]) -> tuple[dict[str, np.ndarray], float]:
    trace: dict[str, torch.Tensor] = {}
    start = time.perf_counter()
    with torch.no_grad():
        twin.integer_logits(torch.tensor([ids]), None, trace)
    elapsed = time.perf_counter() - start
    out = {k: v[0].cpu().numpy().astype(np.int64) for k, v in trace.items()}
    for key in [k for k in out if k.endswith(".v") and k[:-2] + ".spikes" in out]:  # Lava reports v after the reset
        out[key] = np.where(out[key[:-2] + ".spikes"] != 0, 0, out[key])
    out["logits"] = out["logits"].reshape(-1, out["logits"].shape[-1]) \
        if twin.program.task == "lm" else out["logits"][None]
    return out, elapsed


def closed_loop(twin: ChipTwin, ids: list[int]) -> ClosedLoopReport:
    """Run the token stream ``ids`` through the SLM in Lava and compare with the twin."""
    twin = twin.to("cpu")
    expected, twin_s = _twin_trace(twin, ids)
    with tempfile.TemporaryDirectory(prefix="qslm-closed-loop-") as record_dir:
        builder = _Builder(twin, ids, record_dir)
        anchor = builder.build()
        start = time.perf_counter()
        anchor.run(condition=RunSteps(num_steps=builder.steps),
                   run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        try:
            got = {key: np.asarray(m.get_data()[proc.name][var_name(key)])[o: o + len(ids)]
                   for key, (m, proc, o) in builder.monitors.items()}
        finally:
            anchor.stop()
        lava_s = time.perf_counter() - start
        for key, (_, offset) in builder.taps.items():
            got[key] = np.load(Path(record_dir) / f"tap-{key}.npy")[offset: offset + len(ids)]
        for path in Path(record_dir).glob("*.npy"):
            if not path.name.startswith("tap-"):
                got[path.stem] = np.load(path)
    rows = []
    for key in sorted(set(expected) & set(got)):
        want, have = expected[key], np.asarray(got[key], dtype=np.int64)
        same_size = have.size == want.size
        wrong = int(np.count_nonzero(want != have.reshape(want.shape))) if same_size \
            else int(want.size)
        rows.append({"name": key, "shape": list(want.shape), "elements": int(want.size),
                     "mismatches": wrong})
    missing = sorted(set(expected) - set(got))
    return ClosedLoopReport(tokens=len(ids), rows=rows, lava_s=lava_s, twin_s=twin_s,
                            steps=builder.steps, meta={"not_read_from_lava": missing})


def var_name(key: str) -> str:
    return key.rsplit(".", 1)[1]
