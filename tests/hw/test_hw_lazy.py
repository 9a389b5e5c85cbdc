"""An estimate is cheap to make: its per-layer table is built when read, chip files parse once.

Both shortcuts must be invisible: the table read later equals one built at once and travels
through pickle (Dask ships reports between processes), and an edited chip file is read again.
"""
from __future__ import annotations

import pickle

import numpy as np

from qslm_neuro.hw import estimate, load_hardware
from qslm_neuro.hw.families import PARTS
from qslm_neuro.workload import Workload


def test_the_layer_table_is_built_on_first_read_and_pickles():
    report = estimate(Workload.load("slm-small-sst2"), "loihi2")
    assert "layers" not in report.__dict__
    table = report.layers
    assert report.layers is table
    for part in PARTS:
        assert np.isclose(table[f"{part}_j_per_token"].sum(), report.parts[part], rtol=1e-9)
    unpickled = pickle.loads(pickle.dumps(estimate(Workload.load("slm-small-sst2"), "loihi2")))
    assert unpickled.layers.equals(table)
    assert unpickled.energy_per_token_j == report.energy_per_token_j


def test_a_changed_report_parameter_does_not_reach_the_table_built_later():
    report = estimate(Workload.load("slm-small-sst2"), "loihi2")
    early = estimate(Workload.load("slm-small-sst2"), "loihi2").layers
    report.params.clear()
    assert report.layers.equals(early)


def test_an_edited_chip_file_is_read_again(tmp_path):
    chip = tmp_path / "mine.toml"
    chip.write_text('[hardware]\nname = "mine"\nbase = "loihi2"\n[params]\ne_syn_op_pj = 20\n')
    assert load_hardware(chip).values()["e_syn_op_pj"] == 20
    chip.write_text('[hardware]\nname = "mine"\nbase = "loihi2"\n[params]\ne_syn_op_pj = 30\n')
    assert load_hardware(chip).values()["e_syn_op_pj"] == 30


def test_a_loaded_chip_shares_nothing_with_the_next_load():
    first = load_hardware("loihi2")
    first.params.clear()
    assert load_hardware("loihi2").values()["e_syn_op_pj"] > 0
