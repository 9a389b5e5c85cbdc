"""The whole SLM closed loop in Lava equals the bit-exact twin, integer for integer.

CI check of issue 23: ``qslm lava --closed-loop`` on ``data/slm-tiny-sst2`` under a mixed plan
(int2 .. int8 and an fp32 layer capped at int8), 64 tokens of real SST-2 dev text through the
embedding, every block and the head; every LIF current, voltage and spike, every Dense output,
every non-synaptic stage value and the logits must be equal (~50 s on 2 busy cores, most of
it Lava).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("lava", reason="lava-nc is not installed")

import qslm_neuro.lava  # noqa: E402,F401  (the compat hook before anything imports Lava)
from qslm_neuro.cli.main import main  # noqa: E402

pytestmark = pytest.mark.lava
ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "data" / "slm-tiny-sst2"


@pytest.mark.skipif(not os.environ.get("QSLM_DATA_DIR"),
                    reason="QSLM_DATA_DIR is not set: SST-2 text is needed for the token stream")
def test_closed_loop_is_bit_exact_on_64_tokens_through_every_block(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "format": "qslm-neuro.quant-plan", "version": 1, "quantizer": "symmetric-absmax-rne/1",
        "default": "int4", "modules": {"blocks.0.att.key": "int8", "blocks.0.ffn.value": "int2",
                                       "blocks.1.att.receptance": "int3", "head": "fp32",
                                       "blocks.1.ffn.key": "int6"}}))
    out = tmp_path / "closed.json"
    code = main(["lava", "--model", str(TINY), "--plan", str(plan), "--tokens", "64",
                 "--closed-loop", "--json", str(out)])
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert code == 0, printed
    assert report["bit_exact"] and "bit for bit" in printed
    assert report["tokens"] == 64
    names = {row["name"] for row in report["values"]}
    for block in range(2):
        for value in ("att.spike_k.v", "att.spike_o.spikes", "att.key.a", "att.wkv",
                      "ffn.key.a", "ffn.spike_h.v", "ffn.spike_h.spikes", "ffn.value.a",
                      "residual"):
            key = f"blocks.{block}.{value}" if value != "residual" else f"blocks.{block}.residual"
            assert key in names, key
    assert {"embed", "ln_out", "logits"} <= names
    assert all(row["mismatches"] == 0 for row in report["values"])
    assert report["compared_values"] > 150_000
