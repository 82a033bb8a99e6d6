"""One ``fit`` with the callback is a stage: its phase, its budget, and what a checkpoint keeps.

The fastai habit (train the head, unfreeze, train again) is two ``fit`` calls with one callback.
Each runs its own range test on the weights it starts from and its own one-cycle over its own
budget; a checkpoint taken inside a stage resumes that stage.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from torch.optim.lr_scheduler import OneCycleLR

if TYPE_CHECKING:
    from pytorch_lightning import Trainer


class Phase(str, Enum):
    """Where a stage is. A ``str`` so that checkpoints hold plain strings."""

    PENDING = "pending"
    """The test has not run yet."""
    SEARCHING = "searching"
    """The test is running."""
    HANDOVER = "handover"
    """The test ended in this epoch; the real fit starts with the next one."""
    TRAINING = "training"
    """The real fit is running (or ran to its end)."""
    FINISHED = "finished"
    """Nothing more to do: ``then="stop"``, a skipped test, or an interrupted one."""

    def __str__(self) -> str:
        return self.value

    def as_saved(self) -> Phase:
        """What a checkpoint records: a test cut off by the save has to start again, and a test
        that ended resumes as the real fit it hands over to."""
        return {Phase.SEARCHING: Phase.PENDING, Phase.HANDOVER: Phase.TRAINING}.get(self, self)


@dataclass(frozen=True)
class Budget:
    """The real fit's length, and what the test added to the Trainer's limits to keep it whole.

    ``real_steps`` is what the Trainer would have run without the callback (the one-cycle's
    ``total_steps``), ``None`` when its limits are open-ended. ``finder_epochs`` and
    ``finder_steps`` are the epochs and optimizer steps the test used; every finite limit is
    extended by them.
    """

    real_steps: int | None
    finder_epochs: int = 0
    finder_steps: int = 0


@dataclass
class Stage:
    """The state of one stage that outlives a hook: phase, budget, group ratios, schedule."""

    number: int = 1
    phase: Phase = Phase.PENDING
    budget: Budget = field(default_factory=lambda: Budget(real_steps=None))
    group_ratios: list[float] = field(default_factory=list)
    joined_groups: int = 0
    """Param groups that joined the one-cycle during the real fit (the last of ``group_ratios``)."""
    real_epochs: bool = True
    """Whether the real fit counts its epochs from its own start; a checkpoint of pl_lrfind 0.1
    counted the test's epochs too, and resumes so."""
    scheduler: OneCycleLR | None = None
    """The one-cycle schedule of the real fit, once installed."""
    saved_scheduler_state: dict[str, Any] | None = None
    """The schedule's position as loaded from a checkpoint, until it is installed again."""

    def next(self) -> Stage:
        """A fresh stage for the next ``fit``."""
        return Stage(number=self.number + 1)

    @property
    def scheduler_state(self) -> dict[str, Any] | None:
        """The one-cycle schedule's position, live or as loaded from a checkpoint."""
        return self.scheduler.state_dict() if self.scheduler is not None else self.saved_scheduler_state

    def state_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "phase": self.phase.as_saved().value,
            "budget": asdict(self.budget),
            "group_ratios": list(self.group_ratios),
            "joined_groups": self.joined_groups,
            "real_epochs": self.real_epochs,
            "scheduler": self.scheduler_state,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Stage:
        return cls(
            number=state["number"],
            phase=Phase(state["phase"]),
            budget=Budget(**state["budget"]) if state["budget"] else Budget(real_steps=None),
            group_ratios=list(state["group_ratios"]),
            joined_groups=state.get("joined_groups", 0),  # pl_lrfind 0.1 wrote neither
            real_epochs=state.get("real_epochs", False),
            saved_scheduler_state=state["scheduler"],
        )


def one_stage_state(old: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of pl_lrfind 0.1 in today's layout: stage 1, with its result if it had one."""
    return {
        "results": [old["result"]] if old["result"] else [],
        "stage": {
            "number": 1,
            "phase": old["phase"],
            "budget": old["budget"],
            "group_ratios": old["group_ratios"],
            "scheduler": old["scheduler"],
        },
    }


class FitInProgress:
    """The fit the callback is attached to, from ``setup`` on: its Trainer (weakly) and where it is."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = weakref.ref(trainer)
        self.started = False
        self.limits_extended = False
