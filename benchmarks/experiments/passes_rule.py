"""The rate for longer fits: the rule by passes (``pl_lrfind.core.budget``) against the rule it
replaced and the suggestion as read, on every measured cell, and its exponent held out.

The rule was fitted on the 65 cells of the budget benchmark at 1x, 4x and 16x (twenty-one
tasks over finite data, the Friedman stream with AdamW and SGD) and then frozen (commit
8d4d4c3). The cells run only after that are its test: three new tasks
(``tasks.HORIZON_CHECK_TASKS``: a token stream, an image stream, an augmented finite set) at
1x to 64x, and two earlier tasks at 64x (the Friedman stream, the digits MLP with Adam).

Each recipe's regret is read off each cell's grid at the rate it would hand, from the readings
of the callback's own runs in that cell (``budgets.json``; at 1x the seven calibration tasks are
re-read on ``compare.json``'s curves against the oracle's grid), so every recipe is judged on
the same readings; the new default's own fits, end to end, are reported beside it where they
were run.

    python -m benchmarks.experiments.passes_rule  # after experiments.budgets; writes results/passes_rule.json
"""

from __future__ import annotations

import argparse
import functools
import json
import math
from pathlib import Path

import numpy as np

from pl_lrfind.core import suggest
from pl_lrfind.core.budget import PASS_EXPONENT, level_for, pass_exponent_for, repetition_factor

from ..cli import write_json
from ..compare import COMPARE_JSON
from ..oracle import ORACLE_JSON, RESULTS, regrets_on_grid
from ..tasks import ALL_TASKS, HORIZON_CHECK_TASKS, adam_like
from .budget_rule import curve_readings, read_by_midspan
from .tables import BUDGETS_JSON, fill, task_of

PASSES_RULE_JSON = RESULTS / "passes_rule.json"
SECTION = Path(__file__).with_suffix(".md")
EXPONENTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
BEST_CHECK_EXPONENTS = (0.0, 0.2, 0.3, 0.4, 0.5)
HORIZONS = (0.0, 0.1, 0.2, 0.3)


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
) -> float:
    """log10 of the factor the callback gives. Candidates the default does not take: ``exponent``
    replaces the measured one (level kept), ``horizon`` lowers it by ``(steps / 230) ** -horizon``
    too, ``limit`` stops the lowering at that many passes, and ``level_on_streams=False`` hands a
    stream's reading as is."""
    fresh = ALL_TASKS[task].fresh is not None
    level = level_for(adam_like(task), "midspan" if by_midspan else "other") if level_on_streams or not fresh else 1.0
    exponent = pass_exponent_for(best_check) if exponent is None else exponent
    passes = ALL_TASKS[task].epochs_for(budget)
    passes = min(passes, limit) if limit is not None else passes
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


def regime(task: str, budget: int) -> str:
    fresh = ALL_TASKS[task].fresh is not None
    return "fresh data" if fresh else ("finite data, 1x" if budget == 1 else "finite data, longer")


def is_test(task: str, budget: int) -> bool:
    """Cells run only after the rule was frozen: the new tasks, and every 64x cell."""
    return task in HORIZON_CHECK_TASKS or budget == 64


