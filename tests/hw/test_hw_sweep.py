"""sweep(): one row per grid point, each equal to estimate() at that point; validated inputs."""
from __future__ import annotations

import numpy as np
import pytest

from qslm_neuro.errors import BadInputError, HardwareModelError
from qslm_neuro.hw import PARTS, estimate, sweep
from qslm_neuro.workload.synthetic import synthetic_slm_workload

WORKLOAD = synthetic_slm_workload()

GRIDS = {
    "loihi2": {"e_syn_op_pj": [5.0, 12.3, 30.0], "syn_mem_per_core_bytes": [16384, 65536, 131072],
               "neurons_per_core": [128, 1024], "t_syn_op_ns": [0.5, 3.0],
               "max_weight_bits": [4, 8], "max_chips": [1, 8]},
    "loihi": {"t_msg_in_ns": [1.0, 40.0], "e_embedded_cycle_pj": [10.0, 30.0],
              "embedded_cores_per_chip": [1, 6], "cores_per_tile": [1, 4]},
    "embedded-soc": {"sram_bytes": [262144, 1015808, 4194304], "e_dram_pj_per_byte": [100, 400],
                     "clock_hz": [2e8, 4.8e8], "cycles_ac_int8": [0.5, 2.0]},
}


@pytest.mark.parametrize("hw", list(GRIDS))
def test_every_row_equals_estimate_at_that_point(hw):
    grid = GRIDS[hw]
    table = sweep(WORKLOAD, hw, **grid)
    assert len(table) == int(np.prod([len(v) for v in grid.values()]))
    expected_columns = list(grid) + ["energy_per_token_j"] + [f"energy_{p}_j" for p in PARTS] + [
        "latency_per_token_s", "step_s", "power_w", "tokens_per_s", "throughput_bound", "cores",
        "chips",
        "synaptic_memory_bytes", "feasible"]
    assert list(table.columns) == expected_columns
    rows = np.random.default_rng(0).choice(len(table), size=min(12, len(table)), replace=False)
    for i in rows:
        row = table.iloc[int(i)]
        point = {key: float(row[key]) for key in grid}
        report = estimate(WORKLOAD, hw, overrides=point)
        assert row["energy_per_token_j"] == pytest.approx(report.energy_per_token_j, rel=1e-12)
        assert row["latency_per_token_s"] == pytest.approx(report.latency_per_token_s, rel=1e-12)
        assert row["power_w"] == pytest.approx(report.power_w, rel=1e-12)
        assert row["cores"] == report.cores and row["chips"] == report.chips
        assert row["synaptic_memory_bytes"] == pytest.approx(report.synaptic_memory_bytes)
        assert bool(row["feasible"]) == report.feasible
        for part in PARTS:
            assert row[f"energy_{part}_j"] == pytest.approx(report.parts[part], rel=1e-12, abs=1e-30)
    # the grid really varies the answers
    assert table["energy_per_token_j"].nunique() > len(table) // 4


def test_sweep_follows_the_physics():
    table = sweep(WORKLOAD, "loihi2", e_syn_op_pj=[5.0, 10.0, 20.0],
                  syn_mem_per_core_bytes=[32768, 131072])
    for _, group in table.groupby("syn_mem_per_core_bytes"):
        assert group["energy_synaptic_ops_j"].is_monotonic_increasing
    small_mem = table[table.syn_mem_per_core_bytes == 32768]
    assert (small_mem["cores"] > table[table.syn_mem_per_core_bytes == 131072]["cores"].max()).all()
    split = sweep(WORKLOAD, "loihi", max_weight_bits=[4, 8])
    assert split["synaptic_memory_bytes"].iloc[0] == pytest.approx(
        split["synaptic_memory_bytes"].iloc[1])  # 8-bit weights in 2 x 4-bit synapses: same bits
    assert split["energy_synaptic_ops_j"].iloc[0] == pytest.approx(
        2 * split["energy_synaptic_ops_j"].iloc[1])


def test_sweep_at_a_token_rate():
    table = sweep(WORKLOAD, "embedded-soc", tokens_per_s=5.0, clock_hz=[1e8, 4.8e8])
    assert (table["tokens_per_s"] == 5.0).all()
    slow = estimate(WORKLOAD, "embedded-soc", tokens_per_s=5.0, overrides={"clock_hz": 1e8})
    assert table["power_w"].iloc[0] == pytest.approx(slow.power_w)


def test_sweep_rejects_bad_grids():
    with pytest.raises(HardwareModelError, match="unknown parameter 'e_syn_pj'"):
        sweep(WORKLOAD, "loihi2", e_syn_pj=[1.0])
    with pytest.raises(HardwareModelError, match="'t_syn_op_ns'.*'ns'"):
        sweep(WORKLOAD, "loihi2", t_syn_op_ns=[1.0, -2.0])
    with pytest.raises(HardwareModelError, match="whole number"):
        sweep(WORKLOAD, "loihi2", neurons_per_core=[100.5])
    with pytest.raises(HardwareModelError, match="non-empty"):
        sweep(WORKLOAD, "loihi2", e_syn_op_pj=[])
    with pytest.raises(HardwareModelError, match="unknown parameter 'clock_hz'"):
        sweep(WORKLOAD, "loihi2", clock_hz=[1e8])  # an MCU parameter on a neuromorphic model
    with pytest.raises(BadInputError, match="at least one parameter"):
        sweep(WORKLOAD, "loihi2")


def _two_values(spec, value: float) -> list[float]:
    if spec.at_most_one:
        return [0.0, 1.0]
    if spec.integer:
        return [float(max(1, round(value / 2))), value] if value > 1 else [value, value + 2]
    # 5% below: far enough to move every figure, close enough to keep cross-field rules (the
    # calibrated loihi2's barrier ceiling is 6% above its base)
    return [value * 0.95, value] if value > 0 else [value, 1.0]


@pytest.mark.parametrize("hw", ["loihi2", "embedded-soc"])
def test_every_parameter_broadcasts_like_estimate(hw):
    """Each parameter alone, swept over two values, gives the rows estimate() gives."""
    from qslm_neuro.hw import load_hardware
    from qslm_neuro.hw.schema import FAMILIES

    model = load_hardware(hw)
    small = synthetic_slm_workload(blocks=1, vocab=512)
    for key, spec in FAMILIES[model.family].items():
        values = _two_values(spec, model.value(key))
        table = sweep(small, model, **{key: values})
        for value, (_, row) in zip(values, table.iterrows()):
            report = estimate(small, model, overrides={key: value})
            assert row["energy_per_token_j"] == pytest.approx(report.energy_per_token_j), key
            assert row["latency_per_token_s"] == pytest.approx(report.latency_per_token_s), key
            assert row["cores"] == report.cores and bool(row["feasible"]) == report.feasible, key


def test_large_grids_are_chunked_without_changing_rows(monkeypatch):
    import qslm_neuro.hw.costing as costing

    grid = {"t_syn_op_ns": [0.5, 1.0, 2.0, 4.0, 8.0], "neurons_per_core": [256, 1024],
            "e_syn_op_pj": [5.0, 20.0]}
    whole = sweep(WORKLOAD, "loihi2", **grid)
    monkeypatch.setattr(costing, "_CHUNK_ELEMENTS", 2 * 2 * 30 * 2)  # two slices of axis 0 per chunk
    chunked = sweep(WORKLOAD, "loihi2", **grid)
    assert chunked.equals(whole)
