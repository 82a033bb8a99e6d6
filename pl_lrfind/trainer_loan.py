"""What the range test borrows from the Trainer while it runs, and gives back at the hand-over.

While the test runs, the callbacks that watch the fit are held back, the user's schedulers are
set aside, validation is off and the epoch and step limits are open-ended. When it ends, the
limits are set to the user's, extended by exactly what the test used; at the next epoch start
everything else is given back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import _lightning
from .stage import Budget

if TYPE_CHECKING:
    from pytorch_lightning import Callback, Trainer


class TrainerLoan:
    """The Trainer's settings the test changes, taken by :meth:`take` and put back by :meth:`give_back`."""

    def __init__(self, trainer: Trainer) -> None:
        self.callbacks = list(trainer.callbacks)
        self.schedulers = trainer.strategy.lr_scheduler_configs
        self.limit_val_batches = trainer.limit_val_batches
        self.max_epochs = trainer.fit_loop.max_epochs
        self.max_steps = trainer.max_steps
        self.start_epoch = trainer.current_epoch
        self.start_step = trainer.global_step
        self._limits_set = False
        self._given_back = False

    @classmethod
    def take(cls, trainer: Trainer) -> TrainerLoan:
        """Record the Trainer's settings, then change them for the test."""
        loan = cls(trainer)
        observers = _lightning.fit_observers(trainer)
        trainer.callbacks = [callback for callback in trainer.callbacks if not isinstance(callback, observers)]
        trainer.strategy.lr_scheduler_configs = []
        trainer.limit_val_batches = 0
        # Open-ended while the test runs; set to exactly the user's budget + what the test used after.
        trainer.fit_loop.max_epochs = -1
        trainer.fit_loop.epoch_loop.max_steps = -1
        return loan

    def end_test(self, trainer: Trainer, real_steps: int | None) -> Budget:
        """The test ended on this batch: end its epoch here and give the real fit its whole budget."""
        budget = Budget(
            real_steps=real_steps,
            finder_epochs=trainer.current_epoch - self.start_epoch + 1,
            finder_steps=trainer.global_step - self.start_step,
        )
        self._restore_limits(trainer)
        extend_limits(trainer, budget)
        end_epoch_after_this_batch(trainer)
        return budget

    def give_back(self, trainer: Trainer) -> list[Callback]:
        """Put back what the test set aside; return the callbacks that were held back.

        Safe to call twice (the hand-over and then the end of the fit, or an exception): only
        the first call changes anything.
        """
        if self._given_back:
            return []
        self._given_back = True
        if not self._limits_set:  # the fit ended inside the test: no budget to extend
            self._restore_limits(trainer)
        active = set(map(id, trainer.callbacks))
        held_back = [callback for callback in self.callbacks if id(callback) not in active]
        trainer.callbacks = self.callbacks
        trainer.strategy.lr_scheduler_configs = self.schedulers
        trainer.limit_val_batches = self.limit_val_batches
        return held_back

    def _restore_limits(self, trainer: Trainer) -> None:
        trainer.fit_loop.max_epochs = self.max_epochs
        trainer.fit_loop.epoch_loop.max_steps = self.max_steps
        self._limits_set = True


def remaining_steps(trainer: Trainer) -> int | None:
    """Optimizer steps the Trainer would still run without the callback; None if unbounded."""
    limits = []
    if trainer.max_steps >= 0:
        limits.append(trainer.max_steps - trainer.global_step)
    batches = trainer.num_training_batches
    if trainer.max_epochs is not None and trainer.max_epochs >= 0 and math.isfinite(batches):
        steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        limits.append((trainer.max_epochs - trainer.current_epoch) * steps_per_epoch)
    return max(0, min(limits)) if limits else None


def extend_limits(trainer: Trainer, budget: Budget) -> None:
    """Add the test's epochs and steps to every finite limit, so the real fit keeps its budget."""
    # Lightning keeps the epoch limits on the fit loop and the step limits on its epoch loop.
    epochs, steps = trainer.fit_loop, trainer.fit_loop.epoch_loop
    if epochs.max_epochs is not None and epochs.max_epochs >= 0:
        epochs.max_epochs += budget.finder_epochs
    if steps.max_steps >= 0:
        steps.max_steps += budget.finder_steps
    if epochs.min_epochs:
        epochs.min_epochs += budget.finder_epochs
    if steps.min_steps:
        steps.min_steps += budget.finder_steps


def end_epoch_after_this_batch(trainer: Trainer) -> None:
    """Make the current batch the last of its epoch.

    This is the flag Lightning itself raises when ``on_train_batch_start`` returns -1 or the
    data runs out: the epoch loop then completes the batch's bookkeeping and its epoch-end
    hooks, so progress counters stay consistent for checkpoints and resume. Lightning offers
    no public way for a callback to end an epoch, so this one attribute is the price.
    """
    trainer.fit_loop.epoch_loop.batch_progress.is_last_batch = True
