"""Would a budget exponent help? The default's rate scaled by the planned length of the fit, read off the grids.

Two measures of length, each with an exponent ``alpha``:

- ``steps``: ``midspan * min(max(1, steps / REFERENCE_STEPS), cap) ** -alpha``, the cap being
  the largest budget measured: fits longer than the benchmark's 1x get lower rates;
- ``epochs``: ``midspan * max(1, epochs / REFERENCE_EPOCHS) ** -alpha``: only passes over the same
  data beyond the reference lower the rate; a stream of fresh data (one pass) keeps the curve's rate.

The range test's curve does not depend on the budget (same weights, batches and ladder; the
fresh-data task's batches are the budget's own), so each cell's default rate is the one the
callback chose there (at 1x, re-read on the curves of ``compare.json``, seeds 0-4). For each
measure and exponent, the scaled rate's regret is read off the 1x oracle and the grids of
``budgets.json`` by interpolation (no fits: a minute's arithmetic; reading the traits below builds
each task's model once, the fine-tuning tasks' from the pretrained weights ``benchmarks.experiments.budgets``
cached, or pretrained again if the cache is gone). A rate off a grid is not
measured and counts as such (NaN), not as a loss. Leave-one-task-out picks
``alpha`` on the other tasks' cells and scores the held-out task's; leave-one-budget-out does
the same by budget.

Could the exponent depend on what the callback sees of the setup? For each trait it could read
before the real fit (the optimizer's type, whether it decays weights, whether the model has
normalisation layers, whether it is regularised at all), the tasks are split by it and each group
gets its own alpha (``steps`` measure), picked leave-one-task-out within the held-out task's group.

Should the rate of the optimizers that are not Adam-like be raised at every length? Their
curves read low (``pl_lrfind.core.budget.NON_ADAM_LEVEL``): their cells are scored with
``midspan``'s reading raised by each of :data:`LEVELS` decades, each with each of
:data:`LEVEL_EXPONENTS`, and the pair picked by the lowest worst cell, leaving one task or one
budget out.

    python -m benchmarks.experiments.budget_rule  # after experiments.budgets; writes results/budget_rule.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pl_lrfind.core import suggest

from ..cli import write_json
from ..compare import COMPARE_JSON
from ..oracle import ORACLE_JSON, RESULTS, regret_on_grid
from ..report import pct
from ..tasks import ALL_TASKS, adam_like, optimizer_of
from .tables import BUDGETS_JSON, budget_of, budgets_of, fill, task_of

BUDGET_RULE_JSON = RESULTS / "budget_rule.json"
SECTION = Path(__file__).with_suffix(".md")
REFERENCE_STEPS = 230  # the benchmark's 1x fits: 184 to 300 optimizer steps
REFERENCE_EPOCHS = 5  # ... and 4 to 8 passes over their data
MEASURES = ("steps", "epochs")
ALPHAS = tuple(float(a) for a in np.round(np.arange(0.0, 1.01, 0.1), 2))
SEEDS = 5


def shift(measure: str, alpha: float, task: str, budget: int, cap: float) -> float:
    """Decades the default's rate moves for a fit of ``budget`` times ``task``'s length."""
    spec = ALL_TASKS[task]
    if measure == "steps":
        steps = spec.total_steps(budget)
        return -alpha * math.log10(min(max(1.0, steps / REFERENCE_STEPS), cap))
    return -alpha * math.log10(max(1.0, spec.epochs_for(budget) / REFERENCE_EPOCHS))


def cell_regrets(measure: str, alpha: float, rates: dict, grids: dict, cap: float) -> dict[str, float]:
    """Mean regret over seeds of every (task, budget) cell, named ``"<task> <budget>x"``."""
    out = {}
    for (task, budget), grid in grids.items():
        moved = shift(measure, alpha, task, budget, cap)
        regrets = [regret_on_grid(grid, rate + moved) for rate in rates[task, budget]]
        # A seed whose rate leaves the grid is not measured, and neither is its cell: dropping it
        # would drop exactly the seeds the exponent moves furthest.
        out[f"{task} {budget}x"] = float(np.mean(regrets))
    return out


def worst_first(regrets: list[float]) -> tuple[float, ...]:
    """The regrets, worst first: as a :func:`pick_alpha` summary it picks the lowest worst cell, and
    breaks a tie (a cell that every candidate loses alike, such as a curve read the same way by
    all) by the next worst."""
    return tuple(sorted(regrets, reverse=True))


def pick_alpha(
    by_alpha: dict[float, dict[str, float]], trains_on: Callable[[str], bool], summary: Callable = np.mean
) -> float:
    """The alpha whose regrets over the cells ``trains_on`` selects have the lowest ``summary``
    (their mean by default; :func:`worst_first` picks the lowest worst cell).

    Only alphas that keep every one of those cells' rates on its grid can be picked: a cell off
    its grid is not measured, and dropping it would drop exactly the cells an alpha moves furthest.
    """

    def score(alpha: float) -> tuple[float, ...]:
        regrets = [r for name, r in by_alpha[alpha].items() if trains_on(name)]
        if any(map(math.isnan, regrets)):
            return (math.inf,)
        value = summary(regrets)
        return value if isinstance(value, tuple) else (float(value),)

    return min(by_alpha, key=score)


def held_out(by_alpha: dict[float, dict[str, float]], held: Callable[[str], bool], summary: Callable = np.mean) -> dict:
    """Pick alpha on every cell that ``held`` does not select (by ``summary``); score the held cells."""
    alpha = pick_alpha(by_alpha, lambda name: not held(name), summary)
    return {"alpha": alpha, "cells": {name: r for name, r in by_alpha[alpha].items() if held(name)}}


def _has(task: str, *kinds: type) -> bool:
    return any(isinstance(module, kinds) for module in ALL_TASKS[task].model().modules())


NORMALISATION = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm, torch.nn.GroupNorm)
TRAITS: dict[str, Callable[[str], object]] = {
    "optimizer": lambda task: type(optimizer_of(task)).__name__,
    "Adam-like or not (the default's split)": lambda task: "Adam-like" if adam_like(task) else "not",
    "weight decay": lambda task: optimizer_of(task).param_groups[0]["weight_decay"] > 0,
    "normalisation layers": lambda task: _has(task, *NORMALISATION),
    "regularised (weight decay, dropout or normalisation)": lambda task: (
        optimizer_of(task).param_groups[0]["weight_decay"] > 0 or _has(task, torch.nn.Dropout, *NORMALISATION)
    ),
}
"""What the callback could read before the real fit, each a candidate to split the exponent by."""


def grouped_held_out(by_alpha: dict[float, dict[str, float]], group: dict[str, object]) -> dict:
    """One alpha per group of tasks (``group``: task -> its group), judged leave-one-task-out.

    The held-out task's alpha is picked on the other tasks of its group (on every other task when
    it is alone in its group); ``in_sample`` is each group's pick on all its cells.
    """

    held = {}
    for task in sorted(group):
        # Its group mates; a task alone in its group learns from every other task.
        mates = {t for t in group if t != task and group[t] == group[task]} or set(group) - {task}
        alpha = pick_alpha(by_alpha, lambda cell, mates=mates: task_of(cell) in mates)
        held[task] = {"alpha": alpha, "cells": {c: r for c, r in by_alpha[alpha].items() if task_of(c) == task}}
    members = {str(value): {t for t in group if str(group[t]) == str(value)} for value in group.values()}
    return {
        "groups": {value: sorted(tasks) for value, tasks in sorted(members.items())},
        "in_sample": {
            value: pick_alpha(by_alpha, lambda cell, tasks=tasks: task_of(cell) in tasks)
            for value, tasks in sorted(members.items())
        },
        "held_out": held,
    }


def evaluate(rates: dict, grids: dict, cap: float) -> dict:
    """Every measure and alpha on these cells, with leave-one-task-out and leave-one-budget-out."""
    tasks = sorted({task for task, _ in grids})
    every_budget = sorted({budget for _, budget in grids})
    measures = {}
    for measure in MEASURES:
        by_alpha = {alpha: cell_regrets(measure, alpha, rates, grids, cap) for alpha in ALPHAS}
        measures[measure] = {
            "alphas": {str(alpha): cells for alpha, cells in by_alpha.items()},
            "leave_one_out": {
                "task": {t: held_out(by_alpha, lambda name, t=t: name.startswith(t + " ")) for t in tasks},
                "budget": {
                    f"{b}x": held_out(by_alpha, lambda name, b=b: name.endswith(f" {b}x")) for b in every_budget
                },
            },
        }
        for alpha, cells in by_alpha.items():
            values = list(cells.values())
            print(f"{measure} alpha {alpha:.2f}: mean {np.nanmean(values):+.1%}  worst {np.nanmax(values):+.1%}")
    by_alpha = {float(alpha): cells for alpha, cells in measures["steps"]["alphas"].items()}
    grouped = {name: grouped_held_out(by_alpha, {t: trait(t) for t in tasks}) for name, trait in TRAITS.items()}
    return {"measures": measures, "grouped": grouped}


LEVELS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)
"""Decades the non-Adam fits' rate is raised by. With the blow-up's doubling point read (since
2026-11-27) their 1x grids reach 0.8 decade or more above the highest reading, but the RMSprop
CNN's (0.48); with the stop point alone the MLP with RMSprop's reached 0.38. The Adam-like cells
cannot be scored this way at all, as one of them (the Friedman MLP at 16x) already lies off its
grid at the default."""
LEVEL_EXPONENTS = (0.0, 0.3, 0.5)
"""The budget exponents each level is tried with, on the non-Adam cells."""


def evaluate_levels(rates: dict, grids: dict, cap: float, raised: dict) -> dict:
    """The non-Adam cells at every level and exponent, and the pair picked by the lowest worst cell
    leaving one task or one budget out.

    ``raised`` says, run by run, whether the level applies: the callback raises only ``midspan``'s
    reading, not the blow-up reading it falls back on for a curve with no descent. A cell where it
    applies to fewer than half the runs is left out: the level cannot be judged where it does not
    act, and such a cell's one raised run would decide every pick by the worst cell.
    """
    kept = {
        cell: grid
        for cell, grid in grids.items()
        if not adam_like(cell[0]) and 2 * sum(raised[cell]) >= len(raised[cell])
    }
    pairs = {}
    for exponent in LEVEL_EXPONENTS:
        for level in LEVELS:
            moved = {cell: [r + level * up for r, up in zip(rates[cell], raised[cell], strict=True)] for cell in kept}
            pairs[f"{level:.2f} at {exponent:g}"] = cell_regrets("steps", exponent, moved, kept, cap)
    tasks, every_budget = sorted({task for task, _ in kept}), sorted({budget for _, budget in kept})
    for pair, cells in pairs.items():
        values = list(cells.values())
        print(f"level {pair}: mean {np.nanmean(values):+.1%}  worst {np.nanmax(values):+.1%}")
    return {
        "alphas": pairs,
        "leave_one_out": {
            "task": {t: held_out(pairs, lambda name, t=t: task_of(name) == t, worst_first) for t in tasks},
            "budget": {
                f"{b}x": held_out(pairs, lambda name, b=b: budget_of(name) == f"{b}x", worst_first)
                for b in every_budget
            },
        },
    }


def _of_handed_runs(ours: dict, values: list) -> list:
    """``values`` of the default's runs in a cell that handed a rate to the fit."""
    return [value for value, handed in zip(values, ours["lr"], strict=True) if handed]


