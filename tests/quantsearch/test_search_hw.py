"""Hardware in the loop: bounds in the chip's terms, ranking by the binding resource, one plan
per chip over one store (tiny spiking RWKV, synthetic data; no real data needed)."""
from __future__ import annotations

import csv
import json
import random

import pytest
import torch

from qslm_neuro.cli.main import main
from qslm_neuro.errors import BadInputError
from qslm_neuro.hw import estimate
from qslm_neuro.models import build_model
from qslm_neuro.models.checkpoint import save_checkpoint
from qslm_neuro.quantsearch import (Calibration, Execution, SearchSpace, StoreOptions, TradeOff,
                                    search)
from qslm_neuro.quantsearch.hardware.budgets import Constraints
from qslm_neuro.quantsearch.per_chip import PerChipResults
from qslm_neuro.tasks import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer

POSITIVE = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it"]
NEGATIVE = ["a dull mess", "boring and far too long", "the worst script", "hated every minute"]
FAST = dict(space=SearchSpace(ladder="fp32,int8,int4,int2"), calibration=Calibration(size=8),
            execution=Execution(progress=False))


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(1)
    return build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size).eval()


@pytest.fixture(scope="module")
def task(tokenizer):
    examples = [(" , ".join(random.Random(i).sample(POSITIVE + NEGATIVE, 2)), i % 2)
                for i in range(16)]
    return SST2Task.from_examples(tokenizer, examples, name="synthetic")


# ---------------------------------------------------------------------------------- parsing
def test_bounds_parse_with_units_and_combine_with_a_byte_budget():
    _, mem, hw = Constraints(memory="15%,1chip", energy="10uJ/token", power="150mW",
                             latency="2ms/token", tokens_per_s=1000).parsed()
    assert (mem.kind, mem.amount) == ("percent", 15.0)
    got = {b.kind: b.amount for b in hw.budgets}
    assert got == pytest.approx({"chips": 1, "energy": 10e-6, "power": 0.15,
                                 "latency": 2e-3})
    assert hw.tokens_per_s == 1000
    _, _, hw = Constraints(memory="syn:512KiB,64cores", energy="60%").parsed()
    syn = next(b for b in hw.budgets if b.kind == "synaptic_memory")
    assert syn.amount == 512 * 1024 and {b.kind for b in hw.budgets} >= {"cores", "energy"}
    assert next(b for b in hw.budgets if b.kind == "energy").percent


@pytest.mark.parametrize("kwargs, shown", [
    (dict(energy="10 furlongs"), "'10 furlongs'"),
    (dict(energy="-3uJ"), "'-3uJ'"),
    (dict(power="150"), "'150'"),
    (dict(latency="2 parsecs"), "'2 parsecs'"),
    (dict(memory="0chips"), "'0chips'"),
    (dict(memory="1.5chips"), "'1.5chips'"),
    (dict(memory="syn:lots"), "'syn:lots'"),
    (dict(memory="15%,1MB"), "'15%,1MB'"),
    (dict(energy="120%"), "'120%'"),
    (dict(tokens_per_s=-5), "tokens_per_s=-5"),
])
def test_bad_bounds_name_the_value_and_the_fix(kwargs, shown):
    with pytest.raises(BadInputError) as info:
        Constraints(**kwargs).parsed()
    assert shown in str(info.value) and ("e.g." in str(info.value) or "use" in str(info.value))


def test_hardware_bounds_without_a_chip_are_bad_input(model, task):
    with pytest.raises(BadInputError, match="need a chip"):
        search(model, task, constraints=Constraints(energy="1uJ"), chips=None, **FAST)


