"""A copy of everything a range test changes, put back bit for bit, at the speed of a memory copy.

The range test trains; the snapshot is what makes that harmless. It holds the *live* tensors a
test changes (parameters, buffers such as BatchNorm statistics, the optimizer's state) in a few
large flat buffers, filled with one non-blocking copy per tensor and copied back *in place*:
no ``state_dict()`` round trip, no per-tensor allocations, no second host copy at restore.
Because it reads the tensors a rank actually holds, a sharded model (FSDP) is copied shard by
shard on each rank, with no gathering of full tensors.

Where the copy lives is the ``target``:

- ``"device"``: beside the tensors, in accelerator memory (device-to-device copies);
- ``"host"``: pinned host memory when the tensors are on a CUDA device (plain host memory on a
  CPU-only run);
- ``"disk"``: a file under a directory the caller names, mapped into memory and unlinked as soon
  as it is mapped, so the operating system can page it out and nothing is left on disk on any
  path out, a crash included;
- ``"auto"``: the first of these that holds the state with room to spare
  (:func:`~pl_lrfind.snapshot_placement.choose_target`).
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .snapshot_placement import (
    TARGETS,
    SnapshotSpaceError,
    check_room,
    choose_target,
    gib,
    measure_free_space,
)

__all__ = ["TARGETS", "SnapshotSpaceError", "TrainingSnapshot"]

ALIGNMENT = 64
"""Every tensor starts at a multiple of this many bytes in its buffer: a byte view can then be
reinterpreted as any dtype, and copies start on cache-line (and DMA-friendly) boundaries."""


# ---------------------------------------------------------------------- the copy


@dataclass(frozen=True)
class _Slot:
    """Where one tensor's bytes sit: buffer ``buffer``, from byte ``offset``."""

    buffer: int
    offset: int
    dtype: torch.dtype
    shape: torch.Size
    tensor: torch.Tensor
    """The live tensor it was copied from (a reference, not a copy): the optimizer may have
    replaced its state tensor during the test, and this is the one to put back."""


