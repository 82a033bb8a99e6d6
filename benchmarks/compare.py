"""Every recipe on every task and seed: the suggested rate and the validation loss it leads to.

Recipes:

- ``ours``: ``LRFinderCallback()`` at its defaults, end to end (the range test and the
  one-cycle fit it chains into, in one ``trainer.fit``).
- ``valley``, ``steepest``, ``minimum``: fastai's rules read on the same curve as ``ours``
  (``minimum`` is a tenth of the smoothed curve's minimum), each followed by the same one-cycle
  fit from the same initial weights.
- ``lightning``: Lightning's ``Tuner.lr_find(...).suggestion()`` at its defaults, then the same
  one-cycle fit.
- ``prodigy``, ``schedulefree``: learning-rate-free optimizers at their recommended settings.

    python -m benchmarks.compare          # writes benchmarks/results/compare.json
"""

from __future__ import annotations

import time

from pl_lrfind.core import DEFAULT_RULE

from .cli import parse_args, write_json
from .oracle import RESULTS, SEEDS
from .pool import run_jobs

COMPARE_JSON = RESULTS / "compare.json"
CURVE_RULES = tuple(rule for rule in ("valley", "steepest", "minimum") if rule != DEFAULT_RULE)
LR_FREE = ("prodigy", "schedulefree")
RECIPES = ("ours", *CURVE_RULES, "lightning", *LR_FREE)


def compare(tasks, seeds) -> dict:
    pairs = [(task, seed) for task in tasks for seed in seeds]
    first = [("finder_fit", dict(task_name=t, seed=s)) for t, s in pairs]
    first += [("lightning_suggestion", dict(task_name=t, seed=s)) for t, s in pairs]
    first += [("lr_free_fit", dict(task_name=t, seed=s, optimizer=o)) for o in LR_FREE for t, s in pairs]
    done = iter(run_jobs(first))
    finder = {pair: next(done) for pair in pairs}
    lightning = {pair: next(done) for pair in pairs}
    lr_free = {(o, *pair): next(done) for o in LR_FREE for pair in pairs}

    rates = {(rule, *pair): finder[pair]["result"]["suggestions"][rule] for rule in CURVE_RULES for pair in pairs}
    rates.update({("lightning", *pair): lightning[pair]["lr"] for pair in pairs})
    fitted = run_jobs(("one_cycle_fit", dict(task_name=key[1], seed=key[2], peak_lr=lr)) for key, lr in rates.items())
    val = dict(zip(rates, fitted, strict=True))

    out: dict = {}
    for task in tasks:
        recipes = out.setdefault(task, {name: {"lr": [], "val_loss": []} for name in RECIPES})
        for seed in seeds:
            result = finder[task, seed]["result"]
            recipes["ours"]["lr"].append(result["chosen_lr"])
            recipes["ours"]["val_loss"].append(finder[task, seed]["val_loss"])
            recipes["ours"].setdefault("diagnosis", []).append(result["diagnosis"])
            recipes["ours"].setdefault("curve", []).append({"lrs": result["lrs"], "losses": result["losses"]})
            for name in (*CURVE_RULES, "lightning"):
                recipes[name]["lr"].append(rates[name, task, seed])
                recipes[name]["val_loss"].append(val[name, task, seed])
            recipes["lightning"].setdefault("fallback", []).append(lightning[task, seed]["fallback"])
            for name in LR_FREE:
                recipes[name]["lr"].append(None)
                recipes[name]["val_loss"].append(lr_free[name, task, seed])
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args("benchmarks.compare", __doc__, COMPARE_JSON, len(SEEDS), argv)
    started = time.perf_counter()
    out = {"rule": DEFAULT_RULE, "seeds": list(range(args.seeds)), "tasks": compare(args.tasks, range(args.seeds))}
    out["command"] = args.command
    write_json(args.out, out, indent=None)
    print(f"compared {len(RECIPES)} recipes on {len(args.tasks)} tasks in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
