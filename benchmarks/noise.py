"""Noise control: is it better to hold each rate for k batches, or to take more rungs?

The curve is stochastic, so the suggestion moves from seed to seed. Two ways to spend more
steps on a test: ``steps_per_lr=k`` (average k batches per rung) or a longer ladder
(``num_steps``). Each setting below runs the range test alone (``then="stop"``) on every task
and seed; the figure of merit is the spread (standard deviation across seeds) of
log10(suggestion), set against the optimizer steps the test used. The regret each setting's
suggestions would have is read off the oracle's grid by interpolation, as a guide only: no
fit is run here.

    python -m benchmarks.noise     # writes benchmarks/results/noise.json
"""

from __future__ import annotations

import json
import math

import numpy as np

from .cli import parse_args, write_json
from .oracle import ORACLE_JSON, RESULTS, SEEDS
from .pool import run_jobs

NOISE_JSON = RESULTS / "noise.json"
SETTINGS = (  # (num_steps, steps_per_lr); pairs of equal compute share a product
    (50, 1),
    (100, 1),
    (50, 2),
    (200, 1),
    (100, 2),
)


def interpolated_regret(oracle_task: dict, lr: float) -> float:
    """Regret of a one-cycle fit at ``lr``, read off the oracle's seed-mean curve (log-linear)."""
    grid = np.array(oracle_task["log10_lr"])
    loss = np.array([m if math.isfinite(m) else 1e6 for m in oracle_task["mean_loss"]])
    return float(np.interp(math.log10(lr), grid, loss) / oracle_task["best_mean_loss"] - 1.0)


def suggestion_stats(oracle_task: dict, suggestions: list[float | None]) -> dict:
    """Spread across seeds (None with fewer than two answers) and interpolated regret of suggestions."""
    found = [lr for lr in suggestions if lr is not None]
    return {
        "suggestion": suggestions,
        "spread": float(np.std(np.log10(found))) if len(found) > 1 else None,
        "interpolated_regret": float(np.mean([interpolated_regret(oracle_task, lr) for lr in found])),
    }


def measure(tasks, seeds) -> dict:
    jobs = [
        ("finder_fit", dict(task_name=t, seed=s, then="stop", num_steps=n, steps_per_lr=k))
        for n, k in SETTINGS
        for t in tasks
        for s in seeds
    ]
    results = iter(run_jobs(jobs))
    oracle = json.loads(ORACLE_JSON.read_text())["tasks"]
    out = {}
    for n, k in SETTINGS:
        per_task = {}
        for task in tasks:
            runs = [next(results)["result"] for _ in seeds]
            per_task[task] = suggestion_stats(oracle[task], [r["suggestion"] for r in runs])
            per_task[task]["steps_used"] = [len(r["lrs"]) * k for r in runs]
        out[f"num_steps={n},steps_per_lr={k}"] = {"num_steps": n, "steps_per_lr": k, "tasks": per_task}
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args("benchmarks.noise", __doc__, NOISE_JSON, len(SEEDS), argv)
    out = {"command": args.command, "settings": measure(args.tasks, range(args.seeds))}
    write_json(args.out, out)
    for name, setting in out["settings"].items():
        spreads = [t["spread"] for t in setting["tasks"].values() if t["spread"] is not None]
        if spreads:  # one seed has no spread
            print(f"{name:28s} mean spread {np.mean(spreads):.3f} decade", flush=True)


if __name__ == "__main__":
    main()
