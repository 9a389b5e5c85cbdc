"""The section of docs/RESULTS.md written by benchmarks/search_compare.py.

Two formats: the equal-items comparison of issue 25 (``record_version`` 2: budgets in items
evaluated, each chosen plan reported on dev with its paired interval, the criterion per NSGA-II
factor, racing's reversed decisions), rendered here; and the older equal-evaluations one,
rendered by :func:`results_sections.section_compare` as before.
"""
from __future__ import annotations

from typing import Any

from results_sections import section_compare, table


def section_compare_any(cmp: dict | None, tiny: dict | None) -> str:
    """Tiered vs exhaustive on `tiny`, then the comparison in whichever format it was written."""
    if not cmp or cmp.get("record_version", 1) < 2:
        return section_compare(cmp, tiny)
    return "\n\n".join(part for part in (section_compare(None, tiny), section_equal_items(cmp))
                       if part)


def section_equal_items(cmp: dict) -> str:
    budget, n = cmp["budget"]["items"], cmp["selection_items"]
    rows = [_row(name, entry, budget) for name, entry in cmp["strategies"].items()]
    allow = cmp["allowances"]
    random_evals = allow.get("random", allow.get("nsga2 1x", {})).get("full_evaluations")
    nsga = [k.split()[1] for k in allow if k.startswith("nsga2")]
    ilp = allow.get("ilp")
    racing = cmp["tiered_options"].get("racing")
    tiered = (f"racing at level {racing['level']:g}" if racing else "every candidate on the "
              "whole split") + f", sensitivity rows {cmp['tiered_options'].get('rows')}" + (
                  f", descent {cmp['tiered_options']['descent']}"
                  if cmp["tiered_options"].get("descent") else "")
    text = (
        f"## Tiered vs random, ILP and NSGA-II at equal items evaluated on `"
        f"{cmp['model'].split('/')[-1]}` (`benchmarks/search_compare.py`)\n\n"
        f"One evaluator, store and objective (constA {cmp['const_acc']}, constM "
        f"{cmp['const_mem']}, alpha {cmp['alpha']}); tiered as `search_sst2.py` runs it "
        f"({tiered}). Candidates are scored on {cmp['selection_split']} ({n:,} sentences); each "
        f"strategy's chosen plan is reported on {cmp['report_split']} (fp32 "
        f"{cmp['baseline_dev_accuracy']:.4f}), paired with fp32. Budget: the {budget:,} items "
        f"the tiered search scored ({budget / n:.1f} full-evaluation equivalents); random and "
        f"NSGA-II get the fewest whole-split evaluations reaching it"
        + (f" ({random_evals}, fp32 included)" if random_evals else "")
        + (f", NSGA-II also {', '.join(nsga[1:])} that" if len(nsga) > 1 else "")
        + (f"; the ILP's sensitivity table alone costs {ilp['sensitivity_items']:,} items, "
           f"the rest leaves room for up to {ilp['budgets']} ILP solution(s) at memory budgets at or under constM" if ilp else "")
        + f". Run on {cmp['device_name']} ({cmp['device']}, torch {cmp['torch']})."
        + ("" if cmp.get("finished") else " **Partial run**: the strategies not listed had "
           "not finished.") + "\n\n"
        + table(["strategy", "items evaluated", "x tiered's", "full evals", "raced slice items",
                 "calibration evals", "chosen precisions", "selection acc", "memory saved",
                 "score", f"{cmp['report_split']} acc (paired vs fp32, 95% CI)"], rows))
    criteria = [d for d in cmp.get("criteria_detail", []) if d["strategy"].startswith("nsga2")]
    if criteria:
        verdicts = [f"NSGA-II {d['strategy'].split()[1]}: "
                    f"**{'yes' if d['tiered_at_least'] else 'no'}** "
                    f"({_score(d['tiered_score'])} vs {_score(d['score'])})" for d in criteria]
        text += ("\n\nIssue 25's criterion, tiered's score at least NSGA-II's at equal items "
                 "evaluated: " + "; ".join(verdicts) + ".")
    return text + _audit(cmp.get("racing_audit"))


def _row(name: str, entry: dict, budget: int) -> list[Any]:
    counts, chosen = entry["counts"], entry["chosen"]
    report = entry["report"]
    paired = report.get("paired")
    if chosen and paired:
        lo, hi = paired["ci95"]
        dev = (f"{report['chosen']['value']:.4f} ({100 * paired['difference']:+.2f} pt, "
               f"{100 * lo:+.2f} to {100 * hi:+.2f})")
    else:
        dev = "-"
    found = ([chosen["precisions"], f"{chosen['accuracy']:.4f}",
              f"{chosen['memory_saving']:.1%}", f"**{chosen['score']:.4f}**"] if chosen else
             [f"no feasible plan in {entry['candidates']}", "-", "-", "-"])
    return [name, f"{entry['items_evaluated']:,}", f"{entry['items_evaluated'] / budget:.2f}",
            counts["full_evaluations"], f"{counts.get('slice_items', 0):,}",
            counts["calibration_evaluations"], *found, dev]


def _score(value: float | None) -> str:
    return "no feasible plan" if value is None else f"{value:.4f}"


def _audit(audit: dict | None) -> str:
    if audit is None:
        return "\n\nRacing was off: every tiered candidate was scored on the whole split."
    text = (f"\n\nRacing decided {audit['decided_early']} tiered candidates before the whole "
            "split; completing each on it (`racing.audit`), the full split reverses "
            f"{len(audit['changed']) or 'none'}")
    if not audit["changed"]:
        return text + "."
    return text + " of them:\n\n" + table(
        ["tier", "unit / label", "items decided on", "early decision", "full-split decision",
         "raced estimate", "full-split accuracy"],
        [[c["tier"], c["label"], f"{c['at_items']:,} of {c['of']:,}", c["raced"],
          c["full_split_decision"], f"{c['raced_metric']:.4f}",
          f"{c['full_split_metric']:.4f}"] for c in audit["changed"]])


def headline_compare(cmp: dict | None) -> list[list[str]]:
    """One README row: the tiered search's score against NSGA-II's at 1x, 3x, 10x its items."""
    if not cmp or cmp.get("record_version") is None or not cmp.get("criteria_detail"):
        return []
    nsga = [d for d in cmp["criteria_detail"] if d["strategy"].startswith("nsga2")]
    if not nsga:
        return []
    tiered = nsga[0]["tiered_score"]
    versus = ", ".join(f"{d['strategy'].split()[-1]}: {_score(d['score'])}" for d in nsga)
    wins = all(d["tiered_at_least"] for d in nsga)
    return [["Tiered search vs NSGA-II given 1x, 3x, 10x its items evaluated (SST-2)",
             f"score {tiered:.4f} vs NSGA-II {versus}: tiered "
             + ("at least as good at every budget" if wins else "beaten at some budget"),
             "`search_compare.py`"]]
