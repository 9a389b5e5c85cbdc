"""The SLM's non-synaptic stages as Lava processes with bit-accurate Python process models.

On Loihi 2 these stages run on the embedded cores (or programmable neurons); here each is a Lava
process whose ``fixed_pt`` model does the twin's integer operations, step by step, by calling the
same functions (:mod:`qslm_neuro.chiparith.fixed` through :class:`~qslm_neuro.chiparith.twin.
ChipTwin`'s stage methods), so the closed loop and the twin cannot compute differently.

Processes (ports are integer vectors; one token per Lava time step, see
:mod:`qslm_neuro.lava.closed_loop` for the step offsets):

* :class:`EmbedStage`: token stream -> embedding row -> LayerNorm 0 (the residual stream);
* :class:`MixStage`: LayerNorm -> token shift -> mixes -> LIF input currents (2 or 3 outputs);
* :class:`AttCoreStage`: key/value/receptance Dense outputs -> WKV, sigmoid gate -> the output
  neurons' current (or, with a graded output layer, the integer product itself);
* :class:`ResidualStage`: residual add of a branch (requantized Dense output or graded value);
* :class:`FfnOutStage`: channel-mix value and receptance Dense outputs -> gate -> residual add;
* :class:`HeadStage`: final LayerNorm and the head (per token, or summed for a classifier);
* :class:`Tap`: records what a port carries (spikes of Lava's own LIF processes).

Every stage keeps a first-in first-out queue per input, so inputs that arrive on different
steps (a residual skip and a branch two Dense delays later) meet at the right token. Each writes
what it computed to ``record_dir`` (one ``.npy`` per stage value) after its last step.
"""
from __future__ import annotations

import collections
import os
from typing import Any

import numpy as np
import torch
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from qslm_neuro.chiparith.fixed import saturate, shift_round, sigmoid_fixed, wkv_step
from qslm_neuro.chiparith.fixed import WKV_EMPTY


class _Stage(AbstractProcess):
    """A stage: ``ins`` {port: (size, offset)}, ``outs`` {port: size}; ``spec`` says what to do."""

    def __init__(self, *, ins: dict[str, tuple[int, int]], outs: dict[str, int], twin: Any,
                 spec: dict[str, Any], offset: int, tokens: int, steps: int, record_dir: str,
                 name: str) -> None:
        super().__init__(twin=twin, spec=spec, offset=offset, tokens=tokens, steps=steps,
                         record_dir=record_dir, offsets={k: v[1] for k, v in ins.items()},
                         name=name)
        for port, (size, _) in ins.items():
            setattr(self, port, InPort(shape=(size,)))
        for port, size in outs.items():
            setattr(self, port, OutPort(shape=(size,)))


class EmbedStage(_Stage):
    pass


class MixStage(_Stage):
    pass


class AttCoreStage(_Stage):
    pass


class ResidualStage(_Stage):
    pass


class FfnOutStage(_Stage):
    pass


class HeadStage(_Stage):
    pass


class Tap(AbstractProcess):
    """Records an integer port (e.g. a LIF's spikes) and writes it to ``path`` at the end."""

    def __init__(self, *, size: int, steps: int, path: str, name: str) -> None:
        super().__init__(size=size, steps=steps, path=path, name=name)
        self.a_in = InPort(shape=(size,))