# ---------------------------------------------------------------------------------- ranking
def test_energy_budget_ranks_by_energy_and_beats_the_byte_plan_on_the_soc(model, task):
    """On the embedded SoC energy rises below int8: bytes-first lowering goes past it."""
    by_bytes = search(model, task, constraints=Constraints(accuracy=">=0"), chips="embedded-soc",
                      tiers="block,module", **FAST)
    assert {t["resource"] for t in by_bytes.trials if "resource" in t} == {"bytes"}
    aware = search(model, task, constraints=Constraints(accuracy=">=0", energy="97%"),
                   chips="embedded-soc", tiers="block,module", **FAST)
    ranked = [t for t in aware.trials if t.get("action") == "evaluated" and "resource" in t]
    assert ranked and {t["resource"] for t in ranked} == {"energy"}
    assert all(t["saved"] > 0 for t in ranked)
    chosen = aware.chosen
    assert chosen is not None and chosen.meets_hw
    assert chosen.hw["energy_per_token_j"] <= 0.97 * aware.baseline.hw["energy_per_token_j"]
    assert chosen.hw["energy_per_token_j"] < by_bytes.chosen.hw["energy_per_token_j"]
    assert "holds" in aware.summary() and "energy per token <=" in aware.summary()


def test_predicted_synaptic_memory_saved_is_what_the_step_saved(model, task):
    result = search(model, task, constraints=Constraints(accuracy=">=0", memory="syn:30%"),
                    chips="loihi2", tiers="block", **FAST)
    by_order = {c.order: c for c in result.candidates}
    steps = [t for t in result.trials if t.get("action") == "evaluated"]
    assert steps and all(t["resource"] == "synaptic_memory" for t in steps)
    for t in steps:
        anchor, step = by_order[t["anchor"]], by_order[t["candidate"]]
        actual = anchor.hw["synaptic_memory_bytes"] - step.hw["synaptic_memory_bytes"]
        assert t["saved"] == pytest.approx(actual)
    assert result.chosen.hw["synaptic_memory_bytes"] <= 0.3 * \
        result.baseline.hw["synaptic_memory_bytes"]


def test_with_alpha_0_the_tiers_lower_only_until_the_plan_fits(model, task):
    result = search(model, task, constraints=Constraints(accuracy=">=0", memory="syn:30%"),
                    objective=TradeOff(alpha=0.0), chips="loihi2", tiers="block,module", **FAST)
    evaluated = [c for c in result.candidates if c.tier != "baseline"]
    assert evaluated[-1].meets_hw and not any(c.meets_hw for c in evaluated[:-1])
    assert any(t.get("action") == "stop" for t in result.trials)
    assert result.chosen.plan.key == evaluated[-1].plan.key


def test_power_is_checked_at_the_requested_rate(model, task):
    result = search(model, task, chips="loihi2",
                    constraints=Constraints(accuracy=">=0", power="1W", tokens_per_s=500),
                    tiers="global", **FAST)
    low = result.candidates[-1]
    again = estimate(low.to_workload(), "loihi2", tokens_per_s=500)
    assert low.hw["power_w"] == pytest.approx(again.power_w)
    assert low.hw["tokens_per_s"] == pytest.approx(500)
    too_fast = search(model, task, chips="loihi2",
                      constraints=Constraints(accuracy=">=0", power="1W", tokens_per_s=1e12),
                      tiers="global", **FAST)
    assert not too_fast.found
    assert any("cannot sustain" in m["text"] for c in too_fast.candidates for m in c.misses)


# ---------------------------------------------------------------------------------- per chip
def test_one_plan_per_chip_over_one_store(model, task, tmp_path):
    result = search(model, task, constraints=Constraints(accuracy=">=0", energy="97%"),
                    chips="loihi2,embedded-soc", tiers="global,block",
                    store=StoreOptions(out=tmp_path / "run"), **FAST)
    assert isinstance(result, PerChipResults) and list(result) == ["loihi2", "embedded-soc"]
    for chip, one in result.items():
        assert all(c.hw["hardware"] == chip for c in one.candidates)
        assert (tmp_path / "run" / chip / "report.json").is_file()
    # no plan evaluated twice: computed full evaluations = distinct plans over both chips
    plans = {c.plan.key for one in result.values() for c in one.candidates}
    computed = sum(one.counts["computed"]["full"] for one in result.values())
    assert computed == len(plans)
    second = result["embedded-soc"].counts
    assert second["reused_from_store"]["calibration"] > 0  # sensitivities of the first chip
    rows = list(csv.DictReader((tmp_path / "run" / "per_chip.csv").open()))
    assert [r["chip"] for r in rows] == ["loihi2", "embedded-soc"]
    assert all(float(r["energy_per_token_j"]) > 0 and r["precisions"] for r in rows)


