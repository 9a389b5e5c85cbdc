"""Hardware-model files: every parameter sourced; bad files and overrides fail with clear errors."""
from __future__ import annotations

import re
import shutil
import tomllib

import pytest

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw import available_hardware, hw_models_dir, load_hardware
from qslm_neuro.hw.params import parse_hardware
from qslm_neuro.hw.schema import FAMILIES

BUILT_IN = ("loihi", "loihi2", "loihi2-board", "embedded-soc", "stm32h7a3", "dense-int8")


def _raw(name: str) -> dict:
    with open(hw_models_dir() / f"{name}.toml", "rb") as handle:
        return tomllib.load(handle)


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_models_load_with_units_and_sources(name):
    model = load_hardware(name)
    schema = FAMILIES[model.family]
    assert set(model.params) == set(schema)  # non-synaptic costs from the file or defaults
    for key, param in model.params.items():
        assert param.unit == schema[key].unit
        assert param.source.strip()
        if param.assumed:
            assert len(param.note) > 20, f"{name}:{key} assumed without a derivation"


def test_built_ins_are_listed():
    assert set(BUILT_IN) <= set(available_hardware())


def test_loihi2_fitted_figures_name_their_measurement_and_derived_ones_stay_assumed():
    model = load_hardware("loihi2")
    for key in ("e_syn_op_pj", "e_neuron_access_pj", "e_msg_out_pj", "t_syn_op_ns",
                "t_sync_base_ns", "p_static_chip_mw", "max_axons_in_per_core"):
        param = model.params[key]
        assert not param.assumed and param.source.startswith("fitted:")
        assert "@" in param.source and "residual" in param.source  # names the file and fit
    for key in ("p_static_core_mw", "t_sync_per_doubling_ns", "neurons_per_core"):
        assert model.params[key].assumed
    derived = load_hardware("hw_models/examples/loihi2-derived.toml")
    assert derived.params["e_syn_op_pj"].assumed and "0.52" in derived.params["e_syn_op_pj"].source


def test_published_loihi_figures_are_not_assumed():
    model = load_hardware("loihi")
    assert model.value("e_syn_op_pj") == 23.6 and not model.params["e_syn_op_pj"].assumed
    assert model.value("neurons_per_core") == 1024


def _error(data: dict, where: str = "file.toml") -> str:
    with pytest.raises(HardwareModelError) as info:
        parse_hardware(data, where)
    return str(info.value)


def test_missing_parameter_names_file_key_and_unit():
    data = _raw("loihi")
    del data["params"]["e_syn_op_pj"]
    message = _error(data, "my/loihi.toml")
    assert "my/loihi.toml" in message and "'e_syn_op_pj'" in message and "'pJ'" in message


def test_unknown_parameter_is_rejected_with_its_name():
    data = _raw("loihi")
    data["params"]["e_syn_opp_pj"] = {"value": 1.0, "unit": "pJ", "source": "x"}
    message = _error(data)
    assert "unknown parameter 'e_syn_opp_pj'" in message and "e_syn_op_pj" in message


def test_negative_value_names_key_and_unit():
    data = _raw("loihi2")
    data["params"]["t_syn_op_ns"]["value"] = -1.0
    message = _error(data)
    assert "'t_syn_op_ns'" in message and "'ns'" in message and "non-negative" in message


def test_wrong_type_names_key_and_unit():
    data = _raw("embedded-soc")
    data["params"]["clock_hz"]["value"] = "480 MHz"
    message = _error(data)
    assert "'clock_hz'" in message and "str" in message and "'Hz'" in message


def test_wrong_unit_names_the_expected_unit():
    data = _raw("loihi")
    data["params"]["e_hop_pj"]["unit"] = "nJ"
    message = _error(data)
    assert "'e_hop_pj'" in message and "'nJ'" in message and "expected unit 'pJ'" in message


def test_integer_parameter_rejects_fractions_and_shares_reject_above_one():
    data = _raw("loihi")
    data["params"]["neurons_per_core"]["value"] = 1024.5
    assert "not a whole number" in _error(data)
    data = _raw("loihi2")
    data["nonsynaptic"]["prog_share_gate"]["value"] = 1.5
    assert "[0, 1]" in _error(data)