def curve_readings(cell: dict) -> list[float]:
    """log10 of the curve's own suggestion in every run that handed a rate (before any budget factor)."""
    ours = cell["ours"]
    readings = ours.get("suggestion", ours["lr"])  # cells measured before the budget factor handed it as read
    return [math.log10(read) for read in _of_handed_runs(ours, readings)]


def read_by_midspan(cell: dict) -> list[bool]:
    """For the runs :func:`curve_readings` keeps, whether ``midspan`` read the curve (not the blow-up reading)."""
    ours = cell["ours"]
    return [code != "already_trained" for code in _of_handed_runs(ours, ours["diagnosis"])]


def budget_rule_lines(rule: dict) -> list[str]:
    """Per loss (final, best check) and measure of length (steps, epochs): regret per budget for each
    alpha, then the left-out cells."""
    lines = []
    losses = {"final": "the final validation loss", "best_check": "the best validation check"}
    for target, measures in rule["targets"].items():
        for measure, found in measures["measures"].items():
            lines += _alpha_table(f"On {losses[target]}, scaled by {measure}", found)
    for target, measures in rule["targets"].items():
        if "grouped" in measures:
            lines += _grouped_table(f"One alpha per group of tasks, on {losses[target]}", measures)
    for target, found in rule.get("non_adam_levels", {}).items():
        heading = (
            f"The optimizers that are not Adam-like, `midspan`'s reading raised by a level in decades, at a"
            f" budget exponent, on {losses[target]}; held out, the pair with the lowest worst cell is picked"
        )
        lines += _alpha_table(heading, found, column="level at exponent")
    return lines[:-1]


