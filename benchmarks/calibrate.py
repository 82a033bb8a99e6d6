"""Calibrate ``midspan``'s one constant on seeds the comparison never uses, task by task held out.

``midspan`` returns the log-middle of two anchors divided by ``MIDSPAN_DIVISOR``. That divisor
is the rule's only fitted number. This script re-derives it: one range test per task on seeds
10-19 (the comparison uses 0-9) with the stop rule off, replayed at the default settings; for
each candidate divisor, the regret its suggestions would have, read off the oracle's grid by
interpolation. The divisor is fitted on all tasks, and again with each task held out, to show
that no single task decides it.

    python -m benchmarks.calibrate     # writes benchmarks/results/calibrate.json
"""

from __future__ import annotations

import json

import numpy as np

from pl_lrfind.core import RangeTest
from pl_lrfind.core.rules import MIDSPAN_DIVISOR

from .cli import parse_args, write_json
from .noise import interpolated_regret
from .oracle import ORACLE_JSON, RESULTS
from .settings import replay, stop_free_losses

CALIBRATE_JSON = RESULTS / "calibrate.json"
DESIGN_SEEDS = tuple(range(10, 20))
SHIFTS = np.round(np.arange(-1.5, 0.501, 0.05), 2)  # log10 of 1 / divisor


def calibrate(tasks, seeds) -> dict:
    curves = stop_free_losses(tasks, seeds)
    oracle = json.loads(ORACLE_JSON.read_text())["tasks"]
    defaults = RangeTest().settings  # calibrate for the settings users get
    middles = {}  # log10 of the undivided midspan, per task and seed
    for task, losses in curves.items():
        found = [replay(curve, defaults["beta"], defaults["divergence_threshold"]) for curve in losses]
        middles[task] = [np.log10(lr * MIDSPAN_DIVISOR) for lr in found if lr is not None]
    regret = {
        task: [
            float(np.mean([interpolated_regret(oracle[task], 10 ** (m + shift)) for m in middles[task]]))
            for shift in SHIFTS
        ]
        for task in tasks
    }

    def best_shift(over) -> float:
        return float(SHIFTS[int(np.argmin(np.mean([regret[t] for t in over], axis=0)))])

    return {
        "shifts": SHIFTS.tolist(),
        "regret_by_task": regret,
        "fitted_shift": best_shift(tasks),
        "held_out_shift": {held: best_shift([t for t in tasks if t != held]) for held in tasks},
        "divisor_in_use": MIDSPAN_DIVISOR,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        "benchmarks.calibrate", __doc__, CALIBRATE_JSON, len(DESIGN_SEEDS), argv, "seeds 10..10+N-1 (default 10)"
    )
    out = {"command": args.command, "seeds": list(DESIGN_SEEDS[: args.seeds])}
    out.update(calibrate(args.tasks, out["seeds"]))
    write_json(args.out, out)
    held = out["held_out_shift"].values()
    print(
        f"fitted divisor 10**{-out['fitted_shift']:.2f}; with one task held out 10**{-max(held):.2f}"
        f" to 10**{-min(held):.2f}; in use {MIDSPAN_DIVISOR:g}"
    )


if __name__ == "__main__":
    main()
