# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Cost your own network
#
# You have a spiking network of your own, written in snnTorch, and want to know what it costs
# on a chip: energy per time step, latency, cores, whether it fits. This notebook takes a small
# **Conv2d -> Leaky -> Flatten -> Linear -> Leaky** network, trains it for a few seconds on
# synthetic spike trains, and then:
#
# 1. exports it to **NIR** (the Neuromorphic Intermediate Representation) with snnTorch's own
#    `export_to_nir`, the file any NIR tool reads;
# 2. costs the NIR file on **three chips** (`loihi`, `loihi2`, `embedded-soc`), simulating the
#    graph on the spike trains you give it: `qslm_neuro.estimate("net.nir", hw=..., inputs=...)`
#    (on the command line: `qslm estimate --nir net.nir --inputs spikes.npy --hw loihi2`);
# 3. **searches weight precisions** so that the network fits **one chip** (`const_mem="1chip"`)
#    while losing at most 5 points of accuracy, and writes the quantized network back to NIR
#    with `weight_bits` and `scale` on every weight node.
#
# Time steps play the role of tokens here: "per token" in a report means per time step.
#
# ### Words used below
#
# | word | meaning |
# |---|---|
# | **LIF neuron** (`snn.Leaky`) | leaky integrate-and-fire: its potential decays by `beta` each step, adds the weighted input spikes, fires when it crosses `threshold` and resets (notebook 1, section 0) |
# | **NIR** | the Neuromorphic Intermediate Representation: a graph of nodes (`Conv2d`, `Affine`, `LIF`, ...) with their parameters, which snnTorch, Lava, SpiNNaker and other tools read and write |
# | **synaptic operation** | one weight added into one neuron because one of its inputs spiked |
# | **core** | one small processor of a neuromorphic chip, with its own synaptic memory and neuron state |
# | **static power** | power the chip draws whenever it is on (transistor leakage, clocks), computing or not; not the neuron's leak |
# | **plan** | a precision (fp32, int8, int4, ...) for every weight matrix |
# | **selection / test set** | the spike trains the search scores plans on, and the ones the result is reported on: never the same |
# | **feasible** | a plan meets every constraint; on a chip, the network fits its cores and chips |

# %%
import os
import warnings
from pathlib import Path

# Without ipywidgets tqdm warns "IProgress not found" and falls back to text progress bars
# (`make notebooks` installs ipywidgets), so the warning says nothing here.
warnings.filterwarnings("ignore", message="IProgress not found")

import nir
import numpy as np
import snntorch as snn
import snntorch.utils
import torch
from snntorch.export_nir import export_to_nir
from torch import nn

import qslm_neuro
from qslm_neuro.export.nir_out import export_nir
from qslm_neuro.quantsearch import Constraints, Evaluation, Execution, SearchSpace, search
from qslm_neuro.viz import format_table, plot_energy_breakdown, show_figure
from qslm_neuro.viz.prose import Prose

SMALL = os.environ.get("QSLM_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("QSLM_NOTEBOOK_OUT", "output")) / "04_cost_your_own_network"
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)  # one thread: several wait for each other on a busy machine
prose = Prose(OUT)  # sentences with results are computed from this run (prose.say)
prose.given("1chip")  # the search's memory constraint, set below


def show(fig, name: str) -> None:
    """Save a figure as PNG (with its JSON sidecar) under OUT and show it here."""
    show_figure(fig, OUT / f"{name}.png")


# %% [markdown]
# ## Data: spike trains of four classes
#
# Each sample is `[time, 2 channels, 10, 10]` of Bernoulli spikes. Class `c` fires a little more
# in one quadrant of channel 0 than elsewhere (a weak signal, so that the network needs its
# weights to be precise: at 2 bits it should lose accuracy); channel 1 is noise. Three sets
# with separate seeds:
# training, **selection** (what the search scores plans on) and **test** (what we report), so
# the reported accuracy is never measured on the data that chose the plan.

# %%
STEPS, SIDE, CLASSES = 10, 10, 4
BACKGROUND, SIGNAL = 0.08, 0.14  # spike probabilities per step: noise, and the class's quadrant


