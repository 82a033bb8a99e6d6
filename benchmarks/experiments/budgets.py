"""Longer fits: the one-cycle grid oracle and the default, end to end, at a multiple of each task's budget.

Real fits run much longer than the benchmark's few hundred steps, and the best one-cycle peak
moves with the length of the fit. This step trains every task for ``--budget`` times its length:
a grid of peak rates in quarter decades within a decade of the task's 1x optimum (from
``oracle.json``, or from this file's own 1x cell for the regime tasks the oracle does not run;
the grid widens while its best rate sits at an edge), and the callback at its defaults, end to
end, which plans its one-cycle over the longer fit but reads the same curve.

Besides the seven calibration tasks it runs the regimes they do not cover
(``tasks.REGIME_TASKS``): fresh data at every step, where a longer fit adds samples rather
than passes, and two fine-tuning tasks on networks the benchmark pretrains itself (cached
under ``benchmarks/.cache``, or ``$BENCH_CACHE``); and calibration networks with another optimizer
(``tasks.SWAPPED_OPTIMIZER_TASKS``, ``RULE_CHECK_TASKS``, ``LEVEL_CHECK_TASKS``,
``REFIT_CHECK_TASKS``, ``CURVE_LEVEL_CHECK_TASKS``), each run first to test the rule by optimizer
as it stood. Every fit also checks the validation loss
once per 1x epoch; regret is reported on the final loss and on the best check (what a user with
``ModelCheckpoint(monitor="val_loss")`` keeps).

    python -m benchmarks.experiments.budgets --budget 4  # 3 seeds for the grid, 5 for ours; writes results/budgets.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from ..cli import write_json
from ..oracle import ORACLE_JSON, seed_mean, summarize
from ..pool import run_jobs
from ..tasks import ALL_TASKS, adam_like
from .budget_tables import (
    budget_recipes_table,
    budget_targets_table,
    budgets_table,
    exponent_picks_table,
    level_candidates_table,
)
from .tables import BUDGETS_JSON, fill, level_key

SECTION = Path(__file__).with_suffix(".md")
HALF_WIDTH = 1.0  # decades either side of the 1x optimum
STEP = 0.25


def _grid(task: str, budget: int, exponents, seeds) -> dict[float, list[dict]]:
    jobs = [
        ("traced_one_cycle_fit", dict(task_name=task, seed=s, peak_lr=10.0**e, budget=budget))
        for e in exponents
        for s in seeds
    ]
    runs = iter(run_jobs(jobs))
    return {float(e): [next(runs) for _ in seeds] for e in exponents}


def _losses(grid: dict[float, list[dict]], key: str) -> dict[float, list[float]]:
    return {e: [run[key] for run in runs] for e, runs in grid.items()}


def task_cell(task: str, budget: int, centre: float, grid_seeds, finder_seeds, half_width: float = HALF_WIDTH) -> dict:
    """The grid around ``centre`` (widened while its best rate sits at an edge) and the callback at
    its defaults; no callback when ``finder_seeds`` is empty (``--grid-only``)."""
    exponents = np.round(np.arange(centre - half_width, centre + half_width + 1e-9, STEP), 2)
    grid = _grid(task, budget, exponents, grid_seeds)
    while True:  # widen while the best rate sits at the edge of the grid
        best = min(grid, key=lambda e: seed_mean([run["val_loss"] for run in grid[e]]))
        edge = [round(best + d, 2) for d in (-STEP, STEP) if round(best + d, 2) not in grid and -9 <= best + d <= 2]
        if not edge:
            break
        grid.update(_grid(task, budget, edge, grid_seeds))
    cell = {
        **summarize(_losses(grid, "val_loss")),
        "best_epoch": summarize(_losses(grid, "best_val_loss")),
        "grid_seeds": len(grid_seeds),
    }
    if len(finder_seeds):
        cell["ours"] = ours_end_to_end(task, budget, finder_seeds)
    return cell


def ours_end_to_end(task: str, budget: int, seeds, **settings) -> dict:
    """The callback end to end (defaults, or ``settings``): the rate it handed, the curve's reading, the losses."""
    finder = run_jobs(("finder_fit", dict(task_name=task, seed=s, budget=budget, **settings)) for s in seeds)
    return {
        "lr": [run["result"]["chosen_lr"] for run in finder],
        "suggestion": [run["result"]["suggestion"] for run in finder],
        "val_loss": [run["val_loss"] for run in finder],
        "best_val_loss": [run["best_val_loss"] for run in finder],
        "diagnosis": [run["result"]["diagnosis"] for run in finder],
        "passes": [run["result"]["settings"].get("passes") for run in finder],
        "budget_factor": [run["result"]["settings"].get("budget_factor") for run in finder],
    }


