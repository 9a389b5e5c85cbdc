"""Spiking neuron populations built from snntorch's ``Leaky`` (LIF) neuron.

SpikeGPT uses SpikingJelly's LIF with tau = 2, threshold 1, hard reset and an arctan surrogate
gradient (alpha = 2). In discrete time that neuron is ``V_t = (1 - 1/tau) V_{t-1} + I_t/tau``;
snntorch's ``Leaky`` computes ``U_t = beta U_{t-1} + I_t``, so ``beta = 1 - 1/tau = 0.5`` gives the
same decay (the 1/tau input gain is absorbed by the learned layer in front of the neuron).
``reset_mechanism="zero"`` with snntorch's default delayed reset sets the membrane to 0 after a
spike, exactly like Lava's LIF (``v`` reset to 0 once it exceeds ``vth``), which the Lava
co-simulation relies on.

The token axis is the SNN time axis (one time step per token): a population is driven by a
whole sequence ``[B, T, C]`` and steps through T, which is exact for a feed-forward stack of
populations and lets the linear layers run as one matmul over all tokens.

Stepping ``snn.Leaky`` once per token costs ~15 small autograd nodes per step, which made
training ~10x slower than the matmuls. :class:`_LIFSequence` runs the *same* recurrence (the
``Leaky``'s beta, threshold, zero reset with snntorch's delayed reset, and snntorch's arctan
surrogate) as one autograd node with a hand-written backward. ``LIFPopulation(fused=False)``
steps the ``Leaky`` itself; the tests check both paths give identical spikes and gradients.
"""
from __future__ import annotations

import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from qslm_neuro.models import fused


def tau_to_beta(tau: float) -> float:
    """Membrane decay per step of a discrete LIF with time constant ``tau`` (in steps)."""
    if tau <= 1.0:
        raise ValueError(f"tau={tau} must be > 1 time step for a leaky neuron")
    return 1.0 - 1.0 / tau


class _LIFSequence(torch.autograd.Function):
    """snntorch ``Leaky`` (reset to zero, delayed reset, arctan surrogate) over [B, T, C].

    Forward, per step t (``r_t`` = previous spike, detached as in snntorch)::

        mem_t = beta * (1 - s_{t-1}) * mem_{t-1} + I_t ;   s_t = H(mem_t - threshold)

    Backward: ``dmem_t = ds_t * atan'(mem_t - thr) + dmem_{t+1} * beta * (1 - s_t)``, and
    ``dI_t = dmem_t`` (snntorch's surrogate: alpha/2 / (1 + (pi/2 alpha x)^2)).
    """

    @staticmethod
    def forward(ctx, currents: torch.Tensor, beta: float, threshold: float,
                alpha: float) -> torch.Tensor:  # type: ignore[override]
        # Since s_{t-1} = H(mem_{t-1} - thr), the reset needs no separate spike tensor: the
        # membrane carried into step t is mem_{t-1} where it stayed at or under threshold, else 0.
        # Three kernels per step; spikes for all steps come from one comparison afterwards.
        if fused.usable(currents):  # CUDA: the same loop in one Triton kernel
            mems = fused.lif_membranes(currents, beta, threshold)
        else:
            mems = torch.empty_like(currents)
            mem = torch.zeros_like(currents[:, 0])
            zero = torch.zeros((), dtype=currents.dtype, device=currents.device)
            for t in range(currents.shape[1]):
                kept = torch.where(mem > threshold, zero, mem)
                mem = torch.add(currents[:, t], kept, alpha=beta, out=mems[:, t])
        spikes = (mems > threshold).to(currents.dtype)
        ctx.save_for_backward(mems)
        ctx.beta, ctx.threshold, ctx.alpha = beta, threshold, alpha
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):  # type: ignore[override]
        (mems,) = ctx.saved_tensors
        beta, alpha = ctx.beta, ctx.alpha
        shifted = mems - ctx.threshold
        direct = grad_spikes * ((alpha / 2) / (1 + (torch.pi / 2 * alpha * shifted).square()))
        carry_factor = (shifted <= 0).to(mems.dtype) * beta  # d mem_{t+1} / d mem_t
        grad_currents = torch.empty_like(grad_spikes)
        steps = grad_spikes.shape[1]
        grad_currents[:, steps - 1] = direct[:, steps - 1]
        for t in range(steps - 2, -1, -1):
            # dL/dmem_t = direct_t + dL/dmem_{t+1} * beta * (1 - s_t)
            torch.addcmul(direct[:, t], grad_currents[:, t + 1], carry_factor[:, t],
                          out=grad_currents[:, t])
        return grad_currents, None, None, None


