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
from qslm_neuro.viz.prose import Prose  # noqa: E402

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
# The numbers in this notebook's text are computed from its run (prose.say): the small setting
# (QSLM_NOTEBOOK_SMALL=1) measures fewer tokens and sweeps a coarser grid, so they differ.
prose = Prose(OUT)
prose.given("4 pJ", "8 KiB", "4096 chips")
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
# 2. Where the activity comes from changes the answer. Which source would you trust for a
#    deployment, and why?
#
#    <details><summary>answer</summary>Activity measured with the plan applied on real inputs of
#    the deployment's kind (here WikiText-2 text); random tokens are not language, and a
#    profile measured at fp32 may fire differently from the quantized model.</details>

# %%
# answer to question 1 (the student copy leaves this cell out)
def slowest_layer(report) -> str:
    """The layer whose cores take longest per step (it sets the step time)."""
    times = report.layers.groupby("name")["core_time_s"].max()
    return str(times.idxmax())


def static_share(report) -> float:
    return report.parts["static"] / report.energy_per_token_j


prose.say("<details><summary>answer to 1</summary>\n\nRead the parts: on Loihi {share:.0%} of "
          "the energy per token is static, on Loihi 2 {share2:.0%}. Loihi's time step is much "
          "slower ({t1:,.0f} us against {t2:,.0f} us), and the whole chip leaks while it lasts; "
          "the slowest layer on Loihi is `{slow}` (`estimate(...).layers[\"core_time_s\"]`)."
          "\n\n</details>", share=static_share(baseline["loihi"]),
          share2=static_share(baseline["loihi2"]),
          t1=1e6 / baseline["loihi"].max_tokens_per_s,
          t2=1e6 / baseline["loihi2"].max_tokens_per_s, slow=slowest_layer(baseline["loihi"]))

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
fig.axes[0].annotate(f"{head_name} fits one core from here →", (head_bytes / 1024, 3.0),
                     xytext=(-4, 0), ha="right", textcoords="offset points", color="white",
                     fontsize=8)  # left of the line: the line may sit at the plot's right edge
show(fig, "energy_heatmap")

# %% [markdown]
# **What to see:** energy rises from bottom to top (dearer synaptic operations) and changes in
# steps from left to right, where the weights need fewer cores; hatched cells are cores too
# small for one chip. The dashed line marks the largest layer's synaptic memory: right of it,
# that layer fits into one core.
#
# Read it column by column (fixed memory per core): energy grows linearly with the synaptic-op
# energy, with a slope set by how many synaptic operations a token needs. Read it row by row
# (fixed synaptic-op energy): memory per core changes how many cores the weights need and how
# much work each core does per step; both change the static energy. The next cell reads the
# row of today's synaptic-op energy.

# %%
row = energy_slice[(energy_slice.e_syn_op_pj == at_syn_op) & energy_slice.feasible]
row = row.sort_values("syn_mem_per_core_bytes")
best_row = row.loc[row["energy_per_token_j"].idxmin()]
today_mem = nearest(grid["syn_mem_per_core_bytes"], chip.value("syn_mem_per_core_bytes"))
today_row = row[row.syn_mem_per_core_bytes == today_mem].iloc[0]
jumps = row["energy_per_token_j"].pct_change()
worst = jumps.idxmax() if len(row) > 1 else None
print(row[["syn_mem_per_core_bytes", "energy_per_token_j", "cores", "latency_per_token_s"]]
      .assign(syn_mem_per_core_bytes=lambda d: d.syn_mem_per_core_bytes / 1024,
              energy_per_token_j=lambda d: d.energy_per_token_j * 1e6,
              latency_per_token_s=lambda d: d.latency_per_token_s * 1e6)
      .rename(columns={"syn_mem_per_core_bytes": "memory per core (KiB)",
                       "energy_per_token_j": "energy per token (uJ)",
                       "latency_per_token_s": "step time (us)"}).round(2).to_string(index=False))
if worst is not None and jumps[worst] > 0.05:
    before = row.loc[row.index[list(row.index).index(worst) - 1]]
    jump_text = (f"The largest step up along this row is from "
                 f"{before.syn_mem_per_core_bytes / 1024:.0f} to "
                 f"{row.loc[worst].syn_mem_per_core_bytes / 1024:.0f} KiB per core "
                 f"({100 * jumps[worst]:+.0f}%): the cores go from {before.cores} to "
                 f"{row.loc[worst].cores} and the step time from "
                 f"{before.latency_per_token_s * 1e6:.3g} to "
                 f"{row.loc[worst].latency_per_token_s * 1e6:.3g} us: fewer cores each do more "
                 "work per step, and every powered core leaks for the whole step.")
