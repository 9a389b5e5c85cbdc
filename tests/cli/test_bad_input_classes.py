"""Issue 24's defect classes, one test per class, every case a parameter.

* nothing lost: no command replaces a folder it did not make without ``--overwrite``, never the
  source checkpoint; a failed write leaves nothing, not even a hidden staging folder;
* bounded memory: an in-memory sweep too large for the budget is refused at once, naming the
  size and the fix; with ``out=`` it runs in blocks;
* cheap checks before expensive work: bad data files, chip names, grids, constraints;
* output paths: under a file, in /proc, empty;
* values that used to be accepted silently (spike trains, --dt, imported tensors, ranges);
* the Python API raises the package's own errors, never TypeError/AttributeError;
* a plan made for another model warns (refused with --strict);
* a resumed search counts the time of a run that was killed.

Everything runs in-process (``main([...])``) on the shipped 312 KB tiny checkpoint or on files
built here, so the whole file takes seconds.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import qslm_neuro
from qslm_neuro.cli.main import main
from qslm_neuro.errors import BadInputError, QSLMError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "data" / "slm-tiny-sst2"
WORKLOAD = ROOT / "data" / "workload-slm-small-sst2.json"
WORDS = ["good", "bad", "film", "plot", "great", "dull", "the", "a", "story", "fun"]


def run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def tree(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` with a digest of its bytes (folders as 'dir')."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))}


def expect_exit_2(argv: list[str], word: str, capsys, where: Path) -> str:
    """Exit 2, ``word`` in the one-line error, no traceback, nothing new under ``where``."""
    before = tree(where)
    code, message = run(argv, capsys)
    assert code == 2, message
    errors = [line for line in message.splitlines() if "error" in line]
    assert errors and word in errors[-1], message
    assert "Traceback" not in message
    assert tree(where) == before  # nothing made, nothing changed
    return message


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rng = random.Random(0)
    rows = [(" ".join(rng.choice(WORDS) for _ in range(9)), i % 2) for i in range(60)]
    (root / "sst2").mkdir()
    for split, part in (("train", rows[:30]), ("dev", rows[30:])):
        lines = ["sentence\tlabel"] + [f"{s}\t{label}" for s, label in part]
        (root / "sst2" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return root


# -- 1. nothing lost -------------------------------------------------------------------------
def _setup_loss(tmp: Path, case: str) -> tuple[list[str], Path]:
    """The command of one data-loss case and the folder that must stay as it is."""
    model = tmp / "model"
    shutil.copytree(TINY, model)
    existing = tmp / "mine"
    existing.mkdir()
    (existing / "thesis.txt").write_text("three years of work")
    (existing / "thesis.nir").write_text("a graph of mine")
    (existing / "t.csv").write_text("my table")
    export = ["export", "--plan", "int8", "--model", str(model)]
    return {
        "export into an existing folder": export + ["--out", str(existing)],
        "export over its own checkpoint, --overwrite": export + ["--out", str(model),
                                                                 "--overwrite"],
        "export inside its checkpoint, --overwrite": export + ["--out", str(model / "packed"),
                                                               "--overwrite"],
        "export over a folder holding the checkpoint": ["export", "--plan", "int8", "--model",
                                                        str(model), "--out", str(tmp),
                                                        "--overwrite"],
        "export --nir over an existing file": export + ["--nir", "--out",
                                                        str(existing / "thesis.nir")],
        "train into an existing folder": ["train", "--task", "sst2", "--model", "tiny",
                                          "--out", str(existing)],
        "import-spikegpt into an existing folder": ["import-spikegpt", "x.pth", "--tokenizer",
                                                    "t.json", "--out", str(existing)],
        "sweep over an existing file": ["sweep", "--workload", str(WORKLOAD), "--param",
                                        "e_syn_op_pj=1,2", "--out", str(existing / "t.csv")],
        "estimate --out over an existing file": ["estimate", "--workload", str(WORKLOAD),
                                                 "--out", str(existing / "thesis.txt")],
        "estimate --save-workload over an existing file": [
            "estimate", "--workload", str(WORKLOAD), "--save-workload", str(existing / "t.csv")],
        "lava --csv over an existing file": ["lava", "--model", str(model), "--plan", "int8",
                                             "--csv", str(existing / "t.csv")],
    }[case], tmp


LOSS_CASES = ["export into an existing folder", "export over its own checkpoint, --overwrite",
              "export inside its checkpoint, --overwrite",
              "export over a folder holding the checkpoint", "export --nir over an existing file",
              "train into an existing folder", "import-spikegpt into an existing folder",
              "sweep over an existing file", "estimate --out over an existing file",
              "estimate --save-workload over an existing file",
              "lava --csv over an existing file"]


@pytest.mark.parametrize("case", LOSS_CASES)
def test_no_command_replaces_what_it_did_not_create(case, tmp_path, capsys):
    argv, guarded = _setup_loss(tmp_path, case)
    # estimate and lava name the flag of the file they would replace (--save-workload, --csv)
    expect_exit_2(argv, "exists" if case.startswith(("estimate", "lava")) else "--out", capsys,
                  guarded)


def test_overwrite_replaces_and_a_failed_write_leaves_nothing(tmp_path, capsys, monkeypatch):
    import safetensors.torch

    out = tmp_path / "packed"
    out.mkdir()
    (out / "old.txt").write_text("replace me")
    argv = ["export", "--plan", "int8", "--model", str(TINY), "--out", str(out)]
    assert run(argv + ["--overwrite"], capsys)[0] == 0
    assert not (out / "old.txt").exists() and (out / "manifest.json").is_file()
    qslm_neuro.load_model(out)  # the replacement is a verified checkpoint
    written = tree(tmp_path)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    for target in (out, tmp_path / "new" / "packed"):  # replacing, and writing afresh
        with pytest.raises(OSError, match="No space"):
            main(["export", "--plan", "int8", "--model", str(TINY), "--out", str(target),
                  "--overwrite"])
        assert tree(tmp_path) == written  # old one intact, no staging folder, no parents


# -- 2. bounded memory -----------------------------------------------------------------------
def _ten_billion_points() -> list[str]:
    names = ["e_syn_op_pj=10:40:100", "t_syn_op_ns=1:10:100", "e_hop_pj=1:10:100",
             "e_msg_in_pj=1:10:100", "t_hop_ns=1:10:100"]
    return [arg for name in names for arg in ("--param", name)]


SWEEP_MEMORY_CASES = [
    (["--model", str(TINY)] + _ten_billion_points(), "--workers"),  # 1e10 points
    (["--workload", str(WORKLOAD), "--param", "e_syn_op_pj=1:40:1000", "--max-memory",
      "10kB"], "--max-memory"),
    (["--workload", str(WORKLOAD), "--param", "e_syn_op_pj=1:2:1000000000"], "values"),
]


@pytest.mark.parametrize("args, word", SWEEP_MEMORY_CASES, ids=["1e10 points", "budget", "axis"])
def test_in_memory_sweep_is_refused_beyond_the_budget(args, word, tmp_path, capsys):
    start = time.perf_counter()
    message = expect_exit_2(["sweep", "--hw", "loihi2", "--out", str(tmp_path / "g.csv"), *args],
                            word, capsys, tmp_path)
    assert time.perf_counter() - start < 5  # refused before any work, not after
    assert "variants" in message or "values" in message


def test_python_sweep_is_bounded_and_runs_in_blocks_with_out(tmp_path):
    from qslm_neuro.validate import memory_budget

    values = np.linspace(5, 40, 2000)
    with memory_budget("100kB"):
        with pytest.raises(BadInputError, match="out="):
            qslm_neuro.sweep(str(WORKLOAD), "loihi2", e_syn_op_pj=values)
        summary = qslm_neuro.sweep(str(WORKLOAD), "loihi2", out=tmp_path / "g.csv",
                                   e_syn_op_pj=values)
    assert summary.points == 2000 and (tmp_path / "g.csv").is_file()


# -- 3. cheap checks before expensive work ---------------------------------------------------
def _never(name: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} started although the input was bad")
    return fail


DATA_CASES = [("sentence\tlabel\n", "no examples"), ("", "empty"),
              ("sentence\tlabel\ngood film\t7\n", "label '7'")]


@pytest.mark.parametrize("dev, word", DATA_CASES, ids=["header only", "empty", "bad label"])
def test_bad_data_fails_before_the_search(dev, word, data_dir, tmp_path, capsys, monkeypatch):
    import qslm_neuro.quantsearch.checkpoint as checkpoint

    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    (data / "sst2" / "dev.tsv").write_text(dev)
    monkeypatch.setattr(checkpoint, "search", _never("the search"))
    expect_exit_2(["search", "--model", str(TINY), "--task", "sst2", "--data-dir", str(data),
                   "--out", str(tmp_path / "run"), "--no-progress"], word, capsys, tmp_path)


EARLY_CASES = [
    (["lava", "--model", str(TINY), "--hw", "loihi9", "--csv", "{tmp}/l.csv"], "loihi9",
     ("qslm_neuro.cli.lava", "load_and_record_inputs")),
    (["sweep", "--workload", str(WORKLOAD), "--param", "cores_per_tile=200", "--workers", "1",
      "--out", "{tmp}/g.csv"], "cores_per_tile", ("qslm_neuro.hw.chunked_sweep", "_open_client")),
    (["search", "--model", str(TINY), "--task", "sst2", "--select-split", "dev",
      "--const-acc", "<=0.8", "--out", "{tmp}/run", "--no-progress"], ">=0.8",
     ("qslm_neuro.quantsearch.store.EvaluationStore", "put")),
    (["search", "--model", str(TINY), "--task", "sst2", "--select-split", "dev", "--beta", "1",
      "--hw", "none", "--out", "{tmp}/run", "--no-progress"], "hw='none'",
     ("qslm_neuro.quantsearch.store.EvaluationStore", "put")),
]


@pytest.mark.parametrize("argv, word, expensive", EARLY_CASES,
                         ids=["lava chip", "sweep grid on workers", "search constA", "search beta"])
def test_cheap_checks_run_before_expensive_work(argv, word, expensive, data_dir, tmp_path,
                                                capsys, monkeypatch):
    import importlib

    module, name = expensive
    try:
        target = importlib.import_module(module)
    except ModuleNotFoundError:  # a class path: module.Class
        mod, cls = module.rsplit(".", 1)
        target = getattr(importlib.import_module(mod), cls)
    monkeypatch.setattr(target, name, _never(f"{module}.{name}"))
    monkeypatch.setenv("QSLM_DATA_DIR", str(data_dir))
    expect_exit_2([a.format(tmp=tmp_path) for a in argv], word, capsys, tmp_path)


def test_closed_scheduler_port_fails_fast(tmp_path, capsys):
    pytest.importorskip("distributed")
    start = time.perf_counter()
    expect_exit_2(["sweep", "--workload", str(WORKLOAD), "--param", "e_syn_op_pj=1,2",
                   "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "g.csv")],
                  "127.0.0.1:1", capsys, tmp_path)
    assert time.perf_counter() - start < 10  # Dask's own timeout is 30 s


# -- 4. output paths -------------------------------------------------------------------------
def _out_commands(out: str) -> dict[str, list[str]]:
    return {"export": ["export", "--plan", "int8", "--model", str(TINY), "--out", out],
            "import-spikegpt": ["import-spikegpt", "x.pth", "--tokenizer", "t.json", "--out", out],
            "train": ["train", "--task", "sst2", "--model", "tiny", "--out", out],
            "search": ["search", "--model", str(TINY), "--task", "sst2", "--select-split",
                       "dev", "--no-progress", "--out", out],
            "sweep": ["sweep", "--workload", str(WORKLOAD), "--param", "e_syn_op_pj=1,2",
                      "--out", out + ".csv"]}


@pytest.mark.parametrize("command", ["export", "import-spikegpt", "train", "sweep", "search"])
@pytest.mark.parametrize("kind", ["under a file", "in /proc", "empty"])
def test_unwritable_outputs_exit_2_before_work(command, kind, data_dir, tmp_path, capsys,
                                               monkeypatch):
    monkeypatch.setenv("QSLM_DATA_DIR", str(data_dir))
    (tmp_path / "notes.txt").write_text("a file")
    out = {"under a file": str(tmp_path / "notes.txt" / "out"), "in /proc": "/proc/qslm-out",
           "empty": ""}[kind]
    argv = _out_commands(out)[command]
    if command == "sweep" and kind == "empty":
        argv[-1] = ""
    expect_exit_2(argv, "--out", capsys, tmp_path)


# -- 5. values once accepted silently --------------------------------------------------------
@pytest.fixture(scope="module")
def nir_graph(tmp_path_factory) -> Path:
    nir = pytest.importorskip("nir")
    folder = tmp_path_factory.mktemp("nir")
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])),
        nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
        nir.LIF(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2),
                v_threshold=np.ones(2)),
        nir.Output(output_type=np.array([2])))
    nir.write(str(folder / "net.nir"), graph)
    return folder / "net.nir"


def _spikes(kind: str, folder: Path) -> str:
    good = np.zeros((4, 1, 3), dtype=np.float32)
    arrays = {"negative": good - 1, "1e30": good + 1e30, "complex": good.astype(np.complex64),
              "NaN": good + np.nan, "zero steps": np.zeros((0, 1, 3), np.float32),
              "text": np.array([[["a", "b", "c"]]])}
    if kind == "pickled code":
        torch.save({"spikes": torch.zeros(4, 1, 3), "run": print}, folder / "s.pt")
        return str(folder / "s.pt")
    np.save(folder / "s.npy", arrays[kind])
    return str(folder / "s.npy")


SPIKE_CASES = [("negative", "negative"), ("1e30", "up to"), ("complex", "not real"),
               ("NaN", "NaN"), ("zero steps", "time step"), ("text", "numeric"),
               ("pickled code", "more than a tensor")]


@pytest.mark.parametrize("kind, word", SPIKE_CASES, ids=[c[0] for c in SPIKE_CASES])
def test_bad_spike_trains_are_refused(kind, word, nir_graph, tmp_path, capsys):
    files = tmp_path / "in"
    files.mkdir()
    path = _spikes(kind, files)
    expect_exit_2(["estimate", "--nir", str(nir_graph), "--inputs", path], word, capsys,
                  tmp_path)
    if kind != "pickled code":  # the Python API refuses the same arrays
        data = torch.load(path) if path.endswith(".pt") else np.load(path)
        with pytest.raises(BadInputError, match=word):
            qslm_neuro.estimate(str(nir_graph), inputs=data)


def _state(tensor_change: str) -> dict[str, torch.Tensor]:
    from qslm_neuro.models.config import SLMConfig
    from qslm_neuro.models.spikegpt import expected_state_shapes

    config = SLMConfig(vocab_size=50, d_model=8, n_layers=1, d_ffn=32, ctx_len=16,
                       architecture="spikegpt", name="x")
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(*shape, generator=g) * 0.1
             for k, shape in expected_state_shapes(config).items()}
    key = "emb.weight"
    state[key] = {"NaN": state[key].masked_fill(torch.rand(state[key].shape, generator=g) < .1,
                                                float("nan")),
                  "1-D": state[key].reshape(-1), "3-D": state[key][None],
                  "0-d": torch.tensor(1.0), "int": state[key].to(torch.int64),
                  "inf": state[key] / 0}[tensor_change]
    return state


IMPORT_CASES = [("NaN", "NaN"), ("inf", "infinite"), ("1-D", "2-D"), ("3-D", "2-D"),
                ("0-d", "2-D"), ("int", "floating point"), ("tokenizer folder", "is a folder"),
                ("checkpoint folder", "is a folder")]


@pytest.mark.parametrize("change, word", IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES])
def test_import_spikegpt_checks_every_tensor(change, word, tmp_path, capsys):
    files = tmp_path / "in"
    files.mkdir()
    pth, tokenizer = files / "x.pth", str(TINY / "tokenizer.json")
    if change == "tokenizer folder":
        tokenizer = str(files)
    elif change == "checkpoint folder":
        pth = files
    else:
        torch.save(_state(change), pth)
    expect_exit_2(["import-spikegpt", str(pth), "--tokenizer", tokenizer, "--out",
                   str(tmp_path / "out")], word, capsys, tmp_path)


RANGE_CASES = [
    (["train", "--task", "sst2", "--model", "tiny", "--ctx-len", "0"], "--ctx-len"),
    (["train", "--task", "sst2", "--model", "tiny", "--ctx-len", "-1"], "--ctx-len"),
    (["train", "--task", "sst2", "--model", "tiny", "--seed", "-1"], "--seed"),
    (["train", "--task", "sst2", "--model", "tiny", "--dropout", "1.5"], "--dropout"),
    (["train", "--task", "sst2", "--model", "tiny", "--device", "tpu"], "tpu"),
    (["lava", "--model", str(TINY), "--layers", ""], "--layers"),
    (["lava", "--model", str(TINY), "--modes", ""], "--modes"),
    (["lava", "--model", str(TINY), "--modes", "float,exact"], "exact"),
    (["eval", "--model", str(TINY), "--task", "sst2", "--plan", ""], "--plan"),
    (["eval", "--model", str(TINY), "--task", "sst2", "--plan", "{tmp}"], "is a folder"),
    (["export", "--model", str(TINY), "--plan", "{tmp}", "--out", "{tmp}/p"], "is a folder"),
    (["estimate", "--nir", "{nir}", "--rates", '{{"input": 0.1}}', "--dt", "inf"], "dt"),
    (["estimate", "--nir", "{nir}", "--rates", '{{"input": 0.1}}', "--dt", "0"], "dt"),
    (["search", "--model", str(TINY), "--task", "sst2", "--hw", "loihi9", "--select-split",
      "dev", "--out", "{tmp}/run", "--no-progress"], "loihi9"),
]
if not torch.cuda.is_available():
    RANGE_CASES.append((["train", "--task", "sst2", "--model", "tiny", "--device", "cuda"],
                        "CUDA"))


@pytest.mark.parametrize("argv, word", RANGE_CASES,
                         ids=[" ".join(c[0][:1] + c[0][-2:]) for c in RANGE_CASES])
def test_values_out_of_range_exit_2_naming_them(argv, word, nir_graph, data_dir, tmp_path,
                                                capsys, monkeypatch):
    monkeypatch.setenv("QSLM_DATA_DIR", str(data_dir))
    argv = [a.format(tmp=tmp_path, nir=nir_graph) for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "ckpt")]
    expect_exit_2(argv, word, capsys, tmp_path)


# -- 6. the Python API -----------------------------------------------------------------------
def _mlp():
    return torch.nn.Sequential(torch.nn.Linear(4, 4))


def _tiny_model():
    return qslm_neuro.load_model(TINY).model


API_CASES = [
    ("load_model(None)", lambda: qslm_neuro.load_model(None), "None"),
    ("load_model(cuda)", lambda: qslm_neuro.load_model(TINY, device="cuda:7")
     if torch.cuda.device_count() < 8 else qslm_neuro.load_model(TINY, device="tpu"), "cuda"),
    ("load_model(file)", lambda: qslm_neuro.load_model(TINY / "config.json"), "is a file"),
    ("estimate overrides text", lambda: qslm_neuro.estimate(str(WORKLOAD),
                                                            overrides="e_syn_op_pj=3"), "overrides"),
    ("estimate overrides list", lambda: qslm_neuro.estimate(str(WORKLOAD), overrides=[1]),
     "overrides"),
    ("sweep(hw=None)", lambda: qslm_neuro.sweep(str(WORKLOAD), hw=None, e_syn_op_pj=[1, 2]),
     "hw=None"),
    ("sweep overrides text", lambda: qslm_neuro.sweep(str(WORKLOAD), overrides="x",
                                                       e_syn_op_pj=[1, 2]), "overrides"),
    ("sweep values None", lambda: qslm_neuro.sweep(str(WORKLOAD), e_syn_op_pj=None),
     "e_syn_op_pj"),
    ("sweep(out=3)", lambda: qslm_neuro.sweep(str(WORKLOAD), out=3, e_syn_op_pj=[1, 2]), "table file"),
    ("search(out=3)", lambda: qslm_neuro.search(_mlp(), lambda m: 1.0, higher_is_better=True,
                                                hw=None, out=3), "out=3"),
    ("search(mlp, hw=loihi9)", lambda: qslm_neuro.search(_mlp(), lambda m: 1.0,
                                                         higher_is_better=True, hw="loihi9"),
     "loihi9"),
    ("QuantPlan.load(folder)", lambda: qslm_neuro.QuantPlan.load(TINY), "folder"),
    ("Workload.load(None)", lambda: qslm_neuro.Workload.load(None), "None"),
    ("from_nir(None)", lambda: qslm_neuro.from_nir(None, rates={"input": 0.1}), "None"),
    ("estimate((model, 'int4'))", lambda: qslm_neuro.estimate((_tiny_model(), "int4"),
                                                             activity="profile"), "int4"),
    ("estimate((model, 3))", lambda: qslm_neuro.estimate((_tiny_model(), 3),
                                                        activity="profile"), "QuantPlan"),
    ("TrainConfig(ctx_len=0)", lambda: _train_config(ctx_len=0), "ctx_len"),
    ("TrainConfig(seed=-1)", lambda: _train_config(seed=-1), "seed"),
    ("save_checkpoint over a checkpoint", lambda: _save_over(), "overwrite=True"),
    ("export_packed over its source", lambda: _export_over_source(), "source checkpoint"),
]


def _train_config(**fields):
    from qslm_neuro.training.trainer import TrainConfig

    return TrainConfig(task="sst2", model="tiny", **fields)


def _copy_of_tiny(folder: str) -> Path:
    """A copy of the tiny checkpoint (a broken check must never touch the shipped one)."""
    return Path(shutil.copytree(TINY, Path(folder) / "tiny"))


def _save_over():
    import tempfile

    from qslm_neuro.models.checkpoint import save_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        loaded = qslm_neuro.load_model(_copy_of_tiny(folder))
        save_checkpoint(loaded.path, loaded.model, loaded.tokenizer)  # no overwrite=True


def _export_over_source():
    import tempfile

    from qslm_neuro.export.packed import export_packed

    with tempfile.TemporaryDirectory() as folder:
        loaded = qslm_neuro.load_model(_copy_of_tiny(folder))
        export_packed(loaded, qslm_neuro.QuantPlan(), loaded.path, overwrite=True)


@pytest.mark.parametrize("call, word", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_raises_its_own_errors(call, word):
    with pytest.raises(QSLMError) as error:  # not TypeError, AttributeError, AssertionError
        call()
    assert error.value.exit_code == 2 and word in str(error.value), error.value


# -- 7. plans against the model -------------------------------------------------------------
def _report(tmp: Path, plan: dict, **settings) -> str:
    path = tmp / "plans" / "report.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"settings": settings, "chosen": {"plan": plan}}))
    return str(path)


INT8 = {"default": "int8", "modules": {}}
PLAN_CASES = [
    ("another checkpoint and task", dict(checkpoint="data/slm-small-wt2", task="wikitext2"),
     INT8, "slm-small-wt2"),
    ("another checkpoint", dict(checkpoint="data/slm-small-sst2", task="sst2"), INT8,
     "slm-small-sst2"),
    ("a layer the model lacks", {}, {"default": "int8", "modules": {"blocks.9.att.key": "int4"}},
     "blocks.9.att.key"),
]


@pytest.mark.parametrize("settings, plan, word", [c[1:] for c in PLAN_CASES],
                         ids=[c[0] for c in PLAN_CASES])
def test_a_plan_for_another_model_warns_and_strict_refuses(settings, plan, word, tmp_path,
                                                           capsys):
    report = _report(tmp_path, plan, **settings)
    argv = ["export", "--plan", report, "--model", str(TINY), "--out", str(tmp_path / "p")]
    expect_exit_2(argv + ["--strict"], word, capsys, tmp_path)
    if "modules" in plan and plan["modules"]:  # unknown layers: refused even without --strict
        expect_exit_2(argv, word, capsys, tmp_path)
        return
    code, message = run(argv, capsys)
    assert code == 0 and "warning" in message and word in message
    code, message = run(["estimate", "--model", str(TINY), "--activity", "profile", "--plan",
                         report], capsys)  # every command that takes --plan warns the same
    assert code == 0 and "warning" in message and word in message


# -- 8. a resumed search counts the killed run's time ----------------------------------------
def test_resumed_report_counts_a_killed_run(tmp_path, monkeypatch):
    from qslm_neuro.models import build_model
    from qslm_neuro.quantsearch.store import EvaluationStore
    from qslm_neuro.tasks import SST2Task
    from qslm_neuro.tasks.tokenizer import Tokenizer

    rng = random.Random(0)
    examples = [(" ".join(rng.choice(WORDS) for _ in range(6)), i % 2) for i in range(40)]
    tokenizer = Tokenizer.train([s for s, _ in examples], vocab_size=270)
    torch.manual_seed(0)
    model = build_model("tiny", task="classify", vocab_size=tokenizer.vocab_size).eval()
    task = SST2Task.from_examples(tokenizer, examples, name="synthetic")
    settings = dict(ladder="fp32,int8,int2", strategy="random", n_evaluations=3,
                    calibration_size=16, hw=None, out=tmp_path / "run", progress=False)
    put, stored = EvaluationStore.put, []

    def put_then_die(self, *args, **kwargs):
        put(self, *args, **kwargs)
        stored.append(args[0])
        if len(stored) == 3:  # killed after three results: its time so far must count
            raise KeyboardInterrupt

    monkeypatch.setattr(EvaluationStore, "put", put_then_die)
    with pytest.raises(KeyboardInterrupt):
        qslm_neuro.search(model, task, **settings)
    monkeypatch.setattr(EvaluationStore, "put", put)
    result = qslm_neuro.search(model, task, **settings)
    assert result.settings["processes"] == 2
    killed = result.wall_time_s - result.settings["this_process_wall_time_s"]
    assert killed > 0 and math.isfinite(killed)
