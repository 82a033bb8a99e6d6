"""What the finder costs: wall time against a plain fit of the same steps and against Lightning's
``Tuner.lr_find``, measured side by side.

Three variants run the same number of optimizer steps on the same model and data:

- ``plain``: ``trainer.fit`` for ``max_steps`` steps, no finder;
- ``ours``: ``LRFinderCallback(then="stop")`` over the same number of steps (it snapshots the
  weights and optimizer to host memory and restores them after the test); timed with and
  without its TensorBoard logging;
- ``lightning``: ``Tuner(trainer).lr_find(num_training=steps)`` (a checkpoint on disk, a
  second set-up, a restore from disk).

On the small model two more variants chain the test into a one-cycle fit of the same number of
steps (the callback's default, ``then="one_cycle"``), with and without TensorBoard, which then
also logs the real fit's rate and momentum every ``log_every_n_steps``. TensorBoard's cost is
reported as the median of the paired differences in seconds, for the test alone and chained.

Beside them, the picture alone: the first and a later range-test picture written to TensorBoard
in a fresh interpreter that has imported Lightning (as a training script has), three ways
(:data:`RENDERERS`). The first picture of a process is what a fit with one range test pays.

The ladder stays low (1e-6 to 1e-3) and the stop rules are off, so every variant runs all its
steps. Variants are interleaved in a fresh random order in every repeat; the figures are the
medians of the per-repeat ratios, which cancels the machine's drift. Wall time, not CPU time:
CPU time would hide the disk.

    python -m benchmarks.cost      # writes benchmarks/results/cost.json
    python -m benchmarks.cost --accelerator gpu --repeats 20 --picture-repeats 0   # cost_gpu.json
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import TensorDataset

from pl_lrfind import LRFinderCallback

from .cli import write_json
from .fits import TaskModule, train_loader, trainer
from .oracle import RESULTS
from .tasks import TASKS, Task

COST_JSON = RESULTS / "cost.json"
COST_GPU_JSON = RESULTS / "cost_gpu.json"
VARIANTS = ("plain", "ours", "ours_tensorboard", "lightning")
CHAINED = ("chained", "chained_tensorboard")
"""The callback at its default (test, then one-cycle over ``steps``): timed on the small model only."""
LADDER = dict(min_lr=1e-6, max_lr=1e-3)


def _wide_data() -> tuple[TensorDataset, TensorDataset]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 1024, generator=g)
    return TensorDataset(x, x[:, :10].argmax(1)), TensorDataset(x[:64], x[:64, :10].argmax(1))


WIDE = Task(
    "wide_mlp_adam",
    "MLP 1024-4096-4096-4096-10 (38M parameters), Adam, batch 32",
    _wide_data,
    lambda: nn.Sequential(
        nn.Linear(1024, 4096),
        nn.ReLU(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Linear(4096, 10),
    ),
    lambda params, lr: torch.optim.Adam(params, lr=lr),
    nn.functional.cross_entropy,
    batch_size=32,
    epochs=1,
)
MODELS = {"small": (TASKS["digits_cnn_sgd"], 100, 40), "wide": (WIDE, 30, 25)}  # (task, steps, repeats)
VARIANTS_OF = {"small": VARIANTS + CHAINED, "wide": VARIANTS}
DESCRIPTIONS = {
    "small": "small: the digits BatchNorm CNN, SGD momentum 0.9, batch 64",
    "wide": "wide: " + WIDE.summary,
}


ACCELERATORS = ("cpu", "gpu")


def _trainer(root: str, task: Task, steps: int, accelerator: str, callbacks=()) -> pl.Trainer:
    return trainer(root, task, callbacks, max_epochs=None, max_steps=steps, accelerator=accelerator)


def time_variant(task: Task, steps: int, variant: str, accelerator: str = "cpu") -> float:
    """Seconds of wall time from building the Trainer to the end of the variant's work."""
    torch.manual_seed(0)
    module = TaskModule(task, 1e-4)
    loader = train_loader(task, 0)
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        if variant == "plain":
            _trainer(root, task, steps, accelerator).fit(module, loader)
        elif variant in ("ours", "ours_tensorboard", *CHAINED):
            finder = LRFinderCallback(
                num_steps=steps,
                divergence_threshold=1e9,
                then="one_cycle" if variant in CHAINED else "stop",
                log_to_tensorboard=variant.endswith("tensorboard"),
                verbose=False,
                **LADDER,
            )
            # The finder lifts max_steps while it runs, so the budget does not cut the test short.
            _trainer(root, task, steps, accelerator, [finder]).fit(module, loader)
            assert len(finder.result.lrs) == steps, "the finder stopped early; the comparison would be unfair"
        else:
            from pytorch_lightning.tuner import Tuner

            Tuner(_trainer(root, task, steps, accelerator)).lr_find(
                module, loader, num_training=steps, early_stop_threshold=None, update_attr=False, **LADDER
            )
        return time.perf_counter() - started


