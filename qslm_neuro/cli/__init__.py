"""The ``qslm`` command line: one module per subcommand (see :mod:`~.main` for the registry)."""
from __future__ import annotations

from qslm_neuro.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
