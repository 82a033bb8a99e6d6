"""The rate for longer fits: the rule by passes (``pl_lrfind.core.budget``) against the rule it
replaced and the suggestion as read, on every measured cell, and its exponent held out.

The rule was fitted on the 65 cells of the budget benchmark at 1x, 4x and 16x (twenty-one
tasks over finite data, the Friedman stream with AdamW and SGD) and then frozen (commit
8d4d4c3). The cells run only after that are its test: three new tasks
(``tasks.HORIZON_CHECK_TASKS``: a token stream, an image stream, an augmented finite set) at
1x to 64x, and two earlier tasks at 64x (the Friedman stream, the digits MLP with Adam).

Each recipe's regret is read off each cell's grid at the rate it would hand, from the readings
of the callback's own runs in that cell (``budgets.json``; at 1x the seven calibration tasks are
re-read on ``compare.json``'s curves against the oracle's grid), so every recipe is judged on
the same readings; the new default's own fits, end to end, are reported beside it where they
were run.

    python -m benchmarks.experiments.passes_rule  # after experiments.budgets; writes results/passes_rule.json
"""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path

import numpy as np

from pl_lrfind.core.budget import PASS_EXPONENT

from ..cli import write_json
from ..oracle import RESULTS
from ..tasks import ALL_TASKS, adam_like
from .passes_cells import RECIPES, cell_regret, is_test, load_cells, regime, rule_regrets
from .passes_reach import change_lines, changes, power_law_line, power_laws, reach, reach_lines
from .tables import fill, task_of

PASSES_RULE_JSON = RESULTS / "passes_rule.json"
SECTION = Path(__file__).with_suffix(".md")
EXPONENTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
BEST_CHECK_EXPONENTS = (0.0, 0.2, 0.3, 0.4, 0.5)
HORIZONS = (0.0, 0.1, 0.2, 0.3)


def evaluate(cells: dict) -> dict:
    out: dict = {"cells": {}, "exponents": {}, "held_out_exponent": {}}
    for (task, budget), cell in sorted(cells.items()):
        name = f"{task} {budget}x"
        row = {
            "regime": regime(task, budget),
            "test": is_test(task, budget),
            "passes": ALL_TASKS[task].epochs_for(budget),
        }
        for target in ("final", "best_check"):
            best = target == "best_check"
            for recipe, rule in RECIPES.items():
                row[f"{recipe} | {target}"] = cell_regret(cell, target, functools.partial(rule, task, budget, best))
        ours, key = cell["ours"], {"final": "val_loss", "best_check": "best_val_loss"}
        runs_of = {"end to end": ours if "passes" in ours else None, "replaced end to end": cell.get("ours_by_steps")}
        for label, runs in runs_of.items():  # each rule's own fits, where they were run (same seeds)
            for target, loss in key.items():
                if runs is not None:
                    regrets = np.array(runs[loss]) / cell[target]["best_mean_loss"] - 1
                    row[f"{label} | {target}"] = {"mean": float(np.mean(regrets)), "worst_run": float(np.max(regrets))}
        out["cells"][name] = row
    fitted = [k for k in cells if not is_test(*k)]
    for e in EXPONENTS:
        out["exponents"][str(e)] = {f"{t} {b}x": r for (t, b), r in rule_regrets(cells, fitted, exponent=e).items()}
    for task in sorted({t for t, _ in fitted}):  # the exponent picked by the worst cell without this task
        out["held_out_exponent"][task] = pick_exponent(out["exponents"], lambda name, task=task: task_of(name) != task)
    out["default_exponent"] = PASS_EXPONENT
    out["candidates"] = candidates(cells, fitted, out["exponents"])
    out["reach"] = reach(cells)
    out["changes"] = changes(cells)
    out["power_laws"] = power_laws(cells)
    return out


