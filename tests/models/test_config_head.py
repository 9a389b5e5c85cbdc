"""``SLMConfig.head`` (``lm`` or ``classify``) was called ``task``: saved configs still load."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from qslm_neuro.errors import BadInputError
from qslm_neuro.models import SLMConfig, build_model, get_config, load_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["slm-small-sst2", "slm-small-wt2", "slm-tiny-sst2"])
def test_shipped_checkpoints_with_the_old_key_still_load_unchanged(name):
    config_file = ROOT / "data" / name / "config.json"
    before = hashlib.sha256(config_file.read_bytes()).hexdigest()
    saved = json.loads(config_file.read_text())
    loaded = load_model(ROOT / "data" / name)  # verifies every file against its manifest
    assert loaded.config.head == saved.get("head", saved.get("task"))
    assert hashlib.sha256(config_file.read_bytes()).hexdigest() == before


def test_old_and_new_spellings_give_one_config():
    new = get_config("tiny", head="classify")
    old_dict = {("task" if k == "head" else k): v for k, v in new.to_dict().items()}
    assert "head" in new.to_dict() and "task" not in new.to_dict()
    assert SLMConfig.from_dict(old_dict) == new
    with pytest.warns(DeprecationWarning, match="head"):
        assert get_config("tiny", task="classify") == new
    with pytest.warns(DeprecationWarning, match="head"):
        assert new.task == "classify"
    with pytest.warns(DeprecationWarning):
        assert build_model("tiny", task="classify").config.head == "classify"
    with pytest.raises(BadInputError, match="head"):
        get_config("tiny", task="lm", head="classify")
    with pytest.raises(BadInputError, match="SLMConfig.head='sst2'"):
        get_config("tiny", head="sst2")
