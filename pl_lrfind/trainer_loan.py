"""What the range test borrows from the Trainer while it runs, and gives back at the hand-over.

While the test runs, the callbacks that watch the fit are held back, the user's schedulers are
set aside, validation is off and the epoch and step limits are open-ended. When it ends, the step
limits are extended by exactly the steps the test used. At the next epoch start the epoch count
goes back to where the test began, so every epoch-based setting (``check_val_every_n_epoch``,
``ModelCheckpoint(every_n_epochs=...)``, ``BackboneFinetuning``'s epoch, SWA's start) acts at the
epoch of the real fit the user wrote, while ``global_step`` keeps counting; then everything else
is given back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from torch.utils.data import IterableDataset

from . import _lightning
from .schedule import one_cycle
from .stage import Budget, FitInProgress, Phase, Stage

if TYPE_CHECKING:
    from pytorch_lightning import Callback, Trainer


class TrainerLoan:
    """The Trainer's settings the test changes, taken by :meth:`take` and put back by :meth:`give_back`."""

    def __init__(self, trainer: Trainer) -> None:
        self.callbacks = list(trainer.callbacks)
        self.schedulers = trainer.strategy.lr_scheduler_configs
        self.limit_val_batches = trainer.limit_val_batches
        self.max_epochs = trainer.fit_loop.max_epochs
        self.min_epochs = trainer.fit_loop.min_epochs
        self.max_steps = trainer.max_steps
        self.start_epoch = trainer.current_epoch
        self.start_step = trainer.global_step
        self._limits_set = False
        self._given_back = False

    @classmethod
    def take(cls, trainer: Trainer, first: Callback) -> TrainerLoan:
        """Record the Trainer's settings, then change them for the test.

        ``first`` (the finder) runs first among the callbacks left, so that at the real fit's first
        epoch start it sets the epoch count back before any other callback reads it.
        """
        loan = cls(trainer)
        observers = _lightning.fit_observers(trainer)
        kept = [callback for callback in trainer.callbacks if not isinstance(callback, observers)]
        trainer.callbacks = [first, *(callback for callback in kept if callback is not first)]
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
        # Until restart_epochs, the epoch limits count the test's epochs too: the fit loop checks
        # them when the test's last epoch ends.
        extend_limits(trainer, budget, epochs=True)
        end_epoch_after_this_batch(trainer)
        return budget

    def restart_epochs(self, trainer: Trainer) -> None:
        """At the real fit's first epoch start: count epochs again from where the test began.

        Lightning has just readied this epoch, so its counters read one epoch ready and none
        started, processed or completed since ``start_epoch``; ``trainer.current_epoch`` reads
        ``start_epoch``. The total counters, which Lightning's restart logic compares, are left alone.
        """
        current = trainer.fit_loop.epoch_progress.current
        current.ready, current.started = self.start_epoch + 1, self.start_epoch
        current.processed = current.completed = self.start_epoch
        self._restore_epoch_limits(trainer)
        if self.start_epoch == 0:
            # The epoch loop starts a new pass over the data for every epoch but the first, whose
            # pass FitLoop.setup_data started and the test used: start this one here.
            iter(trainer.fit_loop._data_fetcher)

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
        self._restore_epoch_limits(trainer)  # a fit that ended between the test and the real fit
        active = set(map(id, trainer.callbacks))
        held_back = [callback for callback in self.callbacks if id(callback) not in active]
        trainer.callbacks = self.callbacks
        trainer.strategy.lr_scheduler_configs = self.schedulers
        trainer.limit_val_batches = self.limit_val_batches
        return held_back

    def _restore_limits(self, trainer: Trainer) -> None:
        self._restore_epoch_limits(trainer)
        trainer.fit_loop.epoch_loop.max_steps = self.max_steps
        self._limits_set = True

    def _restore_epoch_limits(self, trainer: Trainer) -> None:
        trainer.fit_loop.max_epochs, trainer.fit_loop.min_epochs = self.max_epochs, self.min_epochs


def remaining_steps(trainer: Trainer) -> int | None:
    """Optimizer steps the Trainer would still run without the callback; None if unbounded."""
    limits = []
    if trainer.max_steps >= 0:
        limits.append(trainer.max_steps - trainer.global_step)
    per_epoch = steps_per_epoch(trainer)
    if trainer.max_epochs is not None and trainer.max_epochs >= 0 and per_epoch is not None:
        limits.append((trainer.max_epochs - trainer.current_epoch) * per_epoch)
    return max(0, min(limits)) if limits else None


