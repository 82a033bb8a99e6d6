"""A copy of everything a range test changes, kept in host memory and put back bit for bit."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch


def to_host(obj: Any) -> Any:
    """A deep copy of ``obj`` with every tensor copied to CPU memory.

    ``state_dict()`` returns references to the live tensors, so a copy is needed anyway; making
    it on the host keeps accelerator memory free for the steps of the test.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {key: to_host(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_host(value) for value in obj)
    return copy.deepcopy(obj)


@dataclass
class TrainingSnapshot:
    """Model parameters and buffers (BatchNorm statistics included) and optimizer state."""

    model: dict[str, Any]
    optimizer: dict[str, Any]

    @classmethod
    def take(cls, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> TrainingSnapshot:
        return cls(model=to_host(model.state_dict()), optimizer=to_host(optimizer.state_dict()))

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Copy the saved values back into the live tensors (in place, so references hold)."""
        model.load_state_dict(self.model)
        # load_state_dict keeps references into what it is given; give it a copy so the
        # snapshot could be restored again.
        optimizer.load_state_dict(copy.deepcopy(self.optimizer))
