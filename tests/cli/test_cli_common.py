"""The CLI's shared arguments: one ``--plan`` parser for every subcommand, one registry."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qslm_neuro.cli.common import plan_from_arg
from qslm_neuro.cli.main import build_parser, main
from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.quant import QuantPlan


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", device="meta")


def test_plan_argument_reads_a_plan_a_report_or_a_precision(model, tmp_path):
    plan = QuantPlan.uniform(model, "int4").with_({"head": "int8"})
    plan_file = plan.save(tmp_path / "plan.json")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"chosen": {"plan": plan.to_dict()}}))
    assert plan_from_arg(str(plan_file), model).key == plan.key
    assert plan_from_arg(str(report), model).key == plan.key
    assert plan_from_arg("int4", model).key == QuantPlan.uniform(model, "int4").key
    assert plan_from_arg(None, model).key == QuantPlan().key


@pytest.mark.parametrize("text, fragment", [("int99", "neither a plan/report JSON"),
                                            ("missing.json", "does not exist")])
def test_bad_plan_argument_names_the_value(model, text, fragment):
    with pytest.raises(BadInputError, match=fragment):
        plan_from_arg(text, model)


def test_every_subcommand_is_registered_and_takes_the_same_plan_option():
    parser = build_parser()
    for command in ("eval", "estimate", "sweep", "lava", "export"):
        base = {"eval": ["--model", "m", "--task", "sst2"],
                "estimate": ["--model", "m"],
                "sweep": ["--model", "m", "--param", "e_syn_op_pj=1,2", "--out", "x.csv"],
                "lava": ["--model", "m"], "export": ["--model", "m", "--out", "d"]}[command]
        assert parser.parse_args([command, *base, "--plan", "int4"]).plan == "int4"
    assert set(parser._subparsers._group_actions[0].choices) == {
        "train", "eval", "search", "lava", "estimate", "sweep", "demo", "import-spikegpt",
        "export"}


def test_eval_with_a_bad_plan_exits_with_bad_input(capsys, in_repo):
    code = main(["eval", "--model", "data/slm-small-sst2", "--task", "sst2", "--plan", "int99"])
    assert code == 2
    assert "--plan 'int99'" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("QSLM_DATA_DIR"),
                    reason="QSLM_DATA_DIR is not set: SST-2 dev is needed to evaluate")
def test_eval_takes_a_uniform_precision(capsys, in_repo):
    assert main(["eval", "--model", "data/slm-small-sst2", "--task", "sst2", "--json"]) == 0
    fp32 = json.loads(capsys.readouterr().out)
    assert main(["eval", "--model", "data/slm-small-sst2", "--task", "sst2", "--plan", "int2",
                 "--json"]) == 0
    int2 = json.loads(capsys.readouterr().out)
    assert int2["metric"] == fp32["metric"] == "accuracy"
    assert int2["value"] != fp32["value"]  # int2 everywhere changes the predictions
