"""The Lightning adapter: runs the range test inside ``trainer.fit`` and hands over to the real fit.

How a fit with the callback unfolds::

    on_train_start      snapshot weights + optimizer to host memory; set aside the user's
                        schedulers, the callbacks that watch the fit, and validation
    finder epoch(s)     one optimizer step per rung of the ladder; the rate is set after every
                        optimizer step in ``on_train_batch_end``
    end of the test     restore the snapshot bit for bit; end the current epoch there;
                        extend the Trainer's budget by exactly what the test used
    next epoch start    put back callbacks and validation; install one-cycle (or the user's own
                        schedulers at the found rate); the real fit runs its full budget

The test runs in epochs of its own so that the real fit starts on an epoch boundary: every real
epoch sees the whole dataset, is validated and checkpointed as the user configured, and the
epoch-end validation of the last real epoch happens as it would without the callback.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim.lr_scheduler import OneCycleLR

from . import _lightning
from . import tensorboard as tb_log
from .core import UNREADABLE, LRFindResult, RangeTest, StopReason
from .core.range_test import check_choice, check_positive, mean_loss, validate_settings
from .core.rules import DEFAULT_RULE
from .schedule import one_cycle
from .snapshot import TrainingSnapshot

THEN = ("one_cycle", "set", "stop")
ANNEAL_STRATEGIES = ("cos", "linear")

PENDING = "pending"  # the test has not run yet
SEARCHING = "searching"  # the test is running
HANDOVER = "handover"  # the test ended this epoch; the real fit starts with the next one
TRAINING = "training"  # the real fit is running
FINISHED = "finished"  # nothing more to do (then="stop", or the fit ended)


_SAVED_PHASE = {SEARCHING: PENDING, HANDOVER: TRAINING}
"""What a checkpoint records for a phase that cannot be resumed as is: a test cut off by the
save has to start again, and a test that ended resumes as the real fit it hands over to."""


class UnsupportedSetupError(RuntimeError):
    """The Trainer or LightningModule is configured in a way the finder cannot serve."""


class LRFinderCallback(*_lightning.CALLBACK_BASES):
    """Learning-rate range test inside the fit, chained into a one-cycle schedule.

    Args:
        min_lr, max_lr: first and last rate of the ladder (for the param group with the
            highest configured rate; other groups keep their ratio to it).
        num_steps: rungs on the ladder (measured points of the curve).
        mode: ``"exponential"`` (evenly spaced in log) or ``"linear"``.
        beta: EMA factor of the smoothed loss that the stop rule watches.
        divergence_threshold: stop when the smoothed loss rises this many times above its best.
        suggestion: the rule that turns the curve into a rate; see :data:`pl_lrfind.core.RULES`.
        steps_per_lr: optimizer steps per rung, averaged into one point (noise control).
        then: what follows the test: ``"one_cycle"`` (default) replaces the schedulers with
            ``torch.optim.lr_scheduler.OneCycleLR`` peaking at the chosen rate over exactly the
            steps the Trainer would have run; ``"set"`` applies the chosen rate and keeps the
            user's own schedulers; ``"stop"`` ends the fit after the test.
        lr_factor: the chosen rate is ``suggestion * lr_factor``.
        pct_start, div_factor, final_div_factor, anneal_strategy, three_phase: passed to
            ``OneCycleLR``.
        cycle_momentum, base_momentum, max_momentum: momentum (or Adam's beta1) cycling, done
            only when the optimizer has momentum to cycle (plain SGD is left alone).
        log_to_tensorboard: log the curve (``lr_find/...`` scalars, a figure and a summary
            text) and the one-cycle rates of the real fit. Uses the Trainer's
            ``TensorBoardLogger`` when it has one, else a run of its own under
            ``default_root_dir/lr_find``. Rank zero only.
        verbose: print the result's summary (rank zero).
    """

    def __init__(
        self,
        min_lr: float = 1e-7,
        max_lr: float = 10.0,
        num_steps: int = 100,
        mode: str = "exponential",
        beta: float = 0.98,
        divergence_threshold: float = 3.0,
        suggestion: str = DEFAULT_RULE,
        steps_per_lr: int = 1,
        then: str = "one_cycle",
        lr_factor: float = 1.0,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        anneal_strategy: str = "cos",
        three_phase: bool = False,
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        log_to_tensorboard: bool = True,
        verbose: bool = True,
    ) -> None:
        validate_settings(min_lr, max_lr, num_steps, mode, beta, divergence_threshold, steps_per_lr, suggestion)
        check_choice("then", then, THEN)
        check_choice("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
        check_positive("lr_factor", lr_factor)
        check_positive("div_factor", div_factor)
        check_positive("final_div_factor", final_div_factor)
        if not 0.0 < pct_start < 1.0:
            raise ValueError(f"pct_start must lie in (0, 1), got {pct_start!r}")
        if not 0.0 <= base_momentum <= max_momentum < 1.0:
            raise ValueError(
                "base_momentum and max_momentum must satisfy 0 <= base_momentum <= max_momentum < 1, "
                f"got base_momentum={base_momentum!r}, max_momentum={max_momentum!r}"
            )
        self.range_test_settings = dict(
            min_lr=min_lr,
            max_lr=max_lr,
            num_steps=num_steps,
            mode=mode,
            beta=beta,
            divergence_threshold=divergence_threshold,
            suggestion=suggestion,
            steps_per_lr=steps_per_lr,
        )
        self.then = then
        self.lr_factor = lr_factor
        self.one_cycle_settings = dict(
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            anneal_strategy=anneal_strategy,
            three_phase=three_phase,
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )
        self.cycle_momentum = cycle_momentum
        self.log_to_tensorboard = log_to_tensorboard
        self.verbose = verbose

        self.result: LRFindResult | None = None
        self.phase = PENDING
        self.scheduler: OneCycleLR | None = None
        # What the test borrowed from the Trainer, given back at hand-over.
        self._snapshot: TrainingSnapshot | None = None
        self._range_test: RangeTest | None = None
        self._set_aside: dict[str, Any] = {}
        self._budget: dict[str, Any] = {}
        self._group_ratios: list[float] = []
        self._micro_losses: list[float] = []
        self._last_global_step = 0
        self._scale_before_step: float | None = None
        self._scheduler_state: dict | None = None
        self._writer = None  # a SummaryWriter on rank zero while logging, else None
        self._own_logger = None  # the TensorBoardLogger we opened when the Trainer had none
        self._state_key: str | None = None

    @property
    def state_key(self) -> str:
        # Lightning builds a profiler label from this on every hook call (a dozen per step);
        # the settings never change after construction, so the key is built once.
        if self._state_key is None:
            self._state_key = self._generate_state_key(**self.range_test_settings, then=self.then)
        return self._state_key

    # ------------------------------------------------------------------ set-up

    def on_fit_start(self, trainer, pl_module) -> None:
        if not pl_module.automatic_optimization:
            raise UnsupportedSetupError(
                "LRFinderCallback supports automatic optimization only (one optimizer stepped by Lightning); "
                "this LightningModule sets automatic_optimization = False."
            )
        optimizers = trainer.optimizers
        # With configure_optimizers returning None, Lightning steps a stand-in with no rates.
        if len(optimizers) != 1 or not all("lr" in group for group in optimizers[0].param_groups or [{}]):
            raise UnsupportedSetupError(
                "LRFinderCallback supports exactly one optimizer with a learning rate (any number of param "
                "groups); configure_optimizers gave none or several."
            )

        if self.phase == TRAINING:
            # Resumed from a checkpoint of the real fit. The fit loop decides whether there is
            # anything left to run before on_train_start, so the budget is extended here.
            self._extend_budget(trainer, **self._budget)

    def on_train_start(self, trainer, pl_module) -> None:
        if self.phase == TRAINING:  # resumed from a checkpoint of the real fit
            self._writer = self._open_writer(trainer)
            if self.scheduler_state is not None:
                self._install_one_cycle(trainer, self.scheduler_state)
            return
        if self.phase != PENDING:
            return
        if trainer.fast_dev_run:
            self._skip(trainer, "fast_dev_run is on: it runs a handful of batches to check code, not a curve")
            return
        self._start_search(trainer, pl_module)

    def _start_search(self, trainer, pl_module) -> None:
        optimizer = trainer.optimizers[0]
        self._budget = {"real_steps": _remaining_steps(trainer)}
        if self.then == "one_cycle" and self._budget["real_steps"] is None:
            raise UnsupportedSetupError(
                "then='one_cycle' needs a finite budget to plan the cycle: set max_steps (or max_epochs "
                "with a sized dataloader) on the Trainer, or use then='set'."
            )
        self._snapshot = TrainingSnapshot.take(pl_module, optimizer)
        self._group_ratios = _group_ratios(optimizer)
        self._range_test = RangeTest(**self.range_test_settings)
        self._writer = self._open_writer(trainer)
        self._set_aside = {
            "callbacks": list(trainer.callbacks),
            "schedulers": trainer.strategy.lr_scheduler_configs,
            "limit_val_batches": trainer.limit_val_batches,
            "max_epochs": trainer.fit_loop.max_epochs,
            "max_steps": trainer.max_steps,
            "start_epoch": trainer.current_epoch,
            "start_step": trainer.global_step,
        }
        observers = _lightning.fit_observers(trainer)
        trainer.callbacks = [cb for cb in trainer.callbacks if not isinstance(cb, observers)]
        trainer.strategy.lr_scheduler_configs = []
        trainer.limit_val_batches = 0
        # Open-ended while the test runs; set to exactly user budget + what the test used after.
        trainer.fit_loop.max_epochs = -1
        trainer.fit_loop.epoch_loop.max_steps = -1
        self._last_global_step = trainer.global_step
        self._micro_losses = []
        self.phase = SEARCHING
        self._apply_lr(optimizer, self._range_test.current_lr)

    # ------------------------------------------------------------------ the test

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self.phase == SEARCHING:
            scaler = _grad_scaler(trainer)
            self._scale_before_step = scaler.get_scale() if scaler is not None else None
        elif self.phase == TRAINING and self.scheduler is not None and self._writer is not None:
            groups = optimizer.param_groups
            momenta = [_momentum(group) for group in groups] if self.scheduler.cycle_momentum else None
            tb_log.log_schedule(self._writer, trainer.global_step, [group["lr"] for group in groups], momenta)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.phase != SEARCHING:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            # Lightning divides each micro-batch loss by accumulate_grad_batches; undo it so the
            # point recorded is the mean loss of the optimizer step, whatever its length.
            self._micro_losses.append(float(loss) * trainer.accumulate_grad_batches)
        if trainer.global_step == self._last_global_step:
            return  # still accumulating: no optimizer step yet
        self._last_global_step = trainer.global_step
        micro_losses, self._micro_losses = self._micro_losses, []
        if self._step_was_skipped(trainer) or not micro_losses:
            return  # the grad scaler skipped the step (or training_step returned None)
        step_loss = mean_loss(micro_losses)
        if trainer.world_size > 1:  # every rank must see the same curve and stop on the same step
            reduced = trainer.strategy.reduce(torch.tensor(step_loss, device=pl_module.device), reduce_op="mean")
            step_loss = float(reduced)
        test = self._range_test
        points = len(test.lrs)
        done = test.record(step_loss)
        if self._writer is not None and len(test.lrs) > points:
            tb_log.log_step(self._writer, trainer.global_step, test.lrs[-1], test.losses[-1], test.smoothed[-1])
        if done:
            self._finish_search(trainer, pl_module)
        else:
            self._apply_lr(trainer.optimizers[0], self._range_test.current_lr)

    def _step_was_skipped(self, trainer) -> bool:
        """Under fp16 the grad scaler skips steps with inf/NaN gradients and lowers its scale."""
        scaler = _grad_scaler(trainer)
        if scaler is None or self._scale_before_step is None:
            return False
        return scaler.get_scale() < self._scale_before_step

    def _apply_lr(self, optimizer, lr: float) -> None:
        for group, ratio in zip(optimizer.param_groups, self._group_ratios, strict=True):
            group["lr"] = lr * ratio

    # ------------------------------------------------------------------ hand-over

    def _conclude(self, trainer, pl_module, reason: StopReason | None = None) -> None:
        """Stop the test (if ``reason``), put the snapshot back bit for bit, and judge the curve."""
        if reason is not None:
            self._range_test.stop(reason)
        self._snapshot.restore(pl_module, trainer.optimizers[0])
        self._snapshot = None
        self.result = self._range_test.result()
        self._range_test = None

    def _finish_search(self, trainer, pl_module, reason: StopReason | None = None) -> None:
        """End the test: restore, judge the curve, and plan the real fit."""
        self._conclude(trainer, pl_module, reason)
        rank_zero = _lightning.rank_zero(trainer)
        readable = self.result.diagnosis not in UNREADABLE
        if self.result.suggestion is not None and readable and self.then != "stop":
            self.result.chosen_lr = self.result.suggestion * self.lr_factor
        self._log_result(trainer)
        if self.verbose:
            rank_zero.rank_zero_info(self.result.summary())
        if self.result.diagnosis != "ok":
            rank_zero.rank_zero_warn(f"lr_find diagnosis '{self.result.diagnosis}': {self.result.advice}")

        used = {
            "finder_epochs": trainer.current_epoch - self._set_aside["start_epoch"] + 1,
            "finder_steps": trainer.global_step - self._set_aside["start_step"],
        }
        self._budget.update(used)
        trainer.fit_loop.max_epochs = self._set_aside["max_epochs"]
        trainer.fit_loop.epoch_loop.max_steps = self._set_aside["max_steps"]
        self._extend_budget(trainer, **self._budget)
        _end_epoch_after_this_batch(trainer)
        if self.then == "stop" or reason is StopReason.INTERRUPTED:
            trainer.should_stop = True
            self.phase = FINISHED
            return
        if self.result.chosen_lr is None:
            rank_zero.rank_zero_warn(
                f"lr_find hands no rate to the fit (diagnosis '{self.result.diagnosis}'); the fit goes on "
                "with your configured learning rate and schedulers."
            )
        self.phase = HANDOVER

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.phase != HANDOVER:
            return
        held_back = self._give_back(trainer)
        optimizer = trainer.optimizers[0]
        if self.result.chosen_lr is not None and self.then == "one_cycle":
            self._install_one_cycle(trainer)
        elif self.result.chosen_lr is not None and self.then == "set":
            _rescale_base_lrs(trainer, optimizer, [self.result.chosen_lr * r for r in self._group_ratios])
        self.phase = TRAINING
        # Lightning is already iterating the shorter callback list; the callbacks that were
        # held back still need to hear that the first real epoch starts.
        for callback in held_back:
            callback.on_train_epoch_start(trainer, pl_module)

    def _give_back(self, trainer) -> list:
        """Put back what the test set aside; return the callbacks that were held back."""
        if not self._set_aside:
            return []
        active = set(map(id, trainer.callbacks))
        held_back = [cb for cb in self._set_aside["callbacks"] if id(cb) not in active]
        trainer.callbacks = self._set_aside["callbacks"]
        trainer.strategy.lr_scheduler_configs = self._set_aside["schedulers"]
        trainer.limit_val_batches = self._set_aside["limit_val_batches"]
        self._set_aside = {}
        return held_back

    def _install_one_cycle(self, trainer, state: dict | None = None) -> None:
        """Replace the Trainer's schedulers by one ``OneCycleLR`` stepped every optimizer step."""
        optimizer = trainer.optimizers[0]
        total_steps = self._budget["real_steps"]
        max_lrs = [self.result.chosen_lr * ratio for ratio in self._group_ratios]
        if state is not None:
            # Constructing OneCycleLR rewrites the groups' lr and momentum to step 0; the
            # optimizer restored from the checkpoint already holds the values to go on with.
            saved_groups = [dict(group) for group in optimizer.param_groups]
        self.scheduler = one_cycle(
            optimizer, max_lrs, total_steps, cycle_momentum=self.cycle_momentum, **self.one_cycle_settings
        )
        if state is not None:
            self.scheduler.load_state_dict(state)
            for group, saved in zip(optimizer.param_groups, saved_groups, strict=True):
                group.update(saved)
        trainer.strategy.lr_scheduler_configs = [_lightning.scheduler_config(trainer, self.scheduler)]

    def _extend_budget(self, trainer, finder_epochs: int = 0, finder_steps: int = 0, **_: Any) -> None:
        """Add the test's epochs and steps to every finite limit, so the real fit keeps its budget."""
        # Lightning keeps the epoch limits on the fit loop and the step limits on its epoch loop.
        epochs, steps = trainer.fit_loop, trainer.fit_loop.epoch_loop
        if epochs.max_epochs is not None and epochs.max_epochs >= 0:
            epochs.max_epochs += finder_epochs
        if steps.max_steps >= 0:
            steps.max_steps += finder_steps
        if epochs.min_epochs:
            epochs.min_epochs += finder_epochs
        if steps.min_steps:
            steps.min_steps += finder_steps

    def _skip(self, trainer, why: str) -> None:
        self.phase = FINISHED
        skipped = RangeTest(**self.range_test_settings)
        skipped.stop(StopReason.SKIPPED)
        self.result = skipped.result()
        _lightning.rank_zero(trainer).rank_zero_info(f"lr_find skipped: {why}.")

    # ------------------------------------------------------------------ failures and the end

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        """Restore the weights before the exception leaves ``trainer.fit``."""
        if self.phase == SEARCHING:
            self._conclude(trainer, pl_module, StopReason.INTERRUPTED)
            self.phase = FINISHED
            self._log_result(trainer)
        self._give_back(trainer)
        self._close_writer()

    def on_train_end(self, trainer, pl_module) -> None:
        if self.phase == SEARCHING:  # the fit ended before the test did (e.g. a max_time limit)
            self._finish_search(trainer, pl_module, StopReason.INTERRUPTED)
        self._give_back(trainer)
        self._close_writer()

    # ------------------------------------------------------------------ logging

    def _open_writer(self, trainer):
        """The Trainer's TensorBoard writer, else one of our own; None off rank zero or when off."""
        if not self.log_to_tensorboard or not trainer.is_global_zero:
            return None
        tensorboard_logger = _lightning.namespace_of(trainer).loggers.TensorBoardLogger
        for logger in trainer.loggers:
            if isinstance(logger, tensorboard_logger):
                return logger.experiment
        self._own_logger = tensorboard_logger(save_dir=trainer.default_root_dir, name="lr_find")
        return self._own_logger.experiment

    def _log_result(self, trainer) -> None:
        if self._writer is not None:
            tb_log.log_result(self._writer, self.result, trainer.global_step)
            self._writer.flush()

    def _close_writer(self) -> None:
        if self._own_logger is not None:
            self._own_logger.finalize("success")
            self._own_logger = None
        self._writer = None

    # ------------------------------------------------------------------ checkpoints

    @property
    def scheduler_state(self) -> dict | None:
        """The one-cycle schedule's position, live or as loaded from a checkpoint."""
        return self.scheduler.state_dict() if self.scheduler is not None else self._scheduler_state

    def state_dict(self) -> dict[str, Any]:
        return {
            "phase": _SAVED_PHASE.get(self.phase, self.phase),
            "result": self.result.to_dict() if self.result is not None else None,
            "budget": dict(self._budget),
            "group_ratios": list(self._group_ratios),
            "scheduler": self.scheduler_state,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.phase = state_dict["phase"]
        self.result = LRFindResult.from_dict(state_dict["result"]) if state_dict["result"] else None
        self._budget = dict(state_dict["budget"])
        self._group_ratios = list(state_dict["group_ratios"])
        self._scheduler_state = state_dict["scheduler"]


# ---------------------------------------------------------------------- helpers


def _group_ratios(optimizer) -> list[float]:
    """Each group's rate relative to the highest configured one (all 1.0 if every rate is 0)."""
    lrs = [float(group["lr"]) for group in optimizer.param_groups]
    top = max(lrs)
    return [lr / top for lr in lrs] if top > 0 else [1.0] * len(lrs)


def _momentum(group: dict) -> float:
    return group["betas"][0] if "betas" in group else group["momentum"]


def _grad_scaler(trainer):
    return getattr(trainer.precision_plugin, "scaler", None)


def _remaining_steps(trainer) -> int | None:
    """Optimizer steps the Trainer would still run without the callback; None if unbounded."""
    limits = []
    if trainer.max_steps >= 0:
        limits.append(trainer.max_steps - trainer.global_step)
    batches = trainer.num_training_batches
    if trainer.max_epochs is not None and trainer.max_epochs >= 0 and math.isfinite(batches):
        steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        limits.append((trainer.max_epochs - trainer.current_epoch) * steps_per_epoch)
    return max(0, min(limits)) if limits else None


def _end_epoch_after_this_batch(trainer) -> None:
    """Make the current batch the last of its epoch.

    This is the flag Lightning itself raises when ``on_train_batch_start`` returns -1 or the
    data runs out: the epoch loop then completes the batch's bookkeeping and its epoch-end
    hooks, so progress counters stay consistent for checkpoints and resume. Lightning offers
    no public way for a callback to end an epoch, so this one attribute is the price.
    """
    trainer.fit_loop.epoch_loop.batch_progress.is_last_batch = True


def _rescale_base_lrs(trainer, optimizer, new_bases: list[float]) -> None:
    """Make the chosen rates the groups' base rates, so the user's schedulers run from them."""
    for group, new_base in zip(optimizer.param_groups, new_bases, strict=True):
        old_base = group.get("initial_lr", group["lr"])
        group["lr"] = group["lr"] * new_base / old_base if old_base > 0 else new_base
        if "initial_lr" in group:
            group["initial_lr"] = new_base
    for config in trainer.lr_scheduler_configs:
        scheduler = config.scheduler
        if getattr(scheduler, "optimizer", None) is not optimizer:
            continue
        if hasattr(scheduler, "base_lrs"):
            scheduler.base_lrs = list(new_bases)
        if hasattr(scheduler, "_last_lr"):
            scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
