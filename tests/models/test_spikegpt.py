"""SpikeGPT's own block and importing SpikeGPT checkpoints, without the real weights.

The reference below is written from the SpikeGPT paper's equations (token shift, WKV with
time_decay/time_first, sigmoid receptance gate, squared-ReLU channel mix, SpikingJelly's LIF
with hard reset), one token at a time in float64, independently of qslm_neuro's modules. The
checkpoint is written in SpikeGPT's key layout as listed in issue 15, not from our model.
"""
from __future__ import annotations

import json
import math
import os
import random
from fractions import Fraction

import pytest
import torch
from tokenizers import (
    AddedToken,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)
from tokenizers import Tokenizer as HFTokenizer

from qslm_neuro.cli.main import main
from qslm_neuro.models import build_model, get_config
from qslm_neuro.models.checkpoint import load_checkpoint
from qslm_neuro.models.spikegpt import HeavisideATan, SpikingJellyLIF
from qslm_neuro.tasks.neox_tokenizer import NeoXTokenizer, load_tokenizer

WORDS = ["a wonderful film", "truly great acting", "a dull mess", "the worst script",
         "far too long", "loved it", "café naïve"]


# ------------------------------------------------------------------ equation-level reference
def _ln(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mean = x.mean()
    var = ((x - mean) ** 2).mean()
    return (x - mean) / torch.sqrt(var + 1e-5) * w + b


def reference_logits(sd: dict[str, torch.Tensor], idx: list[int], n_layers: int, tau: float,
                     binary_embedding: bool, rescale_every: int) -> torch.Tensor:
    """Logits [T, V] of SpikeGPT, token by token (RNN form), float64."""
    d = sd["emb.weight"].shape[1]
    zeros = lambda: torch.zeros(d, dtype=torch.float64)
    prev_att = [zeros() for _ in range(n_layers)]
    prev_ffn = [zeros() for _ in range(n_layers)]
    history: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in range(n_layers)]
    v1 = [zeros() for _ in range(n_layers)]
    v2 = [zeros() for _ in range(n_layers)]
    out = []

    def lif(state: list[torch.Tensor], i: int, current: torch.Tensor) -> torch.Tensor:
        h = state[i] + (current - state[i]) / tau          # charge (decay_input=True)
        spike = (h >= 1.0).double()                          # fire at V >= v_threshold
        state[i] = h * (1 - spike)                           # hard reset to 0
        return spike

    for token in idx:
        x = sd["emb.weight"][token].double()
        if binary_embedding:
            x = (x >= 0).double()
        for i in range(n_layers):
            p = f"blocks.{i}."
            if i == 0:
                x = _ln(x, sd[p + "ln0.weight"], sd[p + "ln0.bias"])
            scale = 2.0 ** (i // rescale_every) if rescale_every else 1.0
            a = _ln(x, sd[p + "ln1.weight"], sd[p + "ln1.bias"])
            mk, mv, mr = (sd[p + f"att.time_mix_{c}"].reshape(-1) for c in "kvr")
            k = sd[p + "att.key.weight"] @ (a * mk + prev_att[i] * (1 - mk))
            v = sd[p + "att.value.weight"] @ (a * mv + prev_att[i] * (1 - mv))
            r = torch.sigmoid(sd[p + "att.receptance.weight"] @ (a * mr + prev_att[i] * (1 - mr)))
            prev_att[i] = a
            w, u = torch.exp(sd[p + "att.time_decay"]), sd[p + "att.time_first"]
            t = len(history[i])
            num, den = torch.exp(u + k) * v, torch.exp(u + k)
            for j, (kj, vj) in enumerate(history[i]):
                weight = torch.exp(-(t - 1 - j) * w + kj)
                num, den = num + weight * vj, den + weight
            history[i].append((k, v))
            x = x + lif(v1, i, sd[p + "att.output.weight"] @ (r * num / den) / scale)
            b = _ln(x, sd[p + "ln2.weight"], sd[p + "ln2.bias"])
            mk, mr = (sd[p + f"ffn.time_mix_{c}"].reshape(-1) for c in "kr")
            hidden = torch.relu(sd[p + "ffn.key.weight"] @ (b * mk + prev_ffn[i] * (1 - mk))) ** 2
            gate = torch.sigmoid(sd[p + "ffn.receptance.weight"] @ (b * mr + prev_ffn[i] * (1 - mr)))
            prev_ffn[i] = b
            x = x + lif(v2, i, gate * (sd[p + "ffn.value.weight"] @ hidden) / scale)
            if rescale_every and (i + 1) % rescale_every == 0:
                x = x / 2
        x = _ln(x, sd["ln_out.weight"], sd["ln_out.bias"])
        out.append(sd["head.weight"] @ x)
    return torch.stack(out)


def spikegpt_state_dict(vocab: int, d: int, layers: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under SpikeGPT's state_dict keys (issue 15's list), float32."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape, s=1.0: torch.randn(*shape, generator=g) * s
    mix = lambda: torch.rand(1, 1, d, generator=g)
    sd = {"emb.weight": rand(vocab, d)}
    for i in range(layers):
        p = f"blocks.{i}."
        for ln in (["ln0", "ln1", "ln2"] if i == 0 else ["ln1", "ln2"]):
            sd[p + ln + ".weight"], sd[p + ln + ".bias"] = 1 + rand(d, s=0.1), rand(d, s=0.1)
        sd[p + "att.time_decay"], sd[p + "att.time_first"] = rand(d), rand(d, s=0.5)
        for c in "kvr":
            sd[p + f"att.time_mix_{c}"] = mix()
        for name in ("key", "value", "receptance"):
            sd[p + f"att.{name}.weight"] = rand(d, d, s=d ** -0.5)
        sd[p + "att.output.weight"] = rand(d, d, s=3 * d ** -0.5)
        sd[p + "ffn.time_mix_k"], sd[p + "ffn.time_mix_r"] = mix(), mix()
        sd[p + "ffn.key.weight"] = rand(4 * d, d, s=d ** -0.5)
        sd[p + "ffn.receptance.weight"] = rand(d, d, s=d ** -0.5)
        sd[p + "ffn.value.weight"] = rand(d, 4 * d, s=3 * (4 * d) ** -0.5)
    sd["ln_out.weight"], sd["ln_out.bias"] = 1 + rand(d, s=0.1), rand(d, s=0.1)
    sd["head.weight"] = rand(vocab, d, s=d ** -0.5)
    return sd


def spiking_model(sd, layers: int, embedding: str, rescale_every: int):
    vocab, d = sd["emb.weight"].shape
    model = build_model("spikegpt-216m-original", vocab_size=vocab, d_model=d, n_layers=layers,
                        d_ffn=4 * d, ctx_len=32, embedding=embedding,
                        rescale_every=rescale_every)
    model.load_state_dict(sd, strict=True)
    return model.double().eval()


@pytest.mark.parametrize("embedding,rescale_every", [("float", 0), ("binary", 2)])
def test_block_equals_equation_reference_float64(embedding, rescale_every):
    layers, d, vocab = 3, 16, 40
    sd = spikegpt_state_dict(vocab, d, layers, seed=1)
    model = spiking_model(sd, layers, embedding, rescale_every)
    idx = [3, 17, 5, 5, 39, 0, 22, 8]
    spikes = []
    hooks = [m.register_forward_hook(lambda _m, _a, out: spikes.append(out))
             for m in model.populations().values()]
    with torch.no_grad():
        ours = model(torch.tensor([idx]))[0]
    for h in hooks:
        h.remove()
    ref = reference_logits({k: v.double() for k, v in sd.items()}, idx, layers, 2.0,
                           embedding == "binary", rescale_every)
    assert torch.allclose(ours, ref, rtol=0, atol=1e-9), (ours - ref).abs().max()
    rate = torch.cat([s.flatten() for s in spikes]).mean()
    assert 0.02 < rate < 0.95  # the neurons really spike (the comparison is not trivial)


def test_jelly_lif_matches_spikingjelly_rule_and_autograd():
    torch.manual_seed(0)
    x = (torch.randn(3, 9, 5, dtype=torch.float64) * 2 + 1).requires_grad_()
    lif = SpikingJellyLIF(5, tau=2.0, threshold=1.0, surrogate_alpha=2.0)
    fused = lif(x)
    # plain autograd through the same recurrence, reset not detached (SpikingJelly default)
    v, steps = torch.zeros(3, 5, dtype=torch.float64), []
    for t in range(9):
        h = v + (x[:, t] - v) / 2.0
        s = HeavisideATan.apply(h - 1.0, 2.0)
        v = h * (1 - s)
        steps.append(s)
    plain = torch.stack(steps, 1)
    assert torch.equal(fused, plain) and 0 < fused.mean() < 1
    weights = torch.randn_like(fused)
    (g_fused,) = torch.autograd.grad((fused * weights).sum(), x)
    (g_plain,) = torch.autograd.grad((plain * weights).sum(), x)
    assert torch.allclose(g_fused, g_plain, atol=1e-12)
    # an input exactly at threshold fires (V >= v_th), unlike snntorch's V > threshold
    assert lif(torch.full((1, 1, 1), 2.0)).item() == 1.0


def test_216m_original_counts_and_keys_on_meta():
    model = build_model("spikegpt-216m-original", device="meta")
    assert model.num_parameters() == 215_399_424
    keys = set(model.state_dict())
    assert "blocks.0.ln0.weight" in keys and "ln0.weight" not in keys
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["blocks.5.att.time_mix_k"] == (1, 1, 768)
    assert shapes["blocks.17.ffn.value.weight"] == (768, 3072)
    assert shapes["emb.weight"] == shapes["head.weight"] == (50277, 768)
    assert not any("bias" in k for k in keys if ".ln" not in k and "ln_out" not in k)
    small = build_model("spikegpt-46m-original", device="meta")
    assert small.config.embedding == "binary" and small.config.n_layers == 12
    assert get_config("spikegpt-216m").architecture == "qslm"  # ours keeps its name


def test_synapses_record_float_inputs_and_residual_populations():
    from qslm_neuro.measure.from_model import build_workload
    from qslm_neuro.measure.recorder import record_activity

    sd = spikegpt_state_dict(40, 16, 2)
    model = spiking_model(sd, 2, "float", 0).float()
    batches = [(torch.randint(0, 40, (2, 12)), torch.tensor([12, 7]))]
    profile = record_activity(model, batches, progress=False)
    assert profile.spike_driven_share() == 0.0  # every SpikeGPT linear reads floats
    assert set(profile.populations) == {f"blocks.{i}.lif{j}" for i in range(2) for j in (1, 2)}
    assert profile.tokens == 19
    workload = build_workload(model, None, profile)
    names = {p.name for p in workload.populations}
    assert "blocks.1.lif2" in names and workload.spike_driven_share() == 0.0


# -------------------------------------------------------------------------- tokenizer + import
def neox_tokenizer_json(vocab_size: int = 300) -> str:
    """A tiny tokenizer in the 20B_tokenizer.json format: NFC, byte-level BPE,
    <|endoftext|> = 0, <|padding|> = 1 and one added whitespace token."""
    backend = HFTokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1, show_progress=False,
                                  special_tokens=["<|endoftext|>", "<|padding|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(WORDS * 20, trainer=trainer)
    backend.add_tokens([AddedToken("    ", normalized=True)])
    return backend.to_str()


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "20B_tokenizer.json"
    path.write_text(neox_tokenizer_json())
    return path


def test_neox_tokenizer_keeps_its_special_tokens(tokenizer_file):
    tok = load_tokenizer(tokenizer_file)
    assert isinstance(tok, NeoXTokenizer)
    assert (tok.eos_id, tok.pad_id) == (0, 1)
    text = "a wonderful film    loved it <|endoftext|> café"
    ids = tok.encode(text)
    assert tok.decode(ids) == text  # the literal special token is text, not id 0
    assert 0 not in ids and 1 not in ids
    assert int(tok.token_byte_lengths()[ids].sum()) == len(text.encode("utf-8"))
    data = json.loads(tokenizer_file.read_text())
    assert tok.vocab_size == len(data["model"]["vocab"]) + sum(
        1 for t in data["added_tokens"] if t["content"] not in data["model"]["vocab"])


@pytest.fixture(scope="module")
def imported(tmp_path_factory, tokenizer_file):
    root = tmp_path_factory.mktemp("import")
    vocab = NeoXTokenizer.load(tokenizer_file).vocab_size
    sd = spikegpt_state_dict(vocab, 16, 2, seed=3)
    torch.save(sd, root / "SpikeGPT-tiny.pth")
    out = root / "spikegpt-tiny"
    assert main(["import-spikegpt", str(root / "SpikeGPT-tiny.pth"), "--tokenizer",
                 str(tokenizer_file), "--out", str(out), "--ctx-len", "16"]) == 0
    return root, out, sd


def test_import_converts_and_runs(imported, tokenizer_file):
    _root, out, sd = imported
    loaded = load_checkpoint(out)
    cfg = loaded.config
    assert (cfg.architecture, cfg.n_layers, cfg.d_model, cfg.d_ffn) == ("spikegpt", 2, 16, 64)
    assert (cfg.embedding, cfg.rescale_every) == ("float", 6)  # model_run.py's rules
    assert (out / "tokenizer.json").read_bytes() == tokenizer_file.read_bytes()  # as given
    idx = torch.tensor([loaded.tokenizer.encode("a dull mess, loved it")])
    with torch.no_grad():
        logits = loaded.model(idx)[0].double()
    ref = reference_logits({k: v.double() for k, v in sd.items()}, idx[0].tolist(), 2, 2.0,
                           False, 6)
    assert torch.allclose(logits, ref, atol=1e-4)
    training = json.loads((out / "training.json").read_text())
    assert len(training["imported_from"]["sha256"]) == 64


def wiki_dir(root):
    rng = random.Random(0)
    (root / "wikitext-2-raw").mkdir(exist_ok=True)
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(60))
    (root / "wikitext-2-raw" / "wiki.valid.raw").write_text(text)
    (root / "wikitext-2-raw" / "wiki.test.raw").write_text(text[:1500])
    return root


def test_eval_and_estimate_run_on_the_import(imported, tmp_path, capsys):
    _root, out, _sd = imported
    data = wiki_dir(tmp_path)
    assert main(["eval", "--model", str(out), "--task", "wikitext2", "--data-dir", str(data),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metric"] == "perplexity" and math.isfinite(result["value"])
    report = tmp_path / "estimate.json"
    assert main(["estimate", "--model", str(out), "--data-dir", str(data), "--plan", "int8",
                 "--hw", "loihi2", "--out", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "activity measured" in printed
    estimate = json.loads(report.read_text())["snntorch"]
    assert estimate["energy_per_token_j"] > 0


def test_import_refuses_bad_files(imported, tokenizer_file, tmp_path, capsys):
    root, existing, sd = imported
    broken = dict(sd)
    del broken["blocks.1.att.time_first"]
    broken["blocks.1.att.bonus"] = torch.zeros(16)
    broken["blocks.0.ffn.receptance.weight"] = torch.zeros(16, 15)
    torch.save(broken, tmp_path / "broken.pth")
    args = ["--tokenizer", str(tokenizer_file)]
    assert main(["import-spikegpt", str(tmp_path / "broken.pth"), *args,
                 "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "blocks.1.att.time_first" in err and "blocks.1.att.bonus" in err
    assert "blocks.0.ffn.receptance.weight (16, 15)" in err
    assert not (tmp_path / "a").exists()

    # an arbitrary Python object: unpickling it would run its class's code
    torch.save({"emb.weight": Fraction(1, 3)}, tmp_path / "code.pth")
    assert main(["import-spikegpt", str(tmp_path / "code.pth"), *args,
                 "--out", str(tmp_path / "b")]) == 2
    assert "weights_only=True" in capsys.readouterr().err

    small = spikegpt_state_dict(50, 16, 1)  # 50 rows, but the tokenizer has 300 ids
    torch.save(small, tmp_path / "small.pth")
    assert main(["import-spikegpt", str(tmp_path / "small.pth"), *args,
                 "--out", str(tmp_path / "c")]) == 2
    assert "emb.weight has 50 rows" in capsys.readouterr().err
    assert main(["import-spikegpt", str(root / "SpikeGPT-tiny.pth"), *args,
                 "--out", str(existing)]) == 2  # existing --out needs --overwrite
    # an LM checkpoint is not a classifier: head.bias is missing and named
    assert main(["import-spikegpt", str(root / "SpikeGPT-tiny.pth"), *args, "--task",
                 "classify", "--out", str(tmp_path / "d")]) == 2
    assert "head.bias" in capsys.readouterr().err


def test_import_classifier_runs_sst2(imported, tokenizer_file, tmp_path):
    _root, _out, sd = imported
    classifier = dict(sd, **{"head.weight": torch.randn(2, 16), "head.bias": torch.zeros(2)})
    torch.save(classifier, tmp_path / "sst2.pth")
    out = tmp_path / "clf"
    assert main(["import-spikegpt", str(tmp_path / "sst2.pth"), "--tokenizer",
                 str(tokenizer_file), "--out", str(out), "--task", "classify"]) == 0
    loaded = load_checkpoint(out)
    assert (loaded.config.head, loaded.config.n_classes) == ("classify", 2)
    from qslm_neuro.tasks import SST2Task

    task = SST2Task.from_examples(loaded.tokenizer, [(w, i % 2) for i, w in enumerate(WORDS)])
    assert task.evaluate(loaded.model)["n"] == len(WORDS)


def test_gpu_benchmark_script_runs_its_cpu_path(tmp_path):
    """benchmarks/gpu_spikegpt216.py (run by the lead on an H200) on a tiny width, on the CPU."""
    import importlib.util
    from pathlib import Path

    from qslm_neuro.tasks.tokenizer import Tokenizer

    rng = random.Random(1)
    (tmp_path / "sst2").mkdir()
    for split in ("train", "dev"):
        rows = [f"{' , '.join(rng.sample(WORDS, 2))}\t{rng.randint(0, 1)}" for _ in range(40)]
        (tmp_path / "sst2" / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows))
    Tokenizer.train(WORDS * 5, vocab_size=280).save(tmp_path)
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_spikegpt216.py"
    spec = importlib.util.spec_from_file_location("gpu_spikegpt216", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "gpu.json"
    assert module.main(["--device", "cpu", "--tiny", "--out", str(out), "--data-dir",
                        str(tmp_path), "--tokenizer", str(tmp_path / "tokenizer.json"),
                        "--eval-sentences", "24", "--search-sentences", "24", "--calib-size",
                        "8", "--run-dir", str(tmp_path / "run")]) == 0
    record = json.loads(out.read_text())
    assert record["config"]["architecture"] == "spikegpt" and record["config"]["n_layers"] == 2
    assert record["eval"]["sentences"] == 24 and record["eval"]["wall_s"] > 0
    assert record["search"]["counts"]["full_evaluations"] >= 1
    assert record["search"]["selection"].startswith("sst2/train")
    # the README generator shows the record once the lead's GPU run has written one
    tools = Path(__file__).resolve().parents[2] / "tools" / "results_sections.py"
    spec = importlib.util.spec_from_file_location("results_sections", tools)
    readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme)
    assert "sst2/dev, 24 of its 40 sentences" in readme.section_gpu216(record)


def test_216m_original_costed_without_weights_says_where_rates_come_from(capsys):
    from pathlib import Path

    from qslm_neuro.measure import workload_from_config
    from qslm_neuro.workload.profile import ActivityProfile

    profile = ActivityProfile.load(Path(__file__).resolve().parents[2]
                                   / "data/activity-slm-small-sst2.json")
    ours = workload_from_config("spikegpt-216m", profile)
    theirs = workload_from_config("spikegpt-216m-original", profile)
    assert ours.spike_driven_share() > 0.9 and theirs.spike_driven_share() == 0.0
    assert "assumed 0.5" in theirs.activity_source and "borrowed" in theirs.activity_source
    assert len(theirs.populations) == 36  # lif1 + lif2 in each of 18 blocks
    value = theirs.layer("blocks.3.ffn.value")
    assert value.activity.input_events_per_step == 0.5 * 3072  # the assumed density
    assert theirs.layer("blocks.3.att.key").activity.input_events_per_step == 768  # dense
    assert main(["estimate", "--config", "spikegpt-216m-original", "--hw", "embedded-soc"]) == 0
    assert "uJ" in capsys.readouterr().out


@pytest.mark.skipif(not os.environ.get("QSLM_SPIKEGPT_TOKENIZER"),
                    reason="set QSLM_SPIKEGPT_TOKENIZER to SpikeGPT's 20B_tokenizer.json to run")
def test_real_20b_tokenizer_file():
    tok = load_tokenizer(os.environ["QSLM_SPIKEGPT_TOKENIZER"])
    assert isinstance(tok, NeoXTokenizer)
    assert (tok.vocab_size, tok.eos_id, tok.pad_id) == (50277, 0, 1)  # = emb.weight rows
    text = "It's a   moving film.     Café naïve"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert int(tok.token_byte_lengths()[ids].sum()) == len(text.encode("utf-8"))
