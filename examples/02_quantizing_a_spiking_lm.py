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
# classifier `data/slm-small-sst2` on real SST-2 (selecting on the 1,000 training sentences it
# was trained without, reporting on dev), which takes 10-20 minutes or a little more on two CPU
# cores (the sensitivity analysis evaluates every block and module at every precision).
#
# **Never select and report on the same data.** The search chooses its plan on a *selection*
# split (training sentences the model never trained on); the accuracy we report comes from
# another split (dev), with a paired 95% interval (section 3).
#
# ### Words used below
#
# | word | meaning |
# |---|---|
# | **plan** | a precision (fp32, int8, int4, ...) for every weight matrix of the model |
# | **block / module** | a block is a top-level part of the model (an RWKV block, the embedding, the head); a module is one weight matrix inside it |
# | **footprint** | bytes the weights take under a plan (plus one fp32 scale per output channel, plus everything left at fp32) |
# | **feasible** (here) | a plan that meets both constA and constM. (On a chip, "feasible" means the model fits the chip: see notebooks 1 and 3) |
# | **synaptic operation** | one weight added into one neuron because one input spiked; what a neuromorphic chip pays per spike |
# | **core / tile / NoC** | a chip's small processors (each with its own synaptic memory), groups of cores sharing a router, and the network-on-chip that carries spikes between them |
# | **compartment / axon** | a core's unit of neuron state, and its input/output ports for spikes; both limited per core |
# | **static power** | power the chip draws whenever it is on; static energy per token = static power x time per token |

# %%
import os
import random
from pathlib import Path

import warnings

import pandas as pd
import torch
from IPython.display import display

# Without ipywidgets (not needed by the tests) tqdm warns "IProgress not found" and falls back
# to text progress bars; `make notebooks` installs ipywidgets, so the warning only says that.
warnings.filterwarnings("ignore", message="IProgress not found")

from qslm_neuro.hw import estimate  # noqa: E402
from qslm_neuro.quant import Hierarchy  # noqa: E402
from qslm_neuro.quantsearch import (Calibration, Constraints, Execution, SearchSpace,  # noqa: E402
                                    StoreOptions, TradeOff, search)
from qslm_neuro.quantsearch.checkpoint import describe_report_split, evaluate_on_split  # noqa: E402
from qslm_neuro.viz import (plot_energy_breakdown, plot_pareto, plot_precision_map,  # noqa: E402
                            plot_sensitivity_heatmap, show_figure)
from qslm_neuro.viz.prose import Prose  # noqa: E402

SMALL = os.environ.get("QSLM_NOTEBOOK_SMALL") == "1"
OUT = Path(os.environ.get("QSLM_NOTEBOOK_OUT", "output")) / "02_quantizing_a_spiking_lm"
OUT.mkdir(parents=True, exist_ok=True)
# One thread: on a machine whose cores are busy, several PyTorch threads wait for each other
# and a small model runs many times slower.
torch.set_num_threads(1)


def show(fig, name: str) -> None:
    """Save a figure as PNG (and a JSON sidecar of its labels) under OUT; show it in a notebook."""
    show_figure(fig, OUT / f"{name}.png")


