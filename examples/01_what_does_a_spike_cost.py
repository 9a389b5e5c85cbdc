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
# # What does a spike cost?
#
# A spiking neural network (SNN) only does work when a neuron fires: each input spike adds one
# row of weights into the neurons it connects to. A conventional ("dense") layer multiplies
# *every* input by *every* weight, whether the input is zero or not. So an SNN should win when
# spikes are rare. But how rare, on which chip, and with how many bits per weight?
#
# This notebook costs **one layer** (512 inputs, 512 leaky integrate-and-fire neurons) on three
# hardware models shipped with `qslm-neuro`:
#
# | name | what it models |
# |---|---|
# | `loihi` | Intel Loihi (2018), per-event energies published by Davies et al. |
# | `loihi2` | Intel Loihi 2 (2021); **per-event energies fitted by us to published board measurements** |
# | `embedded-soc` | an STM32H7-class Cortex-M7 microcontroller (MCU), the layer in software |
#
# and compares them with the plain alternative: the same layer as a dense int8
# multiply-accumulate (MAC) loop on the MCU.
#
# You will see
# 0. what a leaky integrate-and-fire neuron computes (and why its "leak" is not the chip's
#    "leakage"),
# 1. where every energy figure comes from (and which ones are assumptions),
# 2. energy per time step as a function of the input firing rate and of the weight width,
# 3. the **break-even point**: where the SNN stops paying off,
# 4. what the energy is spent on, and what static power does to the picture.
#
# The cost model is a counting model: energy = number of events x energy per event (+ static
# power x time). The equations are in `hw_models/README.md`; nothing here runs on real silicon.
#
# ### Words used below
#
# | word | meaning |
# |---|---|
# | **synaptic operation** (synop) | one weight added into one neuron because one of its inputs spiked: a spike into a 512-wide layer is 512 synops |
# | **core** | one small processor of a neuromorphic chip with its own synaptic memory (128 KiB on Loihi) and neuron state; a layer's weights must fit into the memory of the cores it is given |
# | **compartment** | Loihi's unit of neuron state (a neuron uses one or more); a Loihi core holds up to 1,024 |
# | **axon** | an input (or output) port of a core through which spikes enter (leave); a core has a limited number, so a layer with a large fan-in or fan-out is split over several cores |
# | **tile** | a group of cores that share one router (4 cores per tile on Loihi) |
# | **NoC** | network-on-chip: the mesh of routers that carries spikes between tiles; every hop costs energy and time |
# | **LIF neuron** | leaky integrate-and-fire: adds its weighted input spikes to a membrane potential that decays ("leaks") by a factor beta every step, fires when it crosses a threshold and is then reset (section 0) |
# | **leak (of a neuron)** | the factor beta < 1 by which the membrane potential shrinks each step: part of the neuron's *arithmetic*, no energy term |
# | **static power** (chip "leakage") | power drawn whenever the chip is on (transistor leakage current, clocks), computing or not; static energy = static power x time. Nothing to do with the neuron's leak |
# | **dynamic energy / power** | energy spent because something happened (a synaptic operation, a neuron update, a spike sent): number of events x energy per event; dynamic power = dynamic energy per second, so it grows with activity |
# | **time step / token** | an SNN updates every neuron once per time step; the language models here take one step per token, so "per token" and "per step" are the same in this notebook |
# | **feasible** | the workload fits the hardware: its weights fit the cores of the chips allowed (`max_chips`, 1 by default) and no core exceeds its compartment or axon limits. An infeasible estimate is still computed, and flagged |

# %%
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display

from qslm_neuro.hw import estimate, load_hardware
from qslm_neuro.viz import (plot_energy_breakdown, plot_energy_vs_rate, plot_energy_vs_weight_bits,
                            show_figure)
from qslm_neuro.viz.prose import Prose
from qslm_neuro.workload import Activity, NeuronPopulation, NonSynapticOp, SynapticLayer, Workload

# QSLM_NOTEBOOK_SMALL=1 (set by the test suite) uses coarser grids; the results are the same
# model, just fewer points on each curve.
SMALL = os.environ.get("QSLM_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("QSLM_NOTEBOOK_OUT", "output")) / "01_what_does_a_spike_cost"
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 120)


def show(fig, name: str) -> None:
    """Save a figure as PNG (and a JSON sidecar of its labels) under OUT; show it in a notebook."""
    show_figure(fig, OUT / f"{name}.png")


CHIPS = ["loihi", "loihi2", "embedded-soc"]
# Every number the text below states is either computed here (prose.say) or checked against
# this run (prose.check): a cost-model change then fails the notebook instead of leaving a
# false sentence. prose.given lists the numbers that are this notebook's own inputs.
prose = Prose(OUT)
prose.given("5%", "10%", "20%", "0.1%", "100%", "1 ms")
print("figures go to", OUT.resolve())

# %% [markdown]
# ## 0. The neuron: leaky integrate-and-fire
#
# Each of the 512 output neurons is a **leaky integrate-and-fire** (LIF) neuron, the one
# snnTorch calls `Leaky`. At every time step `t` its membrane potential `v` does three things:
#
# $$v[t] = \beta\,v[t-1] + \sum_i w_i\,s_i[t] \qquad\text{(leak, then integrate)}$$
#
# $$\text{if } v[t] \ge \theta:\ \text{spike } z[t] = 1 \text{ and reset } v[t] \leftarrow 0
# \qquad\text{(fire, reset)}$$
#
# * **leak**: `beta` (between 0 and 1) shrinks the potential every step, so old inputs fade;
# * **integrate**: every input `i` that spiked (`s_i[t] = 1`) adds its weight `w_i`: one
#   **synaptic operation** per spike and target, the event a neuromorphic chip pays for;
# * **fire and reset**: crossing the threshold `theta` sends a spike `z[t]` to the next layer and
#   sets `v` back to 0 (snnTorch's default subtracts `theta` instead).
#
# Two words to keep apart: the neuron's **leak** is arithmetic (a multiply by `beta` in every
# neuron update); the chip's **leakage** is *static power*, current the transistors draw whether
# anything happens or not. Energy spent *because* something happened (a synaptic operation, a
# neuron update, a spike sent) is **dynamic** energy.
#
# **Predict, then check.** One neuron, `beta = 0.9`, `theta = 1`, one input of weight 0.3 that
# spikes at every step. At which step does it fire first? And with `beta = 0.5`?

