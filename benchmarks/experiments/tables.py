"""What the experiments share: the budget benchmark's cells (``budgets.json``), what is measured
on them, and how a section of ``docs/benchmarks.md`` is filled from its template.

A cell is named ``"<task> <budget>x"``; every recipe in it ran the same seeds, and its regret is
read against the cell's own one-cycle grid, on the final validation loss or on the best check.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

from ..oracle import RESULTS

BUDGETS_JSON = RESULTS / "budgets.json"
NOT_MEASURED = "(not measured)"


def fill(template: Path, source: Path, tables: dict[str, Callable[[dict], list[str]]]) -> str:
    """``template``'s text, each placeholder replaced by its table of ``source``'s JSON, or by
    "(not measured)" where ``source`` is missing."""
    data = json.loads(source.read_text()) if source.exists() else None
    text = template.read_text()
    for key, table in tables.items():
        text = text.replace(key, NOT_MEASURED if data is None else "\n".join(table(data)))
    return text


LEVEL_PREFIX = "ours_level_"


def level_key(level: float, exponent: float) -> str:
    """Where a level candidate's runs are kept in a cell: ``ours_level_L_at_E``."""
    return f"{LEVEL_PREFIX}{level:g}_at_{exponent:g}"


def task_of(cell: str) -> str:
    """The task of a cell named ``"<task> <budget>x"``."""
    return cell.rsplit(" ", 1)[0]


def budget_of(cell: str) -> str:
    """The budget (``"4x"``) of a cell named ``"<task> <budget>x"``."""
    return cell.rsplit(" ", 1)[1]


def budgets_of(cells) -> list[str]:
    """The budgets of the named cells, shortest first."""
    return sorted({budget_of(cell) for cell in cells}, key=lambda budget: int(budget[:-1]))


def named_cells(budgets: dict) -> dict[str, dict]:
    """Every budget cell of ``budgets.json``, named ``"<task> <budget>x"`` as :func:`task_of` reads it."""
    return {f"{task} {b}x": cell for b, tasks in budgets["budgets"].items() for task, cell in tasks.items()}


def cell_regret(cell: dict, losses: list[float], kind: str) -> float:
    """Mean of ``losses`` over the grid's best seed-mean of the same ``kind`` (final or best check), minus one."""
    best = cell["best_mean_loss"] if kind == "val_loss" else cell["best_epoch"]["best_mean_loss"]
    return float(np.mean(losses)) / best - 1


def worst_run(cell: dict) -> float:
    """The default's worst seed in a budget cell, against the grid's best (final loss)."""
    return max(cell["ours"]["val_loss"]) / cell["best_mean_loss"] - 1


def rate_spread(run: dict) -> float:
    """Standard deviation over seeds of log10 of the rate a recipe handed (decades); NaN under two rates."""
    rates = [lr for lr in run["lr"] if lr is not None]
    return float(np.std(np.log10(rates))) if len(rates) > 1 else math.nan


CONFIDENCE = 0.95
"""How sure the recipes table must be that another recipe lost less than the default in a cell
before it says so: a two-sided t interval over the seed-by-seed differences excludes zero. With 5
seeds a cell's final-loss regret carries a standard error of 0.2 to 35 points (the transformer
fine-tune at 1x, whose rates sit at a cliff), so a lower mean alone often means nothing. With five
other recipes a cell, a few such calls over the table are still expected by chance."""


def several_seeds(cells: list[dict], names: list[str]) -> bool:
    """Whether every cell ran every recipe of ``names`` on two seeds or more, so that seed noise can be measured."""
    return all(len(cell[name]["val_loss"]) > 1 for cell in cells for name in names)


def _seed_differences(cell: dict, name: str, than: str) -> np.ndarray:
    """Seed by seed, ``name``'s final-loss regret minus ``than``'s in a budget cell.

    Every recipe of a cell ran the same seeds (the same initial weights and batches), so pairing
    them removes what a seed does to both: far less noisy than the two means apart.
    """
    a, b = (np.asarray(cell[key]["val_loss"], dtype=float) for key in (name, than))
    if a.shape != b.shape:
        raise ValueError(f"{name} ran {a.size} seeds and {than} {b.size}: a seed-by-seed difference needs the same")
    return (a - b) / cell["best_mean_loss"]


def clearly_lower(cell: dict, name: str, than: str = "ours") -> bool:
    """Whether recipe ``name`` lost less than ``than`` in a budget cell beyond seed noise: the upper end
    of the two-sided :data:`CONFIDENCE` t interval of their mean seed-by-seed difference is below zero."""
    diff = _seed_differences(cell, name, than)
    error = diff.std(ddof=1) / math.sqrt(diff.size)
    return bool(diff.mean() + stats.t.ppf(0.5 + CONFIDENCE / 2, diff.size - 1) * error < 0)


def paired_difference(cells: list[dict], name: str, than: str = "ours") -> tuple[float, float]:
    """Mean over cells of ``name``'s final-loss regret minus ``than``'s, and one standard error of it.

    The cells are taken as fixed; the error is the seeds' (:func:`_seed_differences`).
    """
    diffs = [_seed_differences(cell, name, than) for cell in cells]
    variances = [diff.var(ddof=1) / diff.size for diff in diffs]
    return float(np.mean([diff.mean() for diff in diffs])), float(math.sqrt(sum(variances)) / len(cells))
