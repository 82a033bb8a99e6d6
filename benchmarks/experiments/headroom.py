"""How much of the default's regret a better budget rule could still win, and how much is seed noise.

The default hands each (task, budget) cell five rates, one per seed. Moving all of them by one
constant (in decades) is what any rule of the same reading with other constants does: another
divisor, level or budget exponent, or one that depended on anything fixed within a group of cells.
For a grouping of the cells (by optimizer family and budget, by task, by cell), this finds the
shift that loses least on each group's grids (interpolated, mean regret of the five seeds) and
reports what is left. Split by cell, what is left is the cost of the seeds' spread alone: no
constant, however well chosen per cell, gets under it without a steadier reading. One grouping
gives each task two constants instead of one, an offset and a slope per fourfold length: a power
of the fit's length that is the task's own.

Every grouping is scored twice: on the rates as handed, and as if the reading had no seed spread,
each seed of a cell at the geometric mean of the cell's handed rates (:func:`steadied`). The
constants are fitted on the very cells they are scored on: within the shifts tried, no rule that
moves the reading by what it knows of a group does better there, however it was found. A last
line takes the reading out: the best rate per task that is a power of the fit's length, off the
grids with hindsight (:func:`power_law_bound`).

    python -m benchmarks.experiments.headroom     # reads results/budgets.json; prints the table (seconds)
"""

from __future__ import annotations

import argparse
import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..oracle import regrets_on_grid
from ..tasks import adam_like
from .tables import BUDGETS_JSON, fill

STEP = 0.01
"""Every shift, rate and slope below is tried a hundredth of a decade apart."""
SHIFTS = np.round(np.arange(-2.5, 2.5 + STEP / 2, STEP), 2)
"""The shifts tried, in decades, up to 2.5 either way: past the farthest any cell's best grid
point lies from a handed rate (1.7 decades). A shift that moves any seed off its cell's grid is
not measured and not taken."""
SLOPES = np.round(np.arange(-1.0, 1.0 + STEP / 2, STEP), 2)
"""The slopes tried for a task's own power of the length, in decades per fourfold length: in
``budgets.json`` the best peaks move by up to 1.5 decades from 1x to 16x, two fourfold steps
(a search over twice as wide picks nothing beyond these)."""
RATES = np.round(np.arange(-7.0, 1.0 + STEP / 2, STEP), 2)
"""The log10 peak rates tried for :func:`power_law_bound`: every grid in ``budgets.json`` lies within."""
CELL_TARGET = 0.05
"""The issue's target for every cell's regret, counted in the table."""

Cell = tuple[str, str]  # (task, budget multiple as in budgets.json: "1", "4", "16")


class Grouping(NamedTuple):
    meaning: str
    group_of: Callable[[Cell], object] | None  # None: no shift at all
    sloped: bool = False  # a slope per fourfold length besides the group's shift


GROUPINGS: dict[str, Grouping] = {
    "as handed": Grouping("the rates the default handed, unshifted", None),
    "per optimizer family and budget": Grouping(
        "about the most that other levels and exponents by optimizer family could win",
        lambda cell: (adam_like(cell[0]), cell[1]),
    ),
    "per task": Grouping("a reading that knew each task's offset, moved with the length as now", lambda cell: cell[0]),
    "per task, 1x and longer apart": Grouping(
        "the same, with the task's longer fits shifted by a second constant",
        lambda cell: (cell[0], cell[1] == "1"),
    ),
    "per task, with its own power of the length": Grouping(
        "the same, with the task's own slope per fourfold length as the second constant",
        lambda cell: cell[0],
        sloped=True,
    ),
    "per cell": Grouping("the seed spread alone: the best constant for every cell", lambda cell: cell),
}


def handed_rates(budgets: dict) -> dict[Cell, np.ndarray]:
    """log10 of the rate the default handed each seed of each cell."""
    return {
        (task, budget): np.log10(np.array(cell["ours"]["lr"], dtype=float))
        for budget, tasks in budgets["budgets"].items()
        for task, cell in tasks.items()
    }


def steadied(budgets: dict) -> dict:
    """``budgets`` with every seed's handed rate replaced by the geometric mean of its cell's: a
    reading with no seed spread that hands each cell its seeds' typical rate."""
    steady = copy.deepcopy(budgets)
    for tasks in steady["budgets"].values():
        for cell in tasks.values():
            rates = np.log10(np.array(cell["ours"]["lr"], dtype=float))
            cell["ours"]["lr"] = [float(10 ** rates.mean())] * len(rates)
    return steady


