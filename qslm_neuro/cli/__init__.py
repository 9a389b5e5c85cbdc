"""The ``qslm`` command line: one module per subcommand, the registry in :mod:`~.main`.

The entry point is :func:`qslm_neuro.cli.main.main`. Nothing here is named like a submodule
(no ``main`` function on the package), so ``qslm_neuro.cli.main`` is always the module.
"""
from __future__ import annotations
