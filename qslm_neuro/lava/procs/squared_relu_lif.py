"""``SquaredReLULIF``: the channel-mix hidden neurons of the SLM as one Lava process.

In the spiking RWKV the channel-mix key layer feeds its neurons through a squared ReLU
(``spike_h(relu(key(x))**2)``), so Lava's plain LIF cannot consume the Dense output directly. This
process applies ``relu(a_in)**2`` and then the LIF dynamics of :mod:`qslm_neuro.lava.neuron_math`
(no synaptic current state, voltage decay ``dv``, reset to zero). On Loihi 2 it would be a
microcoded neuron program (a multiply and a shift more than a LIF).

Two process models, chosen by ``Loihi2SimCfg(select_tag=...)``:

* ``floating_pt``: ``v = v (1 - dv) + relu(a)^2 ; s = v > vth`` in float64;
* ``fixed_pt``: integer input (the bit-accurate Dense output), ``relu(a)^2`` shifted by
  ``square_shift`` bits and saturated to 24 bits, Loihi's 12-bit decay arithmetic, 24-bit
  voltage and a per-neuron 24-bit threshold ``vth`` (the per-channel weight scales folded in).
"""
from __future__ import annotations

import typing as ty

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from qslm_neuro.lava.neuron_math import squared_relu_lif_fixed_step


class SquaredReLULIF(AbstractProcess):
    """LIF neurons driven through ``relu(a_in)**2``; per-neuron threshold ``vth``.

    ``dv`` is the voltage decay (float in [0, 1] for the float model, 12-bit register for the
    fixed model); ``square_shift`` is used by the fixed model only.
    """

    def __init__(self, *, shape: ty.Tuple[int, ...], dv: float, vth: np.ndarray | float,
                 square_shift: int = 0, name: str | None = None) -> None:
        super().__init__(shape=shape, dv=dv, vth=vth, square_shift=square_shift, name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v = Var(shape=shape, init=0)
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=shape, init=vth)
        self.square_shift = Var(shape=(1,), init=square_shift)


@implements(proc=SquaredReLULIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySquaredReLULIFModelFloat(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    dv: float = LavaPyType(float, float)
    vth: np.ndarray = LavaPyType(np.ndarray, float)
    square_shift: int = LavaPyType(int, int)

    def run_spk(self) -> None:
        current = np.square(np.maximum(self.a_in.recv(), 0.0))
        self.v[:] = self.v * (1.0 - self.dv) + current
        spikes = self.v > self.vth
        self.v[spikes] = 0.0
        self.s_out.send(spikes.astype(float))


@implements(proc=SquaredReLULIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySquaredReLULIFModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=16)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    dv: int = LavaPyType(int, np.uint16, precision=12)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    square_shift: int = LavaPyType(int, np.int8, precision=6)

    def run_spk(self) -> None:
        v, spikes = squared_relu_lif_fixed_step(self.v, self.a_in.recv(), _scalar(self.dv),
                                                self.vth.astype(np.int64),
                                                _scalar(self.square_shift))
        self.v[:] = v
        self.s_out.send(spikes.astype(np.int32))


def _scalar(value: object) -> int:
    """A (1,)-shaped Var or a Python number as an int."""
    return int(np.asarray(value).reshape(-1)[0])
