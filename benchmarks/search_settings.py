"""The tiered search the benchmarks run, defined once.

``search_sst2.py``, ``search_wt2.py`` and ``search_compare.py`` must run the same tiered search
(a comparison against another strategy means nothing if the tiered search it measures is not the
one the other benchmarks report), so its options and their command-line flags live here:
:func:`add_tiered_arguments` adds the flags, :func:`tiered_strategy` and :func:`calibration`
turn them into the option objects :func:`qslm_neuro.search` takes. A change to the tiered
search's defaults is made here, once.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from qslm_neuro.quantsearch import Calibration, Tiered
from qslm_neuro.quantsearch.strategies.descent import DESCENTS

#: The racing level and sensitivity rows of issue 25's racing runs, now the benchmarks' default.
DEFAULT_RACING = 0.05
DEFAULT_ROWS = "needed"
#: How far a greedy step goes: bisection (the library's default is QSLM's one-step walk). With
#: racing, the one-step walk cost 45.9 full-evaluation equivalents on SST-2 (most steps sit just
#: above constA, where only the whole split decides); bisection tries far fewer plans.
DEFAULT_DESCENT = "bisect"
#: Calibration subsets of the search benchmarks: 64 SST-2 sentences (128, the task's default,
#: made the sensitivity rows cost 5.3 of the SST-2 search's 30.8 equivalents with bisection) and
#: 2,048 WikiText-2 tokens (half the task's default, as issue 25's racing run).
SST2_CALIB_SENTENCES = 64
WT2_CALIB_TOKENS = 2048


def add_tiered_arguments(parser: argparse.ArgumentParser, calib_help: str, script: str,
                         calib_default: int | None = None) -> None:
    """``--racing``, ``--rows``, ``--descent`` and ``--calib-size`` (``calib_help`` says its unit;
    ``calib_default``: the benchmark's calibration size, None for the task's; ``script``: the
    benchmark's file, for the command that reproduces its full-split result)."""
    stem = Path(script).stem
    parser.add_argument("--calib-size", type=int, default=calib_default, help=calib_help)
    parser.add_argument("--racing", type=float, default=DEFAULT_RACING,
                        help=f"level of the racing rule (default {DEFAULT_RACING}: candidates "
                             "raced on growing slices of the selection split; 0: every "
                             "candidate on the whole split, as benchmarks/results/"
                             f"{stem}.json was made: --racing 0 --rows all)")
    parser.add_argument("--rows", default=DEFAULT_ROWS, choices=("all", "needed"),
                        help="sensitivity rows: the whole ladder, or only those steps need "
                             f"(default {DEFAULT_ROWS})")
    parser.add_argument("--descent", default=DEFAULT_DESCENT, choices=DESCENTS,
                        help="how far a greedy step lowers a unit: one ladder step, or the "
                             "lowest untried precision first, then halving (default "
                             f"{DEFAULT_DESCENT})")


def tiered_strategy(args: argparse.Namespace) -> Tiered:
    """The tiered search the flags of :func:`add_tiered_arguments` describe."""
    return Tiered(racing=args.racing or None, rows=args.rows, descent=args.descent)


def calibration(args: argparse.Namespace) -> Calibration:
    """The calibration subset the flags describe (``None``: the task's default size)."""
    return Calibration(size=args.calib_size)
