"""--device, --workers and --scheduler: one definition shared by the commands, checked early."""
from __future__ import annotations

import pytest
import torch

from qslm_neuro.cli.main import build_parser, main


@pytest.mark.parametrize("command, extra", [
    ("eval", ["--task", "sst2"]), ("search", ["--task", "sst2", "--out", "x"]),
    ("estimate", []), ("lava", []), ("sweep", ["--param", "e_syn_op_pj=1", "--out", "x"])])
def test_every_command_takes_device(command, extra):
    args = build_parser().parse_args([command, "--model", "m", *extra, "--device", "cuda:1"])
    assert args.device == "cuda:1"


def test_search_and_sweep_take_workers_and_scheduler():
    parser = build_parser()
    for command, extra in (("search", ["--task", "sst2", "--out", "x"]),
                           ("sweep", ["--param", "e_syn_op_pj=1", "--out", "x"])):
        args = parser.parse_args([command, "--model", "m", *extra, "--workers", "2",
                                  "--scheduler", "tcp://h:1"])
        assert (args.workers, args.scheduler) == (2, "tcp://h:1")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a CPU-only torch")
def test_cuda_on_a_cpu_machine_is_bad_input(capsys):
    assert main(["eval", "--model", "nowhere", "--task", "sst2", "--device", "cuda"]) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err


@pytest.mark.parametrize("extra, shown", [(["--workers", "0"], "--workers 0"),
                                          (["--workers", "2", "--scheduler", "tcp://h:1"],
                                           "give one of them"),
                                          (["--device", "tpu"], "--device 'tpu'")])
def test_bad_scale_options_exit_2(extra, shown, capsys):
    code = main(["search", "--model", "nowhere", "--task", "sst2", "--out", "x", *extra])
    assert code == 2
    assert shown in capsys.readouterr().err