# %%
def lif(weight: float, beta: float, theta: float = 1.0, steps: int = 12) -> list[int]:
    """Steps (1-based) at which one LIF neuron fires, its single input spiking every step."""
    v, fired = 0.0, []
    for t in range(1, steps + 1):
        v = beta * v + weight          # leak, then integrate
        if v >= theta:                 # fire ...
            fired.append(t)
            v = 0.0                    # ... and reset
    return fired


for beta in (0.9, 0.5):
    print(f"beta = {beta}: fires at steps {lif(0.3, beta)}")

# %% [markdown]
# <details><summary>answer</summary>With beta = 0.9 the potential goes 0.3, 0.57, 0.81, 1.03:
# the neuron fires at step 4, then every 4 steps. With beta = 0.5 it settles at
# 0.3 / (1 - 0.5) = 0.6, below the threshold: it never fires. The leak decides whether a weak,
# steady input is ever passed on.</details>

# %% [markdown]
# ## 1. The layer as a `Workload`
#
# Every hardware model in `qslm_neuro.hw` consumes a `Workload`: a list of synaptic layers
# (fan-in, fan-out, weight width, how many inputs are non-zero per time step), neuron
# populations (size, spikes per step) and any other arithmetic. We build two by hand.
#
# * **Spiking layer**: a fraction `rate` of the 512 inputs spikes in each time step. Each spike
#   triggers 512 *accumulates* (AC: add a weight, no multiply), so there are
#   `rate x 512 x 512` synaptic operations per step. We assume the 512 output neurons fire at the
#   same rate as the inputs, as they would inside a network with uniform activity.
# * **Dense layer**: every input is a number (`binary_share=0`), so every step does all
#   `512 x 512 = 262,144` MACs, plus 512 ReLUs.

# %%
FAN_IN, FAN_OUT = 512, 512


def spiking_layer(rate: float, bits: int = 8, weight_format: str = "int") -> Workload:
    """One spiking layer: `rate` of the inputs spike per time step, LIF outputs at the same rate."""
    layer = SynapticLayer(
        "fc", FAN_IN, FAN_OUT, weight_bits=bits, weight_format=weight_format,
        source="input_spikes", target="lif",
        activity=Activity(input_events_per_step=rate * FAN_IN, binary_share=1.0))
    neurons = NeuronPopulation("lif", FAN_OUT, output_spikes_per_step=rate * FAN_OUT)
    return Workload(f"snn@{rate:.3%}", (layer,), (neurons,))


def dense_layer(bits: int = 8, weight_format: str = "int") -> Workload:
    """The same layer as a dense matrix-vector product: every input is used, every step."""
    layer = SynapticLayer(
        "fc", FAN_IN, FAN_OUT, weight_bits=bits, weight_format=weight_format,
        activity=Activity(input_events_per_step=FAN_IN, binary_share=0.0))
    relu = NonSynapticOp("relu", "elementwise", ops_per_step=FAN_OUT)
    return Workload(f"dense-{weight_format}{bits if weight_format == 'int' else ''}",
                    (layer,), (), (relu,))


example = spiking_layer(0.05)
print(f"{example.name}: {example.layers[0].synaptic_ops_per_step:,.0f} synaptic ops per step "
      f"(all ACs: {example.layers[0].acs_per_step:,.0f}); "
      f"weights {example.weight_bytes / 1024:.0f} KiB")
print(f"dense: {dense_layer().layers[0].macs_per_step:,.0f} MACs per step")

# %% [markdown]
# **Questions**
#
# 1. How many synaptic operations does one time step of the spiking layer need at 10% firing?
#
#    <details><summary>answer</summary>51.2 inputs spike (10% of 512), each adds its row of 512
#    weights: 51.2 x 512 = 26,214 synaptic operations, a tenth of the dense layer's 262,144 MACs.
#    </details>
#
# 2. Why does the spiking layer count output spikes, and the dense one not?
#
#    <details><summary>answer</summary>Output spikes are messages a neuromorphic chip must send
#    (energy and time per spike); the dense layer hands its numbers to the next layer in memory.
#    </details>

# %% [markdown]
# ## 2. Where the numbers come from
#
# A hardware model is a TOML file (`hw_models/*.toml`): every parameter has a value, a unit and
# a source. Figures nobody has published are marked `assumed = true` and carry the derivation.
# Here are the parameters that matter for one layer. Read the `source` column before you trust a
# result: **Loihi 2's per-event energies are Loihi's scaled by one factor fitted to a measured
# PilotNet run** (the split between kinds of event is still Loihi's), and the MCU's cycle counts
# are our estimates from the Cortex-M7 instruction timings.

# %%
RELEVANT = {  # parameter -> what it is, for a reader
    "neuromorphic": {"e_syn_op_pj": "energy per synaptic operation",
                     "e_neuron_access_pj": "energy per neuron update (inactive)",
                     "e_spike_out_pj": "energy per output spike",
                     "syn_mem_per_core_bytes": "synaptic memory per core",
                     "neurons_per_core": "compartments per core",
                     "max_weight_bits": "widest weight one synapse holds",
                     "p_static_chip_mw": "static power per chip, non-core share",
                     "p_static_core_mw": "static power per powered core"},
    "mcu": {"clock_hz": "clock", "cpu_current_ua_per_mhz": "core current per MHz",
            "supply_v": "supply voltage", "cycles_ac_int8": "cycles per int8 accumulate",
            "cycles_mac_int8": "cycles per int8 multiply-accumulate",
            "cycles_neuron_update": "cycles per LIF update",
            "sram_bytes": "on-chip SRAM", "p_static_mw": "static power"},
}