def pick_exponent(by_exponent: dict[str, dict[str, float]], keeps) -> float:
    """The exponent with the lowest worst cell (then the next worst...) over the cells ``keeps`` names;
    one that leaves any of them off its grid is not picked."""

    def worst_first(e: float) -> tuple:
        values = [r for name, r in by_exponent[str(e)].items() if keeps(name)]
        return (math.inf,) if any(map(math.isnan, values)) else tuple(sorted(values, reverse=True))

    return min(EXPONENTS, key=worst_first)


def candidates(cells: dict, fitted: list, by_exponent: dict[str, dict[str, float]]) -> dict:
    """The other choices the rule was picked over, on the fitted cells: the exponent by optimizer
    family (by the worst cell, from ``by_exponent``), the best check's exponent (by the mean) and a
    horizon term."""

    def regrets(target: str, **rule) -> dict[str, float]:
        return {f"{t} {b}x": r for (t, b), r in rule_regrets(cells, fitted, target, **rule).items()}

    by_family = {
        family: pick_exponent(by_exponent, lambda name, members=members: adam_like(task_of(name)) is members)
        for family, members in (("Adam-like", True), ("the rest", False))
    }
    fresh = [f"{t} {b}x" for t, b in fitted if ALL_TASKS[t].fresh is not None]
    horizon = {}
    for h in HORIZONS:
        found = regrets("final", horizon=h)
        horizon[str(h)] = {
            "all": float(np.nanmean(list(found.values()))),
            "fresh": float(np.nanmean([found[name] for name in fresh])),
            "off_grid": int(np.isnan(list(found.values())).sum()),
        }
    best_check = {
        str(e): float(np.nanmean(list(regrets("best_check", exponent=e).values()))) for e in BEST_CHECK_EXPONENTS
    }
    return {"exponent_by_family": by_family, "horizon": horizon, "best_check_exponent": best_check}


def candidate_lines(result: dict) -> list[str]:
    found = result["candidates"]
    family = "; ".join(f"{name}: {e:g}" for name, e in found["exponent_by_family"].items())
    lines = [f"Exponent picked by the worst cell on each optimizer family's own cells: {family}.", ""]
    lines += ["| horizon term h | mean, all fitted cells | fresh cells | cells off the grid |", "|---|---|---|---|"]
    for h, row in found["horizon"].items():
        lines.append(f"| {h} | {row['all']:+.1%} | {row['fresh']:+.1%} | {row['off_grid']} |")
    best = ", ".join(f"{e}: {mean:+.1%}" for e, mean in found["best_check_exponent"].items())
    return [*lines, "", f"Best check, mean over the fitted cells by the kept check's exponent: {best}."]


