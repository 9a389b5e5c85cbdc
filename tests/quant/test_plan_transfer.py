"""A small model's plan carried to a deeper model by module role and relative depth."""
import pytest

from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.quant.transfer import transfer_plan
from qslm_neuro.quant import QuantPlan


def test_roles_and_depths_carry_over():
    small = build_model("tiny", n_layers=2, device="meta")
    deep = build_model("tiny", n_layers=5, device="meta")
    plan = QuantPlan.uniform(small, "int4").with_({"blocks.1.ffn.value": "int8", "head": "int6",
                                                  "blocks.0.att.key": "int2"})
    moved = transfer_plan(plan, small, deep)
    assert moved.precision_of("head").name == "int6"
    assert moved.precision_of("blocks.4.ffn.value").name == "int8"   # deepest <- deepest
    assert moved.precision_of("blocks.0.ffn.value").name == "int4"
    assert moved.precision_of("blocks.0.att.key").name == "int2"      # shallow <- shallow
    assert moved.precision_of("blocks.4.att.key").name == "int4"
    moved.validate(deep)


def test_missing_role_is_an_error():
    from torch import nn

    other = nn.Sequential(nn.Linear(3, 3))
    small = build_model("tiny", device="meta")
    with pytest.raises(BadInputError):
        transfer_plan(QuantPlan.uniform(other, "int4"), other, small)
