"""Deployable outputs: packed integer checkpoints and quantized NIR graphs, read back exactly."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from qslm_neuro.cli.main import main
from qslm_neuro.export.packed import pack_levels, unpack_levels
from qslm_neuro.models.checkpoint import load_checkpoint
from qslm_neuro.quant import Hierarchy, QuantPlan

TINY = "data/slm-tiny-sst2"


@pytest.fixture(scope="module")
def mixed_plan():
    paths = Hierarchy.from_module(load_checkpoint(TINY).model).module_paths
    ladder = ["int4", "int3", "int8", "fp16", "int5-tensor", "int2", "bf16", "fp32"]
    return QuantPlan({p: ladder[i % len(ladder)] for i, p in enumerate(paths)})


@pytest.mark.parametrize("bits", [2, 3, 5, 8, 11, 16])
def test_pack_roundtrip(bits):
    q = 2 ** (bits - 1) - 1
    levels = torch.randint(-q, q + 1, (7, 13), generator=torch.Generator().manual_seed(bits))
    packed = pack_levels(levels, bits)
    assert packed.dtype == torch.uint8 and packed.numel() == -(-levels.numel() * bits // 8)
    assert torch.equal(unpack_levels(packed, bits, (7, 13)), levels)


def test_packed_checkpoint_equals_fake_quantized_model(tmp_path, mixed_plan, capsys):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"chosen": {"plan": mixed_plan.to_dict()},
                                  "settings": {"checkpoint": TINY}}))
    out = tmp_path / "packed"
    assert main(["export", "--plan", str(report), "--out", str(out)]) == 0
    assert "1.0000x" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    summary = manifest["summary"]
    assert abs(summary["weight_bytes_on_disk"] / summary["footprint_weight_bytes"] - 1) < 0.01
    packed = load_checkpoint(out)
    reference = load_checkpoint(TINY)
    idx = torch.randint(0, reference.config.vocab_size, (3, 11),
                        generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([11, 7, 4])
    with torch.no_grad(), mixed_plan.applied(reference.model):
        expected = reference.model(idx, lengths)
    with torch.no_grad():
        got = packed.model(idx, lengths)
    assert torch.equal(got, expected)
    (out / "model.safetensors").write_bytes(b"x" + (out / "model.safetensors").read_bytes()[1:])
    assert main(["eval", "--model", str(out), "--task", "sst2"]) == 2  # sha256 refused


def test_cli_eval_packed_matches_eval_plan(tmp_path, mixed_plan, capsys):
    rng = random.Random(0)
    words = "a the film good bad great awful story fun dull acting plot".split()
    (tmp_path / "sst2").mkdir()
    rows = [f"{' '.join(rng.choices(words, k=6))}\t{i % 2}" for i in range(40)]
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    plan_file = tmp_path / "plan.json"
    mixed_plan.save(plan_file)
    assert main(["export", "--plan", str(plan_file), "--model", TINY,
                 "--out", str(tmp_path / "p")]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", TINY, "--task", "sst2", "--plan", str(plan_file),
                 "--data-dir", str(tmp_path), "--json"]) == 0
    with_plan = json.loads(capsys.readouterr().out)
    assert main(["eval", "--model", str(tmp_path / "p"), "--task", "sst2",
                 "--data-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == with_plan["value"]


def test_slm_nir_export_roundtrip_spikes(tmp_path, capsys):
    nir = pytest.importorskip("nir")
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    from qslm_neuro.export.nir_out import fragment

    out = tmp_path / "slm.nir"
    assert main(["export", "--nir", "--plan", "int4", "--model", TINY, "--out", str(out)]) == 0
    assert "WKV" in capsys.readouterr().out
    graph = nir.read(str(out))
    assert "WKV" in str(graph.metadata["not_expressible"])
    loaded = load_checkpoint(TINY)
    plan = QuantPlan.uniform(loaded.model, "int4")
    pops = {n: p for n, p in loaded.model.populations().items() if n in graph.nodes}
    for pop in pops.values():
        pop.fused = False  # each population called on its own currents (same spikes)
    record: dict[str, tuple] = {}
    hooks = [p.register_forward_hook(lambda m, a, o, n=n: record.__setitem__(n, (a[0], o)))
             for n, p in pops.items()]
    idx = torch.randint(0, loaded.config.vocab_size, (2, 10),
                        generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), plan.applied(loaded.model):
        loaded.model(idx, None)
    for h in hooks:
        h.remove()
    checked = 0
    for name in list(pops)[:3]:
        currents, spikes = record[name]
        layer = next(d for s, d in graph.edges if s == name)
        meta = graph.nodes[layer].metadata
        assert meta["weight_bits"] == 4 and "scale" in meta
        levels = graph.nodes[layer].weight / meta["scale"][:, None]
        assert np.allclose(levels, np.round(levels), atol=1e-4)
        assert np.abs(np.round(levels)).max() <= 7
        net = import_from_nir(fragment(graph, name))
        lif = getattr(net, name.replace(".", "_"))
        seen = []
        lif.register_forward_hook(lambda m, a, o: seen.append(o))
        for b in range(currents.shape[0]):
            snntorch.utils.reset(net)
            for t in range(currents.shape[1]):
                net(currents[b, t])
        ours = spikes.reshape(-1, spikes.shape[-1])
        theirs = torch.stack(seen).reshape(ours.shape).to(ours.dtype)
        assert ours.sum() > 0 and torch.equal(theirs, ours)
        checked += 1
    assert checked == 3


def test_snntorch_model_nir_export_roundtrip():
    pytest.importorskip("nir")
    import snntorch as snn
    from snntorch.import_nir import import_from_nir

    from qslm_neuro.export.nir_out import export_nir
    from qslm_neuro.measure.nir_sim import simulate

    torch.manual_seed(0)
    shape = (3, 5, 5)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        snn.Leaky(beta=torch.full(shape, 0.8), threshold=torch.full(shape, 0.3),
                  init_hidden=True, reset_mechanism="zero"),
        nn.Flatten(), nn.Linear(75, 4),
        snn.Leaky(beta=torch.full((4,), 0.8), threshold=torch.full((4,), 0.3),
                  init_hidden=True, reset_mechanism="zero", output=True))
    plan = QuantPlan.uniform(net, "int4")
    graph, missing = export_nir(net, plan, torch.rand(1, 1, 5, 5))
    assert missing == [] and graph.nodes["0"].metadata["weight_bits"] == 4
    spikes = (torch.rand(8, 2, 1, 5, 5) < 0.5).float()
    import snntorch.utils

    quantized = plan.quantized_copy(net)  # fresh state; the batch runs as one
    ours = torch.stack([quantized(spikes[t])[0] for t in range(8)])
    imported = import_from_nir(graph)
    theirs = []
    for b in range(2):
        snntorch.utils.reset(imported)
        theirs.append(torch.stack([imported(spikes[t, b])[0] for t in range(8)]))
    theirs = torch.stack(theirs, 1)
    assert ours.sum() > 0 and torch.equal(ours, theirs.to(ours.dtype))
    assert torch.equal(simulate(graph, spikes, keep=("4",)).outputs["4"], ours.double())