class LIFPopulation(nn.Module):
    """A layer of LIF neurons (snntorch ``Leaky``) applied over the token/time axis.

    ``forward(currents [B, T, C]) -> spikes [B, T, C]`` with spikes in {0, 1}.
    """

    def __init__(self, size: int, tau: float = 2.0, threshold: float = 1.0,
                 surrogate_alpha: float = 2.0, fused: bool = True) -> None:
        super().__init__()
        self.fused = fused
        self.surrogate_alpha = surrogate_alpha
        self.size = size
        self.tau = tau
        self.threshold = threshold
        self.beta = tau_to_beta(tau)
        # snntorch reads its scalar buffers with .item() while building, which a meta-device
        # build (weights not allocated) cannot do; its two scalars are created on the CPU.
        self.lif = self._build_leaky()

    def _build_leaky(self) -> snn.Leaky:
        with torch.device("cpu"):
            return snn.Leaky(beta=self.beta, threshold=self.threshold,
                             spike_grad=surrogate.atan(alpha=self.surrogate_alpha),
                             reset_mechanism="zero")

    def __getstate__(self) -> dict:
        """Picklable (e.g. to Dask workers): snntorch's surrogate is a local closure that
        plain pickle refuses, so the ``Leaky`` travels as its settings and is rebuilt."""
        state = dict(self.__dict__)
        modules = dict(state["_modules"])
        lif = modules.pop("lif")
        state["_modules"] = modules
        state["_lif_device"] = str(lif.beta.device) if isinstance(lif.beta, torch.Tensor) \
            else "cpu"
        return state

    def __setstate__(self, state: dict) -> None:
        device = state.pop("_lif_device", "cpu")
        self.__dict__.update(state)
        self._modules["lif"] = self._build_leaky().to(device)

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return _LIFSequence.apply(currents, self.beta, self.threshold, self.surrogate_alpha)
        return self.step_through(currents)

    def step_through(self, currents: torch.Tensor) -> torch.Tensor:
        """Reference path: call the snntorch ``Leaky`` once per time step."""
        mem = torch.zeros_like(currents[:, 0])
        spikes = []
        for t in range(currents.shape[1]):
            spk, mem = self.lif(currents[:, t], mem)
            spikes.append(spk)
        # snntorch keeps the last membrane on the module; drop it so no graph or batch-sized
        # tensor outlives the call (it would also leak into state_dict-based footprints).
        self.lif.mem = torch.zeros(0)
        self.lif.reset = torch.zeros(0)
        return torch.stack(spikes, dim=1)

    def extra_repr(self) -> str:
        return f"size={self.size}, tau={self.tau}, beta={self.beta}, threshold={self.threshold}"


def fire_together(populations: list[LIFPopulation], currents: list[torch.Tensor]
                  ) -> list[torch.Tensor]:
    """Run several identical-parameter populations as one wider population.

    Populations that are driven at the same point of the network (time-mix's key, value and
    receptance neurons) are independent neuron by neuron, so stepping them side by side is exact;
    one loop over T instead of three cuts the per-step kernel launches threefold.
    """
    first = populations[0]
    same = all(p.beta == first.beta and p.threshold == first.threshold and p.fused == first.fused
               and p.surrogate_alpha == first.surrogate_alpha for p in populations)
    if not same or not first.fused:
        return [p(c) for p, c in zip(populations, currents)]
    sizes = [c.shape[-1] for c in currents]
    spikes = first(torch.cat(currents, dim=-1))
    return list(spikes.split(sizes, dim=-1))
