"""Turn the benchmark's JSON results into ``docs/benchmarks.md`` and its figure.

python -m benchmarks.report     # reads benchmarks/results/*.json; the experiments append their sections
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from pl_lrfind.core import format_lr

from .calibrate import CALIBRATE_JSON
from .compare import COMPARE_JSON, RECIPES
from .cost import COST_GPU_JSON, COST_JSON, DESCRIPTIONS
from .experiments import sections
from .noise import NOISE_JSON
from .oracle import ORACLE_JSON
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


def pct(x: float) -> str:
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
            f"| {LABELS[name]} | {pct(np.mean([r['regret'] for r in rows]))} | {pct(max(r['regret'] for r in rows))}"
            f" | {pct(max(r['worst'] for r in rows))} | {'-' if math.isnan(spread) else f'{spread:.2f}'}"
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
        ("mean task regret of the default <= 2 %", pct(mean_regret), mean_regret <= 0.02),
        ("every task's regret <= 5 %", pct(max(r["regret"] for r in ours)), max(r["regret"] for r in ours) <= 0.05),
        ("no single run worse than +50 %", pct(max(r["worst"] for r in ours)), max(r["worst"] for r in ours) <= 0.5),
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
            f"next best: {LABELS[min(others, key=others.get)]}, {pct(min(others.values()))}",
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
            cells.append(f"{pct(s['regret'])}{lr}")
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
            f"| {setting['num_steps']} | {setting['steps_per_lr']} | {steps:.0f} | {spread:.3f} | {pct(regret)} |"
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
            cells.append(f"{pct(regret)} (spread {spread:.2f})")
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
    """``docs/benchmarks.md`` and its figure from ``results``: the benchmark's template, then the
    experiments' sections (:data:`benchmarks.experiments.SECTIONS`)."""
    oracle = json.loads((results / ORACLE_JSON.name).read_text())["tasks"]
    compare = json.loads((results / COMPARE_JSON.name).read_text())
    scores = _scores(oracle, compare)
    docs.mkdir(parents=True, exist_ok=True)
    figure = docs / "benchmarks.png"
    plot(oracle, compare, scores, figure)
    text = TEMPLATE.read_text()
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
    cost_file = results / COST_JSON.name
    tables["{targets}"] = "\n".join(
        targets_table(scores, json.loads(cost_file.read_text()) if cost_file.exists() else None)
    )
    for key, value in tables.items():
        text = text.replace(key, value)
    out = docs / "benchmarks.md"
    out.write_text("\n".join([text, *sections(results, oracle)]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=COMPARE_JSON.parent)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    print(render(args.results, args.docs))


if __name__ == "__main__":
    main()