def readable(value: float, unit: str) -> str:
    """A parameter value in a unit a person reads (bytes in KiB, Hz in MHz), 3 digits."""
    if unit == "bytes":
        return f"{value / 1024:,.0f} KiB"
    if unit == "Hz":
        return f"{value / 1e6:,.0f} MHz"
    if float(value).is_integer():
        return f"{value:,.0f} {unit}"  # 1,024 neurons, not 1.02e+03
    return f"{value:,.3g} {unit}"


for family, chips in (("neuromorphic", ["loihi", "loihi2"]), ("mcu", ["embedded-soc"])):
    table = {}
    for chip in chips:
        model = load_hardware(chip)
        table[chip] = {what: readable(model.params[key].value, model.params[key].unit)
                       + (" *" if model.params[key].assumed else "")
                       for key, what in RELEVANT[family].items()}
    display(pd.DataFrame(table).rename_axis(f"{family} parameter"))
print("* = assumed (derived or estimated, not published); the TOML file says how")
for chip in CHIPS:
    model = load_hardware(chip)
    first = next(iter(RELEVANT[model.family]))
    print(f"{chip}: {len(model.assumed_keys)} of {len(model.params)} parameters are assumed; "
          f"{first}: {model.params[first].source[:80]}")
LOIHI, MCU = load_hardware("loihi"), load_hardware("embedded-soc")
P_CHIP_ALL_CORES = (LOIHI.value("p_static_chip_mw")
                    + LOIHI.value("cores_per_chip") * LOIHI.value("p_static_core_mw"))
print(f"loihi static power with every core powered: {P_CHIP_ALL_CORES:.0f} mW per chip "
      f"({LOIHI.value('p_static_chip_mw'):.1f} mW non-core + {LOIHI.value('cores_per_chip'):.0f} "
      f"cores x {LOIHI.value('p_static_core_mw'):.2f} mW)")
PJ_PER_CYCLE = MCU.value("cpu_current_ua_per_mhz") * MCU.value("supply_v")  # uA/MHz x V = pJ
prose.say("One MCU figure deserves a comment: the Cortex-M7 draws about {ua:.0f} uA per MHz at "
          "{v:.1f} V, i.e. `{ua:.0f}e-6 A/MHz x {v:.1f} V = {pj:.0f} pJ` **per clock cycle**, "
          "for the whole core (fetch, decode, pipeline, caches). A Loihi synaptic operation "
          "costs {syn:.1f} pJ. That factor of about {ratio:.0f} per elementary step will "
          "dominate everything below.", ua=MCU.value("cpu_current_ua_per_mhz"),
          v=MCU.value("supply_v"), pj=PJ_PER_CYCLE, syn=LOIHI.value("e_syn_op_pj"),
          ratio=PJ_PER_CYCLE / LOIHI.value("e_syn_op_pj"))
# numbers written in the markdown cells of this section and the next
prose.check("128 KiB", LOIHI.value("syn_mem_per_core_bytes") / 1024, "Loihi's memory per core")
prose.check("104 mW", P_CHIP_ALL_CORES, "Loihi's static power per chip, all cores powered")

# %% [markdown]
# The "static power per chip" row is only the part that does not depend on the cores used
# (embedded cores, I/O, clocks; an assumed 10% split): Loihi's measured 104 mW per chip is that
# share plus the static power of all of its cores, printed above.
#
# **Questions**
#
# 1. Loihi 2's energies are Loihi's scaled by one factor fitted to a measured PilotNet run. Is
#    a Loihi 2 result for *this* layer a measurement?
#
#    <details><summary>answer</summary>No, a prediction: the fit pins the overall level of
#    energy per event on one network (PilotNet), but the split between synaptic operations,
#    neuron updates and spikes is still Loihi's (marked `*`). Another layer with another mix of
#    events can be off even though PilotNet is matched.</details>
#
# 2. How many 8-bit weights fit into one Loihi core's synaptic memory?
#
#    <details><summary>answer</summary>128 KiB = 131,072 bytes, so about 131k 8-bit weights
#    (a little less where a synapse also stores a few bits of overhead). Our layer has 262,144
#    weights, so it needs at least two cores.</details>

# %% [markdown]
# ## 3. One estimate, read slowly
#
# `estimate(workload, hw)` returns a `CostReport`. With `tokens_per_s=None` the chip runs as fast
# as it can and the static energy is static power x the time one step takes. (The SLM takes one
# time step per token, so the report says "per token"; here a token is one time step.)

# %%
for chip in CHIPS:
    print(estimate(spiking_layer(0.05), chip).summary(), "\n")
print(estimate(dense_layer(), "embedded-soc").summary())

# %% [markdown]
# Things to notice:
# * On the neuromorphic chips the 256 KiB of 8-bit weights do not fit into one core's synaptic
#   memory, so the layer is spread over several cores; each used core costs static power.
#   The summary counts **3 cores**: the **2** that hold `fc`'s weights (the `cores` column of the
#   layer table below) plus **1** that generates the input spikes (the input population has no
#   layer driving it, so it gets a spike-generator core of its own).
# * On the MCU the spiking layer pays for 512 LIF updates every step, spike or not.
# * The per-layer table `report.layers` has the counts behind each number:

# %%
layer_table = estimate(spiking_layer(0.05), "loihi").layer_rows
display(pd.DataFrame({
    "layer": layer_table["name"], "weight bits": layer_table["weight_bits"],
    "input spikes per step": layer_table["input_events_per_step"].round(1),
    "synaptic ops per step": layer_table["synaptic_ops_per_step"].round(0).astype(int),
    "cores (weights)": layer_table["cores"],
    "synaptic memory (KiB)": (layer_table["synaptic_memory_bytes"] / 1024).round(0),
    "synaptic ops (nJ/step)": (layer_table["synaptic_ops_j_per_token"] * 1e9).round(1),
    "weight reads (nJ/step)": (layer_table["memory_reads_j_per_token"] * 1e9).round(2)}))