def test_assumed_without_note_is_rejected():
    data = _raw("loihi")
    data["params"]["e_hop_pj"]["note"] = ""
    assert "derivation" in _error(data)


def test_unknown_family_is_rejected():
    data = _raw("loihi")
    data["hardware"]["family"] = "gpu"
    assert "family='gpu'" in _error(data)


def test_overrides_replace_values_and_are_validated():
    shipped = load_hardware("loihi2").value("e_syn_op_pj")
    model = load_hardware("loihi2", overrides={"e_syn_op_pj": 30})
    assert model.value("e_syn_op_pj") == 30.0
    assert model.params["e_syn_op_pj"].source.startswith(f"user override (was {shipped:g} pJ")
    assert model.params["e_syn_op_pj"].assumed  # a what-if, not a published figure
    assert model.overridden == ("e_syn_op_pj",)
    with pytest.raises(HardwareModelError, match="unknown parameter 'e_synop_pj'"):
        load_hardware("loihi2", overrides={"e_synop_pj": 30})
    with pytest.raises(HardwareModelError, match="'e_syn_op_pj'.*'pJ'"):
        load_hardware("loihi2", overrides={"e_syn_op_pj": -3})
    with pytest.raises(HardwareModelError, match="'neurons_per_core'"):
        load_hardware("loihi2", overrides={"neurons_per_core": 0})


def test_user_file_and_models_directory(tmp_path, monkeypatch):
    text = (hw_models_dir() / "loihi.toml").read_text()
    text = re.sub(r"(\[params\.e_syn_op_pj\]\nvalue = )23\.6", r"\g<1>40.0", text)
    path = tmp_path / "my-chip.toml"
    path.write_text(text)
    assert load_hardware(path).value("e_syn_op_pj") == 40.0
    assert load_hardware(str(path)).value("e_syn_op_pj") == 40.0
    monkeypatch.setenv("QSLM_HW_MODELS", str(tmp_path))
    assert load_hardware("my-chip").value("e_syn_op_pj") == 40.0
    # the folder adds to the built-in chips: a chip there may derive from one of them by name
    (tmp_path / "half.toml").write_text(
        '[hardware]\nname = "half"\nbase = "loihi2"\n[technology]\nenergy = 0.5\n')
    assert load_hardware("half").value("e_syn_op_pj") == 0.5 * load_hardware(
        "loihi2").value("e_syn_op_pj")
    assert {"loihi", "loihi2", "my-chip", "half"} <= set(available_hardware())
    with pytest.raises(HardwareModelError, match="unknown hardware model 'nochip'.*my-chip"):
        load_hardware("nochip")


def test_bad_file_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    shutil.copy(hw_models_dir() / "loihi.toml", path)
    path.write_text(path.read_text().replace('unit = "pJ/bit"', 'unit = "pJ"'))
    with pytest.raises(HardwareModelError, match=r"broken\.toml.*e_syn_read_pj_per_bit.*pJ/bit"):
        load_hardware(path)
    path.write_text("[hardware\nname=")
    with pytest.raises(HardwareModelError, match="not valid TOML"):
        load_hardware(path)
    with pytest.raises(HardwareModelError, match="does not exist"):
        load_hardware(tmp_path / "absent.toml")


def test_calibrated_mcu_and_board_view_derive_from_their_bases():
    board, chip = load_hardware("loihi2-board"), load_hardware("loihi2")
    assert board.base == "loihi2"
    ratio = board.value("e_syn_op_pj") / chip.value("e_syn_op_pj")
    assert ratio == pytest.approx(board.value("p_static_chip_mw") / chip.value("p_static_chip_mw"))
    assert 1.0 < ratio < 1.01  # the VDD-IO rail: under 1% of the measured power
    assert board.value("t_syn_op_ns") == chip.value("t_syn_op_ns")  # a rail adds no time
    mcu = load_hardware("stm32h7a3")
    assert mcu.base == "embedded-soc" and mcu.value("clock_hz") == 280e6
    for key in ("cycles_mac_int8", "cpu_current_ua_per_mhz"):
        assert not mcu.params[key].assumed and mcu.params[key].source.startswith("fitted:")
    assert mcu.params["cycles_ac_int8"].assumed  # not measured: stays the estimate