def rule_end_to_end(task: str, budget: int, seeds, rule: str) -> dict:
    """One of fastai's rules the fastai way: read on the same test's curve (the callback with
    ``then="stop"``), handed as read, then the same one-cycle fit over the longer budget."""
    tests = run_jobs(("finder_fit", dict(task_name=task, seed=s, budget=budget, then="stop")) for s in seeds)
    return _one_cycle_at(task, budget, seeds, [test["result"]["suggestions"][rule] for test in tests])


OTHER_RECIPES = ("lightning", "prodigy", "schedulefree")


def recipe_end_to_end(task: str, budget: int, seeds, recipe: str) -> dict:
    """Another recipe over the longer fit, as its users run it.

    ``lightning``: ``Tuner.lr_find(...).suggestion()`` at its defaults, handed as found to the
    same one-cycle fit (the rate typed when it finds none, marked in ``fallback``). ``prodigy``,
    ``schedulefree``: the learning-rate-free optimizer over the whole fit, checked along the way
    on the weights it would be evaluated with.
    """
    if recipe == "lightning":
        found = run_jobs(("lightning_suggestion", dict(task_name=task, seed=s, budget=budget)) for s in seeds)
        out = _one_cycle_at(task, budget, seeds, [f["lr"] for f in found])
        return {**out, "fallback": [f["fallback"] for f in found]}
    fits = run_jobs(
        ("traced_lr_free_fit", dict(task_name=task, seed=s, optimizer=recipe, budget=budget)) for s in seeds
    )
    return _runs([None for _ in fits], fits)


def _one_cycle_at(task: str, budget: int, seeds, rates: list[float]) -> dict:
    """Each seed's one-cycle fit over the budget, peaking at that seed's rate."""
    fits = run_jobs(
        ("traced_one_cycle_fit", dict(task_name=task, seed=s, peak_lr=lr, budget=budget))
        for s, lr in zip(seeds, rates, strict=True)
    )
    return _runs(rates, fits)


def _runs(rates: list, fits: list[dict]) -> dict:
    """A recipe's seeds as a cell keeps them: the rate each was handed, its final loss and best check."""
    return {
        "lr": rates,
        "val_loss": [fit["val_loss"] for fit in fits],
        "best_val_loss": [fit["best_val_loss"] for fit in fits],
    }


def widen(cell: dict, task: str, budget: int, edge: float, seeds) -> None:
    """Add grid points in quarter decades beyond the cell's grid out to ``edge`` (below it or above), in place.

    Scaling the rate by the fit's length moves some seeds' rates below a grid that reaches a
    decade under the 1x optimum, and a task whose grid is centred on a guess can read above it;
    their regret is then not measured (``budget_rule``, ``headroom``).
    """
    lrs = cell["log10_lr"]
    start, step = (min(lrs) - STEP, -STEP) if edge < min(lrs) else (max(lrs) + STEP, STEP)
    exponents = [float(e) for e in np.round(np.arange(start, edge + math.copysign(1e-9, step), step), 2)]
    if min(lrs) <= edge <= max(lrs) or not exponents:
        return
    extra = _grid(task, budget, exponents, seeds)
    for key, summary in (("val_loss", cell), ("best_val_loss", cell["best_epoch"])):
        means = dict(zip(summary["log10_lr"], summary["mean_loss"], strict=True))
        means.update({e: seed_mean([run[key] for run in runs]) for e, runs in extra.items()})
        summary.update(summarize({e: [mean] for e, mean in means.items()}))