def _grouped_table(heading: str, measures: dict) -> list[str]:
    """Each trait's split of the tasks and its alphas: in sample, and leave-one-task-out beside one
    alpha's; cells whose rate falls off its grid are counted, not scored. Ends blank."""
    by_alpha = measures["measures"]["steps"]["alphas"]
    single = measures["measures"]["steps"]["leave_one_out"]["task"]
    lines = [
        f"**{heading}** (scaled by steps; held out: leave one task out, alpha picked within its group).",
        "",
        "| split by | groups: their alpha | in sample: mean | held out: mean | held out: worst cell"
        " | cells off the grid (held out) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    alpha = pick_alpha(by_alpha, lambda cell: True)
    one_alpha = np.mean(list(by_alpha[alpha].values()))
    lines.append(f"| nothing (one alpha) | every task: {float(alpha):.1f} | {pct(one_alpha)} | {_scored(single)} |")
    for trait, found in measures["grouped"].items():
        alpha_of = {task: found["in_sample"][value] for value, tasks in found["groups"].items() for task in tasks}
        in_sample = [by_alpha[str(alpha_of[task_of(cell)])][cell] for cell in next(iter(by_alpha.values()))]
        groups = "; ".join(
            f"{value} ({len(tasks)} tasks): {found['in_sample'][value]:.1f}" for value, tasks in found["groups"].items()
        )
        lines.append(f"| {trait} | {groups} | {pct(np.nanmean(in_sample))} | {_scored(found['held_out'])} |")
    return [*lines, ""]


def _scored(held: dict) -> str:
    """Held-out mean | worst | cells off the grid, as table cells."""
    cells = [r for left in held.values() for r in left["cells"].values()]
    scores = [r for r in cells if not math.isnan(r)]
    return f"{pct(np.mean(scores))} | {pct(max(scores))} | {len(cells) - len(scores)}"


def _alpha_table(heading: str, found: dict, column: str = "alpha") -> list[str]:
    """One measure on one loss: mean regret per budget for each alpha (or level: ``column``), then
    the left-out cells; ends blank."""
    names = next(iter(found["alphas"].values()))
    budgets = budgets_of(names)
    header = " | ".join(f"mean, {budget} cells" for budget in budgets)
    lines = [
        f"**{heading}.**",
        "",
        f"| {column} | {header} | mean, all cells | worst cell | cells off the grid |",
        "|---:|" + "---:|" * (len(budgets) + 3),
    ]
    for alpha, cells in found["alphas"].items():
        means = [np.nanmean([r for name, r in cells.items() if name.endswith(" " + b)]) for b in budgets]
        off = sum(math.isnan(r) for r in cells.values())
        values = list(cells.values())
        lines.append(
            f"| {_candidate(alpha)} | {' | '.join(pct(m) for m in means)} | {pct(np.nanmean(values))}"
            f" | {pct(np.nanmax(values))} | {off} |"
        )
    lines.append("")
    for kind, held in found["leave_one_out"].items():
        scores = [r for left in held.values() for r in left["cells"].values() if not math.isnan(r)]
        picked = ", ".join(f"{name} {_candidate(left['alpha'])}" for name, left in held.items())
        lines.append(
            f"- Leave one {kind} out ({column} picked without it: {picked}): the held-out cells averaged"
            f" {pct(np.mean(scores))}, worst {pct(max(scores))} (cells off the grid left out)."
        )
    return [*lines, ""]


def _candidate(key: float | str) -> str:
    """An alpha as ``0.30``; a level with its exponent (``"0.20 at 0.5"``) as it is keyed."""
    try:
        return f"{float(key):.2f}"
    except ValueError:
        return str(key)


def section(results: Path, oracle: dict) -> str:
    """The section's part on the grids' arithmetic, its tables from ``results/budget_rule.json``."""
    return fill(SECTION, results / BUDGET_RULE_JSON.name, {"{budget_rule}": budget_rule_lines})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.budget_rule", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=BUDGET_RULE_JSON)
    args = parser.parse_args(argv)
    oracle = json.loads(ORACLE_JSON.read_text())["tasks"]
    compare = json.loads(COMPARE_JSON.read_text())["tasks"]
    budgets = json.loads(BUDGETS_JSON.read_text())["budgets"]
    # 1x: the oracle's grid (10 seeds) and the default rule re-read on compare.json's curves; the
    # regime tasks the oracle does not run have their 1x cell in budgets.json. Longer budgets: the
    # rates the default chose in that cell (the curve is the budget's own on the fresh-data task).
    grids = {(task, 1): oracle[task] for task in oracle}
    rates = {
        (task, 1): [math.log10(suggest(c["lrs"], c["losses"])) for c in compare[task]["ours"]["curve"][:SEEDS]]
        for task in oracle
    }
    raised = {cell: [True] * len(found) for cell, found in rates.items()}  # suggest() reads with midspan
    # The best validation check of every fit: the grids' best_epoch summaries, whose 1x cells come
    # from budgets.json too (the oracle keeps only the final loss).
    budget_cells = {(task, int(b)): cell for b, cells in budgets.items() for task, cell in cells.items()}
    best_grids = {key: cell["best_epoch"] for key, cell in budget_cells.items()}
    best_rates = {key: curve_readings(cell) for key, cell in budget_cells.items()}
    best_raised = {key: read_by_midspan(cell) for key, cell in budget_cells.items()}
    for key, cell in budget_cells.items():
        if key not in grids:
            grids[key], rates[key], raised[key] = cell, best_rates[key], best_raised[key]
    cap = float(max(int(b) for b in budgets))
    out = {
        "command": "python -m benchmarks.experiments.budget_rule",
        "reference_steps": REFERENCE_STEPS,
        "reference_epochs": REFERENCE_EPOCHS,
        "cap": cap,
        "targets": {
            "final": evaluate(rates, grids, cap),
            "best_check": evaluate(best_rates, best_grids, cap),
        },
        "non_adam_levels": {
            "final": evaluate_levels(rates, grids, cap, raised),
            "best_check": evaluate_levels(best_rates, best_grids, cap, best_raised),
        },
    }
    write_json(args.out, out)


if __name__ == "__main__":
    main()
