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

    python -m benchmarks.passes_rule      # after benchmarks.budgets; writes results/passes_rule.json
"""

from __future__ import annotations

import argparse
import functools
import json
import math
from pathlib import Path

import numpy as np

from pl_lrfind.core import suggest
from pl_lrfind.core.budget import PASS_EXPONENT, level_for, pass_exponent_for, repetition_factor

from .budget_rule import curve_readings, read_by_midspan
from .budgets import BUDGETS_JSON
from .cli import write_json
from .compare import COMPARE_JSON
from .oracle import ORACLE_JSON, RESULTS, regrets_on_grid
from .tasks import ALL_TASKS, HORIZON_CHECK_TASKS, adam_like

PASSES_RULE_JSON = RESULTS / "passes_rule.json"
EXPONENTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def replaced_rule(task: str, budget: int, best_check: bool, by_midspan: bool) -> float:
    """log10 of the factor the rule before 8d4d4c3 gave: a power of the steps over 230, capped at
    16x, exponent 1.0 / 0.3 (best check) for Adam-like optimizers, 0.5 / 0 and a 10**0.3 raise of
    a midspan reading for the rest."""
    adam = adam_like(task)
    exponent = (0.3 if best_check else 1.0) if adam else (0.0 if best_check else 0.5)
    ratio = min(max(1.0, ALL_TASKS[task].total_steps(budget) / 230), 16.0)
    return (0.0 if adam or not by_midspan else 0.3) - exponent * math.log10(ratio)


def passes_rule(task: str, budget: int, best_check: bool, by_midspan: bool, exponent: float | None = None) -> float:
    """log10 of the factor the callback gives (``exponent`` replaces the measured one, level kept)."""
    level = level_for(adam_like(task), "midspan" if by_midspan else "other")
    exponent = pass_exponent_for(best_check) if exponent is None else exponent
    return math.log10(level * repetition_factor(ALL_TASKS[task].epochs_for(budget), exponent))


def as_read(task: str, budget: int, best_check: bool, by_midspan: bool) -> float:
    return 0.0


RECIPES = {"passes (the default)": passes_rule, "steps (replaced)": replaced_rule, "as read": as_read}


def load_cells() -> dict[tuple[str, int], dict]:
    """Per (task, budget): the final and best-check grids, and the readings (log10, read by midspan or not)."""
    oracle = json.loads(ORACLE_JSON.read_text())["tasks"]
    compare = json.loads(COMPARE_JSON.read_text())["tasks"]
    budgets = json.loads(BUDGETS_JSON.read_text())["budgets"]
    cells = {}
    for b, by_task in budgets.items():
        for task, cell in by_task.items():
            if "ours" not in cell:
                continue
            readings = curve_readings(cell)
            cells[task, int(b)] = {
                "final": cell,
                "best_check": cell["best_epoch"],
                "readings": {"final": readings, "best_check": readings},
                "by_midspan": {"final": read_by_midspan(cell), "best_check": read_by_midspan(cell)},
                "ours": cell["ours"],
                "ours_by_steps": cell.get("ours_by_steps"),
            }
    for task in oracle:  # at 1x the oracle's ten-seed grid, read on compare.json's curves
        if (task, 1) in cells:
            curves = compare[task]["ours"]["curve"][:5]
            cells[task, 1]["final"] = oracle[task]
            cells[task, 1]["readings"]["final"] = [math.log10(suggest(c["lrs"], c["losses"])) for c in curves]
            cells[task, 1]["by_midspan"]["final"] = [True] * len(curves)  # suggest() reads with midspan
    return cells


def cell_regret(cell: dict, target: str, shift) -> float:
    """Mean regret over the cell's readings, each moved by ``shift(by_midspan=...)`` decades; NaN off the grid."""
    pairs = zip(cell["readings"][target], cell["by_midspan"][target], strict=True)
    moved = np.array([reading + shift(by_midspan=by_midspan) for reading, by_midspan in pairs])
    return float(np.mean(regrets_on_grid(cell[target], moved)))


def regime(task: str, budget: int) -> str:
    fresh = ALL_TASKS[task].fresh is not None
    return "fresh data" if fresh else ("finite data, 1x" if budget == 1 else "finite data, longer")


def is_test(task: str, budget: int) -> bool:
    """Cells run only after the rule was frozen: the new tasks, and every 64x cell."""
    return task in HORIZON_CHECK_TASKS or budget == 64


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
        for name, runs in runs_of.items():  # each rule's own fits, where they were run (same seeds)
            for target, loss in key.items():
                if runs is not None:
                    regrets = np.array(runs[loss]) / cell[target]["best_mean_loss"] - 1
                    row[f"{name} | {target}"] = {"mean": float(np.mean(regrets)), "worst_run": float(np.max(regrets))}
        out["cells"][name] = row
    fitted = [k for k in cells if not is_test(*k)]
    for e in EXPONENTS:
        out["exponents"][str(e)] = {
            f"{t} {b}x": cell_regret(cells[t, b], "final", functools.partial(passes_rule, t, b, False, exponent=e))
            for t, b in fitted
        }
    for task in sorted({t for t, _ in fitted}):  # the exponent picked by the worst cell without this task

        def worst_first(e: float, task: str = task) -> tuple:
            values = [r for name, r in out["exponents"][str(e)].items() if not name.startswith(task + " ")]
            return (math.inf,) if any(map(math.isnan, values)) else tuple(sorted(values, reverse=True))

        out["held_out_exponent"][task] = min(EXPONENTS, key=worst_first)
    out["default_exponent"] = PASS_EXPONENT
    return out


def summary_lines(result: dict) -> list[str]:
    """The table for docs/benchmarks.md: each recipe's mean / worst cell by regime, fitted and test cells apart."""
    lines = [
        "| cells | n | passes (default): final | steps (replaced): final | as read: final "
        "| passes: best check | steps: best check | as read: best check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[str, list[dict]] = {}
    for row in result["cells"].values():
        label = ("test: " if row["test"] else "fitted: ") + row["regime"]
        groups.setdefault(label, []).append(row)
        groups.setdefault("test: all" if row["test"] else "fitted: all", []).append(row)
    for label in sorted(groups):
        rows = groups[label]
        cols = []
        for target in ("final", "best_check"):
            for recipe in RECIPES:
                values = np.array([row[f"{recipe} | {target}"] for row in rows])
                cols.append(f"{np.nanmean(values):+.1%} / {np.nanmax(values):+.0%}")
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(cols) + " |")
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
    groups: dict[str, list[dict]] = {}
    for row in result["cells"].values():
        if "end to end | final" in row and "replaced end to end | final" in row:
            groups.setdefault(row["regime"], []).append(row)
            groups.setdefault("all", []).append(row)
    for label in sorted(groups):
        rows, cols = groups[label], []
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.passes_rule", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PASSES_RULE_JSON)
    args = parser.parse_args(argv)
    result = evaluate(load_cells())
    result["command"] = "python -m benchmarks.passes_rule"
    print("\n".join(summary_lines(result)))
    write_json(args.out, result)


if __name__ == "__main__":
    main()