def steps_per_epoch(trainer: Trainer) -> int | None:
    """Optimizer steps in one epoch of the Trainer's dataloader; ``None`` when it has no length."""
    batches = trainer.num_training_batches
    return math.ceil(batches / trainer.accumulate_grad_batches) if math.isfinite(batches) else None


def extend_limits(trainer: Trainer, budget: Budget, epochs: bool = False) -> None:
    """Add the test's optimizer steps to the finite step limits, so the real fit keeps its budget.

    ``global_step`` counts the test's steps; the epochs are counted from the real fit's start
    (:meth:`TrainerLoan.restart_epochs`), so the epoch limits stay the user's, unless ``epochs``:
    from the test's end to that restart, and for a checkpoint of pl_lrfind 0.1, whose real fit
    counted the test's epochs too.
    """
    if epochs:
        trainer.fit_loop.max_epochs = _plus(trainer.fit_loop.max_epochs, budget.finder_epochs)
        trainer.fit_loop.min_epochs = _plus(trainer.fit_loop.min_epochs, budget.finder_epochs)
    # Lightning keeps the step limits on the fit loop's epoch loop.
    steps = trainer.fit_loop.epoch_loop
    if steps.max_steps >= 0:
        steps.max_steps += budget.finder_steps
    if steps.min_steps:
        steps.min_steps += budget.finder_steps


def extend_resumed_limits(fit: FitInProgress | None, stage: Stage) -> None:
    """A fit resumed inside the real fit gets the test's epochs and steps back on its limits.

    The fit loop decides whether there is anything left to run before ``on_train_start``, so this
    happens once both the fit has started and the checkpoint's state is loaded: for most
    strategies the state comes first (the callback calls this from ``on_fit_start``); FSDP and
    ``ModelParallelStrategy`` load it after ``on_fit_start`` (and from ``load_state_dict``).
    """
    if fit is None or not fit.started or fit.limits_extended or stage.phase is not Phase.TRAINING:
        return
    trainer = fit.trainer()
    if trainer is not None:
        extend_limits(trainer, stage.budget, epochs=not stage.real_epochs)
        fit.limits_extended = True


def _plus(limit: int | None, epochs: int) -> int | None:
    """An epoch limit moved by ``epochs``; an open one (``None``, -1) or none (0) stays."""
    return limit + epochs if limit is not None and limit > 0 else limit


def end_epoch_after_this_batch(trainer: Trainer) -> None:
    """Make the current batch the last of its epoch.

    This is the flag Lightning itself raises when ``on_train_batch_start`` returns -1 or the
    data runs out: the epoch loop then completes the batch's bookkeeping and its epoch-end
    hooks, so progress counters stay consistent for checkpoints and resume. Lightning offers
    no public way for a callback to end an epoch, so this one attribute is the price.
    """
    trainer.fit_loop.epoch_loop.batch_progress.is_last_batch = True


def passes_over_data(trainer: Trainer, real_steps: int) -> float | None:
    """The real fit's optimizer steps over an epoch's; ``None`` for a stream (an ``IterableDataset``
    or a dataloader of no length)."""
    loaders = trainer.train_dataloader
    loaders = loaders.values() if isinstance(loaders, Mapping) else loaders
    loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
    if any(isinstance(getattr(loader, "dataset", None), IterableDataset) for loader in loaders):
        return None
    per_epoch = steps_per_epoch(trainer)
    return real_steps / per_epoch if per_epoch else None


def install_one_cycle(trainer: Trainer, stage: Stage, peak: float, settings: Mapping, *, resume: bool) -> None:
    """Replace the Trainer's schedulers by one ``OneCycleLR`` to ``peak`` (each group at its ratio),
    stepped every optimizer step; on ``resume``, from the stage's saved state."""
    optimizer = trainer.optimizers[0]
    # Constructing OneCycleLR rewrites the groups' lr and momentum to step 0; the optimizer
    # restored from a checkpoint already holds the values to go on with.
    saved_groups = [dict(group) for group in optimizer.param_groups] if resume else []
    peaks = [peak * ratio for ratio in stage.group_ratios]
    stage.scheduler = one_cycle(optimizer, peaks, stage.budget.real_steps, **settings)
    if resume:
        stage.scheduler.load_state_dict(stage.saved_scheduler_state)
        for group, saved in zip(optimizer.param_groups, saved_groups, strict=True):
            group.update(saved)
    trainer.strategy.lr_scheduler_configs = [_lightning.scheduler_config(trainer, stage.scheduler)]
