"""Bad input across every command and the Python API: exit 2 (or BadInputError) and a message
that names the value, never a traceback, never a silent default.

Each case gives the command (or a call), the expected exit code and a word the message must
contain. The shipped tiny checkpoint (data/slm-tiny-sst2, 312 KB) and a small synthetic SST-2
folder keep every case fast and independent of the real data.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from qslm_neuro.cli.main import main
from qslm_neuro.errors import QSLMError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "data" / "slm-tiny-sst2"
WORKLOAD = ROOT / "data" / "workload-slm-small-sst2.json"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rng = random.Random(0)
    words = ["good", "bad", "film", "plot", "great", "dull", "the", "a", "story", "fun"]
    rows = [(" ".join(rng.choice(words) for _ in range(9)), i % 2) for i in range(80)]
    (root / "sst2").mkdir()
    for split, part in (("train", rows[:40]), ("dev", rows[40:])):
        lines = ["sentence\tlabel"] + [f"{s}\t{label}" for s, label in part]
        (root / "sst2" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    (root / "wikitext-2-raw").mkdir()
    text = "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(50))
    for name in ("wiki.valid.raw", "wiki.test.raw"):
        (root / "wikitext-2-raw" / name).write_text(text)
    return root


def _regenerate_manifest(directory: Path) -> None:
    """Rewrite the manifest so that only the content check below it can catch the change."""
    from qslm_neuro.fileio import sha256_file

    manifest = json.loads((directory / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        entry["sha256"] = sha256_file(directory / name)
        entry["bytes"] = (directory / name).stat().st_size
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> dict[str, Path]:
    """Copies of the tiny checkpoint, each damaged in one way, manifests regenerated."""
    root = tmp_path_factory.mktemp("broken")
    made = {}
    for name, change in (
            ("d_model", lambda d: _edit_config(d, d_model=48)),
            ("tau", lambda d: _edit_config(d, tau="two")),
            ("truncated", lambda d: _truncate(d / "model.safetensors")),
            ("changed", None)):
        target = root / name
        shutil.copytree(TINY, target)
        if change is None:  # changed after the manifest was written: the checksum catches it
            with open(target / "config.json", "a") as handle:
                handle.write(" ")
            made[name] = target
            continue
        change(target)
        _regenerate_manifest(target)
        made[name] = target
    return made


def _edit_config(directory: Path, **changes) -> None:
    config = json.loads((directory / "config.json").read_text())
    config.update(changes)
    (directory / "config.json").write_text(json.dumps(config))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


#: Cases whose fix lands with a branch being merged (strict: a fixed case fails until removed).
PENDING: tuple[str, ...] = ()


def _pending(request, text: str) -> None:
    if any(p in text for p in PENDING):
        request.applymarker(pytest.mark.xfail(strict=True, reason="fix lands with a branch"))


def run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.err + captured.out


SEARCH = ["search", "--model", str(TINY), "--task", "sst2", "--select-split", "dev",
          "--ladder", "fp32,int4", "--no-progress", "--out", "{tmp}/run"]
SWEEP = ["sweep", "--workload", str(WORKLOAD), "--hw", "loihi2"]
CLI_CASES = [
    # train
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--lr", "nan"], "lr"),
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--lr", "-1"], "lr"),
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--weight-decay", "-1"], "weight_decay"),
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--max-steps", "0"], "max_steps"),
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--time-budget-s", "-5"], "time_budget_s"),
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--set", "nonexistent_field=1"], "nonexistent_field"),
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--epochs", "0"], "epochs"),
    (["train", "--out", "{tmp}/ckpt", "--task", "imdb"], "imdb"),
    (["train", "--out", "{tmp}/ckpt", "--task", "sst2", "--model", "huge"], "huge"),
    # eval
    (["eval", "--model", "no/such/dir", "--task", "sst2"], "no/such/dir"),
    (["eval", "--model", str(TINY), "--task", "wikitext2"], "classify"),
    (["eval", "--model", str(TINY), "--task", "sst2", "--plan", "no-such-plan.json"],
     "no-such-plan.json"),
    (["eval", "--model", str(TINY), "--task", "sst2", "--plan", "int99"], "int99"),
    (["eval", "--model", "{d_model}", "--task", "sst2"], "does not match"),
    (["eval", "--model", "{tau}", "--task", "sst2"], "tau"),
    (["eval", "--model", "{truncated}", "--task", "sst2"], "safetensors"),
    (["eval", "--model", "{changed}", "--task", "sst2"], "config.json"),
    # search
    (SEARCH + ["--seed", "-1"], "seed"),
    (SEARCH + ["--strategy", "random", "--n-evals", "0"], "n_evaluations"),
    (SEARCH + ["--calib-size", "100000"], "calibration_size=100000"),
    (SEARCH + ["--const-acc", "0"], "'0'"),
    (SEARCH + ["--const-mem", "lots"], "'lots'"),
    (SEARCH + ["--ladder", "fp32,int0"], "int0"),
    (SEARCH + ["--keep", "blocks.9.att"], "blocks.9.att"),
    (SEARCH + ["--alpha", "-1"], "alpha=-1"),
    (SEARCH + ["--n-evals", "5"], "--n-evals"),
    (SEARCH + ["--tiers", "global,chip"], "chip"),
    (SEARCH + ["--threads", "0"], "--threads"),
    (SEARCH + ["--strategy", "annealing"], "annealing"),
    (SEARCH + ["--racing", "1.5"], "racing level=1.5"),
    (SEARCH + ["--strategy", "random", "--descent", "bisect"], "--descent"),
    # estimate
    (["estimate", "--workload", str(WORKLOAD), "--hw", "no-such-chip"], "no-such-chip"),
    (["estimate", "--model", str(TINY), "--plan", "int99"], "int99"),
    (["estimate", "--workload", str(WORKLOAD), "--set", "e_syn_op_pj=abc"], "abc"),
    (["estimate", "--workload", str(WORKLOAD), "--set", "no_such_param=1"], "no_such_param"),
    (["estimate", "--workload", str(WORKLOAD), "--tokens-per-s", "-1"], "-1"),
    (["estimate", "--workload", "no-such-workload.json"], "no-such-workload.json"),
    # sweep
    (SWEEP + ["--param", "e_syn_op_pj=abc", "--out", "{tmp}/g.csv"], "abc"),
    (SWEEP + ["--param", "e_syn_op_pj=a:b", "--out", "{tmp}/g.csv"], "a:b"),
    (SWEEP + ["--param", "e_syn_op_pj=5", "--param", "e_syn_op_pj=10", "--out", "{tmp}/g.csv"],
     "e_syn_op_pj"),
    (SWEEP + ["--param", "no_such_param=1:2:3", "--out", "{tmp}/g.csv"], "no_such_param"),
    (SWEEP + ["--param", "e_syn_op_pj=5:40:4", "--out", "{tmp}/g.csv", "--plot", "{tmp}/g.png",
              "--value", "nonexistent"], "nonexistent"),
    # lava
    (["lava", "--model", str(TINY), "--tokens", "0"], "tokens"),
    (["lava", "--model", str(TINY), "--layers", "blocks.9.ffn.key"], "blocks.9.ffn.key"),
    (["lava", "--model", str(TINY), "--plan", "int99"], "int99"),
]


@pytest.mark.parametrize("argv, word", CLI_CASES, ids=[" ".join(c[0][:1] + c[0][-2:])
                                                       for c in CLI_CASES])
def test_cli_bad_input_exits_2_naming_the_value(argv, word, data_dir, broken, tmp_path, capsys,
                                                monkeypatch, request):
    _pending(request, " ".join(argv))
    monkeypatch.setenv("QSLM_DATA_DIR", str(data_dir))
    argv = [a.format(tmp=tmp_path, **{k: str(v) for k, v in broken.items()}) for a in argv]
    before = set(tmp_path.iterdir())
    code, message = run(argv, capsys)
    assert code == 2, message
    errors = "\n".join(line for line in message.splitlines() if "error" in line)
    assert word in errors, message  # in the error itself, not in the usage text
    assert "Traceback" not in message
    assert set(tmp_path.iterdir()) == before  # nothing half-made left behind


def _workload():
    from qslm_neuro.workload import Workload

    return Workload.load(WORKLOAD)


API_CASES = [
    (lambda: __import__("qslm_neuro").sweep(_workload(), "loihi2", e_syn_op_pj="abc"), "abc"),
    (lambda: __import__("qslm_neuro").estimate(_workload(), hw="no-such-chip"), "no-such-chip"),
    (lambda: __import__("qslm_neuro").load_model("no/such/dir"), "no/such/dir"),
    (lambda: __import__("qslm_neuro").QuantPlan.from_dict({"default": "int99"}), "int99"),
]


@pytest.mark.parametrize("call, word", API_CASES)
def test_api_bad_input_raises_bad_input_naming_the_value(call, word, request):
    _pending(request, f"API {word}")
    with pytest.raises(QSLMError, match=word.replace(".", r"\.")) as error:
        call()
    assert error.value.exit_code == 2  # BadInputError or DataNotFoundError: the CLI's exit 2


def test_the_battery_is_large_enough():
    assert len(CLI_CASES) + len(API_CASES) >= 40