def evaluate(cells: dict) -> dict:
    out: dict = {"cells": {}, "exponents": {}, "held_out_exponent": {}}
    for (task, budget), cell in sorted(cells.items()):
        name = f"{task} {budget}x"
        row = {
            "regime": regime(task, budget),
            "test": is_test(task, budget),
            "passes": ALL_TASKS[task].epochs_for(budget),
        }
        for target in ("final", "best_check"):
            best = target == "best_check"
            for recipe, rule in RECIPES.items():
                row[f"{recipe} | {target}"] = cell_regret(cell, target, functools.partial(rule, task, budget, best))
        ours, key = cell["ours"], {"final": "val_loss", "best_check": "best_val_loss"}
        runs_of = {"end to end": ours if "passes" in ours else None, "replaced end to end": cell.get("ours_by_steps")}
        for label, runs in runs_of.items():  # each rule's own fits, where they were run (same seeds)
            for target, loss in key.items():
                if runs is not None:
                    regrets = np.array(runs[loss]) / cell[target]["best_mean_loss"] - 1
                    row[f"{label} | {target}"] = {"mean": float(np.mean(regrets)), "worst_run": float(np.max(regrets))}
        out["cells"][name] = row
    fitted = [k for k in cells if not is_test(*k)]
    for e in EXPONENTS:
        out["exponents"][str(e)] = {
            f"{t} {b}x": cell_regret(cells[t, b], "final", functools.partial(passes_rule, t, b, False, exponent=e))
            for t, b in fitted
        }
    for task in sorted({t for t, _ in fitted}):  # the exponent picked by the worst cell without this task
        out["held_out_exponent"][task] = pick_exponent(out["exponents"], lambda name, task=task: task_of(name) != task)
    out["default_exponent"] = PASS_EXPONENT
    out["candidates"] = candidates(cells, fitted, out["exponents"])
    out["reach"] = reach(cells)
    out["changes"] = changes(cells)
    return out


CHANGES = {
    "the default": {},
    "lowering limited at 80 passes": {"limit": 80},
    "a stream's reading as is": {"level_on_streams": False},
    "both": {"limit": 80, "level_on_streams": False},
}
"""Changes the test cells point to, read off every cell's grid (in-sample for the test cells)."""


def changes(cells: dict) -> dict:
    """Mean and worst regret of each of :data:`CHANGES` by group of cells, and the cells off their grids."""
    groups = {
        "fitted": lambda t, b: not is_test(t, b),
        "test": is_test,
        "fresh data": lambda t, b: ALL_TASKS[t].fresh is not None,
    }
    out = {}
    for name, rule in CHANGES.items():
        found = {
            key: cell_regret(cell, "final", functools.partial(passes_rule, *key, False, **rule))
            for key, cell in cells.items()
        }
        out[name] = {}
        for group, keeps in groups.items():
            values = np.array([regret for key, regret in found.items() if keeps(*key)])
            out[name][group] = {
                "mean": float(np.nanmean(values)),
                "worst": float(np.nanmax(values)),
                "off_grid": int(np.isnan(values).sum()),
            }
    return out


def change_lines(result: dict) -> list[str]:
    groups = list(next(iter(result["changes"].values())))
    lines = [
        "| rule | " + " | ".join(f"{g}: mean / worst (off grid)" for g in groups) + " |",
        "|---|" + "---|" * len(groups),
    ]
    for name, row in result["changes"].items():
        cols = [f"{row[g]['mean']:+.1%} / {row[g]['worst']:+.0%} ({row[g]['off_grid']})" for g in groups]
        lines.append(f"| {name} | " + " | ".join(cols) + " |")
    return lines


def pick_exponent(by_exponent: dict[str, dict[str, float]], keeps) -> float:
    """The exponent with the lowest worst cell (then the next worst...) over the cells ``keeps`` names;
    one that leaves any of them off its grid is not picked."""

    def worst_first(e: float) -> tuple:
        values = [r for name, r in by_exponent[str(e)].items() if keeps(name)]
        return (math.inf,) if any(map(math.isnan, values)) else tuple(sorted(values, reverse=True))

    return min(EXPONENTS, key=worst_first)


