"""Where a snapshot lives: the device, pinned host memory or a file, and whether it fits there.

The choice is made before the test's first step from what is free; a target that cannot hold
the state fails then, with an error that says how much was needed and how much was free.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

TARGETS = ("auto", "device", "host", "disk")

DEVICE_HEADROOM = 3.0
"""``auto`` keeps the copy on the accelerator only when free memory is this many times the state
(the copy, then the test's activations and first-step optimizer state): a guard against running
out of memory, not a measured optimum; ``snapshot="device"`` skips it."""

HOST_SHARE = 0.8
"""``auto`` (and ``"host"``) use at most this share of the host memory the kernel reports as
available, split between the processes on the host: the rest is the data loaders' and the
system's. A guard against the out-of-memory killer, which ends a job without an error."""

DISK_RESERVE = 1 << 30
"""Bytes ``"disk"`` leaves free on the file system: logs and checkpoints still need to be written."""


class SnapshotSpaceError(RuntimeError):
    """The snapshot's target cannot hold the weights and optimizer state; raised before any step."""


@dataclass(frozen=True)
class FreeSpace:
    """Free bytes where a snapshot could live; ``device`` is ``None`` without a CUDA device."""

    device: int | None
    host: int
    disk: int


def choose_target(state_bytes: int, free: FreeSpace, processes_per_host: int = 1, pinned: bool = False) -> str:
    """Where ``auto`` puts a snapshot of ``state_bytes``: device, else host, else disk.

    ``processes_per_host`` ranks each take a snapshot of their own at the same time, from the
    same host memory and disk; ``pinned`` host memory comes in powers of two (see
    :func:`host_bytes`). Raises :class:`SnapshotSpaceError` when nothing can hold it.
    """
    if free.device is not None and DEVICE_HEADROOM * state_bytes <= free.device:
        return "device"
    if _fits("host", host_bytes(state_bytes, pinned), free, processes_per_host):
        return "host"
    if _fits("disk", state_bytes, free, processes_per_host):
        return "disk"
    raise SnapshotSpaceError(_no_room("auto", state_bytes, free, processes_per_host))


def check_room(
    target: str, state_bytes: int, free: FreeSpace, processes_per_host: int = 1, pinned: bool = False
) -> None:
    """Raise :class:`SnapshotSpaceError` unless ``target`` can hold a snapshot of ``state_bytes``."""
    needed = host_bytes(state_bytes, pinned) if target == "host" else state_bytes
    if not _fits(target, needed, free, processes_per_host):
        raise SnapshotSpaceError(_no_room(target, needed, free, processes_per_host))


def host_bytes(state_bytes: int, pinned: bool) -> int:
    """Host memory a snapshot of ``state_bytes`` takes: torch's pinned-memory allocator hands out
    blocks rounded up to a power of two (and keeps them cached for reuse after the snapshot)."""
    return 1 << max(state_bytes - 1, 0).bit_length() if pinned else state_bytes


def _fits(target: str, state_bytes: int, free: FreeSpace, processes_per_host: int) -> bool:
    if target == "device":
        return free.device is None or state_bytes <= free.device  # no accelerator: it is host memory
    if target == "host":
        return state_bytes * processes_per_host <= HOST_SHARE * free.host
    return state_bytes * processes_per_host <= free.disk - DISK_RESERVE


def _no_room(target: str, state_bytes: int, free: FreeSpace, processes_per_host: int) -> str:
    where = f"{gib(free.host)} of host memory available, {gib(free.disk)} free on disk"
    if free.device is not None:
        where = f"{gib(free.device)} free on the device, " + where
    share = f" for each of {processes_per_host} processes on this host" if processes_per_host > 1 else ""
    return (
        f"snapshot={target!r} cannot hold the weights and optimizer state: they need {gib(state_bytes)}{share}; "
        f"{where}. Choose another snapshot target, or free memory or disk space."
    )


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def measure_free_space(tensors: Iterable[torch.Tensor], directory: str | os.PathLike) -> FreeSpace:
    """Free accelerator memory (of the CUDA device the tensors are on), host memory and disk."""
    cuda = {tensor.device for tensor in tensors if tensor.is_cuda}  # a DTensor's device is its shard's
    device = min(torch.cuda.mem_get_info(index)[0] for index in cuda) if cuda else None
    existing = Path(directory).resolve()
    while not existing.exists():  # the Trainer creates default_root_dir lazily
        existing = existing.parent
    return FreeSpace(device=device, host=available_host_memory(), disk=shutil.disk_usage(existing).free)


def available_host_memory(cgroup: str | os.PathLike = "/sys/fs/cgroup") -> int:
    """What the kernel reports as available to new allocations (``MemAvailable`` on Linux), or
    less when this process runs under a memory limit (a SLURM job, a container: cgroup v2)."""
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    limit = cgroup_headroom(cgroup)
    return available if limit is None else min(available, limit)


def cgroup_headroom(cgroup: str | os.PathLike = "/sys/fs/cgroup") -> int | None:
    """``memory.max - memory.current`` of a cgroup v2 folder; ``None`` without a limit there."""
    try:
        limit = (Path(cgroup) / "memory.max").read_text().strip()
        used = int((Path(cgroup) / "memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)