else:
    jump_text = ("No step up along this row exceeds 5%: bigger cores never make this candidate "
                 "markedly worse here.")
prose.say("At a synaptic operation of {syn:.3g} pJ the lowest energy per token, {best:.2f} uJ, "
          "comes with {best_mem:.0f} KiB per core ({best_cores} cores); the grid point nearest "
          "today's {chip_mem:.0f} KiB, {today_mem:.0f} KiB per core, gives {today:.2f} uJ "
          "({today_cores} cores). The smallest "
          "core that still fits one chip holds {smallest:.0f} KiB. {jump}", syn=at_syn_op,
          best=best_row.energy_per_token_j * 1e6, best_mem=best_row.syn_mem_per_core_bytes / 1024,
          best_cores=best_row.cores, today_mem=today_mem / 1024,
          chip_mem=chip.value("syn_mem_per_core_bytes") / 1024,
          today=today_row.energy_per_token_j * 1e6, today_cores=today_row.cores,
          smallest=row.syn_mem_per_core_bytes.min() / 1024, jump=jump_text)

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
grid_static_share = (table["energy_static_j"] / table["energy_per_token_j"])
print(f"static share of the energy across the grid: {grid_static_share.min():.0%} to "
      f"{grid_static_share.max():.0%}")

# %% [markdown]
# **What to see:** leakier cores (upwards) cost more everywhere, and most where the step is
# slow, so that every powered core leaks for longer.

# %% [markdown]
# Static energy per token is static power x time per token. At the fastest token rate the chip
# sustains (`tokens_per_s=None`), a core that leaks 10x more adds 10x more static energy, and
# with few, slow cores the step takes longer too. At a fixed, slower token rate (pass
# `tokens_per_s=` to `sweep`) static power would dominate even more.
#
# **Questions**
#
# 1. Your team can double the synaptic memory per core of today's Loihi 2 model. Worth it?
#    (Predict from the heat map first; the cell below answers from the model.)
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
#    energy: fast chips (short steps) and low static power. On a slow, leaky chip static
#    energy dominates and the synapse hardly matters.</details>

# %%
# answer to question 1 (the student copy leaves this cell out)
today_report = estimate(workload, HW)
doubled = estimate(workload, HW, overrides={"syn_mem_per_core_bytes":
                                            2 * int(chip.value("syn_mem_per_core_bytes"))})
change = doubled.energy_per_token_j / today_report.energy_per_token_j - 1
prose.say("<details><summary>answer to 1</summary>\n\nWith twice the memory per core the "
          "candidate needs {c2} cores instead of {c1} and {e2:.2f} uJ per token instead of "
          "{e1:.2f} uJ ({change:+.0%}); the time step takes {t2:,.0f} us instead of {t1:,.0f} us. "
          "{verdict}\n\n</details>", c1=today_report.cores, c2=doubled.cores,
          e1=today_report.energy_per_token_j * 1e6, e2=doubled.energy_per_token_j * 1e6,
          change=change, t1=1e6 / today_report.max_tokens_per_s,
          t2=1e6 / doubled.max_tokens_per_s,
          verdict="Worth it for energy." if change < -0.02 else
          "Not worth it for energy: the saved cores are paid back by longer steps." if change > 0.02
          else "It hardly matters for energy; decide on area.")

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
    # a layer may span several rows (one per core group); "energy_j_per_token" is each row's
    # total, the sum of its parts (adding the parts as well would count the layer twice)
    layer_uj = r.layers.groupby("name")["energy_j_per_token"].sum() * 1e6
    head_rows = r.layer_rows[r.layer_rows["name"] == "head"]
    compare.append({"activity borrowed from": name,
                    "head: non-zero inputs per token (of 768)":
                        float(head_rows["input_events_per_step"].iloc[0]),
                    "head (uJ/token)": layer_uj["head"],
                    "everything else (uJ/token)": r.energy_per_token_j * 1e6 - layer_uj["head"],
                    "total (uJ/token)": r.energy_per_token_j * 1e6})
borrowed = pd.DataFrame(compare).set_index("activity borrowed from")
assert (borrowed["everything else (uJ/token)"] >= 0).all(), "a layer was counted twice"
display(borrowed.round(1))

