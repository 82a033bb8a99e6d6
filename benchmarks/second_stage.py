"""The second stage: a model trained once, then fitted again with the finder (fastai's second ``fit``).

Stage one trains each task with its 1x-optimal one-cycle (from ``oracle.json``). Stage two fits
again for as long from the trained weights: a one-cycle grid of peak rates (half decades from
three decades below the 1x optimum to half a decade above, then quarter decades either side of
the best), and the callback at its defaults, end to end, whose range test now runs on a model
that has learnt what small rates can teach it.

    python -m benchmarks.second_stage     # 3 seeds for the grid, 5 for ours; writes results/second_stage.json
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

SECOND_STAGE_JSON = RESULTS / "second_stage.json"
BELOW, ABOVE = 3.0, 0.5  # decades of the stage-two grid around the 1x optimum


def _grid(task: str, first: float, exponents, seeds) -> dict[float, list[float]]:
    fit = "second_stage_fit"
    jobs = [(fit, dict(task_name=task, seed=s, first_peak_lr=first, peak_lr=10.0**e)) for e in exponents for s in seeds]
    runs = iter(run_jobs(jobs))
    return {float(e): [next(runs)["val_loss"] for _ in seeds] for e in exponents}


def task_cell(task: str, best_1x: float, grid_seeds, finder_seeds) -> dict:
    first = 10.0**best_1x
    grid = _grid(task, first, np.round(np.arange(best_1x - BELOW, best_1x + ABOVE + 1e-9, 0.5), 2), grid_seeds)
    best = min(grid, key=lambda e: seed_mean(grid[e]))
    grid.update(_grid(task, first, [round(best - 0.25, 2), round(best + 0.25, 2)], grid_seeds))
    finder = run_jobs(("second_stage_fit", dict(task_name=task, seed=s, first_peak_lr=first)) for s in finder_seeds)
    return {
        **summarize(grid),
        "first_val_loss": float(np.mean([run["first_val_loss"] for run in finder])),
        "ours": {
            "lr": [run["result"]["chosen_lr"] for run in finder],
            "val_loss": [run["val_loss"] for run in finder],
            "diagnosis": [run["result"]["diagnosis"] for run in finder],
            "stop_reason": [run["result"]["stop_reason"] for run in finder],
            "blow_up_lr": [run["result"]["lrs"][-1] if run["result"]["lrs"] else None for run in finder],
            "curve": [{"lrs": run["result"]["lrs"], "losses": run["result"]["losses"]} for run in finder],
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.second_stage", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--grid-seeds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the callback end to end (default 5)")
    parser.add_argument("--oracle", type=Path, default=ORACLE_JSON)
    parser.add_argument("--out", type=Path, default=SECOND_STAGE_JSON)
    args = parser.parse_args(argv)
    oracle = json.loads(args.oracle.read_text())["tasks"]
    out = json.loads(args.out.read_text()) if args.out.exists() else {"tasks": {}}
    for task in args.tasks:
        started = time.perf_counter()
        cell = out["tasks"][task] = task_cell(
            task, oracle[task]["best_log10_lr"], range(args.grid_seeds), range(args.seeds)
        )
        ours = cell["ours"]
        print(
            f"{task:26s} stage two best 1e{cell['best_log10_lr']:+.2f} (1x 1e{oracle[task]['best_log10_lr']:+.2f})"
            f"  ours {np.mean(ours['val_loss']) / cell['best_mean_loss'] - 1:+.1%}  {ours['diagnosis']}"
            f"  blow-up {[f'{lr:.1e}' for lr in ours['blow_up_lr'] if lr]}  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    out["grid_seeds"], out["seeds"], out["command"] = args.grid_seeds, args.seeds, "python -m benchmarks.second_stage"
    write_json(args.out, out, indent=None)


if __name__ == "__main__":
    main()