def centre_of(task: str, oracle: dict, cells_1x: dict, cells_below: dict | None = None) -> float:
    """Where a task's grid starts: the best peak of ``cells_below`` (the next shorter budget, when
    asked), else the oracle's 1x optimum, else this file's 1x cell, else the task's guess."""
    if cells_below and task in cells_below:
        return cells_below[task]["best_log10_lr"]
    if task in oracle:
        return oracle[task]["best_log10_lr"]
    if task in cells_1x:
        return cells_1x[task]["best_log10_lr"]
    return ALL_TASKS[task].guess


def section(results: Path, oracle: dict) -> str:
    """The section "Longer fits, fresh data and fine-tuning", its tables from ``results/budgets.json``
    (the 1x best peaks of the seven calibration tasks from ``oracle``)."""
    tables = {
        "{budgets}": lambda budgets: budgets_table(budgets, oracle),
        "{level_candidates}": level_candidates_table,
        "{exponent_picks}": exponent_picks_table,
        "{exponent_picks_best}": lambda budgets: exponent_picks_table(budgets, "best_val_loss"),
        "{budget_recipes}": budget_recipes_table,
        "{budget_targets}": budget_targets_table,
    }
    return fill(SECTION, results / BUDGETS_JSON.name, tables)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.budgets", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--budget", type=int, default=4, help="multiple of each task's length (default 4)")
    parser.add_argument("--tasks", nargs="+", choices=sorted(ALL_TASKS), default=list(ALL_TASKS))
    parser.add_argument("--grid-seeds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the callback end to end (default 5)")
    parser.add_argument("--oracle", type=Path, default=ORACLE_JSON, help="the 1x oracle the grid is centred on")
    parser.add_argument("--out", type=Path, default=BUDGETS_JSON)
    parser.add_argument(
        "--grid-only", action="store_true", help="run the cells' grids only; the callback later, with --ours-only"
    )
    parser.add_argument(
        "--half-width", type=float, default=HALF_WIDTH, help=f"decades either side of the centre (default {HALF_WIDTH})"
    )
    parser.add_argument(
        "--centre-on", type=int, metavar="B", help="centre each grid on the task's best peak at budget B, if measured"
    )
    parser.add_argument(
        "--ours-only", action="store_true", help="keep the cells' grids, run only the callback end to end again"
    )
    parser.add_argument(
        "--as-read",
        action="store_true",
        help="keep the cells, run the callback with budget_exponent=0 (the suggestion as read) into ours_as_read",
    )
    parser.add_argument(
        "--exponent", type=float, help="keep the cells, run the callback with this budget_exponent into ours_exponent_X"
    )
    parser.add_argument(
        "--level",
        type=float,
        metavar="L",
        help="keep the cells of the tasks whose optimizer is not Adam-like, run the callback with "
        "budget_exponent=--exponent (default 0) and lr_factor=10**L into ours_level_L_at_E",
    )
    parser.add_argument(
        "--rule", choices=("valley", "steepest", "minimum"), help="keep the cells, run this rule as read into rule_NAME"
    )
    parser.add_argument(
        "--recipe",
        choices=OTHER_RECIPES,
        help="keep the cells, run Lightning's lr_find or a learning-rate-free optimizer into recipe_NAME",
    )
    parser.add_argument(
        "--widen-below", type=float, metavar="D", help="extend the cells' grids down to D decades below their centre"
    )
    parser.add_argument(
        "--widen-above", type=float, metavar="D", help="extend the cells' grids up to D decades above their centre"
    )
    args = parser.parse_args(argv)
    oracle = json.loads(args.oracle.read_text())["tasks"]
    out = json.loads(args.out.read_text()) if args.out.exists() else {"budgets": {}}
    cells = out["budgets"].setdefault(str(args.budget), {})
    keeps_cells = args.ours_only or args.as_read or args.rule or args.recipe
    widens = args.widen_below is not None or args.widen_above is not None
    if args.widen_below is not None and args.widen_above is not None:
        parser.error("widen one side at a time: --widen-below or --widen-above")
    keeps_cells = keeps_cells or args.exponent is not None or widens or args.level is not None
    if args.level is not None and any(adam_like(task) for task in args.tasks):
        parser.error("--level is measured on the tasks whose optimizer is not Adam-like only")
    missing = [task for task in args.tasks if task not in cells]
    if keeps_cells and missing:
        parser.error(f"this keeps the {args.budget}x cells of {args.out}, which has none for {', '.join(missing)}")
    for task in args.tasks:
        started = time.perf_counter()
        below = out["budgets"].get(str(args.centre_on), {}) if args.centre_on else None
        centre = centre_of(task, oracle, out["budgets"].get("1", {}), below)
        if widens:
            edge = centre - args.widen_below if args.widen_below is not None else centre + args.widen_above
            widen(cells[task], task, args.budget, edge, range(args.grid_seeds))
            lrs = cells[task]["log10_lr"]
            print(f"{task:34s} {args.budget}x: grid 1e{min(lrs):+.2f} to 1e{max(lrs):+.2f}", flush=True)
            continue
        if args.rule is not None:
            cells[task][f"rule_{args.rule}"] = rule_end_to_end(task, args.budget, range(args.seeds), args.rule)
            continue
        if args.recipe is not None:
            cells[task][f"recipe_{args.recipe}"] = recipe_end_to_end(task, args.budget, range(args.seeds), args.recipe)
            continue
        if args.level is not None:
            exponent = args.exponent or 0.0
            # lr_factor raises every reading, the blow-up one too, which the callback's level leaves
            # alone: the two differ on a curve read at its blow-up (the level candidates' runs
            # include one GRU-with-RMSprop seed read so before the plateau reading).
            cells[task][level_key(args.level, exponent)] = ours_end_to_end(
                task, args.budget, range(args.seeds), budget_exponent=exponent, lr_factor=10**args.level
            )
            continue
        if args.as_read or args.exponent is not None:
            exponent = 0.0 if args.as_read else args.exponent
            key = "ours_as_read" if args.as_read else f"ours_exponent_{exponent:g}"
            cells[task][key] = ours_end_to_end(task, args.budget, range(args.seeds), budget_exponent=exponent)
            continue
        if args.ours_only:
            cells[task]["ours"] = ours_end_to_end(task, args.budget, range(args.seeds))
        else:
            finder_seeds = range(0 if args.grid_only else args.seeds)
            cells[task] = task_cell(task, args.budget, centre, range(args.grid_seeds), finder_seeds, args.half_width)
        cell = cells[task]
        if "ours" not in cell:
            print(f"{task:34s} {args.budget}x: grid only ({time.perf_counter() - started:.0f} s)", flush=True)
            write_json(args.out, out)
            continue
        print(
            f"{task:34s} {args.budget}x: best peak 1e{cell['best_log10_lr']:+.2f} (grid centred on 1e{centre:+.2f})"
            f"  ours {np.mean(cell['ours']['val_loss']) / cell['best_mean_loss'] - 1:+.1%}"
            f"  best-epoch {np.mean(cell['ours']['best_val_loss']) / cell['best_epoch']['best_mean_loss'] - 1:+.1%}"
            f"  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    if not args.grid_only:  # a grid-only run may use fewer seeds; each cell says how many (grid_seeds)
        out["grid_seeds"], out["seeds"] = args.grid_seeds, args.seeds
    out["command"] = "python -m benchmarks.experiments.budgets --budget N [--tasks ...]"
    write_json(args.out, out)


if __name__ == "__main__":
    main()
