"""Activity recording and Workload building (model + plan + activity -> hardware description)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qslm_neuro.measure import record_activity
from qslm_neuro.workload.profile import ActivityProfile
from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.quant import QuantPlan, footprint
from qslm_neuro.workload import Workload
from qslm_neuro.measure import build_workload, nonsynaptic_ops, workload_from_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("tiny", head="classify").eval()


@pytest.fixture(scope="module")
def batches():
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(1, 512, (6, 12), generator=gen)
    return [(idx, torch.tensor([12, 9, 5, 12, 3, 7]))]


@pytest.fixture(scope="module")
def profile(model, batches):
    return record_activity(model, batches, model_name="tiny", progress=False)


def test_activity_counts_match_a_manual_count(model, batches, profile):
    idx, lengths = batches[0]
    captured = {}
    handle = model.blocks[0].att.key.register_forward_pre_hook(
        lambda m, a: captured.setdefault("x", a[0]))
    with torch.no_grad():
        model(idx, lengths)
    handle.remove()
    mask = torch.arange(12)[None, :] < lengths[:, None]
    spikes = captured["x"][mask]  # padding excluded
    layer = profile.layers["blocks.0.att.key"]
    assert profile.tokens == int(lengths.sum()) == spikes.shape[0]
    assert layer.input_events_per_step == pytest.approx(float(spikes.sum()) / profile.tokens)
    assert layer.input_events_std == pytest.approx(float(spikes.sum(-1).std()), rel=1e-6)
    assert layer.binary_share == 1.0 and layer.samples == profile.tokens
    assert 0 < layer.input_rate < 1


def test_classifier_head_runs_once_per_sequence_with_float_inputs(profile):
    head = profile.layers["head"]
    assert head.kind == "head"
    assert head.binary_share == 0.0
    assert head.calls_per_step == pytest.approx(profile.sequences / profile.tokens)


def test_populations_are_read_off_the_layers_they_drive(profile):
    pop = profile.populations["blocks.1.ffn.spike_h"]
    layer = profile.layers["blocks.1.ffn.value"]
    assert pop.size == layer.fan_in == 128
    assert pop.output_spikes_per_step == layer.input_events_per_step


def test_spike_driven_share_is_measured_not_assumed(batches):
    spiking = record_activity(build_model("tiny").eval(), batches, progress=False)
    mixed = record_activity(build_model("tiny", spiking_att_output=False).eval(), batches,
                            progress=False)
    assert spiking.spike_driven_share() == 1.0
    # att.output is 1 of 13 d^2 units per block (d=32, ffn=4d): 12/13 stay binary
    assert mixed.spike_driven_share() == pytest.approx(12 / 13)


def test_profile_json_round_trip(tmp_path, profile):
    path = profile.save(tmp_path / "p.json")
    again = ActivityProfile.load(path)
    assert again.layers == profile.layers
    assert again.populations == profile.populations
    with pytest.raises(BadInputError, match="does not exist"):
        ActivityProfile.load(tmp_path / "missing.json")


def test_workload_reflects_plan_and_footprint(model, profile):
    plan = QuantPlan.uniform(model, "int4").with_("head", "int8")
    workload = build_workload(model, plan, profile)
    assert isinstance(workload, Workload)
    key = workload.layer("blocks.0.att.key")
    assert (key.weight_bits, key.weight_format) == (4, "int")
    assert key.source == "blocks.0.att.spike_k"
    assert workload.layer("head").weight_bits == 8
    assert workload.layer("blocks.0.ffn.key").target == "blocks.0.ffn.spike_h"
    # the workload's bytes are the model's exact footprint (to < 1 byte per layer of rounding)
    assert workload.total_bytes == pytest.approx(footprint(model, plan).total_bytes, abs=len(
        workload.layers))
    assert workload.spike_driven_share() == 1.0
    fp32 = build_workload(model, None, profile)
    assert fp32.total_bytes > 5 * workload.total_bytes  # 4-bit weights + fp32 scales
    # int2 rounds many small weights to zero: a chip can skip them
    int2 = build_workload(model, QuantPlan.uniform(model, "int2"), profile)
    assert int2.layer("blocks.0.att.key").zero_fraction > 0.2


def test_nonsynaptic_ops_scale_with_config():
    tiny = sum(op.ops_per_step for op in nonsynaptic_ops(build_model("tiny").config))
    big = sum(op.ops_per_step for op in nonsynaptic_ops(
        build_model("spikegpt-216m", device="meta").config))
    assert big > 100 * tiny
    kinds = {op.kind for op in nonsynaptic_ops(build_model("tiny", head="classify").config)}
    assert kinds == {"layernorm", "token_shift", "wkv", "gate", "elementwise", "pooling"}


def test_large_config_borrows_rates_by_role(profile):
    workload = workload_from_config("spikegpt-216m", profile,
                                    plan=QuantPlan.uniform(build_model(
                                        "spikegpt-216m", device="meta"), "int8"))
    assert len([l for l in workload.layers if l.kind == "linear"]) == 18 * 7
    small_rate = profile.layers["blocks.1.ffn.value"].input_rate
    big = workload.layer("blocks.17.ffn.value")
    assert big.fan_in == 3072
    assert big.activity.input_events_per_step == pytest.approx(small_rate * 3072)
    assert big.weight_bits == 8
    assert workload.activity_source == "borrowed:tiny"


def test_build_workload_rejects_foreign_models_and_missing_activity(model):
    with pytest.raises(BadInputError, match="SpikingRWKV"):
        build_workload(nn.Linear(3, 4), None, None)
    with pytest.raises(BadInputError, match="activity profile or batches"):
        build_workload(model, None, None)
    with pytest.raises(BadInputError, match="lava_workload"):  # measure never imports Lava
        build_workload(model, None, "lava")


@pytest.mark.lava
def test_build_workload_with_lava_activity_uses_lava_counts():
    pytest.importorskip("lava", reason="lava-nc is not installed (make test installs it)")
    torch.manual_seed(3)
    model = build_model("tiny").eval()
    tokens = torch.randint(1, 512, (1, 8), generator=torch.Generator().manual_seed(4))
    plan = QuantPlan.uniform(model, "int4")
    from qslm_neuro.lava import lava_workload

    lava = lava_workload(model, plan, tokens_batch=tokens)
    torch_side = build_workload(model, plan, "snntorch", batches=[(tokens, None)])
    assert lava.activity_source == "lava"
    # int4 fits Loihi's 8-bit synapses, so Lava's spikes are snntorch's spikes
    for name in ("blocks.0.att.key", "blocks.1.ffn.value"):
        assert lava.layer(name).activity.input_events_per_step == pytest.approx(
            torch_side.layer(name).activity.input_events_per_step)
