"""The [arithmetic] section: Loihi 2's and the MCU's number formats, sourced and overridable."""
from __future__ import annotations

import pytest

from qslm_neuro.errors import HardwareModelError
from qslm_neuro.hw import load_hardware
from qslm_neuro.hw.arithmetic import ARITHMETIC


def test_loihi2_formats_come_from_lavas_bit_accurate_models():
    chip = load_hardware("loihi2")
    formats = chip.formats()
    assert (formats.weight_bits, formats.state_bits, formats.decay_bits,
            formats.threshold_bits, formats.threshold_shift) == (8, 24, 12, 17, 6)
    assert set(chip.arithmetic) == set(ARITHMETIC)
    for key in ("weight_bits", "state_bits", "decay_bits", "threshold_bits"):
        assert "lava" in chip.arithmetic[key].source and not chip.arithmetic[key].assumed


def test_mcu_formats_are_int8_int32():
    formats = load_hardware("embedded-soc").formats()
    assert (formats.weight_bits, formats.activation_bits, formats.accumulator_bits) == (8, 8, 32)


def test_override_changes_a_format_and_records_it():
    chip = load_hardware("loihi2", {"state_bits": 16, "rounding": "floor"})
    assert chip.formats().state_bits == 16 and chip.formats().rounding == "floor"
    assert chip.arithmetic["state_bits"].assumed
    assert "was 24" in chip.arithmetic["state_bits"].source
    with pytest.raises(HardwareModelError):
        load_hardware("loihi2", {"state_bits": 0})
    with pytest.raises(HardwareModelError):
        load_hardware("loihi2", {"rounding": "stochastic"})


def test_derived_chip_inherits_formats(tmp_path):
    path = tmp_path / "half.toml"
    path.write_text('[hardware]\nname = "half"\nbase = "loihi2"\n\n[technology]\nenergy = 0.5\n\n'
                    '[arithmetic.state_bits]\nvalue = 20\nunit = "bits"\n'
                    'source = "design choice"\n')
    formats = load_hardware(str(path)).formats()
    assert formats.state_bits == 20 and formats.decay_bits == 12


def test_unknown_arithmetic_key_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[hardware]\nname = "bad"\nbase = "loihi2"\n\n'
                    '[arithmetic.state_bitz]\nvalue = 20\nunit = "bits"\nsource = "x"\n')
    with pytest.raises(HardwareModelError, match="state_bitz"):
        load_hardware(str(path))
