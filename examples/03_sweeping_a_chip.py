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
# # Sweeping a chip
#
# You design a neuromorphic chip and a spiking language model has to run on it. How much
# synaptic memory should a core have? What is a cheaper synaptic operation worth? How much does
# leakage (static power) matter? This notebook answers such questions for **one fixed
# candidate**: the shipped spiking language model `data/slm-small-wt2` with all weights quantized
# to int4.
#
# `qslm_neuro.hw.sweep(candidate, hw, **{parameter: values})` costs the candidate on every
# combination of the given parameter values. It changes the hardware parameters from numbers
# into numpy arrays and evaluates the whole grid in one broadcast pass, so thousands of chip
# variants take milliseconds. We sweep three parameters of the `loihi2` model:
#
# | parameter | unit | what it stands for |
# |---|---|---|
# | `syn_mem_per_core_bytes` | bytes | synaptic memory of one core: core area |
# | `e_syn_op_pj` | pJ | energy of one synaptic operation: circuit and process |
# | `p_static_core_mw` | mW | static (leakage) power of one powered core |
#
# Keep in mind: **Loihi 2's per-event energies are not published**. The `loihi2` model derives
# them from Loihi 1's by scaling with die area (see `hw_models/README.md`). A sweep is exactly the
# tool for that uncertainty: it shows how much the answer moves when an assumed number moves.
#
# ### Words used below
#
# | word | meaning |
# |---|---|
# | **synaptic operation** (synop) | one weight added into one neuron because one of its inputs spiked |
# | **core** | one small processor of the chip with its own synaptic memory and neuron state; a layer's weights are split over as many cores as its memory needs |
# | **compartment** | the chip's unit of neuron state; a core holds a limited number (`neurons_per_core`) |
# | **axon** | an input (output) port of a core; their number per core limits a layer's fan-in (fan-out) per core |
# | **tile** | a group of cores that share one router |
# | **NoC** | network-on-chip: the routers and links that carry spikes between tiles (and chips) |
# | **static power** | power drawn whenever the chip is on, computing or not: static energy per token = static power x time per token |
# | **feasible** | the candidate fits: its cores fit on at most `max_chips` chips (1 unless we say otherwise) and no core exceeds its memory, compartment or axon limits. Infeasible grid points are still costed; the plots hatch them |

# %%
import os
import time
from pathlib import Path

import warnings

import numpy as np
import pandas as pd
import torch
from IPython.display import display

# Without ipywidgets (not needed by the tests) tqdm warns "IProgress not found" and falls back
# to text progress bars; `make notebooks` installs ipywidgets, so the warning only says that.
warnings.filterwarnings("ignore", message="IProgress not found")

from qslm_neuro.hw import estimate, load_hardware, sweep  # noqa: E402
from qslm_neuro.viz import (plot_energy_breakdown, plot_sweep_heatmap, plot_sweep_lines,  # noqa: E402
                            show_figure)

