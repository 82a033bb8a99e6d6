"""The test of two candidates for the non-Adam level, off the budget grids: 10**0.4, and a level read off the curve.

``NON_ADAM_LEVEL`` (10**0.3) raises ``midspan``'s reading for every optimizer that is not
Adam-like. Two candidates to replace it were written down before this test ran: 10**0.4, which
the grids of the twelve non-Adam tasks then in the benchmark picked, and :func:`curve_level`,
which falls with how deep the curve's descent is against its batch noise, fitted on seeds 0-4 of
those twelve tasks. The test, on curves none of them was chosen on: seeds 5-9 of the twelve
tasks, and seeds 0-4 of the three tasks added for it (``tasks.CURVE_LEVEL_CHECK_TASKS``). Each
curve is a range test alone (``then="stop"``, the 1x batches), read as the range test reads it
(``anchors.read``), moved as the callback moves it for every budget cell but with the candidate's
level, and scored off the cell's grid by interpolation, on the final loss (``anchors.cell_regrets``).

    python -m benchmarks.experiments.level_check     # about 20 seconds; writes results/level_check.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pl_lrfind.core.budget import NON_ADAM_LEVEL
from pl_lrfind.core.curve import Curve

from ..cli import write_json
from ..oracle import RESULTS
from ..report import finite_mean
from ..tasks import CURVE_LEVEL_CHECK_TASKS, adam_like
from .anchors import TESTED_ON, cell_regrets, range_test_curves, read
from .tables import BUDGETS_JSON

LEVEL_CHECK_JSON = RESULTS / "level_check.json"
CURVE_LEVEL_AT, CURVE_LEVEL_SLOPE, CURVE_LEVEL_CENTRE = 0.40, -0.45, 0.8
""":func:`curve_level`'s constants, as written down before the test: 10**0.40 where the descent is
10**0.8 times the noise (about the twelve tasks' median), 0.45 decade lower per decade deeper."""


def descent_to_noise(curve: Curve) -> float:
    """How deep the curve descends against its batch noise: the drop from the head's median loss to
    the lag-free minimum, over the spread of the raw losses about the lag-free curve up to it."""
    smooth = curve.centered
    lowest = int(np.argmin(smooth))
    start = curve.starting_level()
    noise = float(np.std(curve.losses[: lowest + 1] - smooth[: lowest + 1]))
    return max(start - float(smooth[lowest]), 1e-12) / max(noise, 1e-12)


def curve_level(curve: Curve) -> float:
    """The second candidate: higher on a shallow, noisy descent, lower on a deep, clean one."""
    return 10 ** (CURVE_LEVEL_AT + CURVE_LEVEL_SLOPE * (math.log10(descent_to_noise(curve)) - CURVE_LEVEL_CENTRE))


CANDIDATES: dict[str, Callable[[Curve], float]] = {
    "10**0.3 (the default)": lambda curve: NON_ADAM_LEVEL,
    "10**0.4": lambda curve: 10**0.4,
    "the curve's level": curve_level,
}


Reading = tuple[float | None, bool, Curve]
"""A recorded curve as the range test reads it with ``midspan`` (``anchors.read``), and the curve."""


def readings_of(curves: dict[str, list[dict]]) -> dict[str, list[Reading]]:
    """Each task's recorded curves, read once for every candidate."""
    return {
        task: [(*read(result, "midspan"), Curve.from_raw(result["lrs"], result["losses"])) for result in found]
        for task, found in curves.items()
    }


def score(read_curves: dict[str, list[Reading]], budgets: dict, level: Callable[[Curve], float]) -> dict:
    """Per cell, the seeds' mean regret on the final loss with ``level`` for the readings by the rule;
    the mean, the worst cell, and how many seeds' moved rates fell off their cell's grid (left out of
    the cell's mean, as ``anchors`` does: a candidate that moved many there would be flattered)."""
    cells, off_grid = {}, 0
    for task, found in read_curves.items():
        # cell_regrets raises a reading by the rule by NON_ADAM_LEVEL: hand it the candidate's instead.
        readings = [
            (lr * level(curve) / NON_ADAM_LEVEL if lr and by_rule else lr, by_rule) for lr, by_rule, curve in found
        ]
        for budget, tasks in budgets.items():
            if task in tasks:
                regrets = cell_regrets(readings, task, budget, tasks[task], False)
                off_grid += sum(
                    lr is not None and not math.isfinite(r) for (lr, _), r in zip(readings, regrets, strict=True)
                )
                cells[f"{task} {budget}x"] = finite_mean(regrets)
    worst = max((cell for cell in cells if math.isfinite(cells[cell])), key=cells.get)
    mean = finite_mean(list(cells.values()))
    return {"cells": cells, "mean": mean, "worst": cells[worst], "worst_cell": worst, "off_grid": off_grid}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.level_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=LEVEL_CHECK_JSON)
    args = parser.parse_args(argv)
    budgets = json.loads(BUDGETS_JSON.read_text())["budgets"]
    new = list(CURVE_LEVEL_CHECK_TASKS)
    earlier = [task for task in budgets["1"] if task in TESTED_ON and not adam_like(task)]
    sets = {"seeds 5-9 of the twelve earlier tasks": (earlier, range(5, 10)), "the new tasks": (new, range(5))}
    out = {"command": "python -m benchmarks.experiments.level_check", "sets": {}}
    for name, (tasks, seeds) in sets.items():
        read_curves = readings_of(range_test_curves(tasks, seeds))
        out["sets"][name] = {"seeds": list(seeds), "candidates": {}}
        for candidate, level in CANDIDATES.items():
            found = out["sets"][name]["candidates"][candidate] = score(read_curves, budgets, level)
            print(
                f"{name}: {candidate:22s} mean {100 * found['mean']:+.1f} %,"
                f" worst cell {100 * found['worst']:+.1f} % ({found['worst_cell']}),"
                f" seeds off their grids: {found['off_grid']}",
                flush=True,
            )
    write_json(args.out, out)


if __name__ == "__main__":
    main()
