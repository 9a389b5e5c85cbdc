"""``qslm search`` options for constraints, chips and per-chip output (issue 12).

``add_hw_constraint_arguments(parser)`` adds one ``--const-<kind>`` flag per hardware bound
written with its own option (:data:`qslm_neuro.quantsearch.hardware.budgets.KINDS`: energy,
power, latency) and ``--tokens-per-s``; ``--const-mem`` (defined with the search command) also
takes ``1chip``, ``64cores``, ``syn:...``; ``--hw`` is repeatable and takes comma-separated
lists. ``constraints_of(args)`` and ``chips_of(args)`` build the very objects
:func:`qslm_neuro.search` takes; ``print_per_chip(result)`` prints the plan per chip when several
were searched.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from qslm_neuro.quantsearch.hardware.budgets import KINDS, Constraints


class DeprecatedAlias(argparse.Action):
    """An old spelling of a flag: stores into the new flag's dest, with a note on stderr."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any
                 ) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"note: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_accuracy_argument(parser: argparse.ArgumentParser) -> None:
    """``--const-acc`` (constA), with ``--const-perf`` and ``--const-ppl`` as old spellings."""
    parser.add_argument("--const-acc", dest="const_acc", default=None,
                        help="constA: 0.80, '>=0.80', '<=250', '1pt' or '5%%' (relative to fp32)")
    for old in ("--const-perf", "--const-ppl"):
        parser.add_argument(old, dest="const_acc", action=DeprecatedAlias, new="--const-acc",
                            help=argparse.SUPPRESS)


def add_hw_constraint_arguments(parser: argparse.ArgumentParser) -> None:
    """The hardware-bound flags of ``qslm search``, one per own-option bound of KINDS."""
    group = parser.add_argument_group(
        "hardware bounds", "checked on every candidate's own estimate on each --hw chip; "
        "--const-mem also takes 1chip, 2chips, 64cores, syn:2MB, syn:20%% (mapped on the "
        "chip), comma-joined with a byte budget ('15%%,1chip'); --hw takes a list "
        "(loihi2,embedded-soc,path/to/chip.toml, or --hw repeated): one plan per chip over one "
        "evaluation store")
    for kind, bound in KINDS.items():
        if bound.own_option:
            group.add_argument(f"--const-{kind.replace('_', '-')}", dest=f"const_{kind}",
                               default=None, help=f"{bound.name} at most: "
                               + bound.forms.replace("%", "%%"))
    group.add_argument("--tokens-per-s", default=None, type=float,
                       help="token rate power is checked at (default: the fastest the chip "
                            "sustains)")


def constraints_of(args: argparse.Namespace) -> Constraints:
    """The :class:`Constraints` the parsed flags give (validated by the search)."""
    bounds = {kind: getattr(args, f"const_{kind}", None)
              for kind, bound in KINDS.items() if bound.own_option}
    return Constraints(accuracy=getattr(args, "const_acc", None),
                       memory=getattr(args, "const_mem", None),
                       tokens_per_s=getattr(args, "tokens_per_s", None), **bounds)


def chips_of(args: argparse.Namespace, default: str = "loihi2") -> list[Any]:
    """``--hw`` as given (repeated and/or comma-separated; ``none`` for no hardware)."""
    from qslm_neuro.quantsearch.hardware.chips import parse_chips

    return parse_chips(args.hw if args.hw else [default])


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
