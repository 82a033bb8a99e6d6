"""What the snapshot costs per target, beside the copy limit of the same bytes measured in the same run.

The state is a stack of 4096 x 4096 linear layers with Adam's two moments (after one step), on
the GPU when there is one. For every target, ``TrainingSnapshot.take`` and ``restore`` are
timed (median of the repeats), and so is the way pl_lrfind 0.1 did it (``state_dict()`` copied
tensor by tensor to pageable host memory, restored with ``load_state_dict`` after one more deep
copy of the optimizer state), for comparison. The copy limit is one copy of a flat buffer of the
same size: device to pinned host memory on a GPU, host memory to host memory on the CPU; into a
buffer allocated beforehand, and into a freshly allocated one (as a snapshot is).

    python -m benchmarks.snapshot            # ~1 GiB of state; writes benchmarks/results/snapshot.json
    python -m benchmarks.snapshot --gib 15 --repeats 3   # on a GPU: writes snapshot_gpu.json
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pl_lrfind.snapshot import TrainingSnapshot

from .cli import write_json
from .oracle import RESULTS

SNAPSHOT_JSON = RESULTS / "snapshot.json"
SNAPSHOT_GPU_JSON = RESULTS / "snapshot_gpu.json"
WIDTH = 4096
BYTES_PER_PARAMETER = 12  # float32 weight + Adam's two float32 moments
REPEATS = 5


def build_state(gib: float, device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    """A model and an Adam optimizer whose weights and state together take about ``gib`` GiB."""
    layers = max(1, round(gib * 2**30 / BYTES_PER_PARAMETER / (WIDTH * WIDTH + WIDTH)))
    model = nn.Sequential(*(nn.Linear(WIDTH, WIDTH) for _ in range(layers))).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    for param in model.parameters():
        param.grad = torch.ones_like(param)
    optimizer.step()  # Adam's moments exist, as they do in a resumed or second-stage fit
    return model, optimizer


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(work: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Seconds ``work`` takes, with the device's queued work finished on both sides; and its value."""
    synchronize(device)
    started = time.perf_counter()
    value = work()
    synchronize(device)
    return time.perf_counter() - started, value


def copy_limit(nbytes: int, device: torch.device, repeats: int) -> dict:
    """One copy of ``nbytes`` as fast as the hardware allows, for the snapshot to be measured against."""
    source = torch.ones(nbytes, dtype=torch.uint8, device=device)
    if device.type == "cuda":
        target, what = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True), "device to pinned host memory"
    else:
        target, what = torch.empty(nbytes, dtype=torch.uint8), "host memory to host memory"
    seconds = [timed(partial(target.copy_, source, non_blocking=True), device)[0] for _ in range(repeats)]
    del target

    def into_fresh_memory() -> None:
        fresh = torch.empty(nbytes, dtype=torch.uint8, pin_memory=device.type == "cuda")
        fresh.copy_(source, non_blocking=True)

    fresh = [timed(into_fresh_memory, device)[0] for _ in range(repeats)]
    return {"what": what, "seconds": statistics.median(seconds), "fresh_seconds": statistics.median(fresh)}


def measure_target(model, optimizer, target: str, directory: str, device: torch.device, repeats: int) -> dict:
    takes, restores = [], []
    for _ in range(repeats):
        seconds, snapshot = timed(partial(TrainingSnapshot.take, model, optimizer, target, directory), device)
        takes.append(seconds)
        restores.append(timed(partial(snapshot.restore, model, optimizer), device)[0])
        snapshot.release()
    return {"take": statistics.median(takes), "restore": statistics.median(restores)}


def measure_state_dict_copy(model, optimizer, device: torch.device, repeats: int) -> dict:
    """pl_lrfind 0.1: ``state_dict()`` tensor by tensor to pageable host memory, a deep copy at restore."""

    def to_host(obj):
        if isinstance(obj, torch.Tensor):
            return obj.detach().to("cpu", copy=True)
        if isinstance(obj, dict):
            return {key: to_host(value) for key, value in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(to_host(value) for value in obj)
        return copy.deepcopy(obj)

    def take() -> tuple[dict, dict]:
        return to_host(model.state_dict()), to_host(optimizer.state_dict())

    def restore(weights: dict, state: dict) -> None:
        model.load_state_dict(weights)
        optimizer.load_state_dict(copy.deepcopy(state))

    takes, restores = [], []
    for _ in range(repeats):
        seconds, (weights, state) = timed(take, device)
        takes.append(seconds)
        restores.append(timed(partial(restore, weights, state), device)[0])
    return {"take": statistics.median(takes), "restore": statistics.median(restores)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.snapshot", description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of weights + Adam state (default 1 GiB)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--out", type=Path, help="default: results/snapshot.json, or snapshot_gpu.json on a GPU")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, optimizer = build_state(args.gib, device)
    parameters = sum(p.numel() for p in model.parameters())
    nbytes = parameters * BYTES_PER_PARAMETER
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    out = {
        "command": f"python -m benchmarks.snapshot --gib {args.gib:g}"
        + (f" --repeats {args.repeats}" if args.repeats != REPEATS else ""),
        "device": name,
        "parameters": parameters,
        "state_gib": nbytes / 2**30,
        "repeats": args.repeats,
        "limit": copy_limit(nbytes, device, args.repeats),
        "targets": {},
    }
    with tempfile.TemporaryDirectory(prefix="lr_find_snapshot_bench_") as directory:
        for target in ("device", "host", "disk"):
            out["targets"][target] = measure_target(model, optimizer, target, directory, device, args.repeats)
            print(target, {key: round(value, 3) for key, value in out["targets"][target].items()}, flush=True)
    out["targets"]["state_dict copy (pl_lrfind 0.1)"] = measure_state_dict_copy(model, optimizer, device, args.repeats)
    print("limit", round(out["limit"]["seconds"], 3), "state_dict", out["targets"]["state_dict copy (pl_lrfind 0.1)"])
    write_json(args.out or (SNAPSHOT_GPU_JSON if device.type == "cuda" else SNAPSHOT_JSON), out)


if __name__ == "__main__":
    main()
