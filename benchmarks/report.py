"""Turn the benchmark's JSON results into ``docs/benchmarks.md`` and its figure.

    python -m benchmarks.report     # reads benchmarks/results/*.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from pl_lrfind.plotting import format_lr

from .compare import COMPARE_JSON, RECIPES
from .cost import COST_JSON
from .noise import NOISE_JSON
from .oracle import ORACLE_JSON
from .tasks import TASKS

DOCS = Path(__file__).parent.parent / "docs"
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
        spread = np.nanmean([r["spread"] for r in rows]) if name not in ("prodigy", "schedulefree") else math.nan
        lines.append(
            f"| {LABELS[name]} | {_pct(np.mean([r['regret'] for r in rows]))} | {_pct(max(r['regret'] for r in rows))}"
            f" | {_pct(max(r['worst'] for r in rows))} | {'-' if math.isnan(spread) else f'{spread:.2f}'}"
            f" | {sum(r['failed'] for r in rows)} |"
        )
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
            f"| {task} | {format_lr(10 ** best['best_log10_lr'])} ({best['best_mean_loss']:.4f}) | " + " | ".join(cells) + " |"
        )
    return lines


def noise_table(noise: dict) -> list[str]:
    lines = [
        "| num_steps | steps_per_lr | optimizer steps used (mean) | mean spread of log10(suggestion) | interpolated regret |",
        "|---:|---:|---:|---:|---:|",
    ]
    for setting in noise["settings"].values():
        tasks = setting["tasks"].values()
        steps = np.mean([np.mean(t["steps_used"]) for t in tasks])
        spread = np.mean([t["spread"] for t in tasks if t["spread"] is not None])
        regret = np.mean([t["interpolated_regret"] for t in tasks])
        lines.append(
            f"| {setting['num_steps']} | {setting['steps_per_lr']} | {steps:.0f} | {spread:.3f} | {_pct(regret)} |"
        )
    return lines


def cost_table(cost: dict) -> list[str]:
    lines = [
        "| model | parameters | steps | repeats | ours / plain | ours with TensorBoard / plain | Lightning / plain | ours / Lightning |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model in cost["models"].values():
        r = model["median_ratio"]
        lines.append(
            f"| {model['task']} | {model['parameters'] / 1e6:.2f} M | {model['steps']} | {model['repeats']}"
            f" | {r['ours/plain']:.3f} | {r['ours_tensorboard/plain']:.3f} | {r['lightning/plain']:.3f}"
            f" | {r['ours/lightning']:.3f} |"
        )
    return lines


def plot(oracle: dict, compare: dict, scores: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(scores)
    cols = 4
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    markers = dict(zip(RECIPES, "o^sDvPX"))
    for ax, task in zip(axes.ravel(), tasks):
        grid = oracle[task]
        ratio = np.array(grid["mean_loss"]) / grid["best_mean_loss"]
        ax.plot(10.0 ** np.array(grid["log10_lr"]), ratio, color="0.6", lw=1.5, label="one-cycle grid (oracle)")
        for name in RECIPES:
            recipe = compare["tasks"][task][name]
            if name in ("prodigy", "schedulefree"):
                ax.axhline(1 + scores[task][name]["regret"], ls=":", lw=1, color=f"C{RECIPES.index(name)}",
                           label=LABELS[name])
                continue
            pairs = [(lr, v) for lr, v in zip(recipe["lr"], recipe["val_loss"]) if lr is not None]
            if pairs:
                lrs, vals = zip(*pairs)
                ax.scatter(lrs, np.array(vals) / grid["best_mean_loss"], marker=markers[name], s=18, alpha=0.7,
                           color=f"C{RECIPES.index(name)}", label=LABELS[name])
        ax.set_xscale("log")
        ax.set_ylim(0.8, 2.5)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("peak learning rate")
        ax.set_ylabel("val loss / grid best")
    for ax in axes.ravel()[len(tasks):]:
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
    lines = (docs.parent / "benchmarks" / "TEMPLATE.md").read_text()
    tables = {
        "{tasks}": "\n".join(f"| {t.name} | {t.summary} |" for t in TASKS.values() if t.name in scores),
        "{summary}": "\n".join(summary_table(scores)),
        "{per_task}": "\n".join(task_table(oracle, scores)),
        "{seeds}": str(len(compare["seeds"])),
        "{rule}": compare["rule"],
        "{figure}": figure.name,
    }
    for name, file, table in (("{noise}", NOISE_JSON, noise_table), ("{cost}", COST_JSON, cost_table)):
        source = results / file.name
        tables[name] = "\n".join(table(json.loads(source.read_text()))) if source.exists() else "(not measured)"
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
