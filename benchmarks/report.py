"""Turn the benchmark's JSON results into ``docs/benchmarks.md`` and its figure.

python -m benchmarks.report     # reads benchmarks/results/*.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

from pl_lrfind.core import format_lr

from .budget_rule import BUDGET_RULE_JSON, adam_like, budget_of, budgets_of, pick_alpha, task_of, worst_first
from .budgets import BUDGETS_JSON, LEVEL_PREFIX, level_key
from .calibrate import CALIBRATE_JSON
from .compare import COMPARE_JSON, RECIPES
from .cost import COST_GPU_JSON, COST_JSON, DESCRIPTIONS
from .headroom import headroom_table
from .noise import NOISE_JSON
from .oracle import ORACLE_JSON, regret_on_grid
from .passes_rule import (
    PASSES_RULE_JSON,
    candidate_lines,
    end_to_end_lines,
    exponent_lines,
    reach_lines,
    summary_lines,
    test_lines,
)
from .second_stage import SECOND_STAGE_JSON
from .settings import SETTINGS_JSON
from .snapshot import SNAPSHOT_GPU_JSON, SNAPSHOT_JSON
from .tasks import TASKS

DOCS = Path(__file__).parent.parent / "docs"
TEMPLATE = Path(__file__).parent / "TEMPLATE.md"
LABELS = {
    "ours": "pl_lrfind (default, end to end)",
    "valley": "fastai valley",
    "steepest": "steepest (log space)",
    "minimum": "minimum / 10",
    "lightning": "Lightning Tuner.lr_find",
    "prodigy": "Prodigy (no finder)",
    "schedulefree": "schedule-free AdamW (no finder)",
}
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


def recipe_scores(oracle_task: dict, recipe: dict) -> dict:
    """Regret, worst run, spread and failures of one recipe on one task."""
    best = oracle_task["best_mean_loss"]
    untrained = oracle_task["mean_loss"][0]  # the grid's lowest peak rate barely moves the weights
    losses = np.array(recipe["val_loss"], dtype=float)
    lrs = [lr for lr in recipe["lr"] if lr is not None]
    return {
        "regret": float(np.mean(losses) / best - 1.0),
        "worst": float(np.max(losses) / best - 1.0),
        "spread": float(np.std(np.log10(lrs))) if len(lrs) > 1 else math.nan,
        "median_lr": float(np.median(lrs)) if lrs else math.nan,
        "failed": int(np.sum(~np.isfinite(losses) | (losses >= 0.95 * untrained))),
    }


SPREAD_TARGET = 0.1
"""The seed spread asked of the suggestion, in every task and every budget cell: the standard
deviation of log10(rate) across seeds, in decades."""


def finite_mean(values) -> float:
    """Mean of the finite values; NaN (shown as "-") when there are none, as with one seed."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _pct(x: float) -> str:
    return "diverged" if not math.isfinite(x) else f"{100 * x:+.1f} %"


def _scores(oracle: dict, compare: dict) -> dict:
    return {
        task: {name: recipe_scores(oracle[task], recipes[name]) for name in RECIPES}
        for task, recipes in compare["tasks"].items()
    }