def candidates(cells: dict, fitted: list, by_exponent: dict[str, dict[str, float]]) -> dict:
    """The other choices the rule was picked over, on the fitted cells: the exponent by optimizer
    family (by the worst cell, from ``by_exponent``), the best check's exponent (by the mean) and a
    horizon term."""

    def regrets(target: str, **rule) -> dict[str, float]:
        best = target == "best_check"
        return {
            f"{t} {b}x": cell_regret(cells[t, b], target, functools.partial(passes_rule, t, b, best, **rule))
            for t, b in fitted
        }

    by_family = {
        family: pick_exponent(by_exponent, lambda name, members=members: adam_like(task_of(name)) is members)
        for family, members in (("Adam-like", True), ("the rest", False))
    }
    fresh = [f"{t} {b}x" for t, b in fitted if ALL_TASKS[t].fresh is not None]
    horizon = {}
    for h in HORIZONS:
        found = regrets("final", horizon=h)
        horizon[str(h)] = {
            "all": float(np.nanmean(list(found.values()))),
            "fresh": float(np.nanmean([found[name] for name in fresh])),
            "off_grid": int(np.isnan(list(found.values())).sum()),
        }
    best_check = {
        str(e): float(np.nanmean(list(regrets("best_check", exponent=e).values()))) for e in BEST_CHECK_EXPONENTS
    }
    return {"exponent_by_family": by_family, "horizon": horizon, "best_check_exponent": best_check}


SHIFTS = np.round(np.arange(-3.0, 1.55, 0.05), 2)
"""Decades a rule may move a reading by, in the reach analysis: wider than any cell's grid."""


def reach(cells: dict) -> dict:
    """The lowest worst cell any rule could reach, per optimizer family, on the fitted cells and on all:
    a rule free to move each cell on its own (the floor the readings leave), any function of the
    passes (a fresh stream counts as fewest), and any such function that never rises with them.
    A cell's readings move alike: the level a rule gives by the reading applies to every reading of
    the optimizers without ``betas``, which ``midspan`` read in every cell here."""
    curves = {}
    for key, cell in cells.items():
        found = np.array([cell_regret(cell, "final", lambda by_midspan, s=s: s) for s in SHIFTS])
        if np.isfinite(found).any():
            curves[key] = np.where(np.isnan(found), np.inf, found)

    def passes(task: str, budget: int) -> float:
        return 0.0 if ALL_TASKS[task].fresh is not None else ALL_TASKS[task].epochs_for(budget)

    def by_passes(keys: list) -> list[list]:
        groups: dict[float, list] = {}
        for key in keys:
            groups.setdefault(passes(*key), []).append(key)
        return [groups[p] for p in sorted(groups)]

    def first_misfit(keys: list, bound: float) -> list | None:
        """The group of cells a non-increasing rule cannot keep under ``bound``, None if it can."""
        highest = len(SHIFTS) - 1
        for group in by_passes(keys):  # fewest passes first, each as high a shift as the bound allows
            allowed = np.nonzero(np.all([curves[k][: highest + 1] <= bound for k in group], axis=0))[0]
            if not len(allowed):
                return group
            highest = allowed[-1]
        return None

    def lowest_bound(keys: list) -> float:
        low, high = 0.0, 50.0
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (low, middle) if first_misfit(keys, middle) is None else (middle, high)
        return high

    def lowest_mean(keys: list) -> float:
        """The lowest mean any non-increasing rule reaches: fewest passes first, each group's cost at
        a shift plus the cheapest of the shifts at or above it for the groups before."""
        cost = None
        for group in by_passes(keys):
            here = np.sum([curves[k] for k in group], axis=0)
            cost = here if cost is None else here + np.minimum.accumulate(cost[::-1])[::-1]
        return float(cost.min() / len(keys))

    finite_longer = [k for k in curves if not is_test(*k) and regime(*k) == "finite data, longer"]
    out = {
        "finite, longer, fitted | by family": {
            "cells": len(finite_longer),
            "non_increasing_mean": sum(
                lowest_mean(group) * len(group)
                for group in ([k for k in finite_longer if adam_like(k[0]) is members] for members in (True, False))
                if group
            )
            / len(finite_longer),
        }
    }
    for scope, keeps in (("fitted", lambda key: not is_test(*key)), ("all", lambda key: True)):
        for family, members in (("Adam-like", True), ("the rest", False)):
            keys = [key for key in curves if keeps(key) and adam_like(key[0]) is members]
            if not keys:
                continue
            floors = {f"{t} {b}x": float(curves[t, b].min()) for t, b in keys}
            any_function = {
                ", ".join(f"{t} {b}x" for t, b in group): float(np.max([curves[k] for k in group], axis=0).min())
                for group in by_passes(keys)
            }
            worst_group = max(any_function, key=any_function.get)
            out[f"{scope} | {family}"] = {
                "cells": len(keys),
                "own_shift": {"mean": float(np.mean(list(floors.values()))), "worst": max(floors.values())},
                "worst_own_shift_cell": max(floors, key=floors.get),
                "any_function_of_passes": any_function[worst_group],
                "binding_cells": worst_group,
                "non_increasing_in_passes": (bound := lowest_bound(keys)),
                "non_increasing_misfit": ", ".join(f"{t} {b}x" for t, b in first_misfit(keys, bound * 0.999) or []),
                "non_increasing_mean": lowest_mean(keys),
            }
    return out