# %%
lm_row, clf_row = compare
prose.say("The **head** (768 inputs x 50,277 vocabulary outputs, fed graded values) costs "
          "{head_lm:,.0f} uJ per token with the language model's activity and {head_clf:,.0f} uJ "
          "with the classifier's, while the totals are {lm:,.0f} and {clf:,.0f} uJ: the head "
          "makes the difference. A language model predicts at every token, so its head reads "
          "{lm_in:.0f} of 768 inputs per token here; the SST-2 classifier's head runs once per "
          "sentence, so its profile says {clf_in:.0f} of 768 per token on average, and the "
          "README's 216M row inherits that. Neither is *the* energy of SpikeGPT-216M: the first "
          "is closer to a language model generating text, the second to a classifier reading "
          "it. State which activity you borrowed whenever you quote such a number.",
          head_lm=lm_row["head (uJ/token)"], head_clf=clf_row["head (uJ/token)"],
          lm=lm_row["total (uJ/token)"], clf=clf_row["total (uJ/token)"],
          lm_in=lm_row["head: non-zero inputs per token (of 768)"],
          clf_in=clf_row["head: non-zero inputs per token (of 768)"])

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
# **What to see:** where each curve has its minimum (the table above): with leakage growing
# with memory (orange) small, parallel cores gain against the fixed-leakage curve (blue).
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
#    cheaper synapse; on Loihi, where static energy is the largest part (section 1), it
#    would be the leakage.</details>
#
# 2. How would you model a chip with twice the cores per chip and the same die?
#
#    <details><summary>answer</summary>`overrides={"cores_per_chip": 2 * ..., "syn_mem_per_core_bytes":
#    ... // 2}` and, if leakage scales with area, the same static power per chip: the sweep tools
#    do the rest. State every such assumption.</details>

# %% [markdown]
# ## Discussion
#
# Each point below is computed from this run (the small setting gives other numbers).

# %%
today_parts = baseline[HW].parts
synaptic = (today_parts["synaptic_ops"] + today_parts["memory_reads"]) / sum(today_parts.values())
variants = {name: r.energy_per_token_j for name, r in reports.items() if name in MY_CHIPS}
best_variant = min(variants, key=variants.get)
infeasible = [name for name, r in reports.items() if not r.feasible]
prose.say(
    "* **Synaptic-op energy** moves energy per token in proportion to the synaptic share of "
    "the work: {syn:.0%} on {hw} for this candidate (synaptic operations and weight reads); "
    "the non-synaptic part (LayerNorm and the WKV recurrence on the embedded cores, "
    "{nonsyn:.0%}) and static power ({static:.0%}) do not move with it.\n"
    "* **Memory per core** trades the number of cores against time per step: on today's "
    "synaptic-op energy the lowest energy per token comes with {best_mem:.0f} KiB per core "
    "against today's {chip_mem:.0f} KiB.\n"
    "* **Static power** is {smin:.0%} to {smax:.0%} of the energy across the grid; how it "
    "scales with memory is an assumption you must make explicit (section 3).\n"
    "* **The slowest layer sets the pace**: on {hw} it is `{slow}`; a mapper that splits it "
    "over more cores than its memory needs would shorten every step.\n"
    "* **Of the four variants** in section 4, `{best_variant}` gives the lowest energy per "
    "token ({best_uj:.2f} uJ against {today_uj:.2f} uJ as modelled){infeasible}.\n"
    "* **Chips needed** for the SpikeGPT-216M shape at int4 on today's {hw}: {chips}; the "
    "chips heat map reads along lines of constant memory per chip (memory per core x cores "
    "per chip), until the per-core neuron and axon limits, not memory, set the cores.",
    syn=synaptic, hw=HW, nonsyn=today_parts["nonsynaptic"] / sum(today_parts.values()),
    static=today_parts["static"] / sum(today_parts.values()),
    best_mem=best_row.syn_mem_per_core_bytes / 1024,
    chip_mem=chip.value("syn_mem_per_core_bytes") / 1024, smin=grid_static_share.min(), smax=grid_static_share.max(), slow=slowest_layer(baseline[HW]),
    best_variant=best_variant, best_uj=variants[best_variant] * 1e6,
    today_uj=baseline[HW].energy_per_token_j * 1e6, chips=today.chips,
    infeasible="" if not infeasible else "; does not fit one chip: " + ", ".join(infeasible))
prose.write()

# %% [markdown]
# Try: `sweep(workload, "loihi2", tokens_per_s=100, ...)` (a fixed, slow token rate), other
# parameters (`t_syn_op_ns`, `neurons_per_core`, `prog_share_wkv`), or your own TOML file.
