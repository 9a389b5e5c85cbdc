"""Hierarchy discovery (global ▸ blocks ▸ modules) on our kind of model and on arbitrary ones."""
from __future__ import annotations

import pytest
import snntorch as snn
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.quant import GLOBAL, Hierarchy, format_bytes

C, VOCAB = 8, 11


class TinyBlock(nn.Module):
    """Shaped like a spiking RWKV block: LayerNorms, decay vector, linears, a LIF neuron."""

    def __init__(self) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(C)
        self.att = nn.Module()
        self.att.key = nn.Linear(C, C, bias=False)
        self.att.value = nn.Linear(C, C, bias=False)
        self.att.time_decay = nn.Parameter(torch.zeros(C))
        self.ffn = nn.Module()
        self.ffn.key = nn.Linear(C, 2 * C, bias=False)
        self.ffn.value = nn.Linear(2 * C, C, bias=True)
        self.lif = snn.Leaky(beta=0.9)


class TinyLM(nn.Module):
    def __init__(self, layers: int = 3) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, C)
        self.blocks = nn.ModuleList(TinyBlock() for _ in range(layers))
        self.ln_out = nn.LayerNorm(C)
        self.head = nn.Linear(C, VOCAB, bias=False)


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2), nn.ReLU(), nn.ConvTranspose2d(6, 5, 2),
        nn.Flatten(), nn.Linear(5 * 4 * 4, 3))


