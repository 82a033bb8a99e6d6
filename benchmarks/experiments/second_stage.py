"""The second stage: a model trained once, then fitted again with the finder (fastai's second ``fit``).

Stage one trains each task with its 1x-optimal one-cycle (from ``oracle.json``). Stage two fits
again for as long from the trained weights: a one-cycle grid of peak rates (half decades from
three decades below the 1x optimum to half a decade above, then quarter decades either side of
the best); the callback at its defaults, end to end, whose range test now runs on a model that
has learnt what small rates can teach it; and a constant fit at the rate a user would have typed
(what the callback's fit kept when it handed no rate).

    python -m benchmarks.experiments.second_stage              # grid 3 seeds, ours 5; writes results/second_stage.json
    python -m benchmarks.experiments.second_stage --ours-only  # keep the grids, rerun ours and the typed rate
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from ..cli import write_json
from ..oracle import ORACLE_JSON, RESULTS, regret_on_grid, seed_mean, summarize
from ..pool import run_jobs
from ..report import pct
from ..tasks import TASKS
from .tables import fill

SECOND_STAGE_JSON = RESULTS / "second_stage.json"
SECTION = Path(__file__).with_suffix(".md")
BELOW, ABOVE = 3.0, 0.5  # decades of the stage-two grid around the 1x optimum
GRID_KEYS = ("log10_lr", "mean_loss", "best_log10_lr", "best_mean_loss")  # what summarize() keeps


def _grid(task: str, first: float, exponents, seeds) -> dict[float, list[float]]:
    fit = "second_stage_fit"
    jobs = [(fit, dict(task_name=task, seed=s, first_peak_lr=first, peak_lr=10.0**e)) for e in exponents for s in seeds]
    runs = iter(run_jobs(jobs))
    return {float(e): [next(runs)["val_loss"] for _ in seeds] for e in exponents}


def task_cell(task: str, best_1x: float, grid_seeds, finder_seeds, grid: dict | None = None) -> dict:
    """The stage-two grid (or the ``grid`` of an earlier run, summarized), the typed rate, and ours."""
    first = 10.0**best_1x
    if grid is None:
        exponents = np.round(np.arange(best_1x - BELOW, best_1x + ABOVE + 1e-9, 0.5), 2)
        runs = _grid(task, first, exponents, grid_seeds)
        best = min(runs, key=lambda e: seed_mean(runs[e]))
        runs.update(_grid(task, first, [round(best - 0.25, 2), round(best + 0.25, 2)], grid_seeds))
        grid = summarize(runs)
    seeds = list(finder_seeds)
    runs = run_jobs(
        ("second_stage_fit", dict(task_name=task, seed=s, first_peak_lr=first, finder=with_finder))
        for with_finder in (True, False)
        for s in seeds
    )
    finder, typed = runs[: len(seeds)], runs[len(seeds) :]
    return {
        **grid,
        "first_val_loss": float(np.mean([run["first_val_loss"] for run in finder])),
        "typed": {"val_loss": [run["val_loss"] for run in typed]},
        "ours": {
            "lr": [run["result"]["chosen_lr"] for run in finder],
            "val_loss": [run["val_loss"] for run in finder],
            "diagnosis": [run["result"]["diagnosis"] for run in finder],
            "stop_reason": [run["result"]["stop_reason"] for run in finder],
            "blow_up_lr": [run["result"]["lrs"][-1] if run["result"]["lrs"] else None for run in finder],
            "budget_factor": [run["result"]["settings"].get("budget_factor") for run in finder],
            "curve": [{"lrs": run["result"]["lrs"], "losses": run["result"]["losses"]} for run in finder],
        },
    }


BLOW_UP_OFFSETS = (1.0, 1.5, 1.75, 2.0, 2.5, 3.0)
"""Decades below the blow-up point that the second-stage table reads a rate at (2.5 is ``blow_up``'s)."""


def second_stage_table(second: dict, oracle: dict) -> list[str]:
    """Per task: where the second stage's best peak is, where its curve blew up, what the typed rate
    and ours lost end to end, and what reading the blow-up at other distances would have lost."""
    offsets = " | ".join(f"blow-up / 10^{d:g}" for d in BLOW_UP_OFFSETS)
    lines = [
        f"| task | best peak (1x) | stage-two best peak | blow-up (median) | blow-up - best (decades) | diagnoses"
        f" | typed rate kept | ours, end to end | {offsets} |",
        "|---|---:|---:|---:|---:|---|---:|---:|" + "---:|" * len(BLOW_UP_OFFSETS),
    ]
    columns: dict[str, list[float]] = {"typed": [], "ours": [], **{str(d): [] for d in BLOW_UP_OFFSETS}}
    for task, cell in second["tasks"].items():
        ours = cell["ours"]
        # Where the test blew up on a curve with no descent, moved by the budget factor it handed with.
        read = [
            (math.log10(lr), math.log10(factor or 1.0))
            for lr, code, factor in zip(ours["blow_up_lr"], ours["diagnosis"], ours["budget_factor"], strict=True)
            if lr and code == "already_trained"
        ]
        median = float(np.median([b for b, _ in read])) if read else math.nan
        columns["typed"].append(np.mean(cell["typed"]["val_loss"]) / cell["best_mean_loss"] - 1)
        columns["ours"].append(np.mean(ours["val_loss"]) / cell["best_mean_loss"] - 1)
        cells = []
        for d in BLOW_UP_OFFSETS:
            regret = float(np.mean([regret_on_grid(cell, b - d + f) for b, f in read])) if read else math.nan
            columns[str(d)].append(regret)
            cells.append("off the grid" if math.isnan(regret) else pct(regret))
        codes = ", ".join(f"{code} {ours['diagnosis'].count(code)}" for code in sorted(set(ours["diagnosis"])))
        lines.append(
            f"| {task} | 1e{oracle[task]['best_log10_lr']:+.2f} | 1e{cell['best_log10_lr']:+.2f} | 1e{median:+.2f}"
            f" | {median - cell['best_log10_lr']:.2f} | {codes} | {pct(columns['typed'][-1])}"
            f" | {pct(columns['ours'][-1])} | {' | '.join(cells)} |"
        )
    for name, summary in (("mean", np.mean), ("worst", np.max)):
        lines.append(f"| **{name}** | | | | | | " + " | ".join(_on_grid(summary, c) for c in columns.values()) + " |")
    return lines


def _on_grid(summary, regrets: list[float]) -> str:
    """``summary`` of the regrets read on the grid, saying how many tasks it covers when some fell off it."""
    measured = [r for r in regrets if not math.isnan(r)]
    if not measured:
        return "-"
    text = pct(float(summary(measured)))
    return text if len(measured) == len(regrets) else f"{text} ({len(measured)} of {len(regrets)} tasks)"


def section(results: Path, oracle: dict) -> str:
    """The section "The second stage", its table from ``results/second_stage.json`` beside the 1x ``oracle``."""
    return fill(
        SECTION, results / SECOND_STAGE_JSON.name, {"{second_stage}": lambda second: second_stage_table(second, oracle)}
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.second_stage", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--grid-seeds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the callback end to end (default 5)")
    parser.add_argument("--oracle", type=Path, default=ORACLE_JSON)
    parser.add_argument("--out", type=Path, default=SECOND_STAGE_JSON)
    parser.add_argument(
        "--ours-only", action="store_true", help="keep the stage-two grids in --out; rerun ours and the typed rate"
    )
    args = parser.parse_args(argv)
    oracle = json.loads(args.oracle.read_text())["tasks"]
    out = json.loads(args.out.read_text()) if args.out.exists() else {"tasks": {}}
    missing = [task for task in args.tasks if task not in out["tasks"]]
    if args.ours_only and missing:
        parser.error(f"--ours-only keeps the stage-two grids of {args.out}, which has none for {', '.join(missing)}")
    for task in args.tasks:
        started = time.perf_counter()
        grid = {key: out["tasks"][task][key] for key in GRID_KEYS} if args.ours_only else None
        cell = out["tasks"][task] = task_cell(
            task, oracle[task]["best_log10_lr"], range(args.grid_seeds), range(args.seeds), grid
        )
        ours = cell["ours"]
        print(
            f"{task:26s} stage two best 1e{cell['best_log10_lr']:+.2f} (1x 1e{oracle[task]['best_log10_lr']:+.2f})"
            f"  typed {np.mean(cell['typed']['val_loss']) / cell['best_mean_loss'] - 1:+.1%}"
            f"  ours {np.mean(ours['val_loss']) / cell['best_mean_loss'] - 1:+.1%}  {ours['diagnosis']}"
            f"  blow-up {[f'{lr:.1e}' for lr in ours['blow_up_lr'] if lr]}  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    out["grid_seeds"], out["seeds"] = args.grid_seeds, args.seeds
    out["command"] = "python -m benchmarks.experiments.second_stage"
    write_json(args.out, out, indent=None)


if __name__ == "__main__":
    main()
