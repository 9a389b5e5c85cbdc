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
# # Quantizing a spiking LM with QSLM
#
# A spiking language model (SLM) stores its weights as 32-bit floats. Small chips have little
# memory, so we want fewer bits per weight, but every bit we remove may cost accuracy. QSLM
# (Putra, Wickramasinghe, Shafique, 2026) searches for a **weight-precision plan** that meets
#
# * a performance constraint, **constA** (e.g. "at most 2 points of accuracy below fp32"), and
# * a memory constraint, **constM** (e.g. "at most 25% of the fp32 footprint"),
#
# in tiers: first one precision for the whole network (**global**), then per **block**, then per
# **module**, guided by a **sensitivity** analysis. Among the plans that meet both constraints a
# trade-off score with a weight **alpha** picks the final one.
#
# The paper's exact trade-off formula and precision set are not public; `qslm-neuro` defines its
# own and documents them (`qslm_neuro/search/objective.py`):
# `score = normalised performance + alpha x memory saving`.
#
# **Settings.** With `QSLM_NOTEBOOK_SMALL=1` (the test suite), or when the shipped SST-2 model or
# the SST-2 data set is not available, this notebook trains a *tiny* spiking RWKV for a few dozen
# steps on a **synthetic** sentiment task it writes itself (short sentences from fixed word lists;
# not SST-2, not language you should draw conclusions from). Otherwise it quantizes the shipped
# classifier `data/slm-small-sst2` on the real SST-2 dev set, which takes 10-20 minutes on two
# CPU cores (the sensitivity analysis evaluates every block and module at every precision).

# %%
import os
import random
from pathlib import Path

import pandas as pd
import torch
from IPython.display import Image, display

from qslm_neuro.quant import Hierarchy
from qslm_neuro.hw import estimate
from qslm_neuro.viz import (plot_energy_breakdown, plot_precision_map, plot_sensitivity_heatmap,
                            save_figure)
from qslm_neuro.quantsearch import search