def spike_set(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % CLASSES
    rates = torch.full((n, 2, SIDE, SIDE), BACKGROUND)
    half = SIDE // 2
    for i, c in enumerate(labels.tolist()):
        r, col = divmod(c, 2)
        rates[i, 0, r * half:(r + 1) * half, col * half:(col + 1) * half] = SIGNAL
    spikes = (torch.rand((STEPS,) + rates.shape, generator=g) < rates).float()
    return spikes, labels  # spikes: [time, batch, channels, height, width]


train_x, train_y = spike_set(128 if SMALL else 256, seed=0)
select_x, select_y = spike_set(64 if SMALL else 128, seed=1)
test_x, test_y = spike_set(64 if SMALL else 128, seed=2)
print("spike trains:", tuple(test_x.shape), f"mean rate {test_x.mean():.3f}")

# %% [markdown]
# ## The network
#
# Two snnTorch details make the NIR export work: `beta` and `threshold` are given **per neuron**
# (a tensor of the layer's output shape; a scalar `beta` fails NIR's shape checks), and
# `reset_mechanism="zero"` (NIR's LIF resets to `v_reset`; snnTorch's default reset by
# subtraction has no NIR equivalent).

# %%
C = 8


def leaky(shape, **kw):
    return snn.Leaky(beta=torch.full(shape, 0.9), threshold=torch.ones(shape), init_hidden=True,
                     reset_mechanism="zero", **kw)


torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(2, C, 3, padding=1), leaky((C, SIDE, SIDE)), nn.Flatten(),
                    nn.Linear(C * SIDE * SIDE, CLASSES), leaky((CLASSES,), output=True))


