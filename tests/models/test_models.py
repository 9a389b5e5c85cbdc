"""The spiking RWKV: neurons, WKV, shapes, configs, checkpoints."""
from __future__ import annotations

import json

import pytest
import torch

from qslm_neuro.errors import BadInputError, ChecksumError, DataNotFoundError
from qslm_neuro.models import NAMED_CONFIGS, build_model, get_config
from qslm_neuro.models.checkpoint import load_checkpoint, save_checkpoint, verify_checkpoint
from qslm_neuro.models.neurons import LIFPopulation, fire_together
from qslm_neuro.models.wkv import wkv, wkv_parallel, wkv_reference
from qslm_neuro.tasks.tokenizer import Tokenizer


# ------------------------------------------------------------------------------------ neurons
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_lif_equals_snntorch_leaky_step_by_step(dtype):
    torch.manual_seed(0)
    currents = (torch.randn(4, 40, 24, dtype=dtype) * 1.5).requires_grad_()
    population = LIFPopulation(24)
    fused = population(currents)
    upstream = torch.randn_like(fused)
    (grad_fused,) = torch.autograd.grad((fused * upstream).sum(), currents)
    reference = population.step_through(currents)
    (grad_reference,) = torch.autograd.grad((reference * upstream).sum(), currents)
    assert torch.equal(fused, reference)
    assert 0.05 < fused.mean().item() < 0.5  # the comparison is not vacuous: neurons fire
    torch.testing.assert_close(grad_fused, grad_reference, rtol=1e-5, atol=1e-6)


def test_lif_dynamics_tau2_threshold1_reset_to_zero():
    # beta = 1 - 1/tau = 0.5; constant input 0.6: 0.6, 0.9, 1.05 -> spike, reset, 0.6, ...
    population = LIFPopulation(1, tau=2.0, threshold=1.0)
    spikes = population(torch.full((1, 6, 1), 0.6))
    assert spikes.flatten().tolist() == [0, 0, 1, 0, 0, 1]
    assert population.beta == 0.5


def test_fire_together_equals_separate_populations():
    torch.manual_seed(1)
    pops = [LIFPopulation(8), LIFPopulation(8), LIFPopulation(5)]
    currents = [torch.randn(2, 10, c) * 2 for c in (8, 8, 5)]
    together = fire_together(pops, currents)
    for pop, current, spikes in zip(pops, currents, together):
        assert torch.equal(pop(current), spikes)


# ---------------------------------------------------------------------------------------- WKV
@pytest.mark.parametrize("key_scale", [1.0, 40.0])
def test_wkv_is_stable_and_matches_float64_reference(key_scale):
    torch.manual_seed(2)
    k = torch.randn(3, 33, 16) * key_scale  # scale 40: exp(k) overflows float32 naively
    v = torch.randn(3, 33, 16)
    decay, first = torch.randn(16), torch.randn(16)
    out, _ = wkv(decay, first, k, v)
    reference = wkv_reference(decay, first, k, v)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(wkv_parallel(decay, first, k, v).double(), reference,
                               rtol=1e-4, atol=1e-5)


def test_wkv_streaming_state_continues_a_sequence():
    torch.manual_seed(3)
    k, v = torch.randn(2, 20, 8), torch.randn(2, 20, 8)
    decay, first = torch.randn(8), torch.randn(8)
    whole, _ = wkv(decay, first, k, v)
    head, state = wkv(decay, first, k[:, :12], v[:, :12])
    tail, _ = wkv(decay, first, k[:, 12:], v[:, 12:], state)
    torch.testing.assert_close(torch.cat([head, tail], dim=1), whole)