def _grouped(rows, labels_of) -> dict[str, list[dict]]:
    """Rows by every label ``labels_of(row)`` gives them, labels sorted."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        for label in labels_of(row):
            groups.setdefault(label, []).append(row)
    return dict(sorted(groups.items()))


def summary_lines(result: dict) -> list[str]:
    """Each recipe's mean / worst cell by regime, fitted and test cells apart, over the cells where
    every recipe's rates land on the grid (n counts them)."""
    lines = [
        "| cells | n | passes (default): final | steps (replaced): final | as read: final "
        "| passes: best check | steps: best check | as read: best check |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def labels_of(row: dict) -> list[str]:
        kind = "test: " if row["test"] else "fitted: "
        return [kind + row["regime"], kind + "all"]

    for label, rows in _grouped(result["cells"].values(), labels_of).items():
        cols, counts = [], set()
        for target in ("final", "best_check"):
            values = np.array([[row[f"{recipe} | {target}"] for recipe in RECIPES] for row in rows])
            values = values[np.isfinite(values).all(axis=1)]
            counts.add(len(values))
            cols += [
                f"{values[:, i].mean():+.1%} / {values[:, i].max():+.0%}" if len(values) else "-"
                for i in range(len(RECIPES))
            ]
        lines.append(f"| {label} | {' and '.join(map(str, sorted(counts)))} | " + " | ".join(cols) + " |")
    return lines


def test_lines(result: dict) -> list[str]:
    """One row per cell run after the rule was frozen: the default end to end, and every recipe off the grid."""
    lines = [
        "| cell | passes | default end to end: mean / worst run | default | replaced (steps) | as read "
        "| best check: default end to end | default | as read |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["cells"].items():
        if not row["test"]:
            continue
        ends = [row.get(f"end to end | {target}") for target in ("final", "best_check")]
        end = [f"{e['mean']:+.1%} / {e['worst_run']:+.0%}" if e else "(not run)" for e in ends]
        read = [f"{row[f'{recipe} | final']:+.1%}" for recipe in RECIPES]
        best = [f"{row[f'{recipe} | best_check']:+.1%}" for recipe in RECIPES if recipe != "steps (replaced)"]
        fresh = " (fresh)" if row["regime"] == "fresh data" else ""
        lines.append(f"| {name} | {row['passes']:g}{fresh} | {end[0]} | " + " | ".join([*read, end[1], *best]) + " |")
    return lines


def end_to_end_lines(result: dict) -> list[str]:
    """The default and the rule it replaced, each run end to end on the cells where both were (same
    seeds), by regime: mean cell regret, worst cell and worst run, on the final loss and best check."""
    lines = [
        "| cells | n | passes (default): mean / worst cell / worst run | steps (replaced) "
        "| best check: passes | steps |",
        "|---|---|---|---|---|---|",
    ]
    both = [
        row for row in result["cells"].values() if "end to end | final" in row and "replaced end to end | final" in row
    ]
    groups = _grouped(both, lambda row: [row["regime"], "all"])
    for label, rows in groups.items():
        cols = []
        for target in ("final", "best_check"):
            for name in ("end to end", "replaced end to end"):
                cells = [row[f"{name} | {target}"] for row in rows]
                means, worst = [c["mean"] for c in cells], max(c["worst_run"] for c in cells)
                cols.append(f"{np.mean(means):+.1%} / {max(means):+.0%} / {worst:+.0%}")
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(cols) + " |")
    return lines


def exponent_lines(result: dict) -> list[str]:
    """The exponent candidates on the fitted cells, and which one each held-out task's fit picks."""
    lines = ["| exponent | mean | worst cell | cells off the grid |", "|---|---|---|---|"]
    for exponent, cells in result["exponents"].items():
        values = np.array(list(cells.values()))
        lines.append(
            f"| {exponent} | {np.nanmean(values):+.1%} | {np.nanmax(values):+.0%} | {int(np.isnan(values).sum())} |"
        )
    picks = sorted(set(result["held_out_exponent"].values()))
    lines.append("")
    lines.append(
        f"Picked by the worst cell with each of the {len(result['held_out_exponent'])} tasks left out in turn: "
        + ", ".join(f"{p:g} ({list(result['held_out_exponent'].values()).count(p)} tasks)" for p in picks)
        + f"; the default is {result['default_exponent']:g}."
    )
    return lines


def section(results: Path, oracle: dict) -> str:
    """The section "The rate for longer fits", its tables from ``results/passes_rule.json``."""
    tables = {
        "{passes_rule}": summary_lines,
        "{passes_rule_test}": test_lines,
        "{passes_rule_exponents}": exponent_lines,
        "{passes_rule_end_to_end}": end_to_end_lines,
        "{passes_rule_candidates}": candidate_lines,
        "{passes_rule_reach}": reach_lines,
        "{passes_rule_changes}": change_lines,
        "{passes_rule_power_laws}": lambda result: [power_law_line(result)],
    }
    return fill(SECTION, results / PASSES_RULE_JSON.name, tables)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.passes_rule", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=PASSES_RULE_JSON)
    args = parser.parse_args(argv)
    result = evaluate(load_cells())
    result["command"] = "python -m benchmarks.experiments.passes_rule"
    print("\n".join(summary_lines(result)))
    write_json(args.out, result)


if __name__ == "__main__":
    main()
