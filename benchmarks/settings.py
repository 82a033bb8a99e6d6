"""The stop rule's settings: EMA factor ``beta`` and ``divergence_threshold``, replayed.

Each task and seed runs one range test with the stop rule off (it ends at ``max_lr`` or at a
non-finite loss). The recorded losses are then fed again through :class:`pl_lrfind.core.RangeTest`
with every pair of settings, exactly as the callback would have fed them, so every pair sees the
same batches. For the default rule's suggestions: the spread across seeds, and the regret read
off the oracle's grid by interpolation (a guide, not a measurement by fits).

    python -m benchmarks.settings     # writes benchmarks/results/settings.json
"""

from __future__ import annotations

import json

import numpy as np

from pl_lrfind.core import DEFAULT_RULE, LRFindResult, RangeTest

from .cli import parse_args, write_json
from .noise import suggestion_stats
from .oracle import ORACLE_JSON, RESULTS, SEEDS
from .pool import run_jobs

SETTINGS_JSON = RESULTS / "settings.json"
BETAS = (0.9, 0.95, 0.98)
THRESHOLDS = (2.0, 3.0, 4.0, 6.0)
NO_STOP = 1e12


def replayed(losses: list[float], stop_reason: str = "non_finite_loss", **settings) -> LRFindResult:
    """The result a range test with ``settings`` would have given on these recorded losses; one
    they run out on before it stops ends with ``stop_reason`` (by default as an unstopped run
    ended: on a NaN the replay never sees)."""
    test = RangeTest(**settings)
    for loss in losses:
        if test.record(loss):
            break
    else:
        test.stop(stop_reason)
    return test.result()


def replay(losses: list[float], beta: float, threshold: float) -> float | None:
    """The default rule's suggestion had the test run with these settings on these losses."""
    result = replayed(losses, beta=beta, divergence_threshold=threshold)
    return result.suggestions[DEFAULT_RULE]  # not `suggestion`: a no-descent curve hands `blow_up`'s


def stop_free_losses(tasks, seeds) -> dict[str, list[list[float]]]:
    """Per task, one loss curve per seed from a range test whose stop rule never fires."""
    runs = iter(
        run_jobs(
            ("finder_fit", dict(task_name=t, seed=s, then="stop", divergence_threshold=NO_STOP))
            for t in tasks
            for s in seeds
        )
    )
    return {t: [next(runs)["result"]["losses"] for _ in seeds] for t in tasks}


def measure(tasks, seeds) -> dict:
    curves = stop_free_losses(tasks, seeds)
    oracle = json.loads(ORACLE_JSON.read_text())["tasks"]
    out = {}
    for beta in BETAS:
        for threshold in THRESHOLDS:
            per_task = {}
            for task, losses in curves.items():
                per_task[task] = suggestion_stats(oracle[task], [replay(curve, beta, threshold) for curve in losses])
            out[f"beta={beta},threshold={threshold}"] = {"beta": beta, "threshold": threshold, "tasks": per_task}
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args("benchmarks.settings", __doc__, SETTINGS_JSON, len(SEEDS), argv)
    out = {"command": args.command, "settings": measure(args.tasks, range(args.seeds))}
    write_json(args.out, out)
    for name, setting in out["settings"].items():
        regret = np.mean([t["interpolated_regret"] for t in setting["tasks"].values()])
        print(f"{name:26s} interpolated regret {100 * regret:5.1f} %", flush=True)


if __name__ == "__main__":
    main()