SMALL = os.environ.get("QSLM_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("QSLM_NOTEBOOK_OUT", "output")) / "03_sweeping_a_chip"
OUT.mkdir(parents=True, exist_ok=True)
# One thread: on a machine whose cores are busy, several PyTorch threads wait for each other
# and the model runs many times slower.
torch.set_num_threads(1)


def show(fig, name: str) -> None:
    """Save a figure as PNG (and a JSON sidecar of its labels) under OUT; show it in a notebook."""
    show_figure(fig, OUT / f"{name}.png")


def mark_chip(fig, x: float, y: float, label: str = "Loihi 2 as modelled") -> None:
    """Mark one grid point (in the axes' units) on a heat map before it is shown."""
    ax = fig.axes[0]
    ax.plot([x], [y], marker="*", ms=14, mfc="white", mec="black")
    ax.annotate(label, (x, y), textcoords="offset points", xytext=(8, 6), fontsize=8,
                color="white", fontweight="bold")


def repository_root() -> Path:
    """The qslm-neuro checkout: the first folder above the working directory with data/ and
    hw_models/ (the notebook runs from examples/ or from the root)."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "hw_models").is_dir() and (folder / "data").is_dir():
            return folder
    raise FileNotFoundError("run this notebook from inside the qslm-neuro repository")


ROOT = repository_root()
HW = "loihi2"
print("repository:", ROOT, "| figures go to", OUT.resolve())

# %% [markdown]
# ## 1. The candidate: a model, a precision plan, its activity
#
# A candidate is a model plus a quantization plan. The hardware models do not see weights; they
# see a `Workload`: layer shapes, weight widths, and **activity** (how many inputs of each layer
# are non-zero per token). Activity depends on the weights, so it is measured with the plan
# applied. Where the tokens come from:
#
# 1. real text (WikiText-2 test) when `QSLM_DATA_DIR` points to the datasets;
# 2. otherwise the activity profile shipped next to the checkpoint
#    (`data/activity-slm-small-wt2.json`, measured at fp32) if it exists;
# 3. otherwise random token ids. **Random tokens are not language**: firing rates measured on
#    them are only a stand-in, and the notebook prints which source it used.
#
# To cost the plan chosen by the search in notebook 2 instead, set `PLAN_FILE` to its
# `report.json`.

# %%
from qslm_neuro.measure import ActivityProfile, record_activity
from qslm_neuro.measure import shipped_profile_path
from qslm_neuro.quant import Hierarchy
from qslm_neuro.models.checkpoint import load_checkpoint
from qslm_neuro.quant import QuantPlan, footprint, load_plan
from qslm_neuro.measure import build_workload

MODEL_DIR = ROOT / "data" / "slm-small-wt2"
PLAN_FILE = None  # e.g. "output/02_quantizing_a_spiking_lm/search/report.json"
TOKENS = 128 if SMALL else 4096

loaded = load_checkpoint(MODEL_DIR)
model = loaded.model
plan = load_plan(PLAN_FILE) if PLAN_FILE else QuantPlan.uniform(model, "int4")
fp = footprint(model, plan)
print(f"{MODEL_DIR.name}: {Hierarchy.from_module(model).param_count:,} parameters; "
      f"{fp.total_bytes / 1e6:.2f} MB under the plan ({fp.reduction:.1%} smaller than fp32)")


def token_batches(tokens: int) -> tuple[list, str]:
    """Batches of (ids [B, T], lengths) from real WikiText-2 text, or random ids."""
    ctx = loaded.config.ctx_len
    if os.environ.get("QSLM_DATA_DIR"):
        from qslm_neuro.tasks import make_task

        task = make_task("wikitext2", loaded.tokenizer, ctx_len=ctx)
        ids = task.ids[: (min(tokens, len(task.ids)) // ctx) * ctx]
        return [(ids.reshape(-1, ctx), None)], "WikiText-2 test tokens"
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(2, loaded.config.vocab_size, (max(1, tokens // ctx), ctx),
                        generator=generator)
    return [(ids, None)], "RANDOM token ids (no data set available: a stand-in only)"


profile_path = shipped_profile_path(MODEL_DIR)
if os.environ.get("QSLM_DATA_DIR") or not profile_path.is_file():
    batches, source = token_batches(TOKENS)
    with plan.applied(model):
        profile = record_activity(model, batches, model_name=MODEL_DIR.name, data_name=source,
                                  progress=False)
    source = f"measured with the plan applied on {profile.tokens} {source}"
else:
    profile = ActivityProfile.load(profile_path)
    source = f"shipped fp32 profile {profile_path.name} ({profile.tokens} tokens of {profile.data})"
workload = build_workload(model, plan, profile,
                          name=f"{MODEL_DIR.name}-{'plan' if PLAN_FILE else 'int4'}")
print("activity:", source)
rates = pd.DataFrame([{"layer": l.name, "kind": l.kind, "fan_in": l.fan_in, "fan_out": l.fan_out,
                       "bits": l.weight_bits,
                       "input rate": l.activity.input_events_per_step / l.fan_in,
                       "binary inputs": l.activity.binary_share} for l in workload.layers])
display(rates.head(9).round(3))
print(f"... {len(rates)} layers in all")
print(f"spike-driven share of the blocks' MACs: {workload.spike_driven_share():.1%}")

# %% [markdown]
# The layers fed by LIF neurons see binary spikes (`binary inputs = 1`); the head sees graded
# values (on Loihi each graded input costs 8 bit-serial synaptic events). Now the baseline
# estimate on the three built-in chips:

# %%
baseline = {hw: estimate(workload, hw) for hw in ("loihi", "loihi2", "embedded-soc")}
for report in baseline.values():
    print(report.summary(), "\n")

# %% [markdown]
# **Questions**
#
# 1. Why does Loihi need far more energy per token than Loihi 2 for the same candidate?
#
#    <details><summary>answer</summary>Read the parts: on Loihi ~76% is static. Its step is
#    much slower (4.7 ms against 0.12 ms): the head's graded inputs cost 8 bit-serial synaptic
#    events each, on the few cores that hold the head, and the whole chip leaks while they
#    work (`estimate(...).layers["core_time_s"]` shows the head as the slowest layer).</details>
#
# 2. Where the activity comes from changes the answer. Which source would you trust for a
#    deployment, and why?
#
#    <details><summary>answer</summary>Activity measured with the plan applied on real inputs of
#    the deployment's kind (here WikiText-2 text); random tokens are not language, and a
#    profile measured at fp32 may fire differently from the quantized model.</details>

# %% [markdown]
# ## 2. The sweep
#
# Three parameters, a full grid. The values of the `loihi2` model itself are marked in the
# tables below so you can find "today's chip" in the plots.

# %%
chip = load_hardware(HW)
for key in ("syn_mem_per_core_bytes", "e_syn_op_pj", "p_static_core_mw"):
    p = chip.params[key]
    print(f"{key} = {p.value:g} {p.unit}{'  (ASSUMED)' if p.assumed else ''}\n    {p.source}")

n = 9 if SMALL else 33
grid = {
    "syn_mem_per_core_bytes": np.unique(np.geomspace(8 * 1024, 1024 * 1024, n).round()),
    "e_syn_op_pj": np.linspace(2.0, 30.0, n),
    "p_static_core_mw": np.geomspace(0.05, 5.0, n),
}
start = time.perf_counter()
table = sweep(workload, HW, **grid)
elapsed = time.perf_counter() - start
print(f"{len(table):,} chip variants costed in {elapsed * 1e3:.0f} ms")
display(pd.DataFrame({
    "memory per core (KiB)": table["syn_mem_per_core_bytes"] / 1024,
    "synop energy (pJ)": table["e_syn_op_pj"], "static per core (mW)": table["p_static_core_mw"],
    "energy per token (uJ)": table["energy_per_token_j"] * 1e6, "cores": table["cores"],
    "chips": table["chips"], "feasible": table["feasible"]}).round(2).iloc[::97].head(8))


def nearest(values: np.ndarray, target: float) -> float:
    """The grid value closest to target (to take a slice through the grid)."""
    return float(values[np.argmin(np.abs(np.log(values) - np.log(target)))])


at_static = nearest(grid["p_static_core_mw"], chip.value("p_static_core_mw"))
at_syn_op = nearest(grid["e_syn_op_pj"], chip.value("e_syn_op_pj"))
print(f"slices at p_static_core_mw = {at_static:.3g} and e_syn_op_pj = {at_syn_op:.3g}")

# %% [markdown]
# ### Energy per token over memory per core and synaptic-op energy
#
# Hatched cells need more chips than the system has (`max_chips = 1`): the grid marks them
# infeasible. The star is the `loihi2` model as shipped (its grid neighbour).

# %%
head_bytes = float(baseline[HW].layer_rows["synaptic_memory_bytes"].max())
head_name = baseline[HW].layers.loc[baseline[HW].layers["synaptic_memory_bytes"].idxmax(), "name"]
energy_slice = table[table.p_static_core_mw == at_static]
fig = plot_sweep_heatmap(energy_slice, "syn_mem_per_core_bytes", "e_syn_op_pj", logx=True,
                         title=f"Energy per token (µJ), static power {at_static:.2g} mW per core",
                         infeasible_label="infeasible: more than 1 chip (max_chips = 1)")
mark_chip(fig, nearest(grid["syn_mem_per_core_bytes"], chip.value("syn_mem_per_core_bytes"))
          / 1024, at_syn_op)
fig.axes[0].axvline(head_bytes / 1024, color="white", ls="--", lw=1)
fig.axes[0].annotate(f"{head_name} fits one core", (head_bytes / 1024, 3.0), xytext=(4, 0),
                     textcoords="offset points", color="white", fontsize=8)
show(fig, "energy_heatmap")

# %% [markdown]
# **What to see:** energy rises from bottom to top (dearer synaptic operations) and changes in
# steps from left to right; the hatched column on the left is too small a core for one chip,
# and there is a jump up at the dashed line.
#
# Read it row by row (fixed memory per core): memory per core changes how many cores the
# weights need and how much work each core does per step; both change the static energy.
# Read it column by column (fixed memory per core): energy grows linearly with the synaptic-op
# energy, with a slope set by how many synaptic operations a token needs.
#
# **The jump at the dashed line (~164 KiB per core).** The slowest layer is the head (192 x 2048
# weights, 164 KiB at int4, fed graded values: 8 bit-serial events per input). Below 164 KiB
# per core its weights are split over 2 cores that work in parallel; from 164 KiB on they fit
# into one core, which then does all of the head's synaptic operations alone. The step time
# doubles (118 to 235 us per token), and every powered core and the chip leak for twice as
# long: static energy per token doubles, and the token rate halves. More memory per core made
# the chip *worse* here.

# %%
row = energy_slice[(energy_slice.e_syn_op_pj == at_syn_op) & energy_slice.feasible]
best_row = row.loc[row["energy_per_token_j"].idxmin()]
print(f"at e_syn_op_pj = {at_syn_op:.3g}: lowest energy per token "
      f"{best_row.energy_per_token_j * 1e6:.2f} uJ with "
      f"{best_row.syn_mem_per_core_bytes / 1024:.0f} "
      f"KiB per core ({best_row.cores} cores); the smallest feasible memory per core here is "
      f"{row.syn_mem_per_core_bytes.min() / 1024:.0f} KiB")

# %% [markdown]
# ### Energy per token over memory per core and static power per core

# %%
static_slice = table[table.e_syn_op_pj == at_syn_op]
fig = plot_sweep_heatmap(static_slice, "syn_mem_per_core_bytes", "p_static_core_mw",
                         logx=True, logy=True,
                         title=f"Energy per token (µJ), synaptic op {at_syn_op:.3g} pJ",
                         infeasible_label="infeasible: more than 1 chip (max_chips = 1)")
mark_chip(fig, nearest(grid["syn_mem_per_core_bytes"], chip.value("syn_mem_per_core_bytes"))
          / 1024, at_static)
show(fig, "static_heatmap")
static_share = (table["energy_static_j"] / table["energy_per_token_j"])
print(f"static share of the energy across the grid: {static_share.min():.0%} to "
      f"{static_share.max():.0%}")

# %% [markdown]
# **What to see:** leakier cores (upwards) cost more everywhere, and most where the chip is slow
# (right of the head's 164 KiB, where the step takes twice as long).

# %% [markdown]
# Static energy per token is static power x time per token. At the fastest token rate the chip
# sustains (`tokens_per_s=None`), a core that leaks 10x more adds 10x more static energy, and
# with few, slow cores the step takes longer too. At a fixed, slower token rate (pass
# `tokens_per_s=` to `sweep`) static power would dominate even more.
#
# **Questions**
#
# 1. Your team can double the synaptic memory per core of today's Loihi 2 model. Worth it?
#
#    <details><summary>answer</summary>Not for this model: it saves a couple of cores, but
#    above ~164 KiB the head fits into one core, the step takes twice as long and energy per
#    token goes *up* (the jump). Check the 4x-memory bar in section 4.</details>
#
# 2. Why are the hatched cells on the left?
#
#    <details><summary>answer</summary>With 8 KiB per core the weights need more cores than
#    one chip has, and `max_chips = 1`; the candidate does not fit, whatever its energy.
#    </details>
#
# 3. Where does a cheaper synaptic operation pay most?
#
#    <details><summary>answer</summary>Where synaptic operations are the largest part of the
#    energy: fast chips (left of the jump) and low static power. On a slow, leaky chip static
#    energy dominates and the synapse hardly matters.</details>

# %% [markdown]
# ### Cores and chips
#
# Memory per core decides how many cores the weights need. For our small model that is a
# handful of cores; for a SpikeGPT-216M-sized model it decides how many **chips** you need. We
# build the 216M shape without weights (on PyTorch's `meta` device), quantize it to int4 on
# paper, borrow each layer's firing rate from the layer with the same role in our measured
# profile (**an assumption**: a bigger model may fire differently), and sweep memory per core
# against cores per chip. Here we allow up to 4096 chips (`max_chips`), so that every cell is
# feasible and shows how many chips it needs; everywhere else in this notebook `max_chips = 1`.

# %%
cores_line = table[(table.p_static_core_mw == at_static) & (table.e_syn_op_pj == at_syn_op)]
print(cores_line[["syn_mem_per_core_bytes", "cores", "chips", "feasible"]].to_string(index=False))

from qslm_neuro.models import build_model
from qslm_neuro.measure import workload_from_config

big_shape = build_model("spikegpt-216m", device="meta")
big = workload_from_config("spikegpt-216m", profile, QuantPlan.uniform(big_shape, "int4"))
print(f"\nspikegpt-216m at int4: {big.total_bytes / 1e6:.0f} MB")
big_table = sweep(big, HW, overrides={"max_chips": 4096},
                  syn_mem_per_core_bytes=np.geomspace(8 * 1024, 1024 * 1024, 8).round(),
                  cores_per_chip=np.array([32, 64, 128, 256, 512]))
show(plot_sweep_heatmap(big_table, "syn_mem_per_core_bytes", "cores_per_chip", value="chips",
                        log=True, logx=True, logy=True, annotate=True,
                        title="Chips needed for the SpikeGPT-216M shape at int4 "
                              "(max_chips = 4096)"),
     "chips_heatmap")
today = estimate(big, HW, overrides={"max_chips": 4096})
print(today.summary())

# %% [markdown]
# **What to see:** the number of chips falls from the bottom left (small cores, few per chip:
# hundreds of chips) to the top right (a few chips), roughly along diagonals of constant memory
# per chip.
#
# **Why this estimate is not the README's.** The firing rates of a model decide most of its
# energy, and a 216M model without weights has none of its own: we *borrow* them by role and
# depth. This notebook borrows from the profile measured above (the WikiText-2 language model);
# the README's 216M rows (`benchmarks/hw_table.py`) borrow from the SST-2 classifier's profile
# (`data/activity-slm-small-sst2.json`). Same shape, same plan, other activity, other energy;
# the table says where the difference sits:

# %%
sst2_profile = ActivityProfile.load(shipped_profile_path(ROOT / "data" / "slm-small-sst2"))
big_sst2 = workload_from_config("spikegpt-216m", sst2_profile, QuantPlan.uniform(big_shape, "int4"))
compare = []
for name, w in ((f"{MODEL_DIR.name} ({profile.data})", big),
                (f"slm-small-sst2 ({sst2_profile.data})", big_sst2)):
    r = estimate(w, HW, overrides={"max_chips": 4096})
    per_layer = r.layers.set_index("name")
    layer_uj = per_layer[[c for c in per_layer.columns if c.endswith("_j_per_token")]].sum(axis=1)
    compare.append({"activity borrowed from": name,
                    "head: non-zero inputs per token (of 768)":
                        per_layer.loc["head", "input_events_per_step"],
                    "head (uJ/token)": layer_uj["head"] * 1e6,
                    "everything else (uJ/token)": r.energy_per_token_j * 1e6 - layer_uj["head"] * 1e6,
                    "total (uJ/token)": r.energy_per_token_j * 1e6})
display(pd.DataFrame(compare).set_index("activity borrowed from").round(1))

# %% [markdown]
# Almost all of the difference is the **head** (768 inputs x 50,277 vocabulary outputs, fed
# graded values). A language model predicts at every token, so its head reads all 768 inputs
# every token; the SST-2 classifier's head runs once per sentence, so its profile says ~31 of
# 768 inputs per token on average, and the README's 216M row inherits that. Neither is *the*
# energy of SpikeGPT-216M: the first is closer to a language model generating text, the second
# to a classifier reading it. State which activity you borrowed whenever you quote such a number.

# %% [markdown]
# ## 3. A caveat every sweep has: parameters are not independent
#
# `sweep` varies each parameter on its own. A real core with twice the SRAM also leaks more,
# so the static power per core should grow with its memory. The cost model cannot know that, but
# you can: below, the per-core static power is scaled in proportion to the memory per core
# (anchored at Loihi 2's values), and compared with the independent sweep.

# %%
mem_values = grid["syn_mem_per_core_bytes"]
tied_rows = []
for mem in mem_values:
    scaled_static = chip.value("p_static_core_mw") * mem / chip.value("syn_mem_per_core_bytes")
    for label, static in (("static per core fixed", chip.value("p_static_core_mw")),
                          ("static per core ~ memory", scaled_static)):
        r = estimate(workload, HW, overrides={"syn_mem_per_core_bytes": int(mem),
                                              "p_static_core_mw": static})
        tied_rows.append({"syn_mem_per_core_bytes": mem, "assumption": label,
                          "energy_per_token_j": r.energy_per_token_j, "cores": r.cores,
                          "feasible": r.feasible})
tied = pd.DataFrame(tied_rows)
dropped = sorted(set(tied.loc[~tied.feasible, "syn_mem_per_core_bytes"] / 1024))
print("left out (more than one chip, max_chips = 1):",
      ", ".join(f"{m:.0f} KiB" for m in dropped) or "none")
tied = tied[tied.feasible]
show(plot_sweep_lines(tied, "syn_mem_per_core_bytes", group="assumption", logx=True,
                      title="Energy per token when static power per core grows with its memory"),
     "static_tied_to_memory")
best = tied.loc[tied.groupby("assumption")["energy_per_token_j"].idxmin()]
display(pd.DataFrame({"assumption": best["assumption"],
                      "best memory per core (KiB)": (best["syn_mem_per_core_bytes"] / 1024)
                      .round(0),
                      "cores": best["cores"],
                      "energy per token (uJ)": (best["energy_per_token_j"] * 1e6).round(2)})
        .set_index("assumption"))

# %% [markdown]
# Two effects pull in opposite directions. Fewer, bigger cores mean fewer cores leaking, but each
# core then does more synaptic operations per step, so a step takes longer and every powered
# core (and the chip) leaks for longer. With a fixed leakage per core there is a sweet spot in
# between; when leakage grows with memory, the first effect shrinks and small, parallel cores
# gain. Where the optimum lies therefore rests on an assumption a sweep cannot make for you:
# state it.
#
# **What to see:** with fixed leakage per core (blue) the curve has its minimum in the middle;
# with leakage growing with memory (orange) the smallest feasible cores win; both jump up where
# the head fits into one core.
#
# **Questions**
#
# 1. Why does the orange curve fall towards small cores?
#
#    <details><summary>answer</summary>Its total leakage is proportional to the total memory
#    powered, which hardly changes with the core size; small cores then only add parallelism
#    (shorter steps, less time to leak).</details>
#
# 2. What would you need to know about a real SRAM macro to choose between the curves?
#
#    <details><summary>answer</summary>Its leakage per bit and the fixed leakage of a core's
#    logic (router, neuron engine): the fixed share decides how much the blue curve's minimum
#    is worth.</details>

# %% [markdown]
# ## 4. Your own chip, in a few lines, side by side
#
# A chip is a hardware model plus the values you change: `overrides=` takes any parameter of
# the TOML file (`load_hardware(HW, overrides)` shows the resulting model; a TOML file of your
# own, passed as a path, works the same way). Below, four variants of Loihi 2 next to the three
# built-in chips.

# %%
MY_CHIPS = {  # name -> (base model, the values that differ)
    "loihi2, 4x memory/core": (HW, {"syn_mem_per_core_bytes":
                                    4 * int(chip.value("syn_mem_per_core_bytes"))}),
    "loihi2, half memory/core": (HW, {"syn_mem_per_core_bytes":
                                      int(chip.value("syn_mem_per_core_bytes")) // 2}),
    "loihi2, low leakage": (HW, {"p_static_core_mw": 0.1, "p_static_chip_mw": 10.0}),
    "loihi2, 4 pJ synop": (HW, {"e_syn_op_pj": 4.0}),
}
print(load_hardware(*MY_CHIPS["loihi2, low leakage"]).value("p_static_core_mw"),
      "mW per core in the low-leakage variant")
reports = dict(baseline)
reports.update({name: estimate(workload, base, overrides=values)
                for name, (base, values) in MY_CHIPS.items()})
show(plot_energy_breakdown(reports, title=f"{workload.name}: energy per token on each chip"),
     "energy_breakdown")
display(pd.DataFrame({name: {"energy per token (uJ)": r.energy_per_token_j * 1e6,
                             "cores": r.cores, "chips": r.chips,
                             "tokens per second": r.max_tokens_per_s,
                             "feasible": r.feasible}
                      for name, r in reports.items()}).T
        .astype({"energy per token (uJ)": float, "tokens per second": float})
        .round({"energy per token (uJ)": 2, "tokens per second": 0}))

# %% [markdown]
# **What to see:** the left panel (log scale) ranks the chips over two decades, the MCU and
# Loihi far above Loihi 2 and its variants; the right panel shows that the variants move
# different parts: 4x memory per core raises the static share (slower steps), the low-leakage
# chip shrinks it, the 4 pJ synapse shrinks the synaptic part.
#
# **Questions**
#
# 1. Which variant helps most, and why that one?
#
#    <details><summary>answer</summary>Read the totals: the one that shrinks the largest part
#    of the bar on the right. For this model on Loihi 2 that is the synaptic part, so the
#    cheaper synapse; on Loihi (76% static) it would be the leakage.</details>
#
# 2. How would you model a chip with twice the cores per chip and the same die?
#
#    <details><summary>answer</summary>`overrides={"cores_per_chip": 2 * ..., "syn_mem_per_core_bytes":
#    ... // 2}` and, if leakage scales with area, the same static power per chip: the sweep tools
#    do the rest. State every such assumption.</details>

# %% [markdown]
# ## Discussion
#
# * **Synaptic-op energy** moves energy per token in proportion to the synaptic share of the
#   work; the non-synaptic part (LayerNorm and the WKV recurrence on the embedded cores) does not
#   move with it. A chip team should know that share before optimising the synapse.
# * **Memory per core** trades the number of cores against time per step: fewer, fuller cores
#   leak less in total but each handles more synaptic operations per step.
# * **Static power** matters most when the chip is slow or idle; how it scales with memory is
#   an assumption you must make explicit (section 3).
# * **The slowest layer sets the pace**: the head fitting into one core doubled the step time
#   (the jump at ~164 KiB per core). A mapper that splits the slowest layer over more cores
#   than its memory needs would remove the jump.
# * **Chips needed** for a 216M-parameter SLM: the chips heat map reads roughly along lines of
#   constant memory per chip (memory per core x cores per chip), until the per-core neuron and
#   axon limits, not memory, set the number of cores.
#
# Try: `sweep(workload, "loihi2", tokens_per_s=100, ...)` (a fixed, slow token rate), other
# parameters (`t_syn_op_ns`, `neurons_per_core`, `prog_share_wkv`), or your own TOML file.