def measure(model: str, repeats: int | None = None, seed: int = 0, accelerator: str = "cpu") -> dict:
    task, steps, default_repeats = MODELS[model]
    repeats = repeats or default_repeats
    order = random.Random(seed)
    variants = VARIANTS_OF[model]
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    time_variant(task, steps, "plain", accelerator)  # warm up allocator, caches and imports once, untimed
    time_variant(task, steps, "ours_tensorboard", accelerator)  # ... and the picture's fonts
    for _ in range(repeats):
        for variant in order.sample(variants, len(variants)):
            times[variant].append(time_variant(task, steps, variant, accelerator))
    ratios = {
        f"{a}/{b}": statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))
        for a, b in (("ours", "plain"), ("ours_tensorboard", "plain"), ("lightning", "plain"), ("ours", "lightning"))
    }
    pairs = [("ours_tensorboard", "ours")] + ([("chained_tensorboard", "chained")] if "chained" in times else [])
    differences = {
        f"{a}-{b}": statistics.median(x - y for x, y in zip(times[a], times[b], strict=True)) for a, b in pairs
    }
    parameters = sum(p.numel() for p in task.model().parameters())
    return {
        "task": DESCRIPTIONS[model],
        "parameters": parameters,
        "steps": steps,
        "repeats": repeats,
        "seconds": times,
        "median_ratio": ratios,
        "median_difference_s": differences,
    }


RENDERERS = {"matplotlib, through add_figure": "log_picture(writer, tag, result, step)"}
"""What the callback logs: ``plot_result``'s figure through the writer's ``add_figure``; the first
picture of a process includes importing matplotlib, as a fit's does."""
_PICTURE_SCRIPT = """
import json, sys, tempfile, time
import pytorch_lightning
from torch.utils.tensorboard import SummaryWriter
from pl_lrfind.core import RangeTest
from pl_lrfind.tb_writer import log_picture
test = RangeTest(min_lr=1e-6, max_lr=10.0, num_steps=100)
while not test.done:
    test.record(2.0 / (1.0 + 100 * test.current_lr) + test.current_lr ** 2)
result = test.result()
seconds = []
with tempfile.TemporaryDirectory() as root:
    writer = SummaryWriter(root)
    for step, tag in enumerate(("first", "later")):
        started = time.perf_counter()
        {draw}
        writer.flush()
        seconds.append(time.perf_counter() - started)
    writer.close()
print(json.dumps(seconds))
"""


def picture_seconds(repeats: int, seed: int = 0) -> dict:
    """Seconds to write the first and a later picture, per renderer, each repeat in a fresh interpreter."""
    order = random.Random(seed)
    found: dict[str, dict[str, list[float]]] = {name: {"first": [], "later": []} for name in RENDERERS}
    for _ in range(repeats):
        for name in order.sample(list(RENDERERS), len(RENDERERS)):
            code = _PICTURE_SCRIPT.replace("{draw}", RENDERERS[name])
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            first, later = json.loads(done.stdout.splitlines()[-1])
            found[name]["first"].append(first)
            found[name]["later"].append(later)
    return {"repeats": repeats, "seconds": found}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--repeats", type=int, help="repeats per model (default: 40 small, 25 wide)")
    parser.add_argument("--picture-repeats", type=int, default=10, help="fresh interpreters per renderer (0: none)")
    parser.add_argument("--accelerator", choices=ACCELERATORS, default="cpu", help="where the fits run")
    parser.add_argument(
        "--picture-only", action="store_true", help="time the picture alone, into the existing JSON's picture entry"
    )
    parser.add_argument("--out", type=Path, help="default: results/cost.json, or cost_gpu.json on the GPU")
    args = parser.parse_args(argv)
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    command = "python -m benchmarks.cost" + (f" --accelerator {args.accelerator}" if args.accelerator != "cpu" else "")
    command += (f" --models {' '.join(args.models)}" if args.models != list(MODELS) else "") + (
        f" --repeats {args.repeats}" if args.repeats else ""
    )
    if args.picture_only:
        path = args.out or COST_JSON
        out = json.loads(path.read_text())
        command = "python -m benchmarks.cost --picture-only"
        out["picture"] = {**picture_seconds(args.picture_repeats), "command": command}
        write_json(path, out)
        return
    device = torch.cuda.get_device_name() if args.accelerator == "gpu" else f"CPU, {torch.get_num_threads()} threads"
    out = {"command": command, "device": device, "threads": torch.get_num_threads(), "models": {}}
    for model in args.models:
        out["models"][model] = measure(model, args.repeats, accelerator=args.accelerator)
        result = out["models"][model]
        print(model, {k: round(v, 3) for k, v in {**result["median_ratio"], **result["median_difference_s"]}.items()})
    if args.picture_repeats:
        out["picture"] = picture_seconds(args.picture_repeats)
    for renderer, seconds in out.get("picture", {}).get("seconds", {}).items():
        print("picture", renderer, {which: round(statistics.median(times), 3) for which, times in seconds.items()})
    write_json(args.out or (COST_GPU_JSON if args.accelerator == "gpu" else COST_JSON), out)


if __name__ == "__main__":
    main()
