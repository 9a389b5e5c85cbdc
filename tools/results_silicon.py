"""The silicon section of docs/RESULTS.md and its README headline row, from
``benchmarks/results/silicon.json`` (``benchmarks/bench_silicon.py``). Kept apart from
``results_sections.py`` so each file stays short; the same ``table`` helper renders it."""
from __future__ import annotations

from typing import Any

from results_sections import table


def _num(value: float) -> str:
    return f"{value:,.4g}"


def _short(source: str) -> str:
    """'owner/repo path @commit (where)' -> 'repo file @commit'."""
    repo, path, commit = source.split(" ", 3)[:3]
    return f"{repo.split('/')[-1]} `{path.split('/')[-1]}` {commit}"


def section_silicon(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    rows = [[r["system"], r["figure"], r["unit"], _num(r["published"]), _num(r["ours"]),
             f"{r['error']:+.1%}", r["role"], f"`{r['chip_file']}`", _short(r["source"])]
            for r in data["figures"]]
    fits = []
    for chip, group in data["fits"].items():
        for name, f in group.items():
            fits.append([f"`{chip}`", f"`{name}`", f"{f['value']:.5g} {f['unit']}", f["figure"],
                         f"{f['residual']:+.2%}"])
    views = "; ".join(f"`{k}`: {v}" for k, v in data["views"].items())
    return ("## Chips anchored in silicon (`benchmarks/bench_silicon.py`)\n\n"
            "Published measurements of Loihi 2 (one chip on an Oheo Gulch board, Lava's power "
            "profiler) and of an STM32H7A3 Cortex-M7 (MLPerf Tiny v1.2 closed), reproduced from "
            "the networks' own files through the project's readers (`--netx`, `--tflite`). "
            "Each chip parameter is fitted on one figure; every row marked *predicted* was not "
            "used to fit anything. Energy views: " + views + ".\n\n"
            + table(["system", "figure", "unit", "published", "ours", "error", "fitted or "
                     "predicted", "chip file", "source"], rows)
            + "\n\nFitted parameters (each on the figure named; residual on that figure):\n\n"
            + table(["chip", "parameter", "value", "fitted to", "residual"], fits)
            + "\n\n" + _notes(data))


def _notes(data: dict[str, Any]) -> str:
    """The caveats, with the spreads taken from the published figures themselves."""
    def spread(key: str, scale: float = 1.0) -> str:
        values = [r["published"] * scale for r in data["figures"] if key in r["figure"]]
        return f"{min(values):.3g}-{max(values):.3g}"

    repos = sorted({f"{v['repo']} @{v['commit'][:8]}" for v in data["inputs"].values()})
    chip = data.get("chip_view", {}).get("loihi2")
    chip_text = (f"On the chip alone (`loihi2`, VDD + VDD-M) the same PilotNet costs "
                 f"{chip['dynamic_mj_per_frame']:.3f} mJ per frame dynamic and "
                 f"{chip['static_w']:.3f} W static. " if chip else "")
    return (chip_text + data["activity_note"] + ". The 2022 runs (76c8fbb, baa23ad) are the same notebook "
            f"run again: their spread (dynamic {spread('dynamic energy per frame')} mJ "
            f"per frame, static {spread('] static power')} W) is the measurement's own, and the "
            "model gives one value. The one-synapse benchmark's *dynamic* power "
            f"({spread('Hz dynamic power', 1e3)} mW, noisy) is per-step run-time overhead that "
            "the cost model has no term for (it predicts only the two neurons' and the "
            f"synapse's events). Inputs ({len(data['inputs'])} files, each with repository, "
            "path, commit and sha256 in `silicon.json`): " + "; ".join(repos) + ".")


def headline_silicon(data: dict[str, Any] | None) -> list[list[str]]:
    if not data:
        return []
    predicted = [r for r in data["figures"] if r["role"] == "predicted"
                 and "dynamic power" not in r["figure"] and "[b9e3691]" in r["figure"]
                 or r["role"] == "predicted" and r["system"] != "Loihi 2"]
    params = sum(len(group) for group in data["fits"].values())
    worst = max(predicted, key=lambda r: abs(r["error"]))
    return [["Chip models vs published silicon (Loihi 2 PilotNet, STM32H7A3 MLPerf Tiny)",
             f"{params} parameters fitted, each on one figure; predictions: "
             + ", ".join(f"{r['figure']} {r['error']:+.1%}" for r in predicted)
             + f" (worst {abs(worst['error']):.1%})", "`bench_silicon.py`"]]


def section_calibration(derived: dict[str, Any] | None, calibrated: dict[str, Any] | None) -> str:
    """What the calibration moved: hw_table's Loihi 2 rows under the derived and fitted files."""
    if not derived or not calibrated:
        return ""
    old = {(r["model"], r["plan"]): r for r in derived["rows"] if r["hw"] == "loihi2"}
    rows = []
    for r in calibrated["rows"]:
        o = old.get((r["model"], r["plan"]))
        if r["hw"] != "loihi2" or o is None:
            continue
        rows.append([f"`{r['model']}`", r["plan"],
                     f"{o['energy_uJ_per_token']:,.2f} -> **{r['energy_uJ_per_token']:,.2f}**",
                     f"{o['power_mW']:,.0f} -> {r['power_mW']:,.0f}",
                     f"{o['tokens_per_s']:,.0f} -> {r['tokens_per_s']:,.0f}",
                     f"{o['cores']} -> {r['cores']}", f"{o['chips']} -> {r['chips']}"])
    if not rows:
        return ""
    return ("## What the calibration moved (`hw_table_loihi2_derived.json` -> `hw_table.json`)\n\n"
            "`benchmarks/hw_table.py` on Loihi 2 before (per-event figures derived from Loihi 1, "
            "static power scaled from Loihi 1) and after the fit to silicon "
            "(`bench_silicon.py`): static power, the barrier floor of a time step and the axon "
            "limits per core move most. Energy per token at the chip's fastest rate.\n\n"
            + table(["model", "plan", "uJ/token", "power mW", "tokens/s", "cores", "chips"], rows))