def repository_root() -> Path:
    """The qslm-neuro checkout: the first folder above the working directory with data/ and
    hw_models/ (the notebook runs from examples/ or from the root)."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "hw_models").is_dir() and (folder / "data").is_dir():
            return folder
    raise FileNotFoundError("run this notebook from inside the qslm-neuro repository")


ROOT = repository_root()
# Results in this notebook's text are computed from its run (prose.say); the numbers in the
# markdown are the settings it uses (prose.given), checked where the code sets them.
prose = Prose(OUT)
prose.given("25%", "95%", "150mW", "2ms", "1chip")
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
    from qslm_neuro.quantsearch.checkpoint import selection_and_report_tasks

    loaded = load_checkpoint(MODEL_DIR)
    model, tokenizer = loaded.model, loaded.tokenizer
    # selection: the 1,000 training sentences the classifier was trained without; report: dev
    task, report_task = selection_and_report_tasks(loaded, "sst2", DATA_DIR)
else:
    from qslm_neuro.training.trainer import TrainConfig, train_sst2

    data_dir = write_synthetic_sst2(OUT / "synthetic-sst2", n_train=2000, n_dev=300)
    print("\n".join((data_dir / "sst2" / "train.tsv").read_text().splitlines()[:4]))
    config = TrainConfig(task="sst2", model="tiny", vocab_size=320, epochs=3, batch_size=32,
                         max_steps=90, warmup_steps=10, lr=1e-2, heldout=200, dropout=0.0,
                         seed=0)
    trained = train_sst2(config, str(data_dir))
    model, tokenizer = trained.model, trained.tokenizer
    # selection: the 200 training sentences training kept out (heldout=200); report: dev
    task = SST2Task(tokenizer, str(data_dir), split="heldout", heldout=config.heldout,
                    heldout_seed=config.heldout_seed)
    report_task = SST2Task(tokenizer, str(data_dir), split="dev")
for role, t in (("selection", task), ("reporting", report_task)):
    print(f"{role} split {t.name}: {len(t)} examples; fp32 accuracy "
          f"{t.evaluate(model)['value']:.3f}")

# %% [markdown]
# ## 2. The hierarchy: global ▸ blocks ▸ modules
#
# The search discovers the levels from the model itself. Blocks are the model's top-level
# children (the items of a `ModuleList` count one by one); modules are the layers that own a
# weight matrix. LayerNorm gains and decay vectors are one-dimensional and stay at fp32.

# %%
hierarchy = Hierarchy.from_module(model)
print(hierarchy.tree().splitlines()[0])
display(pd.DataFrame([{"block": b.path, "quantizable modules": len(b.modules),
                       "parameters": b.param_count, "stored (KiB)": round(b.stored_bytes / 1024, 1)}
                      for b in hierarchy.blocks]).set_index("block"))

# %% [markdown]
# **Questions**
#
# 1. Why are LayerNorm gains never quantized?
#
#    <details><summary>answer</summary>They are vectors (one value per channel), a tiny part of
#    the footprint, and every value scales a whole channel: quantizing them saves almost nothing
#    and can hurt a lot.</details>
#
# 2. The search has fewer block units than the model has blocks. Why?
#
#    <details><summary>answer</summary>Blocks without a quantizable module (e.g. a LayerNorm on
#    its own) have nothing to search; they are shown but not searched.</details>

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
# the calibration subset of the selection split: all 200 held-out sentences in the small
# setting, 128 on real SST-2 (the search's default); one sentence = 1/CALIBRATION of accuracy
CALIBRATION = 200 if not REAL else 128
STORE = OUT / "evaluations.sqlite"
result = search(model, task, constraints=Constraints(accuracy="2pt", memory="25%"),
                objective=TradeOff(alpha=1.0), space=SearchSpace(ladder=LADDER),
                calibration=Calibration(size=CALIBRATION),
                store=StoreOptions(store=STORE, out=OUT / "search"),
                module_sensitivity="all", execution=Execution(progress=False))
print(result.summary())

# %% [markdown]
# ### Selection split vs reporting split
#
# Every number above was measured on the selection split. The plan is then evaluated once on
# the reporting split (dev), which the search never saw, together with fp32 on the *same*
# sentences: the difference is paired (each sentence is scored by both), so its 95% interval
# (bootstrap over sentences) is much narrower than two separate intervals would be. McNemar's
# test counts the sentences the plan fixed and those it broke.

# %%
report_entry = evaluate_on_split(model, report_task, result, "2pt")
report_entry["protocol"] = "selected on a split the reported number never uses"
print("\n".join(describe_report_split(report_entry)))
rows = []
for role in ("baseline", "chosen", "nearest"):
    if role in report_entry:
        picked = result.baseline if role == "baseline" else (
            result.chosen if role == "chosen" else result.nearest[0])
        rows.append({"plan": "fp32" if role == "baseline" else f"#{picked.order} ({role})",
                     f"accuracy on {task.name} (selection)": round(picked.metric, 3),
                     f"accuracy on {report_task.name} (report)":
                         round(report_entry[role]["value"], 3)})
display(pd.DataFrame(rows).set_index("plan"))

# %% [markdown]
# **Questions**
#
# 1. The chosen plan meets constA on the selection split. Must it meet it on dev?
#
#    <details><summary>answer</summary>No: the search picked it *because* it scored well on the
#    selection split, so its selection accuracy is optimistic. The dev number is the honest
#    one, and the interval says how far it could move with other sentences.</details>
#
# 2. The paired interval contains 0. What does that say?
#
#    <details><summary>answer</summary>That on this many sentences the plan cannot be told apart
#    from fp32: the quantized model may be as accurate as fp32, or somewhat worse or better,
#    within the interval.</details>

# %% [markdown]
# ### Sensitivity: which parts can take fewer bits?
#
# Before searching, every unit (each block, each module) is quantized **alone** at each
# precision of the ladder and evaluated on a small calibration set (`drop`: how much accuracy it
# loses against fp32 on that set). A proxy that needs no labels is measured too: the KL
# divergence between the fp32 and the quantized model's outputs on a fixed batch. Red means
# "hurts"; blue means the calibration accuracy went *up*.
#
# **How small a drop is real?** With n calibration sentences, accuracy moves in steps of 1/n: a
# drop of 1/n is one sentence flipped. We draw drops of at most two sentences white: they cannot
# be told apart from noise. Everything coloured is at least three sentences.

# %%
calibration_n = min(CALIBRATION, len(task))
one_sentence = 1.0 / calibration_n
print(f"calibration: {calibration_n} sentences; one sentence = {100 * one_sentence:.2f} points")
show(plot_sensitivity_heatmap(result.sensitivity, level="module", noise=2.01 * one_sentence,
                              title=f"Accuracy drop per module quantized alone "
                                    f"({calibration_n} calibration sentences)"),
     "sensitivity_heatmap")

# %% [markdown]
# **What to see:** which rows turn red at which precision; the red cells are the modules the
# search will have to keep wider.

# %%
module_rows = [r for r in result.sensitivity.rows if r.level == "module"]
lowest = LADDER.split(",")[-1]
for precision in LADDER.split(",")[1:]:
    at = [r for r in module_rows if r.precision == precision]
    quiet = sum(1 for r in at if r.drop is not None and abs(r.drop) <= 2.01 * one_sentence)
    hurt = sorted((r for r in at if r.drop is not None and r.drop > 2.01 * one_sentence),
                  key=lambda r: -r.drop)
    prose.say("At {p}: {quiet} of {n} modules change accuracy by at most two sentences (white); "
              "{worst}", p=precision, quiet=quiet, n=len(at),
              worst=("the most sensitive is `" + hurt[0].unit + f"` ({100 * hurt[0].drop:.1f} "
                     "points)." if hurt else "none hurts by more."))

# %%
show(plot_sensitivity_heatmap(result.sensitivity, level="block", value="kl",
                              title="KL proxy per block quantized alone (no labels needed)"),
     "sensitivity_kl_blocks")
rho = result.sensitivity.correlations()["pooled"]
if rho.get("rho") is None:
    print(f"Spearman rho of the KL proxy against the measured drop: undefined (n = {rho['n']})")
else:
    verdict = ("tracks the drop well" if rho["rho"] >= 0.7 else
               "tracks the drop loosely" if rho["rho"] >= 0.4 else
               "barely tracks the drop: do not rank units by it on this task")
    print(f"Spearman rho of the KL proxy against the measured drop = {rho['rho']:.2f} "
          f"(n = {rho['n']} unit x precision pairs): the proxy {verdict}")

# %% [markdown]
# **What to see:** the KL proxy grows steadily as the precision drops, in every block. Spearman's
# rho compares the *ranking* of the unit x precision pairs by KL with their ranking by measured
# drop: 1 would mean the same order, 0 no relation. A proxy that ranks units like the drop
# would let the search skip evaluations; one with rho near 0 only says "fewer bits change the
# outputs more", which we knew.
#
# **Questions**
#
# 1. Why can a drop be negative (blue)?
#
#    <details><summary>answer</summary>Quantizing adds noise to the weights; on a small set a
#    few sentences may flip the right way by chance. A negative drop of one or two sentences
#    is noise, not an improvement.</details>
#
# 2. Why measure the KL proxy at all, if it ranks units poorly here?
#
#    <details><summary>answer</summary>It needs no labels and one batch, so it is cheap; on
#    tasks where it tracks the drop (check rho) it can stand in for calibration runs.
#    </details>

# %% [markdown]
# ### The tiers, step by step
#
# The search log (`result.trials`) records every decision. The **global** tier walks down the
# ladder with one precision everywhere. The **block** and **module** tiers then lower one unit at
# a time by one ladder step, least harmful per byte saved first. Before each full evaluation an
# additive model predicts the accuracy from the sensitivity table; a step predicted to miss
# constA by more than 1% of the baseline (the default `skip_margin`) is `skipped` without
# evaluating it. A step that breaks
# constA freezes its unit.

# %%
trials = pd.DataFrame(result.trials)
steps = trials[trials.get("action").isin(["evaluated", "skipped"])] if "action" in trials else trials
steps = pd.DataFrame({
    "tier": steps["tier"], "unit": steps["unit"].replace("*", "all"),
    "step": steps["from"] + " -> " + steps["to"],
    "predicted accuracy": steps["predicted"].round(3),
    "action": steps["action"],
    "measured accuracy": steps["metric"].round(3),
    "kept": steps["accepted"].map({True: "yes", False: "no"}).fillna("")})
with pd.option_context("display.max_rows", 80):
    display(steps.reset_index(drop=True).fillna(""))
print(trials.groupby(["tier", "action"]).size().rename("trials").to_string())
from qslm_neuro.quantsearch.strategies.tiered import DEFAULT_SKIP_MARGIN  # noqa: E402

prose.check("1%", 100 * DEFAULT_SKIP_MARGIN, "the tiered search's skip margin")

# %% [markdown]
# **Questions**
#
# 1. A step was predicted to keep constA but broke it when measured. Why can that happen?
#
#    <details><summary>answer</summary>The prediction adds up the damage each unit did *alone*
#    on the calibration set; units quantized together can interact, and the full evaluation
#    uses the whole selection split.</details>
#
# 2. What does the module tier do after a block step fails?
#
#    <details><summary>answer</summary>It tries the block's modules one by one: perhaps only one
#    matrix inside the block is sensitive, and the others can still go lower.</details>

# %% [markdown]
# ### The candidates and the Pareto front
#
# Every fully evaluated plan is a candidate, with its accuracy, exact footprint (weights at their
# bit width plus one fp32 scale per output channel, plus everything left at fp32) and, because
# our model can describe its synapses, a hardware estimate from its **own measured spike
# activity** on Loihi 2. The Pareto front joins the candidates that no other candidate beats on
# both accuracy and memory.

# %%
def plan_label(candidate) -> str:
    """The whole plan in words: each precision with the blocks that got it entirely
    (a block whose modules differ is listed module by module)."""
    groups: dict[str, list[str]] = {}
    for block in (b for b in hierarchy.blocks if b.is_search_unit):
        names = {candidate.plan.precision_of(m).name for m in block.modules}
        if len(names) == 1:
            groups.setdefault(names.pop(), []).append(block.path)
        else:
            for m in block.modules:
                groups.setdefault(candidate.plan.precision_of(m).name, []).append(m)
    return "; ".join(f"{p}: {', '.join(units)}" for p, units in groups.items())


display(pd.DataFrame([{"#": c.order, "tier": c.tier, "plan": plan_label(c),
                       "accuracy (selection)": round(c.metric, 3),
                       "footprint (KB)": round(c.total_bytes / 1e3, 1),
                       "bits per weight": round(c.mean_weight_bits, 2),
                       "meets constA and constM": "yes" if c.feasible else "no"}
                      for c in result.candidates]).set_index("#"))
show(plot_pareto(result), "pareto")

# %% [markdown]
# **What to see:** the candidates to the left of the dotted constM line and above the dashed
# constA line meet both; the star is the one the trade-off score picked, on the Pareto front.

# %% [markdown]
# ### The chosen plan
#
# Which precision each module got (blocks as rows, the module's role inside its block as
# columns):

# %%
chosen = result.chosen if result.found else result.nearest[0]
print("chosen" if result.found else "no candidate met both constraints; nearest:",
      f"#{chosen.order}: {plan_label(chosen)}")
show(plot_precision_map(chosen.plan, hierarchy,
                        title=f"candidate #{chosen.order}: {chosen.memory_saving:.0%} smaller "
                              "than fp32"),
     "precision_map")
print(hierarchy.tree(chosen.plan).splitlines()[0])

# %% [markdown]
# **What to see:** one colour per precision; the cells that stay wider are modules the search
# could not lower without breaking constA. Compare them with the red rows of the sensitivity
# map:

# %%
widest_bits = max(chosen.plan.precision_of(m.path).bits for m in hierarchy.modules)
kept = [m.path for m in hierarchy.modules if chosen.plan.precision_of(m.path).bits == widest_bits]
prose.say("The widest precision in the plan, {bits} bits, is kept by {n} of {total} modules: "
          "{names}.", bits=widest_bits, n=len(kept), total=len(hierarchy.modules),
          names=", ".join(f"`{k}`" for k in kept[:6]) + (" ..." if len(kept) > 6 else ""))

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
display(pd.DataFrame({name: {"energy per token (uJ)": round(r.energy_per_token_j * 1e6, 3),
                             "cores": r.cores,
                             "synaptic memory (KiB)": round(r.synaptic_memory_bytes / 1024, 1)}
                      for name, r in reports.items()}).T)

# %% [markdown]
# **What to see:** how much the plan shrinks the synaptic memory against how much it shrinks
# the energy per token, chip by chip, and which part of each bar moves:

# %%
for hw in ("loihi2", "embedded-soc"):
    before, after = reports[f"fp32 on {hw}"], reports[f"#{chosen.order} on {hw}"]
    moved = max(before.parts, key=lambda p: abs(before.parts[p] - after.parts.get(p, 0.0)))
    largest = max(after.parts, key=after.parts.get)
    prose.say("On {hw}: synaptic memory {m1:,.0f} -> {m2:,.0f} KiB (x{mr:.2f}), energy per token "
              "{e1:.3g} -> {e2:.3g} uJ ({ec:+.0%}), cores {c1} -> {c2}. The part that moved most "
              "is `{moved}`; the largest part after quantization is `{largest}` "
              "({share:.0%} of the bar).", hw=hw,
              m1=before.synaptic_memory_bytes / 1024, m2=after.synaptic_memory_bytes / 1024,
              mr=after.synaptic_memory_bytes / max(before.synaptic_memory_bytes, 1),
              e1=before.energy_per_token_j * 1e6, e2=after.energy_per_token_j * 1e6,
              ec=after.energy_per_token_j / before.energy_per_token_j - 1,
              c1=before.cores, c2=after.cores, moved=moved, largest=largest,
              share=after.parts[largest] / after.energy_per_token_j)

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
sizes = sorted({c.total_bytes for c in result.candidates if c.meets_accuracy and c.order > 1})
caps = [result.mem.budget_bytes]
if sizes:
    caps += [sizes[len(sizes) // 2], sizes[0], int(0.95 * sizes[0])]
rows = []
for cap in dict.fromkeys(int(c) for c in caps):
    for alpha in ALPHAS:
        run = search(model, task, constraints=Constraints(accuracy="2pt", memory=cap),
                     objective=TradeOff(alpha=alpha), space=SearchSpace(ladder=LADDER),
                     calibration=Calibration(size=CALIBRATION), store=STORE,
                     execution=Execution(progress=False))
        pick = run.chosen
        rows.append({"memory cap (kB)": cap / 1e3, "alpha": alpha,
                     "candidates": len(run.candidates),
                     "newly evaluated": run.counts["computed"]["full"],
                     "chosen": f"#{pick.order} {plan_label(pick)}" if pick
                     else "none meets both",
                     "accuracy (selection)": f"{pick.metric:.3f}" if pick else "-",
                     "footprint (kB)": f"{pick.total_bytes / 1e3:.1f}" if pick else "-"})
choices = pd.DataFrame(rows)
with pd.option_context("display.max_colwidth", 60):
    display(choices.round({"memory cap (kB)": 1}))

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
# **Questions**
#
# 1. Why does alpha = 0 not always pick fp32?
#
#    <details><summary>answer</summary>alpha weighs the memory saving; with alpha = 0 the score
#    is performance only, and only candidates that meet constM count. fp32 never meets a 25%
#    cap.</details>
#
# 2. What should a tool do when no candidate meets both constraints?
#
#    <details><summary>answer</summary>Say so and show the nearest candidates, as here, instead
#    of returning a plan that silently breaks a constraint (the CLI exits with code 3).
#    </details>
#
# ## 5. One plan per chip, under the chip's own bounds
#
# A plan good for one chip need not be good for another: what a chip charges for depends on
# its synapses, cores and static power. `chips="loihi2,embedded-soc"` runs one search per chip over
# the same evaluation store (no plan is evaluated twice; each chip costs each candidate's own
# measured activity) and returns one result per chip. Bounds in the chip's own terms join
# constA and constM: here the energy per token must be at most 95% of fp32's **on that chip**
# (`Constraints(energy="95%")`; `"1chip"` in `memory`, `"150mW"`, `"2ms/token"` work the same way).

# %%
per_chip = search(model, task,
                  constraints=Constraints(accuracy="2pt", memory="25%", energy="95%"),
                  objective=TradeOff(alpha=1.0), space=SearchSpace(ladder=LADDER),
                  calibration=Calibration(size=CALIBRATION), store=STORE,
                  chips="loihi2,embedded-soc", execution=Execution(progress=False))
chip_rows = []
for chip_name, chip_result in per_chip.items():
    pick = chip_result.chosen or (chip_result.nearest[0] if chip_result.nearest else None)
    fp32_uj = chip_result.baseline.energy_per_token_j * 1e6
    chip_rows.append({
        "chip": chip_name, "found a plan": "yes" if chip_result.found else "no (nearest shown)",
        "plan": "-" if pick is None else f"#{pick.order} {plan_label(pick)}",
        "accuracy (selection)": None if pick is None else round(pick.metric, 3),
        "fp32 energy (uJ/token)": round(fp32_uj, 3),
        "plan energy (uJ/token)": None if pick is None else round(pick.energy_per_token_j * 1e6, 3),
        "energy vs fp32 (%)": None if pick is None else round(
            100 * pick.energy_per_token_j * 1e6 / fp32_uj, 1),
        "newly evaluated": chip_result.counts["computed"]["full"]})
with pd.option_context("display.max_colwidth", 70):
    display(pd.DataFrame(chip_rows).set_index("chip"))

# %% [markdown]
# **What to see:** the same candidates, judged per chip: a chip whose energy depends little on
# the weights may not meet the bound, and the search then says so and names the nearest
# candidates. "newly evaluated" is small: the store already held the plans.

# %%
picks = {name: (r.chosen.order if r.chosen else None) for name, r in per_chip.items()}
same = len(set(picks.values())) == 1
prose.say("Here: {found}. {same}", found="; ".join(
    f"{name} {'found plan #' + str(order) if order is not None else 'found no plan'}"
    for name, order in picks.items()),
    same=("Both chips picked the same plan: its energy saving is the best on each of them, "
          "so one plan serves both here." if same else
          "The chips picked different plans: what each charges for differs."))
prose.write()

# %% [markdown]
# **Questions**
#
# 1. Why is one plan per chip better than one plan for all chips?
#
#    <details><summary>answer</summary>Each chip charges for different things (synapses, cores,
#    static power, CPU cycles); a plan that meets one chip's bounds may waste accuracy or break
#    bounds on another.</details>
#
# 2. Why is the energy bound given as a share of fp32 *on that chip*?
#
#    <details><summary>answer</summary>Absolute energies differ by orders of magnitude between
#    chips (notebook 1); a share asks the same question of each: how much does quantizing save
#    here?</details>
#
# ## Things to try
# * `strategy="exhaustive"`, `"random"`, `"ilp"` or `"nsga2"` on the same task: how many
#   evaluations does each need to find a comparable plan?
# * `keep=["head"]` keeps the classifier head at fp32.
# * `beta=1.0` adds the measured energy saving on Loihi 2 to the score.
#
# **Caveats.** Sensitivities come from a small calibration set and are noisy; the additive
# damage model ignores interactions between units; in the small setting the task is synthetic.