def reach_lines(result: dict) -> list[str]:
    lines = [
        "| cells | family | n | each cell its own shift: mean / worst | any rule of the passes: worst cell "
        "| binding cells | any rule that never rises with the passes: worst cell | the cells it cannot fit "
        "| its lowest mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in result["reach"].items():
        if "own_shift" not in row:
            continue
        scope, family = key.split(" | ")
        own = row["own_shift"]
        lines.append(
            f"| {scope} | {family} | {row['cells']} | {own['mean']:+.1%} / {own['worst']:+.0%} "
            f"| {row['any_function_of_passes']:+.0%} | {row['binding_cells']} | {row['non_increasing_in_passes']:+.0%} "
            f"| {row['non_increasing_misfit']} | {row['non_increasing_mean']:+.1%} |"
        )
    finite = result["reach"]["finite, longer, fitted | by family"]
    lines += [
        "",
        f"On the {finite['cells']} fitted cells over finite data longer than 1x alone, a rule that never rises "
        f"with the passes (one per family) could reach a mean of {finite['non_increasing_mean']:+.1%}.",
    ]
    return lines


def candidate_lines(result: dict) -> list[str]:
    found = result["candidates"]
    family = "; ".join(f"{name}: {e:g}" for name, e in found["exponent_by_family"].items())
    lines = [f"Exponent picked by the worst cell on each optimizer family's own cells: {family}.", ""]
    lines += ["| horizon term h | mean, all fitted cells | fresh cells | cells off the grid |", "|---|---|---|---|"]
    for h, row in found["horizon"].items():
        lines.append(f"| {h} | {row['all']:+.1%} | {row['fresh']:+.1%} | {row['off_grid']} |")
    best = ", ".join(f"{e}: {mean:+.1%}" for e, mean in found["best_check_exponent"].items())
    return [*lines, "", f"Best check, mean over the fitted cells by the kept check's exponent: {best}."]


def _grouped(rows, labels_of) -> dict[str, list[dict]]:
    """Rows by every label ``labels_of(row)`` gives them, labels sorted."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        for label in labels_of(row):
            groups.setdefault(label, []).append(row)
    return dict(sorted(groups.items()))


def summary_lines(result: dict) -> list[str]:
    """Each recipe's mean / worst cell by regime, fitted and test cells apart, over the cells where
    every recipe's rates land on the grid (n counts them)."""
    lines = [
        "| cells | n | passes (default): final | steps (replaced): final | as read: final "
        "| passes: best check | steps: best check | as read: best check |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def labels_of(row: dict) -> list[str]:
        kind = "test: " if row["test"] else "fitted: "
        return [kind + row["regime"], kind + "all"]

    for label, rows in _grouped(result["cells"].values(), labels_of).items():
        cols, counts = [], set()
        for target in ("final", "best_check"):
            values = np.array([[row[f"{recipe} | {target}"] for recipe in RECIPES] for row in rows])
            values = values[np.isfinite(values).all(axis=1)]
            counts.add(len(values))
            cols += [
                f"{values[:, i].mean():+.1%} / {values[:, i].max():+.0%}" if len(values) else "-"
                for i in range(len(RECIPES))
            ]
        lines.append(f"| {label} | {' and '.join(map(str, sorted(counts)))} | " + " | ".join(cols) + " |")
    return lines


def test_lines(result: dict) -> list[str]:
    """One row per cell run after the rule was frozen: the default end to end, and every recipe off the grid."""
    lines = [
        "| cell | passes | default end to end: mean / worst run | default | replaced (steps) | as read "
        "| best check: default end to end | default | as read |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["cells"].items():
        if not row["test"]:
            continue
        ends = [row.get(f"end to end | {target}") for target in ("final", "best_check")]
        end = [f"{e['mean']:+.1%} / {e['worst_run']:+.0%}" if e else "(not run)" for e in ends]
        read = [f"{row[f'{recipe} | final']:+.1%}" for recipe in RECIPES]
        best = [f"{row[f'{recipe} | best_check']:+.1%}" for recipe in RECIPES if recipe != "steps (replaced)"]
        fresh = " (fresh)" if row["regime"] == "fresh data" else ""
        lines.append(f"| {name} | {row['passes']:g}{fresh} | {end[0]} | " + " | ".join([*read, end[1], *best]) + " |")
    return lines


def end_to_end_lines(result: dict) -> list[str]:
    """The default and the rule it replaced, each run end to end on the cells where both were (same
    seeds), by regime: mean cell regret, worst cell and worst run, on the final loss and best check."""
    lines = [
        "| cells | n | passes (default): mean / worst cell / worst run | steps (replaced) "
        "| best check: passes | steps |",
        "|---|---|---|---|---|---|",
    ]
    both = [
        row for row in result["cells"].values() if "end to end | final" in row and "replaced end to end | final" in row
    ]
    groups = _grouped(both, lambda row: [row["regime"], "all"])
    for label, rows in groups.items():
        cols = []
        for target in ("final", "best_check"):
            for name in ("end to end", "replaced end to end"):
                cells = [row[f"{name} | {target}"] for row in rows]
                means, worst = [c["mean"] for c in cells], max(c["worst_run"] for c in cells)
                cols.append(f"{np.mean(means):+.1%} / {max(means):+.0%} / {worst:+.0%}")
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(cols) + " |")
    return lines


def exponent_lines(result: dict) -> list[str]:
    """The exponent candidates on the fitted cells, and which one each held-out task's fit picks."""
    lines = ["| exponent | mean | worst cell | cells off the grid |", "|---|---|---|---|"]
    for exponent, cells in result["exponents"].items():
        values = np.array(list(cells.values()))
        lines.append(
            f"| {exponent} | {np.nanmean(values):+.1%} | {np.nanmax(values):+.0%} | {int(np.isnan(values).sum())} |"
        )
    picks = sorted(set(result["held_out_exponent"].values()))
    lines.append("")
    lines.append(
        f"Picked by the worst cell with each of the {len(result['held_out_exponent'])} tasks left out in turn: "
        + ", ".join(f"{p:g} ({list(result['held_out_exponent'].values()).count(p)} tasks)" for p in picks)
        + f"; the default is {result['default_exponent']:g}."
    )
    return lines


def section(results: Path, oracle: dict) -> str:
    """The section "The rate for longer fits", its tables from ``results/passes_rule.json``."""
    tables = {
        "{passes_rule}": summary_lines,
        "{passes_rule_test}": test_lines,
        "{passes_rule_exponents}": exponent_lines,
        "{passes_rule_end_to_end}": end_to_end_lines,
        "{passes_rule_candidates}": candidate_lines,
        "{passes_rule_reach}": reach_lines,
        "{passes_rule_changes}": change_lines,
    }
    return fill(SECTION, results / PASSES_RULE_JSON.name, tables)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.passes_rule", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=PASSES_RULE_JSON)
    args = parser.parse_args(argv)
    result = evaluate(load_cells())
    result["command"] = "python -m benchmarks.experiments.passes_rule"
    print("\n".join(summary_lines(result)))
    write_json(args.out, result)


if __name__ == "__main__":
    main()
