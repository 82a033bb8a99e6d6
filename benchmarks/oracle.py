"""The grid oracle: the best validation loss a one-cycle fit reaches on each task, by grid search.

For every task, the same one-cycle fit (:func:`benchmarks.fits.one_cycle_fit`) runs at peak
rates on a log grid, for every seed. The sweep is in half decades; where the seed-mean
validation loss is lowest, the grid is refined to quarter decades on both sides. The sweep
widens by itself if the best rate sits at its edge. The oracle is the best seed-mean; the
rules are judged against it.

    python -m benchmarks.oracle            # all tasks, 10 seeds; writes benchmarks/results/oracle.json
    python -m benchmarks.oracle --tasks digits_cnn_sgd --seeds 2
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .cli import parse_args, write_json
from .pool import run_jobs

RESULTS = Path(__file__).parent / "results"
ORACLE_JSON = RESULTS / "oracle.json"
SWEEP = tuple(np.round(np.arange(-5.0, 0.51, 0.5), 2))  # log10 peak rates, 1e-5 .. 10**0.5
SEEDS = tuple(range(10))


def _grid_fits(task: str, exponents, seeds) -> dict[float, list[float]]:
    jobs = [("one_cycle_fit", dict(task_name=task, seed=s, peak_lr=10.0**e)) for e in exponents for s in seeds]
    losses = iter(run_jobs(jobs))
    return {float(e): [next(losses) for _ in seeds] for e in exponents}


def seed_mean(losses: list[float]) -> float:
    """Mean validation loss over seeds; ``inf`` if any seed diverged."""
    return float(np.mean(losses)) if all(map(math.isfinite, losses)) else math.inf


def summarize(grid: dict[float, list[float]]) -> dict:
    """A grid of {log10 peak rate: per-seed losses} as the results files keep it."""
    exponents = sorted(grid)
    means = [seed_mean(grid[e]) for e in exponents]
    return {
        "log10_lr": exponents,
        "mean_loss": means,
        "best_log10_lr": exponents[int(np.argmin(means))],
        "best_mean_loss": min(means),
    }


def regret_on_grid(cell: dict, log10_lr: float) -> float:
    """Regret of a peak rate read off a summarized grid by interpolation; NaN off the grid (not measured)."""
    return float(regrets_on_grid(cell, np.array([log10_lr], dtype=float))[0])


def regrets_on_grid(cell: dict, log10_lrs: np.ndarray) -> np.ndarray:
    """:func:`regret_on_grid` at many rates, reading the grid once."""
    x, y = np.array(cell["log10_lr"]), np.array(cell["mean_loss"])
    finite = np.isfinite(y)
    x, y = x[finite], y[finite]
    on_grid = (x[0] <= log10_lrs) & (log10_lrs <= x[-1])
    return np.where(on_grid, np.interp(log10_lrs, x, y) / cell["best_mean_loss"] - 1, math.nan)


def task_oracle(task: str, seeds=SEEDS) -> dict:
    grid = _grid_fits(task, SWEEP, seeds)
    while True:  # widen until the best half-decade point has a worse neighbour on both sides
        best = min(grid, key=lambda e: seed_mean(grid[e]))
        edge = [e for e in (best - 0.5, best + 0.5) if e not in grid and -9 <= e <= 2]
        if not edge:
            break
        grid.update(_grid_fits(task, edge, seeds))
    grid.update(_grid_fits(task, [best - 0.25, best + 0.25], seeds))
    return {**summarize(grid), "seed_losses": [grid[e] for e in sorted(grid)]}


def main(argv: list[str] | None = None) -> None:
    args = parse_args("benchmarks.oracle", __doc__, ORACLE_JSON, len(SEEDS), argv)
    seeds = tuple(range(args.seeds))
    out = json.loads(args.out.read_text()) if args.out.exists() else {"tasks": {}}
    for task in args.tasks:
        started = time.perf_counter()
        out["tasks"][task] = task_oracle(task, seeds)
        found = out["tasks"][task]
        print(
            f"{task:26s} best peak 1e{found['best_log10_lr']:+.2f}  val loss {found['best_mean_loss']:.4f}"
            f"  ({len(found['log10_lr'])} rates x {len(seeds)} seeds, {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    out["seeds"] = list(seeds)
    out["command"] = args.command
    write_json(args.out, out)


if __name__ == "__main__":
    main()
