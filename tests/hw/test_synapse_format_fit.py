"""The automatic synapse format takes the cheapest formats that still fit the chip (issue 26)."""
from __future__ import annotations

from pathlib import Path

import pytest

from qslm_neuro.hw import estimate, sweep
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload

ROOT = Path(__file__).resolve().parents[2]


def half_zero_workload() -> Workload:
    """Three layers with half their weights zero: sparse is cheaper per op but, with 13 index
    bits per 8-bit synapse, needs 1.3x the memory and so more cores."""
    sizes = ((512, 512, 0.5), (512, 512, 0.6), (512, 256, 0.5))
    layers, pops = [], []
    for i, (fan_in, fan_out, zeros) in enumerate(sizes):
        layers.append(SynapticLayer(
            f"fc{i}", fan_in, fan_out, weight_bits=8, zero_fraction=zeros,
            source="in" if i == 0 else f"pop{i - 1}", target=f"pop{i}",
            activity=Activity(input_events_per_step=fan_in * 0.2)))
        pops.append(NeuronPopulation(f"pop{i}", fan_out, output_spikes_per_step=fan_out * 0.2))
    return Workload("half-zero", tuple(layers), populations=tuple(pops))


# small cores so that memory decides the core count: 16 KiB of synapses per core
SMALL_CORES = {"syn_mem_per_core_bytes": 16384, "neurons_per_core": 4096, "cores_per_tile": 4,
               "max_chips": 1}


def chips_of(cores_per_chip: int, **extra) -> dict:
    return {**SMALL_CORES, "cores_per_chip": cores_per_chip, **extra}


@pytest.mark.parametrize("static_mw", [0.0, 0.05])
def test_auto_switches_layers_until_the_model_fits(static_mw):
    w = half_zero_workload()
    roomy = estimate(w, "loihi2", overrides=chips_of(1024, p_static_core_mw=static_mw))
    dense = estimate(w, "loihi2", overrides=chips_of(1024, p_static_core_mw=static_mw,
                                                      synapse_format="dense"))
    assert (roomy.layers["synapse_format"].iloc[:3] == "sparse").all()  # the cheaper per layer
    assert dense.cores < roomy.cores and dense.energy_per_token_j > roomy.energy_per_token_j
    # a chip whose cores hold all-dense but not all-sparse
    capacity = int(dense.cores) + 2
    assert capacity < roomy.cores
    fitted = estimate(w, "loihi2", overrides=chips_of(capacity, p_static_core_mw=static_mw))
    assert fitted.feasible and fitted.chips == 1 and fitted.cores <= capacity
    formats = list(fitted.layers["synapse_format"].iloc[:3])
    assert "dense" in formats and "sparse" in formats  # only as many switched as needed
    assert roomy.energy_per_token_j <= fitted.energy_per_token_j <= dense.energy_per_token_j
    assert any("switched to the format needing fewer cores" in f for f in fitted.flags)
    # the sweep (two passes, gathered points) gives the estimate's numbers at every capacity
    capacities = [int(dense.cores) - 1, capacity, int(roomy.cores) + 1]
    table = sweep(w, "loihi2", overrides={**SMALL_CORES, "p_static_core_mw": static_mw},
                  cores_per_chip=capacities)
    for cap, (_, row) in zip(capacities, table.iterrows()):
        one = estimate(w, "loihi2", overrides=chips_of(cap, p_static_core_mw=static_mw))
        assert row["cores"] == one.cores and bool(row["feasible"]) == one.feasible
        assert row["energy_per_token_j"] == pytest.approx(one.energy_per_token_j, rel=1e-12)


def test_forced_format_and_hopeless_chips_keep_the_choice():
    w = half_zero_workload()
    dense = estimate(w, "loihi2", overrides=chips_of(1024, synapse_format="dense"))
    capacity = int(dense.cores) + 2
    forced = estimate(w, "loihi2", overrides=chips_of(capacity, synapse_format="sparse"))
    assert not forced.feasible and (forced.layers["synapse_format"].iloc[:3] == "sparse").all()
    # nothing fits: the per-layer choice stands (no switch flag)
    tiny = estimate(w, "loihi2", overrides=chips_of(int(dense.cores) - 1))
    assert not tiny.feasible
    assert (tiny.layers["synapse_format"].iloc[:3] == "sparse").all()
    assert not any("switched" in f for f in tiny.flags)


@pytest.fixture(scope="module")
def wt2_int4() -> Workload:
    """Notebook 3's workload: the shipped WikiText-2 model under int4, shipped fp32 profile."""
    from qslm_neuro.measure import build_workload, shipped_profile_path
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.quant import QuantPlan
    from qslm_neuro.workload.profile import ActivityProfile

    model_dir = ROOT / "data" / "slm-small-wt2"
    loaded = load_checkpoint(model_dir)
    return build_workload(loaded.model, QuantPlan.uniform(loaded.model, "int4"),
                          ActivityProfile.load(shipped_profile_path(model_dir)), name="wt2-int4")


def test_issue_case_27_kib_per_core_fits_one_chip(wt2_int4):
    """Issue 26: auto stored 27 layers sparse -> 192 cores on 2 chips (infeasible) where all-dense
    fits one chip with 86 cores (16.8 uJ/token under the pre-calibration Loihi 2; the energy moves
    with the chip file, the fit does not)."""
    chip = {"syn_mem_per_core_bytes": 27648, "p_static_core_mw": 0.05}
    dense = estimate(wt2_int4, "loihi2", overrides={**chip, "synapse_format": "dense"})
    auto = estimate(wt2_int4, "loihi2", overrides=chip)
    assert dense.feasible and dense.chips == 1 and dense.cores == 86
    assert auto.feasible and auto.chips == 1
    assert auto.energy_per_token_j <= dense.energy_per_token_j
    # with chips to spare the per-layer choice stands: the refit is what brought it to one chip
    many = estimate(wt2_int4, "loihi2", overrides={**chip, "max_chips": 4})
    assert many.chips == 2 and many.cores > 128 >= auto.cores