SMALL = os.environ.get("QSLM_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("QSLM_NOTEBOOK_OUT", "output")) / "02_quantizing_a_spiking_lm"
OUT.mkdir(parents=True, exist_ok=True)
# One thread: on a machine whose cores are busy, several PyTorch threads wait for each other
# and a small model runs many times slower.
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
MODEL_DIR = ROOT / "data" / "slm-small-sst2"
DATA_DIR = os.environ.get("QSLM_DATA_DIR")
REAL = not SMALL and MODEL_DIR.is_dir() and bool(DATA_DIR)
if not SMALL and not REAL:
    print(f"full settings need {MODEL_DIR} and QSLM_DATA_DIR (the SST-2 data); "
          "using the small synthetic setting instead")
print("setting:", "shipped model on real SST-2" if REAL
      else "tiny model on synthetic sentiment data")

# %% [markdown]
# ## 1. The model and its task
#
# In the small setting we write a synthetic data set in SST-2's file format
# (`sentence<TAB>label`) and train the `tiny` config (2 blocks, width 32) with the same training
# code that trained the shipped models (`qslm_neuro.training.trainer`). Each sentence has two clauses;
# a "not" flips the first one, so the model must read more than one word.

# %%
from qslm_neuro.tasks import SST2Task

SUBJECTS = ["the film", "the plot", "the acting", "this movie", "the script", "the ending",
            "the cast", "the music", "the story", "the dialogue"]
POSITIVE = ["good", "great", "wonderful", "moving", "funny", "clever", "charming", "superb"]
NEGATIVE = ["bad", "dull", "boring", "awful", "tedious", "clumsy", "bland", "weak"]
INTENSIFIERS = ["", "very ", "truly ", "rather ", "quite "]


def synthetic_review(rng: random.Random) -> tuple[str, int]:
    """'<subject> was [not] [very] <adjective> and <subject> was <adjective>' with its label."""
    label = rng.randint(0, 1)
    negated = rng.random() < 0.25
    first_words = NEGATIVE if negated == bool(label) else POSITIVE
    second_words = POSITIVE if label else NEGATIVE
    first = (f"{rng.choice(SUBJECTS)} was {'not ' if negated else ''}"
             f"{rng.choice(INTENSIFIERS)}{rng.choice(first_words)}")
    second = f"{rng.choice(SUBJECTS)} was {rng.choice(INTENSIFIERS)}{rng.choice(second_words)}"
    return f"{first} and {second}", label


def write_synthetic_sst2(folder: Path, n_train: int, n_dev: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    (folder / "sst2").mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("dev", n_dev)):
        rows = ["sentence\tlabel"] + [f"{s}\t{y}" for s, y in (synthetic_review(rng)
                                                               for _ in range(n))]
        (folder / "sst2" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return folder


if REAL:
    from qslm_neuro.models.checkpoint import load_checkpoint

    loaded = load_checkpoint(MODEL_DIR)
    model, tokenizer = loaded.model, loaded.tokenizer
    task = SST2Task(tokenizer, DATA_DIR, split="dev")
else:
    from qslm_neuro.training.trainer import TrainConfig, train_sst2

    data_dir = write_synthetic_sst2(OUT / "synthetic-sst2", n_train=2000, n_dev=300)
    print("\n".join((data_dir / "sst2" / "train.tsv").read_text().splitlines()[:4]))
    config = TrainConfig(task="sst2", model="tiny", vocab_size=320, epochs=3, batch_size=32,
                         max_steps=90, warmup_steps=10, lr=1e-2, heldout=200, dropout=0.0,
                         seed=0)
    trained = train_sst2(config, str(data_dir))
    model, tokenizer = trained.model, trained.tokenizer
    task = SST2Task(tokenizer, str(data_dir), split="dev")
print(f"{task.name}: {len(task)} examples; fp32 accuracy {task.evaluate(model)['value']:.3f}")

# %% [markdown]
# ## 2. The hierarchy: global ▸ blocks ▸ modules
#
# The search discovers the levels from the model itself. Blocks are the model's top-level
# children (the items of a `ModuleList` count one by one); modules are the layers that own a
# weight matrix. LayerNorm gains and decay vectors are one-dimensional and stay at fp32.

# %%
hierarchy = Hierarchy.from_module(model)
print(hierarchy.tree())

# %% [markdown]
# ## 3. The search
#
# One call runs everything: the fp32 baseline, the sensitivity analysis, the three tiers, and
# the choice. Every evaluation is stored in an SQLite file, so running the cell again (or a
# search with other constraints on the same model) re-uses what was already measured.
#
# Constraints used here: constA `"2pt"` (accuracy at most 2 points below fp32) and constM
# `"25%"` (at most a quarter of the fp32 footprint). The ladder lists the precisions the search
# may use, from high to low. `module_sensitivity="all"` measures every module up front so the
# heat maps below are complete; by default the search measures module sensitivities only when
# the module tier starts, and only for the modules it can still lower (same decisions, fewer
# evaluations).

# %%
LADDER = "fp32,int8,int4,int2" if not REAL else "fp32,int8,int6,int5,int4,int3,int2"
CALIBRATION = 96 if not REAL else 128
STORE = OUT / "evaluations.sqlite"
result = search(model, task, const_perf="2pt", const_mem="25%", alpha=1.0, ladder=LADDER,
                calibration_size=CALIBRATION, store=STORE, out=OUT / "search",
                module_sensitivity="all", progress=False)
print(result.summary())

# %% [markdown]
# ### Sensitivity: which parts can take fewer bits?
#
# Before searching, every unit (each block, each module) is quantized **alone** at each
# precision of the ladder and evaluated on a small calibration set (`drop`: how much accuracy it
# loses against fp32 on that set). A proxy that needs no labels is measured too: the KL
# divergence between the fp32 and the quantized model's outputs on a fixed batch. Red means
# "hurts"; blue means the calibration accuracy went *up* (noise on a small set).

# %%
show(plot_sensitivity_heatmap(result.sensitivity, level="module"), "sensitivity_heatmap")
show(plot_sensitivity_heatmap(result.sensitivity, level="block", value="kl"),
     "sensitivity_kl_blocks")
rho = result.sensitivity.correlations()["pooled"]
print(f"does the KL proxy rank units like the measured drop? Spearman rho = {rho['rho']} "
      f"(n = {rho['n']})")

# %% [markdown]
# ### The tiers, step by step
#
# The search log (`result.trials`) records every decision. The **global** tier walks down the
# ladder with one precision everywhere. The **block** and **module** tiers then lower one unit at
# a time by one ladder step, least harmful per byte saved first. Before each full evaluation an
# additive model predicts the accuracy from the sensitivity table; a step predicted to miss
# constA by more than 1% of the baseline is `skipped` without evaluating it. A step that breaks
# constA freezes its unit.

# %%
trials = pd.DataFrame(result.trials)
columns = [c for c in ("tier", "unit", "from", "to", "predicted", "action", "metric", "accepted")
           if c in trials.columns]
with pd.option_context("display.max_rows", 80):
    display(trials[columns].round(4))
print(trials.groupby(["tier", "action"]).size().to_string())

# %% [markdown]
# ### The candidates and the Pareto front
#
# Every fully evaluated plan is a candidate, with its accuracy, exact footprint (weights at their
# bit width plus one fp32 scale per output channel, plus everything left at fp32) and, because
# our model can describe its synapses, a hardware estimate from its **own measured spike
# activity** on Loihi 2. The Pareto front joins the candidates that no other candidate beats on
# both accuracy and memory.

# %%
print(result.table())
pareto_png = result.plot(OUT / "pareto.png")  # the search's own Pareto plot
display(Image(filename=str(pareto_png)))

# %% [markdown]
# ### The chosen plan
#
# Which precision each module got (blocks as rows, the module's role inside its block as
# columns):

# %%
chosen = result.chosen if result.found else result.nearest[0]
print("chosen" if result.found else "no candidate met both constraints; nearest:",
      f"#{chosen.order} {chosen.label}: {chosen.precisions()}")
show(plot_precision_map(chosen.plan, hierarchy,
                        title=f"candidate #{chosen.order}: {chosen.memory_saving:.0%} smaller"),
     "precision_map")
print(hierarchy.tree(chosen.plan))

# %% [markdown]
# ### What it means on a chip
#
# A candidate turns into a hardware `Workload` (its own measured activity) and can be costed on
# any hardware model. Quantization changes energy less than memory: fewer bits per synapse make
# each synaptic read a little cheaper, fit the weights on fewer cores, and change how often the
# neurons fire. (On Loihi 2 the fp32 baseline is costed as 32-bit integers split over 4 synapses
# per weight: the chip has no floating-point synapses, so its fp32 bar is pessimistic.)

# %%
reports = {f"{who} on {hw}": estimate(candidate, hw)
           for hw in ("loihi2", "embedded-soc")
           for who, candidate in (("fp32", result.baseline), (f"#{chosen.order}", chosen))}
for hw, name in (("loihi2", "energy_breakdown"), ("embedded-soc", "energy_breakdown_mcu")):
    show(plot_energy_breakdown({k: r for k, r in reports.items() if k.endswith(hw)},
                               title=f"Energy per token on {hw}: fp32 vs the chosen plan"), name)
for name, r in reports.items():
    print(f"{name:>24}: {r.energy_per_token_j * 1e6:8.3f} uJ/token, {r.cores:3d} cores, "
          f"{r.synaptic_memory_bytes / 1024:8.1f} KiB synaptic memory")

# %% [markdown]
# ## 4. The effect of alpha and of the memory cap
#
# `alpha` only matters among candidates that meet both constraints: `alpha = 0` takes the most
# accurate one, a large `alpha` the smallest. The memory cap decides which candidates are
# allowed at all, and also where the block tier starts. We run the search again for a few
# values of each: the cap used above, then caps placed between the footprints the first search
# found (so each removes some candidates), down to one below every candidate. All runs share one
# evaluation store, so only plans that no earlier run evaluated cost anything.

# %%
ALPHAS = [0.0, 0.5, 1.0, 4.0]
sizes = sorted({c.total_bytes for c in result.candidates if c.meets_perf and c.order > 1})
caps = [result.mem.budget_bytes]
if sizes:
    caps += [sizes[len(sizes) // 2], sizes[0], int(0.95 * sizes[0])]
rows = []
for cap in dict.fromkeys(int(c) for c in caps):
    for alpha in ALPHAS:
        run = search(model, task, const_perf="2pt", const_mem=cap, alpha=alpha, ladder=LADDER,
                     calibration_size=CALIBRATION, store=STORE, progress=False)
        pick = run.chosen
        rows.append({"memory cap (kB)": cap / 1e3, "alpha": alpha,
                     "candidates": len(run.candidates),
                     "newly evaluated": run.counts["computed"]["full"],
                     "chosen": f"{pick.label}" if pick else "none meets both",
                     "accuracy": pick.metric if pick else None,
                     "footprint (kB)": pick.total_bytes / 1e3 if pick else None})
choices = pd.DataFrame(rows)
with pd.option_context("display.max_colwidth", 40):
    display(choices.round(4))

# %% [markdown]
# Things to look at in the table:
# * Among a *fixed* set of candidates a larger alpha can only move the choice towards smaller
#   footprints. But each row is a new search, and alpha and the cap also decide where the block
#   tier starts (the best-scoring global candidate), so different rows may explore different
#   plans: compare the "candidates" and "newly evaluated" columns before comparing choices.
# * A tighter cap removes candidates; below every candidate nothing is feasible, and the search
#   reports the nearest candidates instead (the CLI exits with code 3).
# * "newly evaluated" shows the evaluation store at work: only plans no earlier run tried are
#   evaluated.
#
# ## Things to try
# * `strategy="exhaustive"`, `"random"`, `"ilp"` or `"nsga2"` on the same task: how many
#   evaluations does each need to find a comparable plan?
# * `keep=["head"]` keeps the classifier head at fp32.
# * `beta=1.0` adds the measured energy saving on Loihi 2 to the score.
#
# **Caveats.** Sensitivities come from a small calibration set and are noisy; the additive
# damage model ignores interactions between units; in the small setting the task is synthetic.
