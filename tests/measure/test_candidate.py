"""One place turns a candidate into a Workload (qslm_neuro.measure.candidate), and one function
says what share of a layer's weights quantizes to zero (qslm_neuro.quant.zero_fractions)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import qslm_neuro
from qslm_neuro.errors import BadInputError
from qslm_neuro.measure import build_workload, record_activity
from qslm_neuro.measure.candidate import workload_of
from qslm_neuro.measure.from_config import shipped_profile_for, workload_from_config
from qslm_neuro.measure.time_stepped import workload_from_module
from qslm_neuro.models import build_model, get_config
from qslm_neuro.quant import QuantPlan, zero_fraction, zero_fractions
from qslm_neuro.workload import Workload
from qslm_neuro.workload.profile import ActivityProfile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model("tiny", head="classify", seed=0).eval()
    batches = [(torch.randint(0, model.config.vocab_size, (2, 12)), torch.full((2,), 12))]
    return model, record_activity(model, batches, progress=False)


def _numbers(workload: Workload) -> list[tuple]:
    return [(l.name, l.weight_bits, l.weight_format, l.scale_count, l.zero_fraction,
             l.activity.input_events_per_step) for l in workload.layers]


def test_files_names_and_workloads_are_read_as_they_are(tmp_path, monkeypatch):
    shipped = Workload.load(ROOT / "data" / "workload-slm-small-sst2.json")
    monkeypatch.chdir(tmp_path)  # a shipped name works from any folder
    assert workload_of("slm-small-sst2") == shipped
    assert workload_of(shipped) is shipped
    shipped.save(tmp_path / "w.json")
    assert workload_of(tmp_path / "w.json") == shipped
    with pytest.raises(BadInputError, match="no shipped workload 'no-such-model'.*slm-small-sst2"):
        workload_of("no-such-model")


def test_recorded_activity_and_its_dict_give_build_workloads_figures(tiny):
    model, profile = tiny
    plan = QuantPlan.uniform(model, "int4")
    direct = build_workload(model, plan, profile)
    assert workload_of((model, plan), activity=profile) == direct
    assert workload_of((model, plan), activity=profile.to_dict()) == direct  # as a search stores it


def test_a_model_without_checkpoint_borrows_its_heads_shipped_profile(tiny):
    model, _ = tiny
    plan = QuantPlan.uniform(model, "int8")
    workload = workload_of((model, plan))
    assert workload.activity_source == "profile:activity-slm-small-sst2.json"
    assert "tokenizer is unknown" in workload.meta["activity_note"]
    assert {l.weight_bits for l in workload.layers} == {8}


def test_a_config_borrows_rates_like_workload_from_config():
    config = get_config("tiny", head="lm")
    profile = ActivityProfile.load(shipped_profile_for("lm"))
    expected = workload_from_config(config, profile)
    assert _numbers(workload_of(config)) == _numbers(expected)
    assert _numbers(workload_of(config, activity=profile)) == _numbers(expected)


def test_estimate_and_the_cli_read_a_candidate_the_same_way(tmp_path, capsys):
    from qslm_neuro.cli.main import main

    report = qslm_neuro.estimate("slm-small-sst2", hw="loihi2")
    assert main(["estimate", "--workload", "slm-small-sst2", "--hw", "loihi2",
                 "--out", str(tmp_path / "r.json")]) == 0
    import json

    saved = json.loads((tmp_path / "r.json").read_text())["file"]
    assert saved["energy_per_token_j"] == pytest.approx(report.energy_per_token_j, rel=1e-12)


class _Tied(nn.Module):
    """Two linear layers that share one weight tensor, fed spikes (a plain snnTorch-like net)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 16, bias=False)
        self.fc2 = nn.Linear(16, 16, bias=False)
        self.fc2.weight = self.fc1.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.fc2((self.fc1(x) > 0).float()) > 0).float()


@pytest.mark.parametrize("precision", ["int2", "int3-tensor", "int4"])
def test_tied_weights_have_one_zero_share_wherever_it_is_asked(precision):
    torch.manual_seed(1)
    model = _Tied()
    plan = QuantPlan({"fc1": precision, "fc2": precision})
    shares = zero_fractions(model, plan)
    assert shares["fc1"] == shares["fc2"] > 0
    # one module at that precision (the search's step prediction), either side of the tie
    assert zero_fraction(model, "fc2", precision) == zero_fraction(model, "fc1", precision) \
        == shares["fc1"]
    spikes = (torch.rand(6, 2, 16) < 0.3).float()
    workload = workload_from_module(model, plan, spikes)
    assert {l.name: l.zero_fraction for l in workload.layers} == shares
    # a step's predicted workload: the anchor's (its own activity) with the new precision's
    # bits and zero shares; only the activity differs from the lowered plan's measured one
    anchor = workload_from_module(model, QuantPlan(), spikes)
    stepped = anchor.with_precisions(plan.bits_by_module(model), zero_fractions=shares)
    assert [n[:5] for n in _numbers(stepped)] == [n[:5] for n in _numbers(workload)]


def test_a_step_workload_is_the_lowered_plans_workload_at_the_same_activity(tiny):
    model, profile = tiny
    anchor_plan = QuantPlan.uniform(model, "int8")
    unit = [s.layer for s in model.synapses()][1:3]
    lowered = anchor_plan.with_({path: "int3" for path in unit})
    anchor = build_workload(model, anchor_plan, profile)
    bits = lowered.bits_by_module(model)
    stepped = anchor.with_precisions(
        {p: bits[p] for p in unit},
        zero_fractions={p: zero_fraction(model, p, "int3") for p in unit})
    assert _numbers(stepped) == _numbers(build_workload(model, lowered, profile))
    with pytest.raises(BadInputError, match="unknown layers"):
        anchor.with_precisions({}, zero_fractions={"nope": 0.5})


def test_a_checkpoint_folder_is_loaded_and_costed_like_the_loaded_checkpoint():
    folder = ROOT / "data" / "slm-tiny-sst2"
    from qslm_neuro.models import load_model

    by_folder = workload_of(folder, activity="profile")
    by_model = workload_of(load_model(folder), activity="profile")
    assert _numbers(by_folder) == _numbers(by_model)
    assert by_folder.meta["activity_note"] == by_model.meta["activity_note"]
    with pytest.raises(BadInputError, match="activity='lava'"):
        workload_of(folder, activity="lava")  # measured above this package: costing.to_workload
    from qslm_neuro.candidate_costs import to_workload

    with pytest.raises(BadInputError, match="activity='lava' measures a model"):
        to_workload("slm-small-sst2", activity="lava")


@pytest.mark.parametrize("plan", ["int4", 3])
def test_a_plan_that_is_not_a_quantplan_is_refused_by_name(tiny, plan):
    model, _ = tiny
    with pytest.raises(BadInputError, match=f"plan={plan!r}.*expected a QuantPlan"):
        workload_of((model, plan), activity="profile")