class NestedMLP(nn.Module):
    """Stages that are ModuleLists of ModuleLists, plus a parameter owned by the root."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.ModuleList([nn.Linear(6, 6), nn.Linear(6, 6)]) for _ in range(2))
        self.heads = nn.ModuleDict({"cls": nn.Linear(6, 2), "reg": nn.Linear(6, 1)})
        self.norm = nn.LayerNorm(6)
        self.temperature = nn.Parameter(torch.ones(1))


def test_spiking_lm_levels() -> None:
    h = Hierarchy.from_module(TinyLM())
    assert h.block_paths == ("emb", "blocks.0", "blocks.1", "blocks.2", "ln_out", "head")
    assert h.search_blocks == ("emb", "blocks.0", "blocks.1", "blocks.2", "head")
    assert not h.block("ln_out").is_search_unit
    assert h.module_paths[:5] == ("emb", "blocks.0.att.key", "blocks.0.att.value",
                                  "blocks.0.ffn.key", "blocks.0.ffn.value")
    assert len(h.modules) == 2 + 3 * 4
    assert h.block("blocks.1").modules == ("blocks.1.att.key", "blocks.1.att.value",
                                           "blocks.1.ffn.key", "blocks.1.ffn.value")
    value = h.module("blocks.2.ffn.value")
    assert (value.type_name, value.weight_shape) == ("Linear", (C, 2 * C))
    assert value.weight_count == 2 * C * C
    assert value.param_count == 2 * C * C + C  # weight + bias
    assert value.fp32_bytes == 4 * 2 * C * C and value.out_channels == C
    assert value.block == "blocks.2" and value.channel_axis == 0
    emb = h.module("emb")
    assert emb.weight_shape == (VOCAB, C) and emb.out_channels == VOCAB  # one scale per row


def test_counts_and_bytes_match_the_state_dict() -> None:
    model = TinyLM()
    h = Hierarchy.from_module(model)
    params = sum(p.numel() for p in model.parameters())
    stored = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert h.param_count == params
    assert h.stored_bytes == stored
    per_block = sum(p.numel() for p in model.blocks[1].parameters())
    assert h.block("blocks.1").param_count == per_block
    # the LIF neuron's buffers (beta, threshold, int64 reset flag) are part of the block's bytes
    lif_bytes = sum(t.numel() * t.element_size() for t in model.blocks[1].lif.state_dict().values())
    assert lif_bytes > 0
    assert h.block("blocks.1").stored_bytes == 4 * per_block + lif_bytes
    names = {t.name for t in h.tensors}
    assert "blocks.0.att.time_decay" in names and "blocks.0.lif.beta" in names


def test_block_of_and_modules_in() -> None:
    h = Hierarchy.from_module(TinyLM())
    assert h.block_of("blocks.1.att.key") == "blocks.1"
    assert h.block_of("blocks.1.att") == "blocks.1"
    assert h.block_of("head") == "head"
    assert h.modules_in("blocks.0.att") == ("blocks.0.att.key", "blocks.0.att.value")
    assert h.modules_in(GLOBAL) == h.module_paths
    assert h.modules_in("ln_out") == ()
    with pytest.raises(BadInputError, match="not inside a single block"):
        h.block_of("blocks")
    with pytest.raises(BadInputError,
                       match=r"unknown module path 'blocks.1.att.kee'.*did you mean"):
        h.block_of("blocks.1.att.kee")


def test_expand_more_specific_paths_win_in_any_order() -> None:
    h = Hierarchy.from_module(TinyLM())
    forward = h.expand({GLOBAL: "int8", "blocks.1": "int4", "blocks.1.ffn.key": "int2"})
    backward = h.expand({"blocks.1.ffn.key": "int2", "blocks.1": "int4", GLOBAL: "int8"})
    assert forward == backward
    assert list(forward) == list(h.module_paths)  # model order, every module covered
    assert forward["blocks.1.ffn.key"] == "int2"
    assert forward["blocks.1.att.key"] == "int4"
    assert forward["blocks.0.att.key"] == "int8" and forward["head"] == "int8"
    assert h.expand({"head": 1}) == {"head": 1}


def test_expand_rejects_unknown_and_empty_paths() -> None:
    h = Hierarchy.from_module(TinyLM())
    with pytest.raises(BadInputError, match=r"'blokcs.1'.*did you mean \['blocks.1'"):
        h.expand({"blokcs.1": "int4"})
    with pytest.raises(BadInputError, match=r"'ln_out' \(LayerNorm\) contains no quantizable"):
        h.expand({"ln_out": "int4"})


def test_small_cnn_sequential_root() -> None:
    model = small_cnn()
    h = Hierarchy.from_module(model)
    assert h.block_paths == tuple(str(i) for i in range(8))
    assert h.module_paths == ("0", "3", "5", "7")
    assert h.search_blocks == ("0", "3", "5", "7")
    assert h.module("5").type_name == "ConvTranspose2d"
    assert h.module("5").channel_axis == 1 and h.module("5").out_channels == 5
    assert h.module("3").out_channels == 6 and h.module("3").weight_shape == (6, 4, 3, 3)
    # BatchNorm running stats and its int64 counter are counted at their stored size
    bn_bytes = (4 + 4 + 4 + 4) * 4 + 8
    assert h.block("1").stored_bytes == bn_bytes and h.block("1").param_count == 8
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 3)  # the model is real and runs


def test_nested_module_lists_and_root_parameters() -> None:
    h = Hierarchy.from_module(NestedMLP())
    assert h.block_paths == ("stages.0", "stages.1", "heads.cls", "heads.reg", "norm")
    assert h.block("stages.1").modules == ("stages.1.0", "stages.1.1")
    assert h.block_of("stages.0.1") == "stages.0"
    assert "temperature" in {t.name for t in h.tensors}
    assert h.param_count == sum(p.numel() for p in NestedMLP().parameters())
    assert "<root> own tensors" in h.tree()


def test_bare_layer_as_model() -> None:
    h = Hierarchy.from_module(nn.Linear(3, 2))
    assert h.block_paths == ("",) and h.module_paths == ("",)
    assert h.module("").weight_name == "weight"
    assert h.block("").stored_bytes == (6 + 2) * 4


def test_tied_weights_are_counted_once() -> None:
    model = TinyLM(layers=1)
    model.head.weight = model.emb.weight  # emb is [VOCAB, C], head expects [VOCAB, C]
    h = Hierarchy.from_module(model)
    assert h.module("head").tied_to == "emb"
    assert h.param_count == sum(p.numel() for p in model.parameters())


def test_tree_shows_levels_counts_and_bytes() -> None:
    h = Hierarchy.from_module(TinyLM())
    text = h.tree()
    lines = text.splitlines()
    assert lines[0].startswith("* global: TinyLM")
    assert f"{h.param_count:,} params" in lines[0]
    assert any(line.startswith("├── blocks.1 (TinyBlock)") for line in lines)
    assert any("blocks.1.ffn.key (Linear 16x8) · 128 weights · 512 B at fp32" in line
               for line in lines)
    assert any("ln_out (LayerNorm)" in line and "nothing to quantize" in line for line in lines)
    assert any("not quantized" in line and "blocks.2.att.time_decay" in line for line in lines)
    assert lines[-1].startswith("    └── ") or lines[-1].startswith("└── ")
    assert str(h) == text


def test_hierarchy_is_immutable_and_comparable() -> None:
    model = TinyLM()
    first, second = Hierarchy.from_module(model), Hierarchy.from_module(model)
    assert first == second and hash(first) == hash(second)
    assert first != Hierarchy.from_module(TinyLM(layers=2))
    with pytest.raises(AttributeError):
        first.blocks = ()  # type: ignore[misc]


def test_bad_input_is_explained() -> None:
    with pytest.raises(BadInputError, match="needs a torch.nn.Module, got dict"):
        Hierarchy.from_module({"weight": 1})  # type: ignore[arg-type]
    h = Hierarchy.from_module(TinyLM())
    with pytest.raises(BadInputError, match=r"unknown quantizable module 'blocks.0.ln1'"):
        h.module("blocks.0.ln1")
    with pytest.raises(BadInputError, match=r"unknown block 'blocks.9'"):
        h.block("blocks.9")


@pytest.mark.parametrize("count, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.00 KiB"),
                                         (3 * 2**20 + 2**19, "3.50 MiB"), (5 * 2**30, "5.00 GiB")])
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_the_project_spiking_rwkv() -> None:
    """The shipped model's hierarchy: emb, ln0, blocks.0..N, ln_out, head."""
    rwkv = pytest.importorskip("qslm_neuro.models.rwkv")
    from qslm_neuro.models.config import get_config

    config = get_config("tiny")
    model = rwkv.SpikingRWKV(config)
    h = Hierarchy.from_module(model)
    blocks = tuple(f"blocks.{i}" for i in range(config.n_layers))
    assert h.search_blocks == ("emb",) + blocks + ("head",)
    assert {"ln0", "ln_out"} <= set(h.block_paths) - set(h.search_blocks)
    assert h.param_count == sum(p.numel() for p in model.parameters())
    assert all(h.module(p).type_name in ("Linear", "Embedding") for p in h.module_paths)
    assert h.block_of(h.block("blocks.1").modules[0]) == "blocks.1"
