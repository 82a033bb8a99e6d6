"""How far any rule of the passes could go on the cells of :mod:`benchmarks.experiments.passes_rule`,
and the smaller changes its test cells point to, read off the same grids from the same readings.
``python -m benchmarks.experiments.passes_rule`` stores both in ``passes_rule.json``."""

from __future__ import annotations

import numpy as np

from ..tasks import ALL_TASKS, adam_like
from .passes_cells import cell_regret, is_test, regime, rule_regrets

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
        found = rule_regrets(cells, cells, **rule)
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


REFERENCES = (3, 4, 5, 6, 8, 10, 12)
POWERS = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1)


def power_laws(cells: dict) -> dict:
    """Every power law of the passes over :data:`REFERENCES` and :data:`POWERS` (four constants, as
    the default): its mean and worst cell on the fitted cells, and its mean on those over finite
    data longer than 1x."""
    out = {}
    for reference in REFERENCES:
        for power in POWERS:
            fitted = [key for key in cells if not is_test(*key)]
            found = rule_regrets(cells, fitted, exponent=power, reference=reference)
            values = np.array(list(found.values()))
            longer = [regret for key, regret in found.items() if regime(*key) == "finite data, longer"]
            out[f"{reference} {power}"] = {
                "mean": float(np.nanmean(values)),
                "worst": float(np.nanmax(values)),
                "off_grid": int(np.isnan(values).sum()),
                "finite_longer_mean": float(np.nanmean(longer)),
            }
    return out


def power_law_line(result: dict) -> str:
    laws = result["power_laws"]
    best = min(laws, key=lambda key: laws[key]["finite_longer_mean"])
    reference, power = best.split()
    return (
        f"Over references of {REFERENCES[0]} to {REFERENCES[-1]} passes and powers of {POWERS[0]} to {POWERS[-1]}, "
        f"the lowest mean on those cells is {laws[best]['finite_longer_mean']:+.1%} (reference {reference}, "
        f"power {power}; its worst fitted cell {laws[best]['worst']:+.0%}, against "
        f"{laws['5 0.8']['worst']:+.0%} for the default's 5 and 0.8)."
    )


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
