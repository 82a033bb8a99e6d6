"""The cells of :mod:`benchmarks.experiments.passes_rule`: each (task, budget)'s grids and the
callback's readings, the rules read off them, and which cells fitted the rule and which tested it."""

from __future__ import annotations

import functools
import json
import math

import numpy as np

from pl_lrfind.core import suggest
from pl_lrfind.core.budget import REFERENCE_PASSES, level_for, pass_exponent_for, repetition_factor

from ..compare import COMPARE_JSON
from ..oracle import ORACLE_JSON, regrets_on_grid
from ..tasks import ALL_TASKS, HORIZON_CHECK_TASKS, STREAM_LEVEL_TASKS, adam_like
from .budget_rule import curve_readings, read_by_midspan
from .tables import BUDGETS_JSON


def replaced_rule(task: str, budget: int, best_check: bool, by_midspan: bool) -> float:
    """log10 of the factor the rule before 8d4d4c3 gave: a power of the steps over 230, capped at
    16x, exponent 1.0 / 0.3 (best check) for Adam-like optimizers, 0.5 / 0 and a 10**0.3 raise of
    a midspan reading for the rest."""
    adam = adam_like(task)
    exponent = (0.3 if best_check else 1.0) if adam else (0.0 if best_check else 0.5)
    ratio = min(max(1.0, ALL_TASKS[task].total_steps(budget) / 230), 16.0)
    return (0.0 if adam or not by_midspan else 0.3) - exponent * math.log10(ratio)


def passes_rule(
    task: str,
    budget: int,
    best_check: bool,
    by_midspan: bool,
    exponent: float | None = None,
    horizon: float = 0.0,
    limit: float | None = None,
    level_on_streams: bool = True,
    reference: float = REFERENCE_PASSES,
) -> float:
    """log10 of the factor the callback gives. Candidates the default does not take: ``exponent``
    replaces the measured one (level kept), ``horizon`` lowers it by ``(steps / 230) ** -horizon``
    too, ``limit`` stops the lowering at that many passes, ``level_on_streams=False`` hands a
    stream's reading as is, and ``reference`` replaces the passes the lowering starts from."""
    fresh = ALL_TASKS[task].fresh is not None
    level = level_for(adam_like(task), "midspan" if by_midspan else "other") if level_on_streams or not fresh else 1.0
    exponent = pass_exponent_for(best_check) if exponent is None else exponent
    passes = ALL_TASKS[task].epochs_for(budget)
    passes = (min(passes, limit) if limit is not None else passes) * REFERENCE_PASSES / reference
    steps = max(1.0, ALL_TASKS[task].total_steps(budget) / 230)
    return math.log10(level * repetition_factor(passes, exponent)) - horizon * math.log10(steps)


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


def rule_regrets(cells: dict, keys, target: str = "final", **rule) -> dict[tuple[str, int], float]:
    """Each cell's regret on ``target`` at the rate :func:`passes_rule` hands with ``rule``, by (task, budget)."""
    best = target == "best_check"
    return {key: cell_regret(cells[key], target, functools.partial(passes_rule, *key, best, **rule)) for key in keys}


def regime(task: str, budget: int) -> str:
    fresh = ALL_TASKS[task].fresh is not None
    return "fresh data" if fresh else ("finite data, 1x" if budget == 1 else "finite data, longer")


def is_test(task: str, budget: int) -> bool:
    """Cells run only after the rule was frozen: the new tasks, and every 64x cell."""
    return task in HORIZON_CHECK_TASKS or task in STREAM_LEVEL_TASKS or budget == 64