at_5 = {chip: estimate(spiking_layer(0.05), chip) for chip in CHIPS}
prose.check("3 cores", at_5["loihi"].cores, "the cores the 5% layer uses on Loihi")
prose.check("256 KiB", example.weight_bytes / 1024, "the layer's int8 weights")
prose.check("~46%", 100 * at_5["loihi"].parts["static"] / at_5["loihi"].energy_per_token_j,
            "Loihi's static share at 5% firing, fastest rate")
prose.check("~10 mW", LOIHI.value("p_static_chip_mw"), "Loihi's non-core static power")
prose.check("128 cores", LOIHI.value("cores_per_chip"), "Loihi's cores per chip")
prose.check("4 cores", LOIHI.value("cores_per_tile"), "Loihi's cores per tile")
prose.check("480 MHz", MCU.value("clock_hz") / 1e6, "the MCU's clock")

# %% [markdown]
# **Questions**
#
# 1. Loihi's summary above says ~46% static, although the chip runs as fast as it can. Why?
#
#    <details><summary>answer</summary>The chip's static power (~10 mW for the embedded cores,
#    I/O and clocks, plus each powered core) is paid for the whole step, and one small layer
#    keeps only 3 of its 128 cores busy.</details>
#
# 2. What limits the token rate on the MCU?
#
#    <details><summary>answer</summary>The CPU's cycles: every synaptic operation and every LIF
#    update runs one after another on one core at 480 MHz.</details>

# %% [markdown]
# ## 4. Energy per time step vs firing rate
#
# We sweep the input firing rate from 0.1% to 100% (every input spikes in every step) on all
# three chips and draw the dense int8 layer on the MCU as a horizontal line: it costs the same at
# every rate, because it never looks at whether an input is zero.

# %%
rates = np.logspace(np.log10(0.001), 0.0, 16 if SMALL else 60)
curve_rows = []
for chip in CHIPS:
    for rate in rates:
        report = estimate(spiking_layer(rate), chip)
        curve_rows.append({"hardware": f"SNN on {chip}", "chip": chip, "firing_rate": rate,
                           "energy_per_step_j": report.energy_per_token_j,
                           "static_j": report.parts["static"], "cores": report.cores})