def summary_table(scores: dict) -> list[str]:
    lines = [
        "| recipe | mean task regret | worst task regret | worst single run | mean spread of log10(lr) | failed fits |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in RECIPES:
        rows = [scores[task][name] for task in scores]
        spread = finite_mean([r["spread"] for r in rows])
        lines.append(
            f"| {LABELS[name]} | {_pct(np.mean([r['regret'] for r in rows]))} | {_pct(max(r['regret'] for r in rows))}"
            f" | {_pct(max(r['worst'] for r in rows))} | {'-' if math.isnan(spread) else f'{spread:.2f}'}"
            f" | {sum(r['failed'] for r in rows)} |"
        )
    return lines


def targets_table(scores: dict, cost: dict | None) -> list[str]:
    """The issue's targets against this run: what was measured, and whether it meets them."""
    ours = [by_recipe["ours"] for by_recipe in scores.values()]
    others = {name: np.mean([by_recipe[name]["regret"] for by_recipe in scores.values()]) for name in RECIPES[1:]}
    mean_regret = np.mean([r["regret"] for r in ours])
    spreads = [r["spread"] for r in ours if math.isfinite(r["spread"])]
    worst_spread = max(spreads) if spreads else math.nan
    rows = [
        ("mean task regret of the default <= 2 %", _pct(mean_regret), mean_regret <= 0.02),
        ("every task's regret <= 5 %", _pct(max(r["regret"] for r in ours)), max(r["regret"] for r in ours) <= 0.05),
        ("no single run worse than +50 %", _pct(max(r["worst"] for r in ours)), max(r["worst"] for r in ours) <= 0.5),
        (
            "no diverged or untrained fit",
            f"{sum(r['failed'] for r in ours)} failed",
            sum(r["failed"] for r in ours) == 0,
        ),
        (
            f"spread of log10(suggestion) <= {SPREAD_TARGET:g} decade on every task",
            f"{worst_spread:.2f} (worst task)",
            worst_spread <= SPREAD_TARGET,
        ),
        (
            "lower mean regret than every other recipe",
            f"next best: {LABELS[min(others, key=others.get)]}, {_pct(min(others.values()))}",
            mean_regret < min(others.values()),
        ),
    ]
    if cost is not None:
        models = cost["models"]
        for key, limit in (("small", 1.02), ("wide", 1.05)):
            if key in models:
                ratio = models[key]["median_ratio"]
                rows.append(
                    (
                        f"{key} model: finder within {100 * (limit - 1):.0f} % of plain steps",
                        f"{ratio['ours/plain']:.3f}",
                        ratio["ours/plain"] <= limit,
                    )
                )
                seconds = models[key].get("median_difference_s", {}).get("chained_tensorboard-chained")
                if seconds is not None:
                    rows.append(
                        (
                            f"{key} model: logging (curve, picture, schedule) adds <= 0.2 s to a chained fit",
                            f"{seconds:+.3f} s",
                            seconds <= 0.2,
                        )
                    )
                rows.append(
                    (
                        f"{key} model: finder cheaper than Lightning's Tuner.lr_find",
                        f"{ratio['ours/lightning']:.3f}",
                        ratio["ours/lightning"] < 1.0,
                    )
                )
    lines = ["| target | measured | met |", "|---|---:|:---:|"]
    lines += [f"| {target} | {measured} | {'yes' if met else '**no**'} |" for target, measured, met in rows]
    return lines


def _named_cells(budgets: dict) -> dict[str, dict]:
    """Every budget cell of ``budgets.json``, named ``"<task> <budget>x"`` as :func:`~.budget_rule.task_of` reads it."""
    return {f"{task} {b}x": cell for b, tasks in budgets["budgets"].items() for task, cell in tasks.items()}


def budget_targets_table(budgets: dict) -> list[str]:
    """The longer fits' targets against the budget benchmark's cells (final validation loss)."""
    cells = _named_cells(budgets)
    regret = {name: _cell_regret(cell, cell["ours"]["val_loss"], "val_loss") for name, cell in cells.items()}
    worst_run = {name: _worst_run(cell) for name, cell in cells.items()}
    spread = {name: _rate_spread(cell["ours"]) for name, cell in cells.items()}
    diverged = sum(not math.isfinite(loss) for cell in cells.values() for loss in cell["ours"]["val_loss"])
    lowest = sum(_lowest(cell) == "ours" for cell in cells.values())
    others = _recipes_in_every_cell(list(cells.values()))
    beyond_noise = ""
    if _several_seeds(list(cells.values()), ["ours", *others]):
        beaten = sum(bool(_lower_beyond_noise(cell, others)) for cell in cells.values())
        beyond_noise = f"; another lower beyond seed noise in {beaten}"
    worst_cell, worst_one, worst_spread = (max(d, key=d.get) for d in (regret, worst_run, spread))
    mean = float(np.mean(list(regret.values())))
    rows = [
        (f"mean regret over the {len(cells)} (task, budget) cells, 1x included, <= 2 %", _pct(mean), mean <= 0.02),
        ("every cell's regret <= 5 %", f"{_pct(regret[worst_cell])} ({worst_cell})", regret[worst_cell] <= 0.05),
        ("no single run worse than +50 %", f"{_pct(worst_run[worst_one])} ({worst_one})", worst_run[worst_one] <= 0.5),
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


def task_table(oracle: dict, scores: dict) -> list[str]:
    lines = [
        "| task | grid best peak (val loss) | " + " | ".join(LABELS[n] for n in RECIPES) + " |",
        "|---|---|" + "---:|" * len(RECIPES),
    ]
    for task, by_recipe in scores.items():
        best = oracle[task]
        cells = []
        for name in RECIPES:
            s = by_recipe[name]
            lr = "" if math.isnan(s["median_lr"]) else f" at {format_lr(s['median_lr'])}"
            cells.append(f"{_pct(s['regret'])}{lr}")
        lines.append(
            f"| {task} | {format_lr(10 ** best['best_log10_lr'])} ({best['best_mean_loss']:.4f}) | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def noise_table(noise: dict) -> list[str]:
    lines = [
        "| num_steps | steps_per_lr | optimizer steps used (mean) | mean spread of log10(suggestion)"
        " | interpolated regret |",
        "|---:|---:|---:|---:|---:|",
    ]
    for setting in noise["settings"].values():
        tasks = setting["tasks"].values()
        steps = np.mean([np.mean(t["steps_used"]) for t in tasks])
        spread = finite_mean([t["spread"] for t in tasks if t["spread"] is not None])
        regret = np.mean([t["interpolated_regret"] for t in tasks])
        lines.append(
            f"| {setting['num_steps']} | {setting['steps_per_lr']} | {steps:.0f} | {spread:.3f} | {_pct(regret)} |"
        )
    return lines


def settings_table(sweep: dict) -> list[str]:
    thresholds = sorted({s["threshold"] for s in sweep["settings"].values()})
    lines = [
        "| beta | " + " | ".join(f"threshold {t:g}" for t in thresholds) + " |",
        "|---:|" + "---:|" * len(thresholds),
    ]
    for beta in sorted({s["beta"] for s in sweep["settings"].values()}):
        cells = []
        for threshold in thresholds:
            tasks = sweep["settings"][f"beta={beta},threshold={threshold}"]["tasks"].values()
            regret = np.mean([t["interpolated_regret"] for t in tasks])
            spread = finite_mean([t["spread"] for t in tasks if t["spread"] is not None])
            cells.append(f"{_pct(regret)} (spread {spread:.2f})")
        lines.append(f"| {beta:g} | " + " | ".join(cells) + " |")
    return lines


def calibration_lines(calibration: dict) -> list[str]:
    held = calibration["held_out_shift"]
    return [
        f"Fitted on all tasks: divisor 10^{-calibration['fitted_shift']:.2f}"
        f" = {10 ** -calibration['fitted_shift']:.1f}; with one task held out, between"
        f" 10^{-max(held.values()):.2f} and 10^{-min(held.values()):.2f}. In use:"
        f" {calibration['divisor_in_use']:g} (seeds {calibration['seeds'][0]}-{calibration['seeds'][-1]})."
    ]


def cost_table(cost: dict) -> list[str]:
    lines = [f"Machine: {cost['device']}. Reproduce with `{cost['command']}`.", ""] if "device" in cost else []
    lines += [
        "| model | parameters | steps | repeats | plain fit (median s, range) | ours / plain (middle half)"
        " | ours with TensorBoard / plain | Lightning / plain (middle half) | ours / Lightning"
        " | TensorBoard adds (s): test alone, chained fit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, model in cost["models"].items():
        r = model["median_ratio"]
        seconds = {name: np.array(times) for name, times in model["seconds"].items()}
        plain = seconds["plain"]
        lines.append(
            f"| {DESCRIPTIONS.get(key, model['task'])} | {model['parameters'] / 1e6:.2f} M"
            f" | {model['steps']} | {model['repeats']}"
            f" | {np.median(plain):.2f} ({plain.min():.2f}-{plain.max():.2f})"
            f" | {r['ours/plain']:.3f} ({_quartiles(seconds['ours'] / plain)})"
            f" | {r['ours_tensorboard/plain']:.3f}"
            f" | {r['lightning/plain']:.3f} ({_quartiles(seconds['lightning'] / plain)}) | {r['ours/lightning']:.3f}"
            f" | {_tensorboard_seconds(model)} |"
        )
    return lines


def _tensorboard_seconds(model: dict) -> str:
    """Median paired differences: with TensorBoard minus without, for the test alone and chained."""
    differences = model.get("median_difference_s", {})
    alone, chained = differences.get("ours_tensorboard-ours"), differences.get("chained_tensorboard-chained")
    return ", ".join("-" if value is None else f"{value:+.3f}" for value in (alone, chained))


def picture_table(cost: dict) -> list[str]:
    """Seconds to write a range-test picture, first in a process and later, per renderer (median, range)."""
    picture = cost.get("picture")
    if picture is None:
        return ["(not measured)"]
    lines = [
        "| renderer | first picture of a process (median s, range) | a later picture | fresh interpreters |",
        "|---|---:|---:|---:|",
    ]
    for renderer, seconds in picture["seconds"].items():
        first, later = np.array(seconds["first"]), np.array(seconds["later"])
        lines.append(
            f"| {renderer} | {np.median(first):.3f} ({first.min():.3f}-{first.max():.3f})"
            f" | {np.median(later):.3f} ({later.min():.3f}-{later.max():.3f}) | {picture['repeats']} |"
        )
    return lines


def snapshot_table(snapshot: dict) -> list[str]:
    lines = [
        f"Machine: {snapshot['device']}. State: {snapshot['state_gib']:.2f} GiB "
        f"({snapshot['parameters'] / 1e6:.0f} M parameters with Adam's two moments), median of "
        f"{snapshot['repeats']} repeats. Copy limit: {snapshot['limit']['what']}, measured in the same run.",
        "",
        "| target | take (s) | restore (s) | take + restore / copy limit both ways |",
        "|---|---:|---:|---:|",
    ]
    limit = snapshot["limit"]["seconds"]
    for name, row in snapshot["targets"].items():
        both_ways = (row["take"] + row["restore"]) / (2 * limit)
        lines.append(f"| {name} | {row['take']:.3f} | {row['restore']:.3f} | {both_ways:.2f}x |")
    lines.append(f"| *copy limit: one copy each way* | {limit:.3f} | {limit:.3f} | 1.00x |")
    fresh = snapshot["limit"].get("fresh_seconds")
    if fresh is not None:
        floor = (fresh + limit) / (2 * limit)
        lines.append(f"| *the same, the first copy into fresh memory* | {fresh:.3f} | {limit:.3f} | {floor:.2f}x |")
    return lines


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
                regrets[name] = _cell_regret(cell, cell[name]["val_loss"], "val_loss")
                regrets[name + " best"] = _cell_regret(cell, cell[name]["best_val_loss"], "best_val_loss")
            for name, value in regrets.items():
                totals.setdefault(name, []).append(value)
            worst = _worst_run(cell)
            rates = [lr for lr in cell["ours"]["lr"] if lr is not None]
            median = format_lr(float(np.median(rates))) if rates else "none"
            ours, ours_best, as_read, as_read_best = (
                _pct(regrets[name]) if name in regrets else "-"
                for name in ("ours", "ours best", "ours_as_read", "ours_as_read best")
            )
            lines.append(
                f"| {task} | {budget}x | 1e{best_1x:+.2f} | 1e{cell['best_log10_lr']:+.2f}"
                f" | {cell['best_log10_lr'] - best_1x:+.2f} | {_pct(at_1x_best)} | {median}"
                f" | {_rate_spread(cell['ours']):.2f} | {ours}"
                f" | {_pct(worst)} | {ours_best} | {as_read} | {as_read_best} |"
            )
    lines.append("")
    every_cell = list(_named_cells(budgets).values())
    for name in [name for name in totals if not name.endswith(" best")]:
        if len(totals[name]) == len(totals["ours"]):  # measured in every cell (not the level candidates)
            label = _budget_recipe_label(name)
            final, best = totals[name], totals[name + " best"]
            beaten = ""
            if name != "ours":
                wins = sum(a < b for a, b in zip(final, totals["ours"], strict=True))
                wins_best = sum(a < b for a, b in zip(best, totals["ours best"], strict=True))
                beaten = f"; below the default in {wins} cells on the final loss, {wins_best} on the best check"
            if name.startswith("ours_") and _several_seeds(every_cell, ["ours", name]):
                diff, error = paired_difference(every_cell, name)
                beaten += (
                    f"; final-loss mean minus the default's, seed by seed: {100 * diff:+.1f} points"
                    f" (standard error {100 * error:.1f})"
                )
            lines.append(
                f"- {label}, over {len(final)} cells: final loss mean {_pct(np.mean(final))}, worst"
                f" {_pct(max(final))}; best check mean {_pct(np.mean(best))}, worst {_pct(max(best))}{beaten}."
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
        for label, cell in _named_cells(budgets).items()
        if any(_exponent_of(key) is not None for key in cell)
    }
    cells = ran or _named_cells(budgets)
    names = [name for name in next(iter(cells.values())) if _exponent_of(name) is not None]
    names = [name for name in names if all(name in cell for cell in cells.values())]
    by_exponent = {
        _exponent_of(name): {label: _cell_regret(cell, cell[name][kind], kind) for label, cell in cells.items()}
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
                row.append(f"{_pct(np.mean(scored))} / {_pct(max(scored))}")
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


def _worst_run(cell: dict) -> float:
    """The default's worst seed in a budget cell, against the grid's best (final loss)."""
    return max(cell["ours"]["val_loss"]) / cell["best_mean_loss"] - 1


def _rate_spread(run: dict) -> float:
    """Standard deviation over seeds of log10 of the rate a recipe handed (decades); NaN under two rates."""
    rates = [lr for lr in run["lr"] if lr is not None]
    return float(np.std(np.log10(rates))) if len(rates) > 1 else math.nan


def _final_regrets(cell: dict) -> dict[str, float]:
    """Final-loss regret of the default and of every other recipe measured in a budget cell."""
    names = ["ours", *[key for key in cell if key.startswith(OTHER_BUDGET_RECIPES)]]
    return {name: _cell_regret(cell, cell[name]["val_loss"], "val_loss") for name in names}


def _lowest(cell: dict) -> str:
    """The recipe with the lowest final-loss regret in a budget cell (the default on a tie)."""
    regrets = _final_regrets(cell)
    return min(regrets, key=regrets.get)


def budget_recipes_table(budgets: dict) -> list[str]:
    """Per (task, budget) cell: the regret of every recipe other users reach for, beside the default.

    Final loss / best check, each against the cell's grid; the last column names the recipe with
    the lowest final-loss regret. Only recipes measured in every cell get a column.
    """
    cells = [(int(b), task, cell) for b, tasks in budgets["budgets"].items() for task, cell in tasks.items()]
    cells.sort(key=lambda item: (item[1], item[0]))
    names = ["ours", *_recipes_in_every_cell([cell for *_, cell in cells])]
    short = {name: SHORT_LABELS.get(name, name) for name in names}
    lines = [
        "| task | budget | " + " | ".join(short.values()) + " | lowest |",
        "|---|---:|" + "---:|" * len(names) + "---|",
    ]
    lowest_counts: dict[str, int] = {}
    for budget, task, cell in cells:
        final = _final_regrets(cell)
        best = {name: _cell_regret(cell, cell[name]["best_val_loss"], "best_val_loss") for name in names}
        winner = _lowest(cell)
        lowest_counts[winner] = lowest_counts.get(winner, 0) + 1
        row = " | ".join(f"{_pct(final[name])} / {_pct(best[name])}" for name in names)
        lines.append(f"| {task} | {budget}x | {row} | {SHORT_LABELS.get(winner, winner)} |")
    lines.append("")
    counts = ", ".join(f"{short[name]} {lowest_counts.get(name, 0)}" for name in names)
    lines.append(f"Lowest final-loss regret, of {len(cells)} cells: {counts}.")
    if not _several_seeds([cell for *_, cell in cells], names):
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


def _cell_regret(cell: dict, losses: list[float], kind: str) -> float:
    """Mean of ``losses`` over the grid's best seed-mean of the same ``kind`` (final or best check), minus one."""
    best = cell["best_mean_loss"] if kind == "val_loss" else cell["best_epoch"]["best_mean_loss"]
    return float(np.mean(losses)) / best - 1


CONFIDENCE = 0.95
"""How sure the recipes table must be that another recipe lost less than the default in a cell
before it says so: a two-sided t interval over the seed-by-seed differences excludes zero. With 5
seeds a cell's final-loss regret carries a standard error of 0.2 to 35 points (the transformer
fine-tune at 1x, whose rates sit at a cliff), so a lower mean alone often means nothing. With five
other recipes a cell, a few such calls over the table are still expected by chance."""


def _several_seeds(cells: list[dict], names: list[str]) -> bool:
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


def level_candidates_table(budgets: dict) -> list[str]:
    """The non-Adam cells end to end: each level candidate run with ``--level``, and the default.

    Final loss and best check, against each cell's grid; the last column is a row's final-loss
    regret minus the old default's (:data:`OLD_NON_ADAM_DEFAULT`), seed by seed over the cells
    (:func:`paired_difference`).
    """
    cells = {name: cell for name, cell in _named_cells(budgets).items() if not adam_like(task_of(name))}
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
        final = {name: _cell_regret(cell, cell[key]["val_loss"], "val_loss") for name, cell in have.items()}
        best = [_cell_regret(cell, cell[key]["best_val_loss"], "best_val_loss") for cell in have.values()]
        by_budget = [
            _pct(np.mean([r for name, r in final.items() if budget_of(name) == b]))
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
            f"| {label} | {len(have)} | {' | '.join(by_budget)} | {_pct(np.mean(list(final.values())))}"
            f" | {_pct(final[worst])} ({worst}) | {_pct(np.mean(best))} / {_pct(max(best))} | {against} |"
        )
    return lines


OLD_NON_ADAM_DEFAULT = level_key(0.2, 0.0)
"""The non-Adam default before the refit (level 10**0.2, exponent 0): its own end-to-end runs,
kept under this key when the default's were rerun, as the candidates were compared with them."""


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
            cells.append("off the grid" if math.isnan(regret) else _pct(regret))
        codes = ", ".join(f"{code} {ours['diagnosis'].count(code)}" for code in sorted(set(ours["diagnosis"])))
        lines.append(
            f"| {task} | 1e{oracle[task]['best_log10_lr']:+.2f} | 1e{cell['best_log10_lr']:+.2f} | 1e{median:+.2f}"
            f" | {median - cell['best_log10_lr']:.2f} | {codes} | {_pct(columns['typed'][-1])}"
            f" | {_pct(columns['ours'][-1])} | {' | '.join(cells)} |"
        )
    for name, summary in (("mean", np.mean), ("worst", np.max)):
        lines.append(f"| **{name}** | | | | | | " + " | ".join(_on_grid(summary, c) for c in columns.values()) + " |")
    return lines


def _on_grid(summary, regrets: list[float]) -> str:
    """``summary`` of the regrets read on the grid, saying how many tasks it covers when some fell off it."""
    measured = [r for r in regrets if not math.isnan(r)]
    if not measured:
        return "-"
    text = _pct(float(summary(measured)))
    return text if len(measured) == len(regrets) else f"{text} ({len(measured)} of {len(regrets)} tasks)"


def budget_rule_lines(rule: dict) -> list[str]:
    """Per loss (final, best check) and measure of length (steps, epochs): regret per budget for each
    alpha, then the left-out cells."""
    lines = []
    losses = {"final": "the final validation loss", "best_check": "the best validation check"}
    for target, measures in rule["targets"].items():
        for measure, found in measures["measures"].items():
            lines += _alpha_table(f"On {losses[target]}, scaled by {measure}", found)
    for target, measures in rule["targets"].items():
        if "grouped" in measures:
            lines += _grouped_table(f"One alpha per group of tasks, on {losses[target]}", measures)
    for target, found in rule.get("non_adam_levels", {}).items():
        heading = (
            f"The optimizers that are not Adam-like, `midspan`'s reading raised by a level in decades, at a"
            f" budget exponent, on {losses[target]}; held out, the pair with the lowest worst cell is picked"
        )
        lines += _alpha_table(heading, found, column="level at exponent")
    return lines[:-1]


def _grouped_table(heading: str, measures: dict) -> list[str]:
    """Each trait's split of the tasks and its alphas: in sample, and leave-one-task-out beside one
    alpha's; cells whose rate falls off its grid are counted, not scored. Ends blank."""
    by_alpha = measures["measures"]["steps"]["alphas"]
    single = measures["measures"]["steps"]["leave_one_out"]["task"]
    lines = [
        f"**{heading}** (scaled by steps; held out: leave one task out, alpha picked within its group).",
        "",
        "| split by | groups: their alpha | in sample: mean | held out: mean | held out: worst cell"
        " | cells off the grid (held out) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    alpha = pick_alpha(by_alpha, lambda cell: True)
    one_alpha = np.mean(list(by_alpha[alpha].values()))
    lines.append(f"| nothing (one alpha) | every task: {float(alpha):.1f} | {_pct(one_alpha)} | {_scored(single)} |")
    for trait, found in measures["grouped"].items():
        alpha_of = {task: found["in_sample"][value] for value, tasks in found["groups"].items() for task in tasks}
        in_sample = [by_alpha[str(alpha_of[task_of(cell)])][cell] for cell in next(iter(by_alpha.values()))]
        groups = "; ".join(
            f"{value} ({len(tasks)} tasks): {found['in_sample'][value]:.1f}" for value, tasks in found["groups"].items()
        )
        lines.append(f"| {trait} | {groups} | {_pct(np.nanmean(in_sample))} | {_scored(found['held_out'])} |")
    return [*lines, ""]


def _scored(held: dict) -> str:
    """Held-out mean | worst | cells off the grid, as table cells."""
    cells = [r for left in held.values() for r in left["cells"].values()]
    scores = [r for r in cells if not math.isnan(r)]
    return f"{_pct(np.mean(scores))} | {_pct(max(scores))} | {len(cells) - len(scores)}"


def _alpha_table(heading: str, found: dict, column: str = "alpha") -> list[str]:
    """One measure on one loss: mean regret per budget for each alpha (or level: ``column``), then
    the left-out cells; ends blank."""
    names = next(iter(found["alphas"].values()))
    budgets = budgets_of(names)
    header = " | ".join(f"mean, {budget} cells" for budget in budgets)
    lines = [
        f"**{heading}.**",
        "",
        f"| {column} | {header} | mean, all cells | worst cell | cells off the grid |",
        "|---:|" + "---:|" * (len(budgets) + 3),
    ]
    for alpha, cells in found["alphas"].items():
        means = [np.nanmean([r for name, r in cells.items() if name.endswith(" " + b)]) for b in budgets]
        off = sum(math.isnan(r) for r in cells.values())
        values = list(cells.values())
        lines.append(
            f"| {_candidate(alpha)} | {' | '.join(_pct(m) for m in means)} | {_pct(np.nanmean(values))}"
            f" | {_pct(np.nanmax(values))} | {off} |"
        )
    lines.append("")
    for kind, held in found["leave_one_out"].items():
        scores = [r for left in held.values() for r in left["cells"].values() if not math.isnan(r)]
        picked = ", ".join(f"{name} {_candidate(left['alpha'])}" for name, left in held.items())
        lines.append(
            f"- Leave one {kind} out ({column} picked without it: {picked}): the held-out cells averaged"
            f" {_pct(np.mean(scores))}, worst {_pct(max(scores))} (cells off the grid left out)."
        )
    return [*lines, ""]


def _candidate(key: float | str) -> str:
    """An alpha as ``0.30``; a level with its exponent (``"0.20 at 0.5"``) as it is keyed."""
    try:
        return f"{float(key):.2f}"
    except ValueError:
        return str(key)


def _quartiles(ratios: np.ndarray) -> str:
    low, high = np.percentile(ratios, [25, 75])
    return f"{low:.2f}-{high:.2f}"


def plot(oracle: dict, compare: dict, scores: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(scores)
    cols = 4
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    markers = dict(zip(RECIPES, "o^sDvPX", strict=True))
    for ax, task in zip(axes.ravel(), tasks, strict=False):  # the grid may have spare axes
        grid = oracle[task]
        ratio = np.array(grid["mean_loss"]) / grid["best_mean_loss"]
        ax.plot(10.0 ** np.array(grid["log10_lr"]), ratio, color="0.6", lw=1.5, label="one-cycle grid (oracle)")
        for name in RECIPES:
            recipe = compare["tasks"][task][name]
            if name in ("prodigy", "schedulefree"):
                ax.axhline(
                    1 + scores[task][name]["regret"], ls=":", lw=1, color=f"C{RECIPES.index(name)}", label=LABELS[name]
                )
                continue
            pairs = [(lr, v) for lr, v in zip(recipe["lr"], recipe["val_loss"], strict=True) if lr is not None]
            if pairs:
                lrs, vals = zip(*pairs, strict=True)
                ax.scatter(
                    lrs,
                    np.array(vals) / grid["best_mean_loss"],
                    marker=markers[name],
                    s=18,
                    alpha=0.7,
                    color=f"C{RECIPES.index(name)}",
                    label=LABELS[name],
                )
        ax.set_xscale("log")
        # Around the grid's best; suggestions off by orders of magnitude are in the tables.
        ax.set_xlim(10 ** (grid["best_log10_lr"] - 2.5), 10 ** (grid["best_log10_lr"] + 1.5))
        ax.set_ylim(0.8, 2.5)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("peak learning rate")
        ax.set_ylabel("val loss / grid best")
    for ax in axes.ravel()[len(tasks) :]:
        ax.axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def render(results: Path = COMPARE_JSON.parent, docs: Path = DOCS) -> Path:
    oracle = json.loads((results / ORACLE_JSON.name).read_text())["tasks"]
    compare = json.loads((results / COMPARE_JSON.name).read_text())
    scores = _scores(oracle, compare)
    docs.mkdir(parents=True, exist_ok=True)
    figure = docs / "benchmarks.png"
    plot(oracle, compare, scores, figure)
    lines = TEMPLATE.read_text()
    tables = {
        "{tasks}": "\n".join(f"| {t.name} | {t.summary} |" for t in TASKS.values() if t.name in scores),
        "{summary}": "\n".join(summary_table(scores)),
        "{per_task}": "\n".join(task_table(oracle, scores)),
        "{seeds}": str(len(compare["seeds"])),
        "{rule}": compare["rule"],
        "{figure}": figure.name,
    }
    optional = (
        ("{calibration}", CALIBRATE_JSON, calibration_lines),
        ("{noise}", NOISE_JSON, noise_table),
        ("{settings}", SETTINGS_JSON, settings_table),
        ("{cost}", COST_JSON, cost_table),
        ("{picture}", COST_JSON, picture_table),
        ("{snapshot}", SNAPSHOT_JSON, snapshot_table),
        ("{cost_gpu}", COST_GPU_JSON, cost_table),
        ("{snapshot_gpu}", SNAPSHOT_GPU_JSON, snapshot_table),
    )
    for name, file, table in optional:
        source = results / file.name
        tables[name] = "\n".join(table(json.loads(source.read_text()))) if source.exists() else "(not measured)"
    rule_file = results / BUDGET_RULE_JSON.name
    tables["{budget_rule}"] = (
        "\n".join(budget_rule_lines(json.loads(rule_file.read_text()))) if rule_file.exists() else "(not measured)"
    )
    second_file = results / SECOND_STAGE_JSON.name
    tables["{second_stage}"] = (
        "\n".join(second_stage_table(json.loads(second_file.read_text()), oracle))
        if second_file.exists()
        else "(not measured)"
    )
    passes_file = results / PASSES_RULE_JSON.name
    passes = json.loads(passes_file.read_text()) if passes_file.exists() else None
    for key, table in (
        ("{passes_rule}", summary_lines),
        ("{passes_rule_test}", test_lines),
        ("{passes_rule_exponents}", exponent_lines),
        ("{passes_rule_end_to_end}", end_to_end_lines),
        ("{passes_rule_candidates}", candidate_lines),
        ("{passes_rule_reach}", reach_lines),
    ):
        tables[key] = "\n".join(table(passes)) if passes else "(not measured)"
    budgets_file = results / BUDGETS_JSON.name
    budgets = json.loads(budgets_file.read_text()) if budgets_file.exists() else None
    tables["{budgets}"] = "\n".join(budgets_table(budgets, oracle)) if budgets else "(not measured)"
    tables["{budget_recipes}"] = "\n".join(budget_recipes_table(budgets)) if budgets else "(not measured)"
    tables["{budget_targets}"] = "\n".join(budget_targets_table(budgets)) if budgets else "(not measured)"
    tables["{headroom}"] = "\n".join(headroom_table(budgets)) if budgets else "(not measured)"
    tables["{level_candidates}"] = "\n".join(level_candidates_table(budgets)) if budgets else "(not measured)"
    tables["{exponent_picks}"] = "\n".join(exponent_picks_table(budgets)) if budgets else "(not measured)"
    tables["{exponent_picks_best}"] = (
        "\n".join(exponent_picks_table(budgets, "best_val_loss")) if budgets else "(not measured)"
    )
    cost_file = results / COST_JSON.name
    tables["{targets}"] = "\n".join(
        targets_table(scores, json.loads(cost_file.read_text()) if cost_file.exists() else None)
    )
    for key, value in tables.items():
        lines = lines.replace(key, value)
    out = docs / "benchmarks.md"
    out.write_text(lines)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=COMPARE_JSON.parent)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    print(render(args.results, args.docs))


if __name__ == "__main__":
    main()
