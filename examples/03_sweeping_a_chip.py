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

# %%
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from IPython.display import Image, display

from qslm_neuro.hw import estimate, load_hardware, sweep
from qslm_neuro.viz import plot_energy_breakdown, plot_sweep_heatmap, plot_sweep_lines, save_figure

SMALL = os.environ.get("QSLM_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("QSLM_NOTEBOOK_OUT", "output")) / "03_sweeping_a_chip"
OUT.mkdir(parents=True, exist_ok=True)
# One thread: on a machine whose cores are busy, several PyTorch threads wait for each other
# and the model runs many times slower.
torch.set_num_threads(1)


def show(fig, name: str) -> None:
    """Save a figure as PNG under OUT and show it here."""
    display(Image(filename=str(save_figure(fig, OUT / f"{name}.png"))))


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
print(f"spike-driven share of the blocks' MACs: {workload.spike_driven_share():.1%}")

# %% [markdown]
# The layers fed by LIF neurons see binary spikes (`binary inputs = 1`); the head sees graded
# values. Now the baseline estimate on the three built-in chips:

# %%
baseline = {hw: estimate(workload, hw) for hw in ("loihi", "loihi2", "embedded-soc")}
for report in baseline.values():
    print(report.summary(), "\n")

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
display(table.head())


def nearest(values: np.ndarray, target: float) -> float:
    """The grid value closest to target (to take a slice through the grid)."""
    return float(values[np.argmin(np.abs(np.log(values) - np.log(target)))])


at_static = nearest(grid["p_static_core_mw"], chip.value("p_static_core_mw"))
at_syn_op = nearest(grid["e_syn_op_pj"], chip.value("e_syn_op_pj"))
print(f"slices at p_static_core_mw = {at_static:.3g} and e_syn_op_pj = {at_syn_op:.3g}")

# %% [markdown]
# ### Energy per token over memory per core and synaptic-op energy
#
# White cells need more chips than the system has (`max_chips = 1`): the grid marks them
# infeasible and we leave them blank.

# %%
def feasible_only(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[~frame["feasible"], column] = np.nan
    return frame


energy_slice = feasible_only(table[table.p_static_core_mw == at_static], "energy_per_token_j")
show(plot_sweep_heatmap(energy_slice, "syn_mem_per_core_bytes", "e_syn_op_pj", logx=True,
                        title=f"log10 energy per token (J), p_static_core = {at_static:.2g} mW"),
     "energy_heatmap")

# %% [markdown]
# Read it row by row (fixed memory per core): energy grows linearly with the synaptic-op energy,
# with a slope set by how many synaptic operations a token needs. Read it column by column
# (fixed synaptic-op energy): memory per core changes how many cores the weights need and how
# much work each core does per step; both change the static energy.

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
static_slice = feasible_only(table[table.e_syn_op_pj == at_syn_op], "energy_per_token_j")
show(plot_sweep_heatmap(static_slice, "syn_mem_per_core_bytes", "p_static_core_mw",
                        logx=True, logy=True,
                        title=f"log10 energy per token (J), e_syn_op = {at_syn_op:.3g} pJ"),
     "static_heatmap")
static_share = (table["energy_static_j"] / table["energy_per_token_j"])
print(f"static share of the energy across the grid: {static_share.min():.0%} to "
      f"{static_share.max():.0%}")

# %% [markdown]
# Static energy per token is static power x time per token. At the fastest token rate the chip
# sustains (`tokens_per_s=None`), a core that leaks 10x more adds 10x more static energy, and
# with few, slow cores the step takes longer too. At a fixed, slower token rate (pass
# `tokens_per_s=` to `sweep`) static power would dominate even more.

# %% [markdown]
# ### Cores and chips
#
# Memory per core decides how many cores the weights need. For our small model that is a
# handful of cores; for a SpikeGPT-216M-sized model it decides how many **chips** you need. We
# build the 216M shape without weights (on PyTorch's `meta` device), quantize it to int4 on
# paper, borrow each layer's firing rate from the layer with the same role in our measured
# profile (**an assumption**: a bigger model may fire differently), and sweep memory per core
# against cores per chip.

# %%
cores_line = table[(table.p_static_core_mw == at_static) & (table.e_syn_op_pj == at_syn_op)]
print(cores_line[["syn_mem_per_core_bytes", "cores", "chips", "feasible"]].to_string(index=False))

from qslm_neuro.models import build_model
from qslm_neuro.measure import workload_from_config

big_shape = build_model("spikegpt-216m", device="meta")
big = workload_from_config("spikegpt-216m", profile, QuantPlan.uniform(big_shape, "int4"))
print(f"\nspikegpt-216m at int4: {big.total_bytes / 1e6:.0f} MB")
big_table = sweep(big, HW, overrides={"max_chips": 4096},
                  syn_mem_per_core_bytes=grid["syn_mem_per_core_bytes"],
                  cores_per_chip=np.array([32, 64, 128, 256, 512]))
show(plot_sweep_heatmap(big_table, "syn_mem_per_core_bytes", "cores_per_chip", value="chips",
                        log=True, logx=True, logy=True, annotate=True,
                        title="chips needed (log colour), SpikeGPT-216M shape at int4"),
     "chips_heatmap")
today = estimate(big, HW, overrides={"max_chips": 4096})
print(today.summary())

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
                                              "p_static_core_mw": static, "max_chips": 16})
        tied_rows.append({"syn_mem_per_core_bytes": mem, "assumption": label,
                          "energy_per_token_j": r.energy_per_token_j, "cores": r.cores})
tied = pd.DataFrame(tied_rows)
show(plot_sweep_lines(tied, "syn_mem_per_core_bytes", group="assumption", logx=True),
     "static_tied_to_memory")
best = tied.loc[tied.groupby("assumption")["energy_per_token_j"].idxmin()]
print(best[["assumption", "syn_mem_per_core_bytes", "cores", "energy_per_token_j"]]
      .to_string(index=False))

# %% [markdown]
# Two effects pull in opposite directions. Fewer, bigger cores mean fewer cores leaking, but each
# core then does more synaptic operations per step, so a step takes longer and every powered
# core (and the chip) leaks for longer. With a fixed leakage per core there is a sweet spot in
# between; when leakage grows with memory, the first effect shrinks and small, parallel cores
# gain. Where the optimum lies therefore rests on an assumption a sweep cannot make for you:
# state it.

# %% [markdown]
# ## 4. Where the energy goes
#
# The same candidate on the three chips, and on a Loihi 2 variant with 4x the synaptic memory
# per core.

# %%
reports = dict(baseline)
reports["loihi2, 4x memory/core"] = estimate(
    workload, HW,
    overrides={"syn_mem_per_core_bytes": 4 * int(chip.value("syn_mem_per_core_bytes"))})
show(plot_energy_breakdown(reports, title=f"{workload.name}: energy per token"), "energy_breakdown")
display(pd.DataFrame({name: {"uJ/token": r.energy_per_token_j * 1e6, "cores": r.cores,
                             "chips": r.chips, "tokens/s": r.max_tokens_per_s}
                      for name, r in reports.items()}).T.round(2))

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
# * **Chips needed** for a 216M-parameter SLM: the chips heat map reads roughly along lines of
#   constant memory per chip (memory per core x cores per chip), until the per-core neuron and
#   axon limits, not memory, set the number of cores.
#
# Try: `sweep(workload, "loihi2", tokens_per_s=100, ...)` (a fixed, slow token rate), other
# parameters (`t_syn_op_ns`, `neurons_per_core`, `prog_share_wkv`), or your own TOML file.