curves = pd.DataFrame(curve_rows)
dense_mcu = estimate(dense_layer(), "embedded-soc")
E_DENSE = dense_mcu.energy_per_token_j
print(f"dense int8 on the MCU: {E_DENSE * 1e6:.1f} uJ per step")
display((curves.pivot(index="firing_rate", columns="chip", values="energy_per_step_j")
         .iloc[:: max(1, len(rates) // 8)] * 1e6).round(3)
        .rename(index=lambda r: f"{r:.2%}", columns=lambda c: f"{c} (uJ/step)")
        .rename_axis("input firing rate"))

# %% [markdown]
# ## 5. The break-even point
#
# **Break-even firing rate.** The SNN stops paying off at the rate `r*` where its energy per
# step reaches the dense layer's. We look for `r*` between 0.1% and 100% (a binary input can
# spike at most once per step).
#
# **Break-even time steps.** Many SNNs do not process a token in one step: rate-coded networks
# spread each value over `T` steps, and energy per token grows with `T`. So the second question
# is: how many steps per token can the SNN afford before the dense layer (one pass per token)
# wins? `T*(r) = E_dense / E_SNN(r)`. Multiplying, `r x T*` is the number of spikes per input
# per token the SNN can afford. SpikeGPT-style models use `T = 1`.

# %%
def break_even_rate(chip: str, e_reference_j: float, rate_grid: np.ndarray,
                    overrides: dict | None = None) -> float | None:
    """Smallest rate where the SNN costs as much as the reference (linear interpolation)."""
    energy = np.array([estimate(spiking_layer(r), chip, overrides=overrides).energy_per_token_j
                       for r in rate_grid])
    above = np.nonzero(energy >= e_reference_j)[0]
    if len(above) == 0:
        return None
    i = above[0]
    if i == 0:
        return float(rate_grid[0])
    return float(np.interp(e_reference_j, energy[i - 1:i + 1], rate_grid[i - 1:i + 1]))


full_range = np.linspace(0.001, 1.0, 100 if SMALL else 500)
break_even = {chip: break_even_rate(chip, E_DENSE, full_range) for chip in CHIPS}

# energy per token = T x energy per step: check it on the model before using it
layer_5 = spiking_layer(0.05)
t4 = Workload("t4", layer_5.layers, layer_5.populations, time_steps_per_token=4)
ratio = estimate(t4, "loihi").energy_per_token_j / estimate(layer_5, "loihi").energy_per_token_j
print(f"check: energy per token with T=4 / with T=1 = {ratio:.3f}\n")
curves["break_even_steps"] = E_DENSE / curves["energy_per_step_j"]

summary_rows = []
for chip in CHIPS:
    steps = curves[curves.chip == chip].set_index("firing_rate")["break_even_steps"]
    e_full = estimate(spiking_layer(1.0), chip).energy_per_token_j
    r_star = break_even[chip]
    summary_rows.append({
        "hardware": chip,
        "break-even rate r* (T=1)": "none below 100%" if r_star is None else f"{r_star:.1%}",
        "T* at 5%": float(np.interp(0.05, steps.index, steps.values)),
        "T* at 50%": float(np.interp(0.5, steps.index, steps.values)),
        "T* at 100%": E_DENSE / e_full,
        "spikes/input/token at 50%": 0.5 * float(np.interp(0.5, steps.index, steps.values)),
    })
display(pd.DataFrame(summary_rows).round(1).set_index("hardware"))
for row in summary_rows:
    print(f"{row['hardware']}: at 50% firing the SNN stops paying off beyond "
          f"{row['T* at 50%']:.1f} time steps per token, i.e. "
          f"{row['spikes/input/token at 50%']:.1f} spikes per input per token")

# The kink of the Loihi curve: the lowest rate from which the static energy (static power x
# step time) grows about in proportion to the rate (log-log slope above 1/2; a fine grid).
fine = np.geomspace(0.001, 0.05, 120)
static_loihi = np.array([estimate(spiking_layer(r), "loihi").parts["static"] for r in fine])
slopes = np.diff(np.log(static_loihi)) / np.diff(np.log(fine))
KINK = float(fine[1:][np.argmax(slopes > 0.5)])
print(f"Loihi's step time starts to grow with the rate at {KINK:.2%} firing")
prose.check("0.45%", 100 * KINK, "the rate where Loihi's curve bends", rel=0.1)
prose.check("~0.45%", 100 * KINK, "the rate where Loihi's curve bends")
prose.check("71%", 100 * break_even["embedded-soc"], "the MCU SNN's break-even rate")
prose.check("~71%", 100 * break_even["embedded-soc"], "the MCU SNN's break-even rate")
prose.check("~24 pJ", LOIHI.value("e_syn_op_pj"), "Loihi's synaptic-op energy")
prose.check("~920 pJ", PJ_PER_CYCLE, "the MCU's energy per clock cycle")
prose.check("~1.4 cycles", MCU.value("cycles_ac_int8"), "the MCU's cycles per int8 accumulate")
prose.check("~1 cycle", MCU.value("cycles_mac_int8"), "the MCU's cycles per int8 MAC")

# %%
energy_marks = {f"r* on {chip}: {r:.1%}": (r, E_DENSE) for chip, r in break_even.items()
                if r is not None and r <= rates[-1]}
show(plot_energy_vs_rate(curves, references={"dense int8 on embedded-soc": E_DENSE},
                         marks=energy_marks, mark_offset=(-10, 8),
                         title="512x512 layer: energy per time step vs firing rate"),
     "energy_vs_rate")

# %% [markdown]
# **What to see:** each SNN curve rises with the firing rate, the dense line does not, and the
# software SNN on the MCU crosses the dense line at its break-even rate (the red circle); the
# neuromorphic curves stay below the MCU's dense line at every rate. A CPU is an unfair
# competitor, though: section 5 adds an accelerator built for dense int8 layers.
#
# Read the plot on log-log axes: a straight line of slope 1 means "energy proportional to
# spikes". At low rates every curve flattens: the neuron updates (every neuron is updated every
# step) and static power do not depend on spikes, so they set a floor.
#
# **The kink in the Loihi curves near 0.45%.** A Loihi core works in two phases per step:
# receiving spikes (synaptic operations) and updating its neurons. The slower phase sets the
# step time, and static energy is static power x step time. Below ~0.45% firing the neuron
# updates (256 compartments per core, every step) are the slower phase, so the step time, and
# with it the static energy, does not change with the rate; above it the synaptic operations
# take longer than the updates and the step time grows with every spike. The curve bends where
# the two phases take equally long. Check it in `estimate(spiking_layer(r), "loihi").parts`:
# `static` is almost constant up to 0.45% and grows after.

# %%
marks = {f"r* on {chip}: {r:.1%}": (r, 1.0) for chip, r in break_even.items()
         if r is not None and r <= rates[-1]}
show(plot_energy_vs_rate(curves, value="break_even_steps",
                         references={"T = 1 (one step per token)": 1.0}, marks=marks,
                         ylabel="time steps per token at break-even, T* (steps)",
                         title="How many steps can the SNN afford before dense int8 "
                               "on the MCU wins?"),
     "break_even_steps")

# %% [markdown]
# **What to see:** where a curve is above the dotted line T = 1 the SNN can afford more than
# one step per token; the MCU's curve crosses it at its break-even rate (red circle).
#
# How to read this (the numbers are in the table above):
# * **Break-even rate within one step.** On the neuromorphic chips the SNN beats the dense int8
#   MCU layer at every firing rate a binary input can have: ~24 pJ per synaptic operation on
#   Loihi against ~920 pJ per MCU clock cycle. The software SNN *on the MCU* does have a
#   break-even rate (see the table): an event-driven accumulate must load, add and store its
#   accumulator in SRAM (~1.4 cycles per int8 weight, an assumed estimate), while the dense SIMD
#   MAC keeps its accumulator in a register (~1 cycle). Above `r*` the dense layer wins on the
#   same MCU.
# * **Where the SNN does stop paying off: time steps.** The table gives `T*`. A software SNN
#   on the MCU loses after a few steps per token at high firing rates; the neuromorphic chips
#   can afford tens (Loihi) to hundreds (Loihi 2) of steps. Put differently, the break-even is a
#   *spike budget* per input per token (last column). A rate-coded SNN with 32 steps and 20%
#   firing is in a very different place from SpikeGPT's one step per token.
# * The flat part on the left is the floor set by neuron updates and static power: at the lowest
#   rates, fewer spikes no longer save energy.
# * Nothing here says the *network* is as accurate as a dense one; that is notebook 2's job.
#
# **Questions**
#
# 1. Why does the software SNN on the MCU lose to the dense layer above ~71% firing, although
#    an accumulate is simpler than a multiply-accumulate?
#
#    <details><summary>answer</summary>Because of where the sum lives: the event-driven
#    accumulate loads, adds and stores an accumulator in SRAM for each weight (~1.4 cycles, an
#    estimate), while the dense SIMD loop keeps its accumulator in a register (~1 cycle per
#    MAC). Per input used the SNN is 1.4x dearer, so it wins only while fewer than ~1/1.4 = 71%
#    of the inputs spike.</details>
#
# 2. A rate-coded SNN uses 20 time steps per token with 10% firing. Does it beat the dense int8
#    MCU layer on Loihi?
#
#    <details><summary>answer</summary>Read `T*` at 10% on the Loihi curve of the second plot:
#    it is far above 20, so yes. On the MCU it would lose: its `T*` at 10% is a few steps.
#    </details>
#
# 3. Why does every curve flatten at the lowest firing rates?
#
#    <details><summary>answer</summary>Every neuron is updated every step and the chip leaks
#    for the whole step, whether spikes arrive or not; those costs set a floor that fewer
#    spikes cannot lower.</details>

# %% [markdown]
# ### A fair competitor: a dense int8 accelerator
#
# The MCU spends a whole CPU cycle (fetch, decode, pipeline) on every multiply-accumulate. A
# chip built for dense int8 layers, a MAC array next to its weight SRAM, spends only the MAC
# and the weight read. `hw_models/dense-int8.toml` prices one from Horowitz's 45 nm energy
# figures (ISSCC 2014, the same source as the neuromorphic chips' weight reads; its structure
# and static power are assumed, with reasons in the file). It does every MAC every step,
# spikes or zeros. Predict first: at which firing rate does the SNN on Loihi stop beating it?

# %%
ACC = "dense-int8"
dense_acc = estimate(dense_layer(), ACC)
E_ACC = dense_acc.energy_per_token_j
break_even_acc = {chip: break_even_rate(chip, E_ACC, full_range) for chip in CHIPS}
print(dense_acc.summary())
show(plot_energy_vs_rate(curves, references={"dense int8 on embedded-soc": E_DENSE,
                                             "dense int8 accelerator": E_ACC},
                         marks={f"{chip}: {r:.1%}": (r, E_ACC)
                                for chip, r in break_even_acc.items()
                                if r is not None and chip != "embedded-soc"},
                         mark_offset=(6, -14),
                         title="512x512 layer: the SNN against a dense int8 accelerator"),
     "energy_vs_rate_accelerator")


def rate_text(rate) -> str:
    return "at no rate below 100%" if rate is None else f"above {rate:.1%} firing"


prose.say("**What to see:** the accelerator runs the layer for {acc:.2f} uJ per step, "
          "{ratio:,.0f} times less than the MCU's {mcu:.0f} uJ. Against it the SNN loses "
          "{l1} on Loihi and {l2} on Loihi 2, where against the MCU it won at every "
          "rate. Against a fair dense competitor, a spiking chip pays off only for sparse "
          "activity.", acc=E_ACC * 1e6, ratio=E_DENSE / E_ACC,
          mcu=E_DENSE * 1e6, l1=rate_text(break_even_acc["loihi"]),
          l2=rate_text(break_even_acc["loihi2"]))

# %% [markdown]
# ## 6. Energy vs weight width
#
# Fewer bits per weight means less synaptic memory and fewer bits read per synaptic operation.
# But the chips react differently:
# * Loihi and Loihi 2 synapses hold at most 8 bits (`max_weight_bits`). A 16-bit weight is
#   split over 2 synapses and an fp32 weight is costed as a 32-bit integer over 4 synapses (the
#   chip has no floating-point synapses): 2x or 4x the synaptic operations and memory.
# * The MCU runs a different kernel per weight class: int4 weights must be unpacked (more
#   cycles than int8), fp32 uses the FPU.
#
# We fix the firing rate at 5% and sweep the weight precision.

# %%
WEIGHTS = [(b, "int") for b in (range(2, 17, 2) if SMALL else range(2, 17))] + [(32, "fp32")]
bit_rows = []
for chip in CHIPS:
    for bits, fmt in WEIGHTS:
        report = estimate(spiking_layer(0.05, bits, fmt), chip)
        bit_rows.append({"hardware": f"SNN on {chip}",
                         "weight": f"int{bits}" if fmt == "int" else fmt,
                         "energy_per_step_j": report.energy_per_token_j, "cores": report.cores,
                         "synaptic_memory_kib": report.synaptic_memory_bytes / 1024,
                         "synapses_per_weight": int(report.layer_rows["synapses_per_weight"].iloc[0])})
by_bits = pd.DataFrame(bit_rows)
dense_by_bits = [estimate(dense_layer(b, f), "embedded-soc").energy_per_token_j for b, f in WEIGHTS]
show(plot_energy_vs_weight_bits(by_bits, references={"dense on embedded-soc": dense_by_bits},
                                title="512x512 layer at 5% firing: energy per time step "
                                      "vs weight width"),
     "energy_vs_weight_bits")
display(by_bits.pivot(index="weight", columns="hardware", values="cores")
        .loc[list(dict.fromkeys(by_bits.weight))].rename(columns=lambda c: f"cores, {c}"))
loihi_cores = {bits: estimate(spiking_layer(0.05, bits), "loihi").cores for bits in (5, 6, 8)}
synops_5 = spiking_layer(0.05).layers[0].synaptic_ops_per_step
per_bit_nj = synops_5 * LOIHI.value("e_syn_read_pj_per_bit") * 1e-3
prose.check("3 cores", max(loihi_cores.values()), "the cores int5-int8 need on Loihi")
prose.check("3 cores", min(loihi_cores.values()), "the cores int5-int8 need on Loihi")
prose.check("~0.1 pJ", LOIHI.value("e_syn_read_pj_per_bit"), "Loihi's read energy per bit")
prose.check("0.1 pJ", LOIHI.value("e_syn_read_pj_per_bit"), "Loihi's read energy per bit")
prose.check("1.3 nJ", per_bit_nj, "the energy one bit less saves per step at 5% firing")
prose.check("650 nJ", at_5["loihi"].energy_per_token_j * 1e9, "Loihi's energy per step at 5%")
prose.check("192 KiB", spiking_layer(0.05, 6).weight_bytes / 1024, "the int6 weights")
prose.check("0.75 cycles", MCU.value("cycles_mac_int16"), "the MCU's cycles per int16 MAC")
prose.check("1.0 cycle", MCU.value("cycles_mac_int8"), "the MCU's cycles per int8 MAC")

# %% [markdown]
# **What to see:** Loihi's curve is flat from int5 to int8, steps up above 8 bits and steps up
# again at int4 and below; the dense MCU line is cheaper at int9-16 than at int8.
#
# What the curves say:
# * **int5 to int8 cost the same on Loihi.** The number of synaptic operations does not depend
#   on the weight width, and the weights of int5-int8 (160-256 KiB) all need the same 3 cores
#   (table above: 2 for the weights + 1 input core). What changes is only the weight read,
#   ~0.1 pJ per bit of a ~24 pJ synaptic operation (a *derived* figure from Horowitz's SRAM
#   energies, see `hw_models/README.md`): 13,107 synops x 1 bit x 0.1 pJ = 1.3 nJ per bit
#   removed, invisible next to 650 nJ per step.
# * **int4 and below cost *more* on Loihi.** At 4 bits the weights fit into one core fewer.
#   Each remaining core then handles more synaptic operations, the step takes longer, and the
#   chip's static power is paid for longer. (Loihi 2's curve moves at other widths: its cores
#   hold different amounts.)
# * The jumps above 8 bits on the neuromorphic chips are the synapse splits (2 synapses per
#   16-bit weight, 4 per fp32 weight).
# * **Dense int9-int16 on the MCU is cheaper than dense int8.** Weights of 9-16 bits are
#   stored as int16, and the Cortex-M7 multiplies int16 pairs with one dual-MAC instruction
#   (`SMLAD`, two 16x16 MACs), which we estimate at 0.75 cycles per MAC. int8 weights must
#   first be unpacked and sign-extended to 16 bits (`SXTB16`), which we estimate at 1.0 cycle
#   per MAC (`cycles_mac_int8`, `cycles_mac_int16` in `embedded-soc.toml`; both are
#   *estimates*). Memory still favours int8: half the bytes.
# * On the MCU, int2-int4 weights need unpacking too (more cycles than int8); fp32 uses the FPU.
#
# So narrow weights pay off mainly in **memory**: fewer cores for one layer, and for a full
# model, fewer chips. Notebook 3 sweeps exactly that.
#
# **Questions**
#
# 1. You quantize this layer from int8 to int6 for Loihi. What do you save?
#
#    <details><summary>answer</summary>Memory (192 KiB instead of 256 KiB) but no core and almost no
#    energy: the layer still needs the same cores and the same synaptic operations.</details>
#
# 2. Why can *fewer* cores make a step *more* expensive?
#
#    <details><summary>answer</summary>The cores work in parallel; with fewer cores each does
#    more synaptic operations, the step lasts longer, and the whole chip leaks for longer.
#    </details>

# %% [markdown]
# ## 7. What the energy is spent on
#
# The energy breakdown at 5% firing, int8 weights.

# %%
breakdown = {f"SNN {chip}": estimate(spiking_layer(0.05), chip) for chip in CHIPS}
breakdown["dense int8 MCU"] = dense_mcu
show(plot_energy_breakdown(breakdown, unit="time step",
                           title="Energy per time step, 512x512 layer, 5% firing"),
     "energy_breakdown")
display(pd.DataFrame({k: {p: v * 1e9 for p, v in r.parts.items()} for k, r in breakdown.items()})
        .round(1).rename_axis("part (nJ per step)"))
prose.check("0.65 uJ", at_5["loihi"].energy_per_token_j * 1e6, "Loihi's energy per step at 5%")
prose.check("1.34 uJ", at_5["loihi2"].energy_per_token_j * 1e6, "Loihi 2's energy per step")
prose.check("255 uJ", E_DENSE * 1e6, "the dense int8 layer on the MCU")
prose.check("10%", 100 * LOIHI.value("p_static_chip_mw") / P_CHIP_ALL_CORES,
            "the non-core share of Loihi's static power")

# %% [markdown]
# **What to see:** the left panel (log scale) shows the totals differ by more than two
# decades (0.65 uJ and 1.34 uJ on Loihi and Loihi 2 against 255 uJ dense on the MCU); the right
# panel shows what each bar is made of, whatever its size: almost half of Loihi's energy is
# static, and most of Loihi 2's (its static power, measured on a board, is about twice Loihi's).
#
# On the MCU almost everything is CPU cycles (`synaptic_ops`, `neuron_updates`). On Loihi the
# static part is large even at full speed: 10% of the chip's static power (~10 mW, for the
# embedded cores, I/O and clocks; the split is **assumed**) is paid while only a few cores work.
# Loihi 2 is faster per event (times fitted to a measured run), but its measured static power
# is far higher, and its time step has a floor of about a microsecond (barrier and run time).

# %% [markdown]
# ## 8. Static power: a chip that waits still pays
#
# So far each chip ran as fast as it could and then, implicitly, switched off. Many SNN
# deployments instead run at a fixed time step, e.g. 1 ms ("real time"), and the chip sits
# powered between steps. Static energy per step is then static power x 1 ms. For Loihi that is
# ~10 mW for the chip plus ~0.7 mW per used core, unused cores power-gated (Loihi's 104 mW static
# per chip was measured on a 32-chip system; the split and the gating are **assumed**).

# %%
static_rows = []
for chip in CHIPS:
    for steps_per_s in (None, 1000.0):
        r = estimate(spiking_layer(0.05), chip, tokens_per_s=steps_per_s)
        static_rows.append({"hardware": chip, "time step": "as fast as possible" if steps_per_s
                            is None else "1 ms", "energy per step (uJ)": r.energy_per_token_j * 1e6,
                            "static share (%)": 100 * r.parts["static"] / r.energy_per_token_j})
r = estimate(dense_layer(), "embedded-soc", tokens_per_s=1000.0)
static_rows.append({"hardware": "dense int8 MCU", "time step": "1 ms",
                    "energy per step (uJ)": r.energy_per_token_j * 1e6,
                    "static share (%)": 100 * r.parts["static"] / r.energy_per_token_j})
display(pd.DataFrame(static_rows).round({"energy per step (uJ)": 2, "static share (%)": 0}))
slow = {chip: estimate(spiking_layer(0.05), chip, tokens_per_s=1000.0) for chip in CHIPS}
loihi_static_share = 100 * slow["loihi"].parts["static"] / slow["loihi"].energy_per_token_j
prose.check("~0.7 mW", LOIHI.value("p_static_core_mw"), "Loihi's static power per core")
prose.check("~97%", loihi_static_share, "Loihi's static share at a 1 ms step")
prose.check("~3%", 100 - loihi_static_share, "Loihi's dynamic share at a 1 ms step", rel=0.3)
prose.check("1.5%", (100 - loihi_static_share) / 2, "what halving the dynamic part saves",
            rel=0.3)
mcu_dynamic = at_5["embedded-soc"].energy_per_token_j - at_5["embedded-soc"].parts["static"]
prose.check("~20 uJ", mcu_dynamic * 1e6, "the MCU SNN's dynamic energy per step")
loihi_dynamic = at_5["loihi"].energy_per_token_j - at_5["loihi"].parts["static"]
prose.check("0.35 uJ", loihi_dynamic * 1e6, "Loihi's dynamic energy per step", rel=0.05)
prose.check("~13 mW", slow["loihi"].parts["static"] * 1000.0 * 1e3,
            "Loihi's static power with the layer's cores powered")

# %% [markdown]
# At a 1 ms step the neuromorphic layer's energy is almost all static: the spikes hardly matter
# any more. To profit from sparse spikes, a chip must either be busy (many layers sharing it)
# or power-gate what it does not use.
#
# **Questions**
#
# 1. At a 1 ms step, how much would halving the synaptic-op energy save on Loihi?
#
#    <details><summary>answer</summary>Almost nothing: ~97% of the energy per step is static
#    there, so halving part of the other ~3% saves under 1.5%.</details>
#
# 2. Why is the static share of the SNN on the MCU much lower than Loihi's at 1 ms?
#
#    <details><summary>answer</summary>The MCU's dynamic energy per step (~20 uJ of CPU cycles)
#    is large next to its static power x 1 ms; Loihi's dynamic energy is about 0.35 uJ, so
#    the ~13 mW it leaks for the whole millisecond dominates.</details>

# %% [markdown]
# ## 9. Predict, then check
#
# Change one chip parameter, write down what you expect, then run the cell. Each exercise
# gives you the numbers you need from the sections above; your prediction goes into the
# variable, the cell compares it with the model.
#
# 1. **A cheaper synapse.** Halve Loihi's energy per synaptic operation (`e_syn_op_pj`). What
#    is the energy per step of the 5% layer now, running as fast as it can? (Hint: the
#    breakdown table of section 7 splits the step into parts; only one of them depends on
#    `e_syn_op_pj`.)
# 2. **A leakier chip at a fixed step.** Double Loihi's static power per core
#    (`p_static_core_mw`) and run at a 1 ms step. What is the energy per step now? (Hint: at
#    1 ms almost everything is static; which part of the static power doubles?)

# %%
MY_PREDICTION_UJ = {"cheaper synapse": None, "leakier cores at 1 ms": None}  # fill in, in uJ
EXERCISES = {
    "cheaper synapse": estimate(spiking_layer(0.05), "loihi", overrides={
        "e_syn_op_pj": LOIHI.value("e_syn_op_pj") / 2}),
    "leakier cores at 1 ms": estimate(spiking_layer(0.05), "loihi", tokens_per_s=1000.0,
                                      overrides={"p_static_core_mw":
                                                 2 * LOIHI.value("p_static_core_mw")}),
}
for name, report in EXERCISES.items():
    guess = MY_PREDICTION_UJ[name]
    actual = report.energy_per_token_j * 1e6
    verdict = ("no prediction written down: write one first, then rerun" if guess is None else
               f"your prediction {guess:.3g} uJ is off by {100 * (guess / actual - 1):+.0f}%")
    print(f"{name}: the model says {actual:.3f} uJ per step; {verdict}")

# %%
# answer (the student copy leaves this cell out)
synaptic_5 = at_5["loihi"].parts["synaptic_ops"]
prose.say("<details><summary>answer</summary>\n\n1. The synaptic part of the 5% step was {syn:.3f} uJ of {total:.3f} uJ; halving it "
          "saves {half:.3f} uJ *and* shortens the step (a synaptic operation takes time too, and "
          "static power is paid for the step), so the model gives {actual:.3f} uJ.\n"
          "2. At 1 ms the static part was {static:.2f} uJ of {total_1ms:.2f} uJ; only the "
          "per-core share ({cores} cores x {core:.2f} mW x 1 ms = {core_uj:.2f} uJ) doubles, the "
          "chip's own {chip_mw:.1f} mW does not: {actual2:.2f} uJ.\n\n</details>",
          syn=synaptic_5 * 1e6, total=at_5["loihi"].energy_per_token_j * 1e6,
          half=synaptic_5 / 2 * 1e6, actual=EXERCISES["cheaper synapse"].energy_per_token_j * 1e6,
          static=slow["loihi"].parts["static"] * 1e6,
          total_1ms=slow["loihi"].energy_per_token_j * 1e6, cores=slow["loihi"].cores,
          core=LOIHI.value("p_static_core_mw"),
          core_uj=slow["loihi"].cores * LOIHI.value("p_static_core_mw") * 1e-3 * 1e3,
          chip_mw=LOIHI.value("p_static_chip_mw"),
          actual2=EXERCISES["leakier cores at 1 ms"].energy_per_token_j * 1e6)

# %% [markdown]
# ## Things to try
# * The 1.4-cycle accumulate assumes the accumulators live in SRAM. With a small layer they could
#   stay in registers: try
#   `break_even_rate("embedded-soc", E_DENSE, full_range, overrides={"cycles_ac_int8": 0.75})`.
#   Where does the software SNN's break-even rate go? And with branches and weight-row lookups
#   (`1.8`)?
# * A low-power MCU: `overrides={"cpu_current_ua_per_mhz": 120}` for `dense_layer()` on
#   `embedded-soc` (STM32L4/F4-class parts draw 110-130 uA/MHz). How far does the dense line
#   move?
# * A bigger layer (`FAN_IN = FAN_OUT = 2048`): more cores, more NoC hops.
# * Your own chip: copy `hw_models/loihi2.toml`, change values, pass the path as `hw=`.
#
# **Caveats.** Activity is an average per step (bursts make real steps slower); the layer is
# placed without locality; Loihi 2's figures are fitted to two measured workloads (their split
# between kinds of event is not); the MCU cycle counts are estimates. Every unmeasured value is
# marked `assumed` in the TOML files and can be overridden.

# %%
prose.write()  # what the text states and how each number was checked: prose.json beside the figures
