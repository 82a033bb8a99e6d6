"""The tables of the budget benchmark's section ("Longer fits, fresh data and fine-tuning"), from
``budgets.json``: every cell, every recipe beside the default, the targets, the level candidates and
the exponents picked with a task or a budget left out."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pl_lrfind.core import format_lr

from ..report import LABELS, SPREAD_TARGET, pct
from ..tasks import adam_like
from .budget_rule import pick_alpha, worst_first
from .tables import (
    CONFIDENCE,
    LEVEL_PREFIX,
    budget_of,
    budgets_of,
    cell_regret,
    clearly_lower,
    level_key,
    named_cells,
    paired_difference,
    rate_spread,
    several_seeds,
    task_of,
    worst_run,
)

OTHER_BUDGET_RECIPES = ("rule_", "recipe_")
"""Prefixes of a budget cell's keys that hold another recipe run end to end beside the default
(``rule_NAME``: fastai's rules read on the same curve; ``recipe_NAME``: Lightning, Prodigy, schedule-free)."""


SHORT_LABELS = {
    "ours": "default",
    "rule_minimum": "fastai `minimum`",
    "rule_valley": "fastai `valley`",
    "rule_steepest": "fastai `steepest`",
    "recipe_lightning": "Lightning",
    "recipe_prodigy": "Prodigy",
    "recipe_schedulefree": "schedule-free",
}


def budgets_table(budgets: dict, oracle: dict) -> list[str]:
    """Per task and budget: where the best peak moved, and what the default loses there.

    The 1x best peak is the oracle's (10 seeds) for the seven calibration tasks, else the 1x
    cell's of ``budgets.json`` (the regime tasks). Regret is on the final validation loss and on
    the best check along the fit, each against its own grid's best; "as read" is the callback
    with ``budget_exponent=0`` (the suggestion handed as the curve reads it), same seeds.
    """
    lines = [
        "| task | budget | best peak (1x) | best peak | moved (decades) | the 1x best peak here"
        " | ours: median rate | ours: spread | ours: regret | ours: worst run | ours: best check"
        " | as read: regret | as read: best check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cells_1x = budgets["budgets"].get("1", {})
    totals: dict[str, list[float]] = {}
    for budget, cells in sorted(budgets["budgets"].items(), key=lambda item: int(item[0])):
        for task, cell in cells.items():
            best_1x = (oracle.get(task) or cells_1x[task])["best_log10_lr"]
            # What a user who kept the 1x optimum for the longer fit would lose, on this grid.
            at_1x_best = np.interp(best_1x, cell["log10_lr"], cell["mean_loss"]) / cell["best_mean_loss"] - 1
            regrets = {}
            for name in [key for key in cell if key.startswith(("ours", *OTHER_BUDGET_RECIPES))]:
                regrets[name] = cell_regret(cell, cell[name]["val_loss"], "val_loss")
                regrets[name + " best"] = cell_regret(cell, cell[name]["best_val_loss"], "best_val_loss")
            for name, value in regrets.items():
                totals.setdefault(name, []).append(value)
            worst = worst_run(cell)
            rates = [lr for lr in cell["ours"]["lr"] if lr is not None]
            median = format_lr(float(np.median(rates))) if rates else "none"
            ours, ours_best, as_read, as_read_best = (
                pct(regrets[name]) if name in regrets else "-"
                for name in ("ours", "ours best", "ours_as_read", "ours_as_read best")
            )
            lines.append(
                f"| {task} | {budget}x | 1e{best_1x:+.2f} | 1e{cell['best_log10_lr']:+.2f}"
                f" | {cell['best_log10_lr'] - best_1x:+.2f} | {pct(at_1x_best)} | {median}"
                f" | {rate_spread(cell['ours']):.2f} | {ours}"
                f" | {pct(worst)} | {ours_best} | {as_read} | {as_read_best} |"
            )
    lines.append("")
    every_cell = list(named_cells(budgets).values())
    for name in [name for name in totals if not name.endswith(" best")]:
        if len(totals[name]) == len(totals["ours"]):  # measured in every cell (not the level candidates)
            label = _budget_recipe_label(name)
            final, best = totals[name], totals[name + " best"]
            beaten = ""
            if name != "ours":
                wins = sum(a < b for a, b in zip(final, totals["ours"], strict=True))
                wins_best = sum(a < b for a, b in zip(best, totals["ours best"], strict=True))
                beaten = f"; below the default in {wins} cells on the final loss, {wins_best} on the best check"
            if name.startswith("ours_") and several_seeds(every_cell, ["ours", name]):
                diff, error = paired_difference(every_cell, name)
                beaten += (
                    f"; final-loss mean minus the default's, seed by seed: {100 * diff:+.1f} points"
                    f" (standard error {100 * error:.1f})"
                )
            lines.append(
                f"- {label}, over {len(final)} cells: final loss mean {pct(np.mean(final))}, worst"
                f" {pct(max(final))}; best check mean {pct(np.mean(best))}, worst {pct(max(best))}{beaten}."
            )
    return lines


def _exponent_of(name: str) -> float | None:
    """The ``budget_exponent`` a budget cell's run of the callback used, from its key; None for other
    recipes and for the default, whose exponent depends on the task's optimizer."""
    if name == "ours_as_read":
        return 0.0
    return float(name.removeprefix("ours_exponent_")) if name.startswith("ours_exponent_") else None


def exponent_picks_table(
    budgets: dict, kind: str = "val_loss", adam_like: Callable[[str], bool] = adam_like
) -> list[str]:
    """The exponent picked end to end on all but one task (or budget), scored on the one left out.

    Every exponent run in every cell competes; the pick is by the lowest worst cell (how the default
    was chosen) or by the lowest mean, on the final loss (``kind="val_loss"``) or on the best check
    (``"best_val_loss"``, the loss the callback's exponent for a kept checkpoint was chosen on). It
    is picked once for every optimizer, and once for Adam-like optimizers and once for the rest (as
    the default is), each on the cells of its own type; a type with no other cell learns from every
    other cell.
    """
    # The exponents were run on the cells of the rule by steps, not on the cells added after it.
    ran = {
        label: cell
        for label, cell in named_cells(budgets).items()
        if any(_exponent_of(key) is not None for key in cell)
    }
    cells = ran or named_cells(budgets)
    names = [name for name in next(iter(cells.values())) if _exponent_of(name) is not None]
    names = [name for name in names if all(name in cell for cell in cells.values())]
    by_exponent = {
        _exponent_of(name): {label: cell_regret(cell, cell[name][kind], kind) for label, cell in cells.items()}
        for name in names
    }
    type_of = {label: "Adam-like" if adam_like(task_of(label)) else "the rest" for label in cells}
    splits = {
        "task": (sorted({task_of(label) for label in cells}), task_of),
        "budget": (budgets_of(cells), budget_of),
    }
    lines = [
        "| left out | picked by | one exponent: picks | held out: mean / worst"
        " | Adam-like and the rest apart: picks | held out: mean / worst |",
        "|---|---|---|---:|---|---:|",
    ]
    for split, (groups, group_of) in splits.items():
        if len(groups) < 2:  # nothing to pick on once the only one is left out
            continue
        for criterion, summary in (("the worst cell", worst_first), ("the mean", np.mean)):
            row = [f"one {split}", criterion]
            for types in ({label: "" for label in cells}, type_of):  # one exponent, then one per type
                picks, scored = _left_out_picks(by_exponent, types, groups, group_of, summary)
                row.append(
                    "; ".join(f"{kind}: {_picks(p, split)}" if kind else _picks(p, split) for kind, p in picks.items())
                )
                row.append(f"{pct(np.mean(scored))} / {pct(max(scored))}")
            lines.append("| " + " | ".join(row) + " |")
    return lines


def _left_out_picks(
    by_exponent: dict[float, dict[str, float]],
    type_of: dict[str, str],
    groups: list[str],
    group_of: Callable[[str], str],
    summary: Callable,
) -> tuple[dict[str, dict[str, float]], list[float]]:
    """For each type and each group left out, the exponent picked by ``summary`` on that type's cells
    in the other groups (on every other cell when the type has none there), and the left-out cells'
    regrets at their picks."""
    picks: dict[str, dict[str, float]] = {kind: {} for kind in sorted(set(type_of.values()))}
    scored: list[float] = []
    for group in groups:
        for kind, kind_picks in picks.items():
            held = [cell for cell, of in type_of.items() if of == kind and group_of(cell) == group]
            if not held:
                continue
            others = {cell for cell in type_of if group_of(cell) != group}
            trains = {cell for cell in others if type_of[cell] == kind} or others
            kind_picks[group] = exponent = pick_alpha(by_exponent, trains.__contains__, summary)
            scored += [by_exponent[exponent][cell] for cell in held]
    return {kind: found for kind, found in picks.items() if found}, scored


def _picks(picks: dict[str, float], kind: str) -> str:
    """``1 for 9 tasks of 10 (cancer_batch8_adam: 0.3)``: the most common pick, then the others; each
    one by name when no pick is shared."""
    values = list(picks.values())
    common = max(set(values), key=values.count)
    if values.count(common) == 1 and len(values) > 1:
        return ", ".join(f"{group}: {value:g}" for group, value in picks.items())
    others = ", ".join(f"{group}: {value:g}" for group, value in picks.items() if value != common)
    return f"{common:g} for {values.count(common)} {kind}s of {len(values)}" + (f" ({others})" if others else "")


def _budget_recipe_label(name: str) -> str:
    """How the summary under the budget table names a recipe (a key of a budget cell)."""
    if name.startswith("rule_"):
        return f"fastai's `{name.removeprefix('rule_')}` as read (same curve)"
    if name.startswith("recipe_"):
        return LABELS[name.removeprefix("recipe_")]
    labels = {
        "ours": "the default",
        "ours_as_read": "as read (`budget_exponent=0`)",
        "ours_stop_point": "the default with the blow-up read at the stop point alone (until 2026-11-27)",
    }
    return labels.get(name) or f"`budget_exponent={_exponent_of(name):g}`"


def _final_regrets(cell: dict) -> dict[str, float]:
    """Final-loss regret of the default and of every other recipe measured in a budget cell."""
    names = ["ours", *[key for key in cell if key.startswith(OTHER_BUDGET_RECIPES)]]
    return {name: cell_regret(cell, cell[name]["val_loss"], "val_loss") for name in names}


def _lowest(cell: dict) -> str:
    """The recipe with the lowest final-loss regret in a budget cell (the default on a tie)."""
    regrets = _final_regrets(cell)
    return min(regrets, key=regrets.get)


def budget_recipes_table(budgets: dict) -> list[str]:
    """Per (task, budget) cell: the regret of every recipe other users reach for, beside the default.

    Final loss / best check, each against the cell's grid; the last column names the recipe with
    the lowest final-loss regret. Only recipes measured in every cell get a column.
    """
    every = [(int(b), task, cell) for b, tasks in budgets["budgets"].items() for task, cell in tasks.items()]
    # Cells run only to test the rule by passes hold the default alone: they are left out here.
    others = [item for item in every if any(key.startswith(OTHER_BUDGET_RECIPES) for key in item[2])]
    cells = sorted(others, key=lambda item: (item[1], item[0]))
    names = ["ours", *_recipes_in_every_cell([cell for *_, cell in cells])]
    short = {name: SHORT_LABELS.get(name, name) for name in names}
    lines = [
        "| task | budget | " + " | ".join(short.values()) + " | lowest |",
        "|---|---:|" + "---:|" * len(names) + "---|",
    ]
    lowest_counts: dict[str, int] = {}
    for budget, task, cell in cells:
        final = _final_regrets(cell)
        best = {name: cell_regret(cell, cell[name]["best_val_loss"], "best_val_loss") for name in names}
        winner = _lowest(cell)
        lowest_counts[winner] = lowest_counts.get(winner, 0) + 1
        row = " | ".join(f"{pct(final[name])} / {pct(best[name])}" for name in names)
        lines.append(f"| {task} | {budget}x | {row} | {SHORT_LABELS.get(winner, winner)} |")
    lines.append("")
    counts = ", ".join(f"{short[name]} {lowest_counts.get(name, 0)}" for name in names)
    lines.append(f"Lowest final-loss regret, of {len(cells)} cells: {counts}.")
    if len(every) > len(cells):
        lines.append(f'({len(every) - len(cells)} more cells ran the default alone: "The rate for longer fits".)')
    if not several_seeds([cell for *_, cell in cells], names):
        return lines
    beaten = [(task, budget, _lower_beyond_noise(cell, names[1:])) for budget, task, cell in cells]
    beaten = [(task, budget, [short[name] for name in by]) for task, budget, by in beaten if by]
    listed = "; ".join(f"{task} {budget}x ({', '.join(by)})" for task, budget, by in beaten)
    seeds = "/".join(sorted({str(len(cell["ours"]["val_loss"])) for *_, cell in cells}))
    lines.append(
        f"A cell's mean over {seeds} seeds is noisy. Seed by seed, another recipe lost less than the default"
        f" with {100 * CONFIDENCE:g} % confidence (two-sided t) in {len(beaten)} of the {len(cells)} cells"
        f"{': ' + listed if listed else ''}. In the other {len(cells) - len(beaten)} the default is lowest"
        f" or not distinguishable from the lowest."
    )
    return lines


def _recipes_in_every_cell(cells: list[dict]) -> list[str]:
    """The other recipes every cell measured: fastai's rules as fastai reads them, then Lightning and the optimizers."""
    others = {key for cell in cells for key in cell if key.startswith(OTHER_BUDGET_RECIPES)}
    ordered = sorted(others, key=lambda key: (key.startswith("recipe_"), key))
    return [name for name in ordered if all(name in cell for cell in cells)]


def _lower_beyond_noise(cell: dict, names: list[str]) -> list[str]:
    """Which of the recipes ``names`` lost less than the default in a budget cell beyond seed noise."""
    return [name for name in names if clearly_lower(cell, name)]


def budget_targets_table(budgets: dict) -> list[str]:
    """The longer fits' targets against the budget benchmark's cells (final validation loss)."""
    cells = named_cells(budgets)
    regret = {name: cell_regret(cell, cell["ours"]["val_loss"], "val_loss") for name, cell in cells.items()}
    worst_runs = {name: worst_run(cell) for name, cell in cells.items()}
    spread = {name: rate_spread(cell["ours"]) for name, cell in cells.items()}
    diverged = sum(not math.isfinite(loss) for cell in cells.values() for loss in cell["ours"]["val_loss"])
    lowest = sum(_lowest(cell) == "ours" for cell in cells.values())
    others = _recipes_in_every_cell(list(cells.values()))
    beyond_noise = ""
    if several_seeds(list(cells.values()), ["ours", *others]):
        beaten = sum(bool(_lower_beyond_noise(cell, others)) for cell in cells.values())
        beyond_noise = f"; another lower beyond seed noise in {beaten}"
    worst_cell, worst_one, worst_spread = (max(d, key=d.get) for d in (regret, worst_runs, spread))
    mean = float(np.mean(list(regret.values())))
    rows = [
        (f"mean regret over the {len(cells)} (task, budget) cells, 1x included, <= 2 %", pct(mean), mean <= 0.02),
        ("every cell's regret <= 5 %", f"{pct(regret[worst_cell])} ({worst_cell})", regret[worst_cell] <= 0.05),
        ("no single run worse than +50 %", f"{pct(worst_runs[worst_one])} ({worst_one})", worst_runs[worst_one] <= 0.5),
        ("no diverged fit", f"{diverged} diverged", diverged == 0),
        (
            f"spread of log10(rate) <= {SPREAD_TARGET:g} decade in every cell",
            f"{spread[worst_spread]:.2f} ({worst_spread});"
            f" {sum(v > SPREAD_TARGET for v in spread.values())} cells above",
            spread[worst_spread] <= SPREAD_TARGET,
        ),
        (
            "lower regret than every other recipe measured, in every cell",
            f"lowest in {lowest} of {len(cells)} cells{beyond_noise}",
            lowest == len(cells),
        ),
    ]
    lines = ["| target (longer fits, final validation loss) | measured | met |", "|---|---:|:---:|"]
    lines += [f"| {target} | {measured} | {'yes' if met else '**no**'} |" for target, measured, met in rows]
    return lines


OLD_NON_ADAM_DEFAULT = level_key(0.2, 0.0)
"""The non-Adam default before the refit (level 10**0.2, exponent 0): its own end-to-end runs,
kept under this key when the default's were rerun, as the candidates were compared with them."""


def level_candidates_table(budgets: dict) -> list[str]:
    """The non-Adam cells end to end: each level candidate run with ``--level``, and the default.

    Final loss and best check, against each cell's grid; the last column is a row's final-loss
    regret minus the old default's (:data:`OLD_NON_ADAM_DEFAULT`), seed by seed over the cells
    (:func:`paired_difference`).
    """
    cells = {name: cell for name, cell in named_cells(budgets).items() if not adam_like(task_of(name))}
    keys = sorted({key for cell in cells.values() for key in cell if key.startswith(LEVEL_PREFIX)})
    if OLD_NON_ADAM_DEFAULT not in keys:
        return ["(not measured)"]
    lines = [
        "| candidate | cells | mean, 1x | mean, 4x | mean, 16x | mean, all cells | worst cell"
        " | best check: mean / worst | against the old default, seed by seed |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for key in [*keys, "ours"]:
        have = {name: cell for name, cell in cells.items() if key in cell}
        final = {name: cell_regret(cell, cell[key]["val_loss"], "val_loss") for name, cell in have.items()}
        best = [cell_regret(cell, cell[key]["best_val_loss"], "best_val_loss") for cell in have.values()]
        by_budget = [
            pct(np.mean([r for name, r in final.items() if budget_of(name) == b]))
            if any(budget_of(name) == b for name in final)
            else "-"
            for b in ("1x", "4x", "16x")
        ]
        worst = max(final, key=final.get)
        label = "the default now" if key == "ours" else key.removeprefix(LEVEL_PREFIX).replace("_at_", " at ")
        if key == OLD_NON_ADAM_DEFAULT:
            label += " (the old default)"
        against = ""
        if key != OLD_NON_ADAM_DEFAULT:
            paired = [cell for cell in have.values() if OLD_NON_ADAM_DEFAULT in cell]
            against = "{:+.1f} ± {:.1f} points".format(
                *(100 * x for x in paired_difference(paired, key, OLD_NON_ADAM_DEFAULT))
            )
        lines.append(
            f"| {label} | {len(have)} | {' | '.join(by_budget)} | {pct(np.mean(list(final.values())))}"
            f" | {pct(final[worst])} ({worst}) | {pct(np.mean(best))} / {pct(max(best))} | {against} |"
        )
    return lines