def shifted_regrets(grid: dict, rates: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Mean interpolated regret of the seeds' rates moved by each of ``shifts`` decades; infinite
    where a rate leaves the grid (or a seed handed none). The grid is read once."""
    regrets = regrets_on_grid(grid, rates[:, None] + shifts[None, :])  # seeds x shifts
    return np.where(np.isfinite(regrets).all(axis=0), regrets.mean(axis=0), math.inf)


def regrets_by_shift(budgets: dict) -> dict[Cell, np.ndarray]:
    """Every cell's :func:`shifted_regrets` at :data:`SHIFTS`, computed once for every grouping."""
    rates = handed_rates(budgets)
    return {
        (task, budget): shifted_regrets(cell, rates[task, budget], SHIFTS)
        for budget, tasks in budgets["budgets"].items()
        for task, cell in tasks.items()
    }


UNSHIFTED = int(np.flatnonzero(SHIFTS == 0.0)[0])
"""The column of :func:`regrets_by_shift` that is the rates as handed."""


def measured(by_shift: dict[Cell, np.ndarray]) -> list[Cell]:
    """The cells whose handed rates all lie on their grid: the others' regret is not measured."""
    return [cell for cell, row in by_shift.items() if math.isfinite(row[UNSHIFTED])]


def fourfold_lengths(cells: list[Cell]) -> np.ndarray:
    """Each cell's length in fourfold steps from 1x: 0, 1 and 2 for 1x, 4x and 16x."""
    return np.array([math.log(int(budget), 4) for _, budget in cells])


def best_columns(rows: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """The column for each of a group's rows (cells x :data:`SHIFTS` or :data:`RATES`, both
    :data:`STEP` apart) that loses least on the group's mean: one shared column, or, given each
    cell's :func:`fourfold_lengths`, a shared column moved by one of :data:`SLOPES` per fourfold step."""
    width = rows.shape[1]
    best_mean, best = math.inf, np.zeros(len(rows), dtype=int)  # column 0 when every choice is off a grid
    for slope in SLOPES if lengths is not None else (0.0,):
        steps = np.zeros(len(rows), dtype=int) if lengths is None else np.round(slope * lengths / STEP).astype(int)
        columns = np.arange(width)[None, :] + steps[:, None]  # cells x the shared column
        inside = (columns >= 0) & (columns < width)
        regrets = np.where(inside, np.take_along_axis(rows, columns.clip(0, width - 1), axis=1), math.inf)
        means = regrets.mean(axis=0)
        shared = int(np.argmin(means))
        if means[shared] < best_mean:
            best_mean, best = means[shared], columns[:, shared]
    return best


def left_over(
    budgets: dict,
    group_of: Callable[[Cell], object] | None,
    by_shift: dict[Cell, np.ndarray] | None = None,
    sloped: bool = False,
) -> dict[Cell, tuple[float, float]]:
    """Each measured cell's regret and shift after the best shift for its group (lowest mean over the
    group; with ``sloped``, the best shift and slope per fourfold length); no shift at all when
    ``group_of`` is None. ``by_shift``: :func:`regrets_by_shift`'s, if already computed."""
    by_shift = regrets_by_shift(budgets) if by_shift is None else by_shift
    cells = measured(by_shift)
    if group_of is None:
        return {cell: (float(by_shift[cell][UNSHIFTED]), 0.0) for cell in cells}
    groups: dict[object, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(group_of(cell), []).append(cell)
    out = {}
    for members in groups.values():
        rows = np.array([by_shift[cell] for cell in members])
        columns = best_columns(rows, fourfold_lengths(members) if sloped else None)
        out.update(
            {
                cell: (float(row[column]), float(SHIFTS[column]))
                for cell, row, column in zip(members, rows, columns, strict=True)
            }
        )
    return out


def headroom(budgets: dict, by_shift: dict[Cell, np.ndarray] | None = None) -> dict[str, dict]:
    """For each grouping: mean and worst cell regret left, the worst cell, and cells over the target."""
    by_shift = regrets_by_shift(budgets) if by_shift is None else by_shift
    found = {}
    for name, (meaning, group_of, sloped) in GROUPINGS.items():
        cells = left_over(budgets, group_of, by_shift, sloped)
        found[name] = dict(meaning=meaning, **_totals({cell: regret for cell, (regret, _) in cells.items()}))
    return found


def power_law_bound(budgets: dict) -> dict:
    """What a rule that hands each task a power of the fit's length could reach at best, with no
    reading at all: per task, the log10 rate ``a + b * fourfold steps`` with the least mean regret
    over its cells, ``a`` and ``b`` chosen off its grids with hindsight (:data:`RATES`, :data:`SLOPES`).

    A steady reading moved by a pure power of the length hands each task such a rate, whatever
    the reading and the power. The default's own factor is not quite one (floored at 230 steps,
    capped at 16x), and the fresh-data tasks' range tests see other batches at other lengths, so
    the table's sloped steady row is not bounded by this line (on ``budgets.json`` it leaves one cell
    fewer over 5 %, 4 against 5)."""
    by_task: dict[str, list[Cell]] = {}
    for budget, tasks in budgets["budgets"].items():
        for task in tasks:
            by_task.setdefault(task, []).append((task, budget))
    regrets = {}
    for cells in by_task.values():
        grids = [budgets["budgets"][budget][task] for task, budget in cells]
        rows = np.array([regrets_on_grid(grid, RATES) for grid in grids])
        rows[~np.isfinite(rows)] = math.inf
        columns = best_columns(rows, fourfold_lengths(cells))
        regrets.update({cell: float(row[column]) for cell, row, column in zip(cells, rows, columns, strict=True)})
    return _totals(regrets)


def _totals(regrets: dict[Cell, float]) -> dict:
    """Mean and worst cell regret, the worst cell, and how many cells are over the target."""
    named = {f"{task} {budget}x": regret for (task, budget), regret in regrets.items()}
    worst = max(named, key=named.get)
    return dict(
        mean=float(np.mean(list(named.values()))),
        worst=named[worst],
        worst_cell=worst,
        over_target=sum(r > CELL_TARGET for r in named.values()),
        cells=len(named),
    )


def headroom_table(budgets: dict) -> list[str]:
    """The table, each grouping as handed and with no seed spread (on the cells measured as
    handed), with a line naming the cells left out because a handed rate lies off its grid."""
    by_shift = regrets_by_shift(budgets)
    cells = measured(by_shift)
    off = sorted(f"{task} {budget}x" for task, budget in set(by_shift) - set(cells))
    if len(off) == len(by_shift):
        return ["(no cell measured: every cell has a handed rate off its grid)"]
    steady_budgets = steadied(budgets)
    steady_by_shift = regrets_by_shift(steady_budgets)
    steady = headroom(steady_budgets, {cell: steady_by_shift[cell] for cell in cells})
    lines = [
        "| shift chosen | what it stands for | mean regret | worst cell | cells over 5 % |"
        " with no seed spread: mean | worst cell | cells over 5 % |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in headroom(budgets, by_shift).items():
        lines.append(f"| {name} | {row['meaning']} | {_summary(row)} | {_summary(steady[name])} |")
    bound = power_law_bound(budgets)
    lines += [
        "",
        f"With no reading at all, the best rate per task as a power of the length, off the grids with"
        f" hindsight: mean {100 * bound['mean']:+.1f} %, worst cell {100 * bound['worst']:+.1f} %"
        f" ({bound['worst_cell']}), {bound['over_target']} of {bound['cells']} cells over 5 %.",
    ]
    if off:
        lines += ["", f"Left out, a handed rate off the cell's grid: {', '.join(off)}."]
    return lines


def _summary(row: dict) -> str:
    worst = f"{100 * row['worst']:+.1f} % ({row['worst_cell']})"
    return f"{100 * row['mean']:+.1f} % | {worst} | {row['over_target']} of {row['cells']}"


def section(results: Path, oracle: dict) -> str:
    """The section's part on the regret left to win, its table from ``results/budgets.json``."""
    return fill(Path(__file__).with_suffix(".md"), results / BUDGETS_JSON.name, {"{headroom}": headroom_table})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.headroom", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--budgets", type=Path, default=BUDGETS_JSON)
    args = parser.parse_args(argv)
    print("\n".join(headroom_table(json.loads(args.budgets.read_text()))))


if __name__ == "__main__":
    main()