class TrainingSnapshot:
    """The live tensors of a model and its optimizer, copied out by :meth:`take` and back by :meth:`restore`.

    Parameters and buffers are found again by name at restore, so a buffer the model replaced
    during the test is still put back. Optimizer state that did not exist when the snapshot was
    taken (Adam's moments, created by the test's first step) is removed, and the param groups'
    settings (the test's rates among them) are put back as they were.
    """

    def __init__(self, target: str, buffers: list[torch.Tensor], path: Path | None = None) -> None:
        self.target = target
        self.nbytes = sum(buffer.numel() for buffer in buffers)
        self._buffers = buffers
        self._path = path
        self._model: dict[str, _Slot] = {}
        self._optimizer_state: dict[int, dict[str, Any]] = {}
        self._param_groups: list[dict[str, Any]] = []
        self._empty_buffers: set[str] = set()
        self.removed_groups = 0
        """Param groups that were added during the test and taken out by :meth:`restore`."""

    @classmethod
    @torch.no_grad()
    def take(
        cls,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        target: str = "host",
        directory: str | os.PathLike | None = None,
        processes_per_host: int = 1,
    ) -> TrainingSnapshot:
        """Copy the model's and optimizer's tensors to ``target`` (see the module docstring).

        ``directory`` is where ``"disk"`` maps its file (the system temp folder when ``None``).
        The room is checked first: a target that cannot hold the state raises
        :class:`SnapshotSpaceError` before anything is allocated.
        """
        if target not in TARGETS:
            raise ValueError(f"snapshot must be one of {TARGETS}, got {target!r}")
        directory = Path(directory if directory is not None else tempfile.gettempdir())
        named = dict(_live_tensors(model, optimizer))
        # .get: optimizer.state is a defaultdict, and looking a parameter up would add an entry.
        state = {index: dict(optimizer.state.get(param, {})) for index, param in enumerate(_params(optimizer))}
        state = {index: values for index, values in state.items() if values}
        optimizer_tensors = [value for values in state.values() for value in values.values() if _is_tensor(value)]
        tensors = [*named.values(), *optimizer_tensors]
        state_bytes = sum(_aligned(_nbytes(tensor)) for tensor in tensors)
        free = measure_free_space(tensors, directory)
        pinned = any(_local(tensor).is_cuda for tensor in tensors)  # pinned memory only speeds up device copies
        if target == "auto":
            target = choose_target(state_bytes, free, processes_per_host, pinned)
        else:
            check_room(target, state_bytes, free, processes_per_host, pinned)

        layout, sizes = _layout(tensors, by_device=target == "device")
        buffers, path = _allocate(target, sizes, directory, pinned)
        snapshot = cls(target, buffers, path)
        slots = iter(layout)
        for name, tensor in named.items():
            snapshot._model[name] = snapshot._copy_in(tensor, next(slots))
        for index, values in state.items():
            snapshot._optimizer_state[index] = {
                key: snapshot._copy_in(value, next(slots)) if _is_tensor(value) else copy.deepcopy(value)
                for key, value in values.items()
            }
        snapshot._empty_buffers = set(_empty_buffers(model))
        snapshot._param_groups = [
            {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            for group in optimizer.param_groups
        ]
        _synchronize(tensors)
        return snapshot

    @torch.no_grad()
    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Put every saved value back into the tensors it came from, in place, so references hold.

        A tensor the model or the optimizer replaced during the test (a cache buffer rebuilt at
        another size, an optimizer state tensor) is put back itself, with its saved values; a
        buffer that was empty at the snapshot is emptied again. Everything that can be restored
        is restored before a model that gained or lost parameters is reported. A param group added
        during the test is taken out again (:attr:`removed_groups` counts them).
        """
        # A param group added while the test ran goes, with its state: the snapshot has no rates for it.
        added = optimizer.param_groups[len(self._param_groups) :]
        for group in added:
            for param in group["params"]:
                optimizer.state.pop(param, None)
        del optimizer.param_groups[len(self._param_groups) :]
        live = dict(_live_tensors(model, optimizer))
        written = []
        for name, slot in self._model.items():
            if live.get(name) is not slot.tensor:
                _reattach(model, name, slot.tensor)
            written += self._copy_out(slot)
        for name in live.keys() - self._model.keys():
            if name in self._empty_buffers:
                _reattach(model, name, None)
        for index, param in enumerate(_params(optimizer)):
            saved = self._optimizer_state.get(index)
            if saved is None:
                optimizer.state.pop(param, None)  # created by the test's steps
                continue
            current = optimizer.state[param]
            for key in list(current):
                if key not in saved:
                    del current[key]
            for key, value in saved.items():
                if isinstance(value, _Slot):
                    current[key] = value.tensor  # the very tensor it had, should the test have replaced it
                    written += self._copy_out(value)
                else:
                    current[key] = copy.deepcopy(value)
        for group, saved_group in zip(optimizer.param_groups, self._param_groups, strict=True):
            params = group["params"]
            group.clear()
            group.update(copy.deepcopy(saved_group), params=params)
        _synchronize(written)
        changed = sorted(name for name in live.keys() - self._model.keys() if name not in self._empty_buffers)
        missing = sorted(self._model.keys() - live.keys())
        self.removed_groups = len(added)
        if changed or missing:
            raise RuntimeError(
                "the model changed during the range test: everything the snapshot held was put back, but "
                f"{changed} appeared and {missing} could not be found again"
            )

    def release(self) -> None:
        """Free the buffers (and the disk file, where unlinking at once was not possible)."""
        self._buffers = []
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    # ------------------------------------------------------------------ byte views

    def _view(self, slot: _Slot) -> torch.Tensor:
        size = math.prod(slot.shape) * slot.dtype.itemsize
        raw = self._buffers[slot.buffer][slot.offset : slot.offset + size]
        return raw.view(slot.dtype).view(slot.shape)

    def _copy_out(self, slot: _Slot) -> list[torch.Tensor]:
        """Copy a slot back into its tensor; the tensor, or nothing for one that cannot change.

        A tensor whose elements share memory (``expand``-ed, a stride of 0) cannot be written in
        place, by the test either: its values are still the saved ones.
        """
        local = _local(slot.tensor)
        if _overlaps(local):
            return []
        local.copy_(self._view(slot), non_blocking=True)
        return [local]

    def _copy_in(self, tensor: torch.Tensor, placed: tuple[int, int]) -> _Slot:
        local = _local(tensor)
        slot = _Slot(placed[0], placed[1], local.dtype, local.shape, tensor)
        self._view(slot).copy_(local, non_blocking=True)
        return slot


def _live_tensors(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Iterator[tuple[str, torch.Tensor]]:
    """What a range test can change, by name, as this rank holds it (its shard, under FSDP).

    Parameters; persistent buffers (those ``state_dict`` holds: BatchNorm statistics, not caches
    a model rebuilds by itself); and parameters the optimizer steps that the model does not own.
    """
    seen: set[int] = set()
    for name, param in model.named_parameters():
        seen.add(id(param))
        yield f"param:{name}", param
    for prefix, module in model.named_modules():
        for name, buffer in module._buffers.items():
            if buffer is not None and name not in module._non_persistent_buffers_set and id(buffer) not in seen:
                seen.add(id(buffer))
                yield _buffer_name(prefix, name), buffer
    for index, param in enumerate(_params(optimizer)):
        if id(param) not in seen:
            yield f"optimizer_param:{index}", param


def _empty_buffers(model: torch.nn.Module) -> Iterator[str]:
    """Buffers registered as ``None`` (a cache a model fills later), named as :func:`_live_tensors` names them."""
    for prefix, module in model.named_modules():
        for name, buffer in module._buffers.items():
            if buffer is None:
                yield _buffer_name(prefix, name)


def _buffer_name(module_path: str, name: str) -> str:
    return f"buffer:{module_path}.{name}" if module_path else f"buffer:{name}"


def _reattach(model: torch.nn.Module, name: str, tensor: torch.Tensor | None) -> None:
    """Put ``tensor`` back under ``name`` in the module that owned it (an optimizer-only
    parameter is the optimizer's own object already)."""
    kind, _, path = name.partition(":")
    if kind == "optimizer_param":
        return
    owner, _, attribute = path.rpartition(".")
    module = model.get_submodule(owner)
    (module._parameters if kind == "param" else module._buffers)[attribute] = tensor


def _overlaps(tensor: torch.Tensor) -> bool:
    """Whether several elements share one memory location (a dimension of stride 0 and size > 1)."""
    return any(stride == 0 and size > 1 for size, stride in zip(tensor.shape, tensor.stride(), strict=True))


def _params(optimizer: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
    return [param for group in optimizer.param_groups for param in group["params"]]


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _local(tensor: torch.Tensor) -> torch.Tensor:
    """The part of ``tensor`` this rank holds: a ``DTensor``'s local shard (FSDP2), else the tensor.

    ``to_local()`` returns the shard's own storage, so copying into it writes the live tensor.
    """
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor.detach()


def _nbytes(tensor: torch.Tensor) -> int:
    local = _local(tensor)
    return local.numel() * local.element_size()


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def _layout(tensors: list[torch.Tensor], by_device: bool) -> tuple[list[tuple[int, int]], list[tuple[Any, int]]]:
    """Each tensor's (buffer, offset), and each buffer's (device or None, size in bytes).

    One buffer for everything on the host or disk; with ``by_device``, one per device.
    """
    buffers: dict[Any, int] = {}
    ends: list[int] = []
    placed = []
    for tensor in tensors:
        key = _local(tensor).device if by_device else None
        index = buffers.setdefault(key, len(buffers))
        if index == len(ends):
            ends.append(0)
        placed.append((index, ends[index]))
        ends[index] += _aligned(_nbytes(tensor))
    return placed, [(key, ends[index]) for key, index in buffers.items()]


def _allocate(
    target: str, sizes: list[tuple[Any, int]], directory: Path, pinned: bool
) -> tuple[list[torch.Tensor], Path | None]:
    if target == "device":
        return [torch.empty(size, dtype=torch.uint8, device=device) for device, size in sizes], None
    (_, size), *_ = sizes or [(None, 0)]
    if target == "host":
        return [torch.empty(size, dtype=torch.uint8, pin_memory=pinned)], None
    return _map_file(directory, size)


def _map_file(directory: Path, size: int) -> tuple[list[torch.Tensor], Path | None]:
    """A file of ``size`` bytes mapped as a tensor, unlinked at once where the system allows it."""
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".lr_find_snapshot_", suffix=".bin", dir=directory)
    path = Path(name)
    try:
        # Claim the blocks now: a disk that fills up during the test would otherwise end the
        # process with SIGBUS at a write into the mapping, not with an error here.
        if hasattr(os, "posix_fallocate") and size:
            os.posix_fallocate(handle, 0, size)
    except OSError as error:
        path.unlink(missing_ok=True)
        raise SnapshotSpaceError(f"snapshot='disk' could not reserve {gib(size)} in {directory}: {error}") from error
    finally:
        os.close(handle)
    try:
        mapped = torch.from_file(str(path), shared=True, size=max(size, 1), dtype=torch.uint8)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        path.unlink()  # the mapping keeps the data; the name is gone on every path out, a crash included
    except PermissionError:  # Windows cannot unlink a mapped file: release() deletes it
        return [mapped], path
    return [mapped], None


def _synchronize(tensors: Iterable[torch.Tensor]) -> None:
    """Wait for the non-blocking copies to land (a no-op for CPU tensors)."""
    for device in {tensor.device for tensor in tensors if tensor.is_cuda}:
        torch.cuda.synchronize(device)
