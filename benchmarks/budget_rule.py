"""Would a budget exponent help? The default's rate scaled by the planned length of the fit, read off the grids.

The range test's curve does not depend on the budget (same weights, batches and ladder), so the
curves of ``compare.json`` (seeds 0-4) stand for every budget. For each exponent ``alpha`` the
rate becomes ``midspan * (steps / REFERENCE_STEPS) ** -alpha``, the ratio capped at the largest
budget measured, and its regret is read off the 1x oracle and the longer grids of
``budgets.json`` by interpolation (no fits: a minute's arithmetic). A rate off a grid is not
measured and counts as such (NaN), not as a loss. Leave-one-task-out picks
``alpha`` on the other tasks' cells and scores the held-out task's; leave-one-budget-out does
the same by budget.

    python -m benchmarks.budget_rule      # after benchmarks.budgets; writes results/budget_rule.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pl_lrfind.core import suggest

from .budgets import BUDGETS_JSON
from .cli import write_json
from .compare import COMPARE_JSON
from .oracle import ORACLE_JSON, RESULTS, regret_on_grid
from .tasks import TASKS

BUDGET_RULE_JSON = RESULTS / "budget_rule.json"
REFERENCE_STEPS = 230  # the benchmark's 1x fits: 184 to 300 optimizer steps
ALPHAS = tuple(float(a) for a in np.round(np.arange(0.0, 1.01, 0.1), 2))
SEEDS = 5


def cell_regrets(alpha: float, curves: dict, grids: dict, cap: float) -> dict[str, float]:
    """Mean regret over seeds of every (task, budget) cell, named ``"<task> <budget>x"``."""
    out = {}
    for (task, budget), grid in grids.items():
        steps = budget * TASKS[task].epochs * TASKS[task].steps_per_epoch()
        shift = -alpha * math.log10(min(steps / REFERENCE_STEPS, cap))
        regrets = [regret_on_grid(grid, rate + shift) for rate in curves[task]]
        out[f"{task} {budget}x"] = float(np.nanmean(regrets)) if not all(map(math.isnan, regrets)) else math.nan
    return out


def held_out(by_alpha: dict[float, dict[str, float]], held: Callable[[str], bool]) -> dict:
    """Pick alpha on every cell that ``held`` does not select (lowest mean regret); score the held cells.

    Only alphas that keep every training cell's rates on its grid can be picked.
    """

    def training_score(alpha: float) -> float:  # an alpha that sends a cell off its grid is not measured: unusable
        regrets = [r for name, r in by_alpha[alpha].items() if not held(name)]
        return math.inf if any(map(math.isnan, regrets)) else float(np.mean(regrets))

    alpha = min(by_alpha, key=training_score)
    return {"alpha": alpha, "cells": {name: r for name, r in by_alpha[alpha].items() if held(name)}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget_rule", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUDGET_RULE_JSON)
    args = parser.parse_args(argv)
    oracle = json.loads(ORACLE_JSON.read_text())["tasks"]
    compare = json.loads(COMPARE_JSON.read_text())["tasks"]
    budgets = json.loads(BUDGETS_JSON.read_text())["budgets"]
    tasks = list(oracle)
    grids = {(task, 1): oracle[task] for task in tasks}
    grids.update({(task, int(b)): cells[task] for b, cells in budgets.items() for task in cells})
    cap = float(max(int(b) for b in budgets))
    curves = {
        task: [math.log10(suggest(c["lrs"], c["losses"])) for c in compare[task]["ours"]["curve"][:SEEDS]]
        for task in tasks
    }
    by_alpha = {alpha: cell_regrets(alpha, curves, grids, cap) for alpha in ALPHAS}
    every_budget = sorted({budget for _, budget in grids})
    out = {
        "command": "python -m benchmarks.budget_rule",
        "reference_steps": REFERENCE_STEPS,
        "cap": cap,
        "alphas": {str(alpha): cells for alpha, cells in by_alpha.items()},
        "leave_one_out": {
            "task": {t: held_out(by_alpha, lambda name, t=t: name.startswith(t + " ")) for t in tasks},
            "budget": {f"{b}x": held_out(by_alpha, lambda name, b=b: name.endswith(f" {b}x")) for b in every_budget},
        },
    }
    for alpha, cells in by_alpha.items():
        values = list(cells.values())
        print(f"alpha {alpha:.2f}: mean {np.nanmean(values):+.1%}  worst {np.nanmax(values):+.1%}")
    write_json(args.out, out)


if __name__ == "__main__":
    main()
