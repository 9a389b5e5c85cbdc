"""``qslm search`` options for hardware bounds and per-chip output (issue 12).

``add_hw_constraint_arguments(parser)`` adds ``--const-energy``, ``--const-power``,
``--const-latency`` and ``--tokens-per-s``; ``--const-mem`` (defined with the search command)
also takes ``1chip``, ``64cores``, ``syn:...``; ``--hw`` takes a comma-separated list of chips.
``hw_constraint_kwargs(args)`` turns them into keywords of
:func:`qslm_neuro.quantsearch.checkpoint.search_checkpoint`; ``print_per_chip(result)`` prints
the plan per chip when several were searched.
"""
from __future__ import annotations

import argparse
from typing import Any


def add_hw_constraint_arguments(parser: argparse.ArgumentParser) -> None:
    """The hardware-bound flags of ``qslm search``."""
    group = parser.add_argument_group(
        "hardware bounds", "checked on every candidate's own estimate on each --hw chip; "
        "--const-mem also takes 1chip, 2chips, 64cores, syn:2MB, syn:20% (mapped on the "
        "chip), comma-joined with a byte budget ('15%,1chip'); --hw takes a list "
        "(loihi2,embedded-soc,path/to/chip.toml): one plan per chip over one evaluation store")
    group.add_argument("--const-energy", default=None,
                       help="energy per token at most: '10uJ/token', '1.5mJ', or '60%%' of fp32")
    group.add_argument("--const-power", default=None,
                       help="power at most, at --tokens-per-s: '150mW', '0.2W', or '%%' of fp32")
    group.add_argument("--const-latency", default=None,
                       help="latency per token at most: '2ms/token', '500us', or '%%' of fp32")
    group.add_argument("--tokens-per-s", default=None, type=float,
                       help="token rate for power (default: the fastest the chip sustains)")


def hw_constraint_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keywords for ``search_checkpoint`` from the parsed flags (validated there)."""
    return {"const_energy": getattr(args, "const_energy", None),
            "const_power": getattr(args, "const_power", None),
            "const_latency": getattr(args, "const_latency", None),
            "tokens_per_s": getattr(args, "tokens_per_s", None)}


def hw_argument(text: str) -> Any:
    """``--hw`` as given: ``none`` for no hardware, else the chip or the chip list."""
    return None if text.strip().lower() == "none" else text


def print_per_chip(result: Any) -> bool:
    """Print each chip's table and summary and the plan per chip; False for one result."""
    from qslm_neuro.quantsearch.per_chip import PerChipResults

    if not isinstance(result, PerChipResults):
        return False
    for chip, one in result.items():
        print(f"=== {chip} ===")
        print(one.table())
        print()
        print(one.summary())
        extra = one.extra.get("report_split")
        if extra:
            for role in ("baseline", "chosen", "nearest"):
                if role in extra:
                    print(f"{extra['split']} {extra['metric']} of {role}: "
                          f"{extra[role]['value']:.4f}")
        print()
    print("plan per chip (the chosen plan, or the nearest when none met every constraint):")
    print(result.table())
    return True