def spike_counts(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    snntorch.utils.reset(model)
    return sum(model(x[t])[0] for t in range(x.shape[0]))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((spike_counts(model, x).argmax(1) == y).float().mean())


optimizer = torch.optim.Adam(net.parameters(), lr=5e-3)
for epoch in range(10 if SMALL else 15):
    for i in range(0, train_x.shape[1], 32):
        optimizer.zero_grad()
        counts = spike_counts(net, train_x[:, i:i + 32])
        nn.functional.cross_entropy(counts, train_y[i:i + 32]).backward()
        optimizer.step()
print(f"fp32 accuracy: selection {accuracy(net, select_x, select_y):.3f}, "
      f"test {accuracy(net, test_x, test_y):.3f}")
from qslm_neuro.quant import QuantPlan  # noqa: E402

uniform = {"fp32": accuracy(net, select_x, select_y)}
for bits in ("int8", "int4", "int2"):
    with QuantPlan.uniform(net, bits).applied(net):
        uniform[bits] = accuracy(net, select_x, select_y)
    print(f"every weight at {bits}: selection accuracy {uniform[bits]:.3f}")
prose.say("**What to see:** fp32 scores {fp32:.3f} on the selection set (chance is 0.25 for four "
          "classes); with every weight at int2 it scores {int2:.3f} ({diff:+.1f} points){note}",
          fp32=uniform["fp32"], int2=uniform["int2"],
          diff=100 * (uniform["int2"] - uniform["fp32"]),
          note=(": the precision matters, so the search below has something to decide." if
                uniform["fp32"] - uniform["int2"] > 0.02 else
                ". In this run the precision hardly matters (the small setting trains briefly); "
                "at full settings int2 loses accuracy."))

# %% [markdown]
#
# **Questions**
#
# 1. Why are `beta` and `threshold` tensors, not numbers?
#
#    <details><summary>answer</summary>NIR stores one value per neuron; snnTorch exports a
#    scalar as a scalar, which NIR's shape checks refuse.</details>
#
# 2. Why three data sets and not two?
#
#    <details><summary>answer</summary>Training fits the weights, the search picks a plan on the
#    selection set, and the test set reports; a number measured on the data that chose the plan
#    is optimistic.</details>

# %% [markdown]
# ## Export to NIR with snnTorch
#
# `ignore_dims=[0]` drops the batch axis of the sample from the graph's shapes.

# %%
graph = export_to_nir(net, test_x[0, :1], ignore_dims=[0])
nir_path = OUT / "net.nir"
nir.write(str(nir_path), graph)
spikes_path = OUT / "spikes.npy"
np.save(spikes_path, test_x.numpy())
print({name: type(node).__name__ for name, node in graph.nodes.items()})

# %% [markdown]
# ## Cost the NIR file on three chips
#
# The graph is simulated on the test spike trains (the same equations as snnTorch's
# `import_nir`), so every layer's input events are counted, not guessed. The convolution enters
# the cost model as a convolution: its synaptic memory holds the 8 x 2 x 3 x 3 kernel, not the
# unrolled 200 x 800 matrix, and one input spike reaches at most 3 x 3 x 8 outputs.

# %%
CHIPS = ("loihi", "loihi2", "embedded-soc")
fp32_reports = {hw: qslm_neuro.estimate(str(nir_path), hw=hw, inputs=test_x) for hw in CHIPS}
print(format_table([{"chip": hw, "energy_nJ/step": r.energy_per_token_j * 1e9,
                     "latency_us/step": r.latency_per_token_s * 1e6, "cores": r.cores,
                     "chips": r.chips, "feasible": r.feasible}
                    for hw, r in fp32_reports.items()]))
layers = fp32_reports["loihi2"].layer_rows  # the synaptic layers (not the core rows)
prose.check("1 chip", fp32_reports["loihi2"].chips, "the chips the fp32 network needs on Loihi 2")
print(layers[["name", "kind", "fan_in", "fan_out", "input_events_per_step",
              "synaptic_ops_per_step", "synaptic_memory_bytes"]].to_string(index=False))
events_in = layers.iloc[0]["input_events_per_step"] * test_x.shape[0] * test_x.shape[1]
print(f"input events of the first layer: {events_in:.0f}; spikes in the file: "
      f"{int(test_x.sum())}")
show(plot_energy_breakdown({f"fp32 on {hw}": r for hw, r in fp32_reports.items()},
                           title="fp32 network: energy per time step", log=True,
                           unit="time step"), "energy_breakdown")

# %% [markdown]
# **What to see:** the left panel ranks the chips by energy per time step (log scale); the right
# one shows what each chip spends it on. The input events of the first layer equal the spikes
# in the file: the cost model counted them, it did not guess a rate.
#
# **Questions**
#
# 1. The convolution's synaptic memory holds 144 weights, not 200 x 800. Why does the cost
#    still depend on the image size?
#
#    <details><summary>answer</summary>Every input spike reaches up to 3 x 3 x 8 outputs, so the
#    synaptic operations grow with the number of input spikes, which grows with the image.
#    </details>
#
# 2. Which chip would you pick for this network, and what would you check first?
#
#    <details><summary>answer</summary>The cheapest feasible one in the table; then check the
#    parameters its answer rests on (the `assumed` ones in its TOML file).</details>

# %% [markdown]
# ## Search precisions that fit one chip
#
# `const_mem="1chip"` bounds the chips the plan is mapped onto, checked on every candidate's own
# Loihi 2 estimate; `hw_inputs` are the spike trains every candidate is costed on. The search
# scores plans on the selection set only. This small network fits one Loihi 2
# at fp32 already (the report says 1 chip), so here the constraint only guards; the objective
# (accuracy + memory saving) is what lowers the precisions. For a network of your own that
# needs several chips at fp32, `"1chip"` is what makes the search find one that fits.

# %%
result = search(net, Evaluation(lambda m: accuracy(m, select_x, select_y), higher_is_better=True,
                                metric="accuracy", hw_inputs=select_x[:, :16]),
                constraints=Constraints(accuracy="5pt", memory="1chip"), chips="loihi2",
                space=SearchSpace(ladder="fp32,int8,int4,int3,int2"),
                execution=Execution(progress=False))
print(result.summary())
chosen = result.chosen
print("chosen precisions:", chosen.precisions())

# %% [markdown]
# ## The quantized network, back to NIR, costed again
#
# `export_nir` writes the whole network with the plan's weights; every weight node carries
# `weight_bits`, `precision` and `scale` metadata, so the cost model reads the stored width
# from the file. The test accuracy is measured on data the search never saw.

# %%
quantized_path = OUT / "net-quantized.nir"
qgraph, not_expressed = export_nir(net, chosen.plan, test_x[0, :1], out=quantized_path)
print("weight metadata:", {n: {k: v for k, v in node.metadata.items() if k != "scale"}
                           for n, node in qgraph.nodes.items() if node.metadata})
print("not expressible in NIR:", not_expressed or "nothing")
quant_reports = {hw: qslm_neuro.estimate(str(quantized_path), hw=hw, inputs=test_x)
                 for hw in CHIPS}
with chosen.plan.applied(net):
    test_quantized = accuracy(net, test_x, test_y)
print(f"test accuracy: fp32 {accuracy(net, test_x, test_y):.3f}, chosen {test_quantized:.3f}")
print(format_table([{"chip": hw, "fp32_nJ/step": fp32_reports[hw].energy_per_token_j * 1e9,
                     "chosen_nJ/step": r.energy_per_token_j * 1e9,
                     "fp32_syn_mem_KiB": fp32_reports[hw].synaptic_memory_bytes / 1024,
                     "chosen_syn_mem_KiB": r.synaptic_memory_bytes / 1024, "chips": r.chips}
                    for hw, r in quant_reports.items()]))
show(plot_energy_breakdown({"fp32": fp32_reports["loihi2"], "chosen": quant_reports["loihi2"]},
                           title="Loihi 2: fp32 vs the chosen plan", unit="time step"),
     "energy_chosen_vs_fp32")

# %% [markdown]
# **What to see:** how much of the bar the plan removes, and which part: on Loihi 2 an fp32
# weight is costed as four 8-bit synapses, so the synaptic part shrinks most.
#
# **Questions**
#
# 1. The test accuracy of the chosen plan differs from its selection accuracy. Which one do
#    you report?
#
#    <details><summary>answer</summary>The test accuracy: the search chose the plan *because* it
#    scored well on the selection set, so that number is optimistic.</details>
#
# 2. What does `const_mem="1chip"` add for a network that already fits one chip at fp32?
#
#    <details><summary>answer</summary>Nothing binding here; it guards. For a bigger network it
#    is what makes the search pick a plan that fits.</details>

# %%
prose.write()  # what the text states, computed from this run: prose.json beside the figures