def test_wkv_parallel_gradients_match_loop():
    torch.manual_seed(4)
    tensors = [torch.randn(2, 9, 4, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    params = [torch.randn(4, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    loop, _ = wkv(params[0], params[1], *tensors)
    parallel = wkv_parallel(params[0], params[1], *tensors)
    g_loop = torch.autograd.grad(loop.sum(), tensors + params)
    g_par = torch.autograd.grad(parallel.sum(), tensors + params)
    for a, b in zip(g_loop, g_par):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------------------------- model
def test_named_configs_and_sizes():
    assert set(NAMED_CONFIGS) >= {"tiny", "small", "spikegpt-46m", "spikegpt-216m"}
    assert build_model("tiny").num_parameters() < 500_000
    small = build_model("small", device="meta").num_parameters()
    assert 2_000_000 <= small <= 8_000_000


def test_spikegpt_216m_builds_on_meta_without_weights():
    model = build_model("spikegpt-216m", device="meta")
    cfg = model.config
    assert (cfg.n_layers, cfg.d_model, cfg.d_ffn, cfg.vocab_size, cfg.ctx_len) == \
        (18, 768, 3072, 50277, 1024)
    assert model.emb.weight.is_meta
    # 18 x (4 x 768^2 + 2 x 768 x 3072 + 768^2) + 2 x 50277 x 768 + norms and decays
    assert 215_000_000 < model.num_parameters() < 216_000_000


def test_classifier_ignores_padding_and_lm_is_causal():
    torch.manual_seed(5)
    clf = build_model("tiny", head="classify").eval()
    idx = torch.randint(1, 512, (1, 7))
    padded = torch.cat([idx, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        a = clf(idx, torch.tensor([7]))
        b = clf(padded, torch.tensor([7]))
    torch.testing.assert_close(a, b)
    lm = build_model("tiny").eval()
    with torch.no_grad():
        full = lm(padded)
        changed = padded.clone()
        changed[0, 9] = 3
        later = lm(changed)
    torch.testing.assert_close(full[:, :9], later[:, :9])
    assert not torch.allclose(full[:, 9:], later[:, 9:])


def test_every_block_linear_takes_spikes():
    torch.manual_seed(6)
    model = build_model("tiny").eval()
    seen = {}
    hooks = [model.get_submodule(s.layer).register_forward_pre_hook(
        lambda m, a, name=s.layer: seen.__setitem__(name, a[0]))
        for s in model.synapses() if s.kind == "linear"]
    model(torch.randint(0, 512, (2, 16)))
    for h in hooks:
        h.remove()
    assert len(seen) == 7 * model.config.n_layers
    for name, inputs in seen.items():
        assert ((inputs == 0) | (inputs == 1)).all(), name


def test_float_att_output_option_makes_output_input_non_binary():
    model = build_model("tiny", spiking_att_output=False).eval()
    sources = {s.layer: s.source for s in model.synapses()}
    assert sources["blocks.0.att.output"] == ""


def test_bad_config_values_are_named():
    with pytest.raises(BadInputError, match="unknown model config 'huge'"):
        get_config("huge")
    with pytest.raises(BadInputError, match="d_model=0"):
        get_config("tiny", d_model=0)
    with pytest.raises(BadInputError, match="tau=1.0"):
        get_config("tiny", tau=1.0)


# --------------------------------------------------------------------------------- checkpoints
@pytest.fixture()
def checkpoint(tmp_path):
    tokenizer = Tokenizer.train(["a small corpus of words", "words of a corpus"] * 20, 300)
    model = build_model("tiny", vocab_size=tokenizer.vocab_size, seed=0)
    return save_checkpoint(tmp_path / "ck", model, tokenizer, {"note": "test"}), model


def test_checkpoint_round_trip(checkpoint):
    path, model = checkpoint
    loaded = load_checkpoint(path)
    assert loaded.training == {"note": "test"}
    for name, tensor in model.state_dict().items():
        if ".lif." not in name:
            assert torch.equal(tensor, loaded.model.state_dict()[name]), name
    idx = torch.randint(0, loaded.config.vocab_size, (2, 9))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(idx), loaded.model(idx))


def test_changed_or_truncated_checkpoint_is_refused(checkpoint):
    path, _ = checkpoint
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="sha256"):
        load_checkpoint(path)
    weights.write_bytes(bytes(data[:-10]))
    with pytest.raises(ChecksumError, match="truncated"):
        verify_checkpoint(path)


def test_checkpoint_without_manifest_or_directory_is_refused(checkpoint, tmp_path):
    path, _ = checkpoint
    (path / "manifest.json").unlink()
    with pytest.raises(ChecksumError, match="manifest.json is missing"):
        load_checkpoint(path)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")


def test_config_json_mismatch_is_refused(checkpoint):
    path, _ = checkpoint
    config = json.loads((path / "config.json").read_text())
    config["mystery"] = 1
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ChecksumError):
        load_checkpoint(path)