class _StageModel(PyLoihiProcessModel):
    """Queues inputs by token, computes when the stage's own token is due, records outputs."""

    in_names: tuple[str, ...] = ()

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.twin, self.spec = p["twin"], p["spec"]
        self.offset, self.tokens, self.steps = p["offset"], p["tokens"], p["steps"]
        self.offsets, self.record_dir, self.label = p["offsets"], p["record_dir"], p["name"]
        self.queues = {port: collections.deque() for port in self.in_names}
        self.step, self.records = 0, collections.defaultdict(list)
        self.setup()

    def setup(self) -> None:
        """Per-stage state."""

    def compute(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def record(self, key: str, value: torch.Tensor) -> None:
        self.records[key].append(value.cpu().numpy().astype(np.int64))

    def run_spk(self) -> None:
        """One step; a failure's traceback is printed here, since Lava's runtime only reports
        that an exception happened in some process."""
        try:
            self._run_spk()
        except Exception:
            import sys
            import traceback

            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            raise

    def _run_spk(self) -> None:
        for port in self.in_names:
            data = getattr(self, port).recv()
            if 0 <= self.step - self.offsets[port] < self.tokens:
                self.queues[port].append(torch.from_numpy(np.asarray(data, dtype=np.int64)))
        token = self.step - self.offset
        outputs = None
        if 0 <= token < self.tokens:
            outputs = self.compute({port: q.popleft() for port, q in self.queues.items()})
        for port, size in self.out_sizes().items():
            value = outputs.get(port) if outputs else None
            value = torch.zeros(size, dtype=torch.int64) if value is None else value
            getattr(self, port).send(value.numpy().astype(np.int32 if port.startswith("c")
                                                          else np.int64))
        self.step += 1
        if self.step == self.steps:
            for key, values in self.records.items():
                np.save(os.path.join(self.record_dir, f"{key}.npy"), np.stack(values))

    def out_sizes(self) -> dict[str, int]:
        return self.spec["outs"]


def _model(proc: type, ins: tuple[str, ...], outs: dict[str, Any]):
    """Declare the ports of a stage model (class attributes, as Lava requires)."""
    def wrap(cls: type) -> type:
        for port in ins:
            setattr(cls, port, LavaPyType(PyInPort.VEC_DENSE, np.int64))
        for port, dtype in outs.items():
            setattr(cls, port, LavaPyType(PyOutPort.VEC_DENSE, dtype))
        cls.in_names = ins
        cls.__annotations__ = {**{p: PyInPort for p in ins}, **{p: PyOutPort for p in outs}}
        return tag("fixed_pt")(requires(CPU)(implements(proc=proc, protocol=LoihiProtocol)(cls)))
    return wrap


@_model(EmbedStage, (), {"x": np.int64})
class PyEmbedStageModel(_StageModel):
    def compute(self, inputs):
        idx = torch.tensor([[self.spec["ids"][self.step - self.offset]]])
        x = self.twin.layernorm("ln0", self.twin.embed(idx))[0, 0]
        self.record("embed", x)
        return {"x": x}


@_model(MixStage, ("x",), {"c0": np.int32, "c1": np.int32, "c2": np.int32})
class PyMixStageModel(_StageModel):
    def setup(self):
        self.prev = None

    def compute(self, inputs):
        s, twin = self.spec, self.twin
        h = twin.layernorm(s["ln"], inputs["x"])
        prev = torch.zeros_like(h) if self.prev is None else self.prev
        self.prev = h
        frac = twin.program.norms[s["ln"]].out_frac
        self.record(s["ln"], h)
        out = {}
        for port, (mix, lif) in zip(("c0", "c1", "c2"), s["mixes"]):
            out[port] = twin.current(lif, twin.mix(mix, h, prev), frac)
            self.record(f"{lif}.current", out[port])
        return out


@_model(AttCoreStage, ("ak", "av", "ar"), {"c0": np.int32, "g": np.int64})
class PyAttCoreStageModel(_StageModel):
    def setup(self):
        zero = torch.zeros(self.spec["size"], dtype=torch.int64)
        self.state = (zero, zero, torch.full_like(zero, WKV_EMPTY))

    def compute(self, inputs):
        twin, att = self.twin, self.spec["att"]
        prog = twin.program
        for port, n in (("ak", "key"), ("av", "value"), ("ar", "receptance")):
            self.record(f"{att}.{n}.a", inputs[port])
        k = twin.requant(f"{att}.key", inputs["ak"])
        v = twin.requant(f"{att}.value", inputs["av"])
        r = twin.requant(f"{att}.receptance", inputs["ar"])
        mixed, self.state = wkv_step(self.state, k, v, prog.decays[att], prog.bonuses[att],
                                     prog.fracs[f"{att}.key"], twin.table, prog.nearest)
        gate = sigmoid_fixed(r, prog.fracs[f"{att}.receptance"], twin.table)
        gated = saturate(shift_round(gate * mixed, prog.formats.lut_bits, prog.nearest),
                         prog.formats.activation_bits)
        for key, value in (("key_q", k), ("value_q", v), ("receptance_q", r), ("wkv", mixed), ("gated", gated)):
            self.record(f"{att}.{key}", value)
        if prog.spiking_att_output:
            current = twin.current(f"{att}.spike_o", gated, prog.fracs[f"{att}.value"])
            self.record(f"{att}.spike_o.current", current)
            return {"c0": current, "g": torch.zeros_like(gated)}
        out = twin.requant(f"{att}.output", prog.linears[f"{att}.output"].graded(gated[None])[0])
        return {"c0": torch.zeros_like(gated), "g": out}


@_model(ResidualStage, ("x", "a"), {"x_out": np.int64})
class PyResidualStageModel(_StageModel):
    def compute(self, inputs):
        twin, att = self.twin, self.spec["att"]
        if twin.program.spiking_att_output:
            self.record(f"{att}.output.a", inputs["a"])
            out = twin.requant(f"{att}.output", inputs["a"])
        else:
            out = inputs["a"]
        self.record(f"{att}.out", out)
        x = saturate(inputs["x"] + out, twin.program.formats.activation_bits)
        self.record(f"{att}.residual", x)
        return {"x_out": x}


@_model(FfnOutStage, ("x", "a_value", "a_rec"), {"x_out": np.int64})
class PyFfnOutStageModel(_StageModel):
    def compute(self, inputs):
        twin, ffn, block = self.twin, self.spec["ffn"], self.spec["block"]
        prog = twin.program
        self.record(f"{ffn}.value.a", inputs["a_value"])
        self.record(f"{ffn}.receptance.a", inputs["a_rec"])
        value = twin.requant(f"{ffn}.value", inputs["a_value"])
        gate = sigmoid_fixed(twin.requant(f"{ffn}.receptance", inputs["a_rec"]),
                             prog.fracs[f"{ffn}.receptance"], twin.table)
        out = saturate(shift_round(gate * value, prog.formats.lut_bits
                                   + prog.fracs[f"{ffn}.value"] - prog.fracs["res"],
                                   prog.nearest), prog.formats.activation_bits)
        x = saturate(inputs["x"] + out, prog.formats.activation_bits)
        self.record(f"{ffn}.out", out)
        self.record(f"blocks.{block}.residual", x)
        return {"x_out": x}


@_model(HeadStage, ("x",), {})
class PyHeadStageModel(_StageModel):
    def setup(self):
        self.total = None

    def compute(self, inputs):
        twin = self.twin
        prog = twin.program
        h = twin.layernorm("ln_out", inputs["x"])
        self.record("ln_out", h)
        if prog.task == "lm":
            logits = twin.requant("head", prog.linears["head"].graded(h[None])[0])
            if prog.head_bias is not None:
                logits = logits + prog.head_bias
            self.record("logits", saturate(logits, prog.formats.activation_bits))
            return {}
        self.total = h if self.total is None else self.total + h
        if self.step - self.offset == self.tokens - 1:  # the stream's last token: read out
            req = prog.requants["head"]
            pooled = prog.linears["head"].graded(self.total[None])[0]
            logits = shift_round(pooled * req.mult, req.shift, prog.nearest) // self.tokens
            if prog.head_bias is not None:
                logits = logits + prog.head_bias
            self.record("logits", saturate(logits, prog.formats.activation_bits))
        return {}


@implements(proc=Tap, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyTapModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        self.seen: list[np.ndarray] = []

    def run_spk(self) -> None:
        self.seen.append(np.asarray(self.a_in.recv(), dtype=np.int64))
        if len(self.seen) == self.proc_params["steps"]:
            np.save(self.proc_params["path"], np.stack(self.seen))
