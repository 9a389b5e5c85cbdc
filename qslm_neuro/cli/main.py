"""The ``qslm`` command line: the registry of subcommands, one module each.

Exit codes (documented in the README):
  0  success
  1  unexpected internal error (a bug: please report it with the traceback)
  2  bad input: a malformed value, a missing file or dataset, a changed checkpoint
  3  the search's constraints cannot be met (the report still lists the nearest candidates)

A subcommand module has ``HELP``, ``configure(parser)`` (its options) and ``run(args)`` (returns
an exit code). Modules import torch and lava-nc inside ``run``, so ``qslm --help`` is fast and
works without lava-nc.
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Callable, Sequence

from qslm_neuro.cli import demo, estimate, export, import_spikegpt, lava, search, sweep, train
from qslm_neuro.cli import eval as eval_command
from qslm_neuro.cli.common import (EXIT_BAD_INPUT, EXIT_CONSTRAINTS, EXIT_INTERNAL, EXIT_OK,
                                   run_command)

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[str, Configure, Run]] = {}


def register(name: str, help_text: str, configure: Configure, run: Run) -> None:
    """Add a subcommand: ``configure(parser)`` adds its options, ``run(args)`` returns an exit code."""
    _COMMANDS[name] = (help_text, configure, run)


def _register_module(name: str, module: ModuleType) -> None:
    register(name, module.HELP, module.configure, module.run)


for _name, _module in (("train", train), ("eval", eval_command), ("search", search),
                       ("lava", lava), ("estimate", estimate), ("sweep", sweep), ("demo", demo),
                       ("import-spikegpt", import_spikegpt), ("export", export)):
    _register_module(_name, _module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qslm", description="Quantize spike-driven language models and cost them on "
        "neuromorphic hardware.", epilog="exit codes: 0 ok, 1 internal error, 2 bad input, "
        "3 constraints cannot be met")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure, _run) in _COMMANDS.items():
        configure(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _help, _configure, run = _COMMANDS[args.command]
    return run_command(args.command, run, args)


__all__ = ["main", "build_parser", "register", "EXIT_OK", "EXIT_INTERNAL", "EXIT_BAD_INPUT",
           "EXIT_CONSTRAINTS"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
