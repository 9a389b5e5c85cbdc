"""CLI helpers for the hardware options of ``qslm estimate`` and ``qslm sweep``.

``--hw a,b,c`` (or repeated ``--hw``) names several chips: ``estimate`` prints one comparison
table and ``sweep`` treats the chips as one more axis. ``--param`` values are checked here
(a parameter given twice is an error; log-spaced values of integer parameters are rounded to
whole numbers). Kept apart from the command modules so that they only call into it.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from qslm_neuro.errors import BadInputError

DEFAULT_HW = "loihi2"


def hw_list(values: Sequence[str] | str | None) -> list[str]:
    """``["loihi,loihi2", "my.toml"]`` -> ``["loihi", "loihi2", "my.toml"]`` (no repeats): the
    search's one chip-list parser (:func:`qslm_neuro.quantsearch.hardware.chips.parse_chips`),
    so ``--hw`` reads the same in estimate, sweep and search."""
    from qslm_neuro.quantsearch.hardware.chips import parse_chips

    chips = parse_chips(values if values is not None else [DEFAULT_HW])
    if chips == [None]:
        raise BadInputError("--hw none: this command costs on a chip; name one, e.g. --hw loihi2")
    return chips


def print_side_by_side(workload: Any, chips: list[str], args: argparse.Namespace,
                       overrides: dict[str, Any], note: str) -> int:
    """``qslm estimate --hw a,b,c``: one table, printed and saved (``--out`` .csv or .json)."""
    from qslm_neuro.fileio import atomic_path, write_json_atomic
    from qslm_neuro.hw import estimate

    table = estimate(workload, hw=chips, tokens_per_s=args.tokens_per_s, overrides=overrides)
    shown = ["hardware", "energy_per_token_uj", "static_uj", "latency_per_token_us",
             "latency_bound", "max_tokens_per_s", "throughput_bound", "power_mw",
             "synaptic_memory_mb", "cores", "chips", "feasible"]
    print(note)
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for report in table.attrs["reports"]:
        for flag in report.flags:
            print(f"  [{report.hardware}] {flag}")
    out = getattr(args, "out", None)
    if out:
        if str(out).endswith(".csv"):
            with atomic_path(out) as tmp:
                table.to_csv(tmp, index=False)
        elif str(out).endswith(".json"):
            write_json_atomic(out, {"table": table.to_dict(orient="records"),
                                    "reports": {r.hardware: r.to_dict()
                                                for r in table.attrs["reports"]}})
        else:
            raise BadInputError(f"--out {out!r}: with several chips write a .csv or .json file")
        print(f"written {out}")
    layers_csv = getattr(args, "layers_csv", None)
    if layers_csv:
        import pandas as pd

        frames = [r.layers.assign(hardware=r.hardware) for r in table.attrs["reports"]]
        with atomic_path(layers_csv) as tmp:
            pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
        print(f"written {layers_csv}")
    return 0


def sweep_grid(texts: Sequence[str], chips: Sequence[str],
               parse: Any) -> tuple[dict[str, list[float]], list[str]]:
    """Parsed ``--param`` items -> grid; a repeated name is an error; integers are rounded.

    ``parse`` turns one item into (name, values) (the sweep command's own parser). Returns the
    grid and notes on what was rounded.
    """
    from qslm_neuro.hw import load_hardware
    from qslm_neuro.hw.schema import FAMILIES

    grid: dict[str, list[float]] = {}
    for text in texts:
        name, values = parse(text)
        if name in grid:
            raise BadInputError(f"--param {name} is given twice; give each parameter once "
                                f"(combine the values: {name}=v1,v2,...)")
        grid[name] = values
    notes = []
    families = {load_hardware(chip).family for chip in chips}
    for name, values in grid.items():
        specs = [FAMILIES[f][name] for f in families if name in FAMILIES[f]]
        if specs and specs[0].integer:
            rounded = list(dict.fromkeys(float(round(v)) for v in values))
            if rounded != [float(v) for v in values]:
                notes.append(f"{name} is a whole number ({specs[0].unit}): values rounded to "
                             f"{', '.join(f'{v:g}' for v in rounded)}"
                             + (" (duplicates merged)" if len(rounded) < len(values) else ""))
            grid[name] = rounded
    return grid, notes


def plan_label(args: argparse.Namespace, workload: Any) -> str:
    """A short name of the plan behind a workload, for plot titles."""
    if getattr(args, "plan", None):
        return Path(args.plan).stem if str(args.plan).endswith(".json") else str(args.plan)
    plan = workload.meta.get("plan", {}) if isinstance(workload.meta, dict) else {}
    modules = plan.get("modules", {}) if isinstance(plan, dict) else {}
    default = plan.get("default", "fp32") if isinstance(plan, dict) else "fp32"
    return f"{default} + {len(modules)} modules" if modules else str(default)


def save_sweep_plot(table: Any, grid: dict[str, Any], args: argparse.Namespace,
                    workload: Any, chips: list[str]) -> None:
    """``qslm sweep --plot``: the readable sweep plot of :mod:`qslm_neuro.viz.sweep_plots`."""
    from qslm_neuro.viz import save_figure, save_figure_metadata
    from qslm_neuro.viz.sweep_plots import plot_sweep

    names = [n for n in grid if table[n].nunique() > 1] or list(grid)[:1]
    if len(names) > 2:
        raise BadInputError(f"--plot draws 1 or 2 swept parameters; this sweep has {names}")
    fig = plot_sweep(table, names, args.value, unit=getattr(args, "unit", None),
                     model=workload.name, plan=plan_label(args, workload), chip=", ".join(chips))
    save_figure_metadata(fig, args.plot)  # title, labels, scales: what the tests check
    save_figure(fig, args.plot)
    print(f"written {args.plot}")