def test_cli_reports_the_bound_the_estimate_and_exit_3_naming_the_misses(tokenizer, tmp_path,
                                                                       capsys):
    torch.manual_seed(0)
    clf = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size, ctx_len=16)
    ckpt = save_checkpoint(tmp_path / "model", clf.eval(), tokenizer)
    data = tmp_path / "data" / "sst2"
    data.mkdir(parents=True)
    rows = [(" , ".join(random.Random(i).sample(POSITIVE + NEGATIVE, 2)), i % 2)
            for i in range(40)]
    for split in ("train", "dev"):
        (data / f"{split}.tsv").write_text(
            "sentence\tlabel\n" + "".join(f"{s}\t{l}\n" for s, l in rows))
    base = ["search", "--model", str(ckpt), "--task", "sst2", "--data-dir", str(data.parent),
            "--ladder", "fp32,int8,int2", "--calib-size", "8", "--no-progress",
            "--tiers", "global", "--const-acc", ">=0", "--select-split", "dev"]
    assert main(base + ["--out", str(tmp_path / "a"), "--const-mem", "1chip",
                        "--hw", "loihi2"]) == 0
    printed = capsys.readouterr().out
    assert "1chip" in printed and "holds" in printed and "chip(s) on loihi2" in printed
    report = report_a = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["constraints"]["hardware"]["bounds"][0]["kind"] == "chips"
    assert all(check["holds"] for check in report["chosen_checks"])

    assert main(base + ["--out", str(tmp_path / "b"), "--const-mem", "2cores",
                        "--const-energy", "1pJ/token", "--hw", "loihi2"]) == 3
    err = capsys.readouterr().err
    assert "nearest" in err and "cores" in err and "energy per token" in err and "(+" in err
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["nearest_misses"] and all(n["misses"] for n in report["nearest_misses"])

    assert main(base + ["--out", str(tmp_path / "c"), "--const-energy", "abc",
                        "--hw", "loihi2"]) == 2
    assert "'abc'" in capsys.readouterr().err

    # old spellings: --const-perf (a note on stderr) and search_checkpoint's flat keywords (a
    # DeprecationWarning) give the same search; --hw may be repeated as well as comma-joined
    old = [a if a != "--const-acc" else "--const-perf" for a in base]
    assert main(old + ["--out", str(tmp_path / "d"), "--const-mem", "1chip", "--hw", "loihi2",
                       "--hw", "embedded-soc"]) == 0
    assert "--const-perf is deprecated; use --const-acc" in capsys.readouterr().err
    per_chip = list(csv.DictReader((tmp_path / "d" / "per_chip.csv").open()))
    assert [r["chip"] for r in per_chip] == ["loihi2", "embedded-soc"]
    assert per_chip[0]["plan_key"] == report_a["chosen"]["plan_key"]
    from qslm_neuro.quantsearch.checkpoint import search_checkpoint

    with pytest.warns(DeprecationWarning, match="const_perf"):
        again = search_checkpoint(str(ckpt), "sst2", out=tmp_path / "e", const_perf=">=0",
                                  const_mem="1chip", alpha=1.0, data_dir=str(data.parent),
                                  select_split="dev", ladder="fp32,int8,int2",
                                  calibration_size=8, progress=False, tiers=("global",))
    assert again.chosen.plan.key == report_a["chosen"]["plan_key"]
    assert again.extra["report_split"]["accuracy_constraint"]["holds"]

