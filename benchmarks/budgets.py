"""Longer fits: the one-cycle grid oracle and the default, end to end, at a multiple of each task's budget.

Real fits run much longer than the benchmark's few hundred steps, and the best one-cycle peak
moves with the length of the fit. This step trains every task for ``--budget`` times its epochs:
a grid of peak rates in quarter decades within a decade of the task's 1x optimum (from
``oracle.json``; the grid widens while its best rate sits at an edge), and the callback at its
defaults, end to end, which plans its one-cycle over the longer fit but reads the same curve.

    python -m benchmarks.budgets --budget 4     # 3 seeds for the grid, 5 for ours; writes results/budgets.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .cli import write_json
from .oracle import ORACLE_JSON, RESULTS, seed_mean, summarize
from .pool import run_jobs
from .tasks import TASKS

BUDGETS_JSON = RESULTS / "budgets.json"
HALF_WIDTH = 1.0  # decades either side of the 1x optimum
STEP = 0.25


def _grid(task: str, budget: int, exponents, seeds) -> dict[float, list[float]]:
    jobs = [
        ("one_cycle_fit", dict(task_name=task, seed=s, peak_lr=10.0**e, budget=budget))
        for e in exponents
        for s in seeds
    ]
    losses = iter(run_jobs(jobs))
    return {float(e): [next(losses) for _ in seeds] for e in exponents}


def task_cell(task: str, budget: int, centre: float, grid_seeds, finder_seeds) -> dict:
    exponents = np.round(np.arange(centre - HALF_WIDTH, centre + HALF_WIDTH + 1e-9, STEP), 2)
    grid = _grid(task, budget, exponents, grid_seeds)
    while True:  # widen while the best rate sits at the edge of the grid
        best = min(grid, key=lambda e: seed_mean(grid[e]))
        edge = [round(best + d, 2) for d in (-STEP, STEP) if round(best + d, 2) not in grid and -9 <= best + d <= 2]
        if not edge:
            break
        grid.update(_grid(task, budget, edge, grid_seeds))
    finder = run_jobs(("finder_fit", dict(task_name=task, seed=s, budget=budget)) for s in finder_seeds)
    return {
        **summarize(grid),
        "ours": {
            "lr": [run["result"]["chosen_lr"] for run in finder],
            "val_loss": [run["val_loss"] for run in finder],
            "diagnosis": [run["result"]["diagnosis"] for run in finder],
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budgets", description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=4, help="multiple of each task's epochs (default 4)")
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--grid-seeds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the callback end to end (default 5)")
    parser.add_argument("--oracle", type=Path, default=ORACLE_JSON, help="the 1x oracle the grid is centred on")
    parser.add_argument("--out", type=Path, default=BUDGETS_JSON)
    args = parser.parse_args(argv)
    oracle = json.loads(args.oracle.read_text())["tasks"]
    out = json.loads(args.out.read_text()) if args.out.exists() else {"budgets": {}}
    cells = out["budgets"].setdefault(str(args.budget), {})
    for task in args.tasks:
        started = time.perf_counter()
        cells[task] = task_cell(
            task, args.budget, oracle[task]["best_log10_lr"], range(args.grid_seeds), range(args.seeds)
        )
        cell = cells[task]
        print(
            f"{task:26s} {args.budget}x: best peak 1e{cell['best_log10_lr']:+.2f}"
            f" (1x: 1e{oracle[task]['best_log10_lr']:+.2f})"
            f"  ours {np.mean(cell['ours']['val_loss']) / cell['best_mean_loss'] - 1:+.1%}"
            f"  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    out["grid_seeds"], out["seeds"] = args.grid_seeds, args.seeds
    out["command"] = "python -m benchmarks.budgets --budget N"
    write_json(args.out, out)


if __name__ == "__main__":
    main()
