"""The Lightning adapter: runs the range test inside ``trainer.fit`` and hands over to the real fit.

At ``on_train_start`` the callback snapshots the weights and optimizer and borrows from the
Trainer (:mod:`pl_lrfind.trainer_loan`); it raises the rate after every optimizer step in
``on_train_batch_end``; when the test ends it restores the snapshot bit for bit and ends that
epoch, so that the real fit starts on an epoch boundary with its own epochs and its full budget
of steps. The flow, hook by hook: ``docs/design.md``, "A stage, hook by hook".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch.optim import Optimizer
from typing_extensions import override

from . import _lightning
from .core import DiagnosisCode, LRFindResult, RangeTest, Rule, StopReason
from .core.budget import check_pass_exponent, pass_exponent_for
from .core.range_test import check_choice, check_positive, validate_settings
from .core.rules import DEFAULT_RULE, check_rule
from .curve_log import CurveLog
from .deprecations import fold_deprecated
from .rates import apply_rate, group_ratios, rescale_base_lrs
from .running_test import RunningTest
from .schedule import adam_like, keep_joined_groups_on_the_cycle, one_cycle_settings
from .snapshot import TARGETS as SNAPSHOT_TARGETS
from .snapshot import TrainingSnapshot
from .stage import Budget, FitInProgress, Phase, Stage, one_stage_state
from .supported import UnsupportedSetupError, check_one_cycle_budget, check_supported, grad_scaler
from .trainer_loan import TrainerLoan, extend_resumed_limits, install_one_cycle, passes_over_data, remaining_steps

if TYPE_CHECKING:
    from pytorch_lightning import LightningModule, Trainer
    from torch.optim.lr_scheduler import OneCycleLR

__all__ = ["LRFinderCallback", "UnsupportedSetupError"]

THEN = ("one_cycle", "set", "stop")


class LRFinderCallback(*_lightning.CALLBACK_BASES):
    """Learning-rate range test inside the fit, chained into a one-cycle schedule.

    Every ``trainer.fit`` with the callback is a *stage* with its own test and schedule, so one
    callback serves the fastai habit of training, unfreezing and training again.

    Args:
        min_lr, max_lr: the ladder's first and last rate, for the param group with the highest
            rate (the others keep their ratio to it).
        num_steps, mode: rungs on the ladder, ``"exponential"`` or ``"linear"``.
        beta, divergence_threshold: the EMA the stop rule watches, and how many times its best
            it may reach before the test stops.
        suggestion: a rule name from :data:`pl_lrfind.core.RULES` or a function ``Curve -> float``.
        then: ``"one_cycle"`` (``OneCycleLR`` replaces the schedulers for the real fit), ``"set"``
            (set the rate, keep your schedulers) or ``"stop"`` (end after the test).
        lr_factor: the chosen rate is ``suggestion * budget_factor * lr_factor``.
        pass_exponent: ``None`` takes the measured rule of :mod:`pl_lrfind.core.budget` (by the
            real fit's :meth:`passes_over_data`); a number replaces its exponent (and drops the
            raise for optimizers without ``betas``); ``0`` hands the suggestion as read.
        one_cycle: ``OneCycleLR`` settings over :data:`pl_lrfind.schedule.ONE_CYCLE_DEFAULTS`;
            momentum is cycled only for an optimizer that has some.
        snapshot: where the copy of the weights and optimizer state lives during the test:
            ``"device"``, ``"host"``, ``"disk"`` or ``"auto"`` (:mod:`pl_lrfind.snapshot_placement`).
        log_to_tensorboard: log the curve and the one-cycle's rates (rank zero; :meth:`make_curve_log`).
        verbose: print the result's summary line (rank zero).
        **deprecated: ``budget_exponent`` (now ``pass_exponent``), ``steps_per_lr`` (leave
            it out) and the ``OneCycleLR`` settings as arguments of their own (now keys of
            ``one_cycle``), accepted with a warning until 0.3.

    Attributes:
        results: every stage's :class:`~pl_lrfind.core.LRFindResult`, in order.
        result: the latest stage's (``None`` before the first test).
    """

    def __init__(
        self,
        min_lr: float = 1e-7,
        max_lr: float = 10.0,
        num_steps: int = 100,
        mode: str = "exponential",
        beta: float = 0.98,
        divergence_threshold: float = 3.0,
        suggestion: str | Rule = DEFAULT_RULE,
        then: str = "one_cycle",
        lr_factor: float = 1.0,
        pass_exponent: float | None = None,
        one_cycle: dict[str, Any] | None = None,
        snapshot: str = "auto",
        log_to_tensorboard: bool = True,
        verbose: bool = True,
        **deprecated: Any,
    ) -> None:
        pass_exponent, one_cycle, steps_per_lr = fold_deprecated(pass_exponent, one_cycle, **deprecated)
        validate_settings(min_lr, max_lr, num_steps, mode, beta, divergence_threshold, steps_per_lr, suggestion)
        check_choice("then", then, THEN)
        check_choice("snapshot", snapshot, SNAPSHOT_TARGETS)
        check_positive("lr_factor", lr_factor)
        if pass_exponent is not None:
            check_pass_exponent(pass_exponent)
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
        self.pass_exponent = pass_exponent
        self.one_cycle_settings = one_cycle_settings(one_cycle)
        self.snapshot = snapshot
        self.log_to_tensorboard = log_to_tensorboard
        self.verbose = verbose

        self.results: list[LRFindResult] = []
        self._stage = Stage()
        self._test: RunningTest | None = None
        self._loan: TrainerLoan | None = None
        self._log: CurveLog | None = None
        self._fit: FitInProgress | None = None
        self._warned_override = False
        # Lightning builds a profiler label from the state key on every hook call (a dozen per
        # step); the settings never change after construction, so the key is built once. A rule
        # of the user's own enters by name: its repr would hold a memory address, and the key
        # must be the same in the process that resumes from a checkpoint.
        self._state_key = self._generate_state_key(
            **{**self.range_test_settings, "suggestion": check_rule(suggestion)}, then=then
        )

    @property
    def result(self) -> LRFindResult | None:
        """The latest stage's result; ``None`` before the first test."""
        return self.results[-1] if self.results else None

    @property
    def stage(self) -> int:
        """The number of the current (or last) stage, from 1."""
        return self._stage.number

    @property
    def phase(self) -> Phase:
        return self._stage.phase

    @property
    def budget(self) -> Budget:
        """The current stage's real-fit budget and what its test used."""
        return self._stage.budget

    @property
    def scheduler(self) -> OneCycleLR | None:
        """The one-cycle schedule the current stage handed over to, once installed."""
        return self._stage.scheduler

    @property
    @override
    def state_key(self) -> str:
        return self._state_key

    def keeps_best_checkpoint(self, trainer: Trainer) -> bool:
        """Whether the fit will be judged at its best validation check rather than at its end.

        The default says yes when one of the Trainer's checkpoint callbacks monitors a metric
        (``ModelCheckpoint(monitor=...)`` keeps the best checks); Lightning's own default
        checkpoint monitors nothing and keeps the last. Override it when you pick the
        checkpoint some other way. It chooses the exponent when ``pass_exponent`` is ``None``.
        """
        return any(getattr(callback, "monitor", None) is not None for callback in trainer.checkpoint_callbacks)

    def passes_over_data(self, trainer: Trainer, real_steps: int) -> float | None:
        """How many times the real fit will see each training sample; ``None`` for fresh data.

        The default divides the real fit's optimizer steps by an epoch's, and says ``None`` for
        an ``IterableDataset`` (a stream). Override it when an epoch of your dataloader is not one
        pass over your data: a sized stream that never repeats (return ``None``), or an epoch
        that draws a sample of a larger set.
        """
        return passes_over_data(trainer, real_steps)

    def make_curve_log(self, trainer: Trainer) -> CurveLog | None:
        """Where this stage's curve and schedule are logged; ``None`` logs nothing.

        Called on every rank at the start of a stage. The default opens a TensorBoard run on
        rank zero when ``log_to_tensorboard`` is on. Override it to log to another backend:
        return a :class:`~pl_lrfind.curve_log.CurveLog` subclass that writes there.
        """
        if not self.log_to_tensorboard or not trainer.is_global_zero:
            return None
        return CurveLog.open(trainer, self.stage)

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # A fit after a fit is a new stage. Lightning loads a checkpoint's callback state after
        # this hook, so a resumed fit goes back to the stage its checkpoint was taken in.
        if stage == "fit" and self._stage.phase is not Phase.PENDING:
            self._stage = self._stage.next()
        self._fit = FitInProgress(trainer) if stage == "fit" else None

    @override
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        check_supported(trainer, pl_module)
        self._fit.started = True
        extend_resumed_limits(self._fit, self._stage)

    @override
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.phase is Phase.TRAINING:
            self._resume_real_fit(trainer)
        elif self.phase is Phase.PENDING and trainer.fast_dev_run:
            self._skip(trainer, "fast_dev_run is on: it runs a handful of batches to check code, not a curve")
        elif self.phase is Phase.PENDING:
            self._start_test(trainer, pl_module)

    def _start_test(self, trainer: Trainer, pl_module: LightningModule) -> None:
        real_steps = remaining_steps(trainer)
        if self.then == "one_cycle":
            check_one_cycle_budget(real_steps, self.one_cycle_settings["pct_start"])
        optimizer = trainer.optimizers[0]
        # Asked before the snapshot exists (nothing to release if an override raises) and before
        # the test holds the Trainer's checkpoint callbacks back.
        exponent = self.pass_exponent
        if exponent is None:
            exponent = pass_exponent_for(self.keeps_best_checkpoint(trainer))
        passes = self.passes_over_data(trainer, real_steps) if real_steps is not None else None
        self._stage.budget = Budget(real_steps=real_steps)
        self._stage.group_ratios = group_ratios(optimizer)
        self._test = RunningTest(
            range_test=RangeTest(**self.range_test_settings),
            snapshot=TrainingSnapshot.take(
                pl_module, optimizer, self.snapshot, trainer.default_root_dir, trainer.num_devices
            ),
            last_global_step=trainer.global_step,
            pass_exponent=exponent,
            passes=passes,
            adam_like=adam_like(optimizer),
        )
        try:
            self._log = self.make_curve_log(trainer)
            self._loan = TrainerLoan.take(trainer, first=self)
        except BaseException:
            self._test.snapshot.release()
            self._test = None
            raise
        self._stage.phase = Phase.SEARCHING
        apply_rate(optimizer, self._test.range_test.current_lr, self._stage.group_ratios)

    def _resume_real_fit(self, trainer: Trainer) -> None:
        self._log = self.make_curve_log(trainer)
        if self._stage.saved_scheduler_state is not None:
            install_one_cycle(trainer, self._stage, self.result.chosen_lr, self.one_cycle_settings, resume=True)

    @override
    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer) -> None:
        if self.phase is Phase.SEARCHING:
            scaler = grad_scaler(trainer)
            self._test.scale_before_step = scaler.get_scale() if scaler is not None else None
            return
        if self.phase is not Phase.TRAINING or self.scheduler is None:
            return
        self._keep_joined_groups_on_the_cycle(trainer)
        if self._log is not None:
            self._log.schedule_step(trainer, self.scheduler, optimizer)

    def _keep_joined_groups_on_the_cycle(self, trainer: Trainer) -> None:
        """A group added during the real fit (``BaseFinetuning``) joins the cycle; the cycle keeps its rate."""
        stage = self._stage
        peak = self.result.chosen_lr
        stage.joined_groups, overridden = keep_joined_groups_on_the_cycle(
            self.scheduler, stage.group_ratios, stage.joined_groups, peak
        )
        if overridden and not self._warned_override:
            self._warned_override = True
            _lightning.rank_zero(trainer).rank_zero_warn(
                f"lr_find: param group(s) {overridden} joined the one-cycle during the real fit and their rate "
                "was then changed by other code (BackboneFinetuning's own schedule, say); the one-cycle sets it "
                "back at every step. Use then='set' to let another schedule drive the rates."
            )

    @override
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.phase is not Phase.SEARCHING:
            return
        test = self._test
        step_loss = test.step_loss(trainer, outputs, pl_module.device)
        if step_loss is None:
            return
        range_test = test.range_test
        points = len(range_test.lrs)
        done = range_test.record(step_loss)
        if self._log is not None and len(range_test.lrs) > points:
            self._log.step(trainer.global_step, range_test.lrs[-1], range_test.losses[-1], range_test.smoothed[-1])
        if done:
            self._end_test(trainer, pl_module)
        else:
            apply_rate(trainer.optimizers[0], range_test.current_lr, self._stage.group_ratios)

    def _conclude(self, trainer: Trainer, pl_module: LightningModule, reason: StopReason | None = None) -> None:
        """Stop the test (if ``reason``), put the snapshot back bit for bit, judge the curve, log it."""
        test, self._test = self._test, None
        steps = self.budget.real_steps if self.then == "one_cycle" else None
        result = test.conclude(
            pl_module, trainer.optimizers[0], reason, self.then != "stop", steps, self.lr_factor, self.pass_exponent
        )
        rank_zero = _lightning.rank_zero(trainer)
        if test.snapshot.removed_groups:
            rank_zero.rank_zero_warn(
                f"lr_find: {test.snapshot.removed_groups} param group(s) joined the optimizer during the range test "
                "and were taken out with the test's weights. Add groups at an epoch of the real fit (a BaseFinetuning "
                "callback is held back during the test and counts epochs from the real fit's start)."
            )
        self.results.append(result)
        if self._log is not None:
            self._log.result(result, trainer.global_step)
        if self.verbose:
            rank_zero.rank_zero_info(result.summary())
        if result.diagnosis is not DiagnosisCode.OK:
            rank_zero.rank_zero_warn(f"lr_find diagnosis '{result.diagnosis}': {result.advice}")

    def _end_test(self, trainer: Trainer, pl_module: LightningModule, reason: StopReason | None = None) -> None:
        """End the test at this batch: restore, judge, and plan the real fit."""
        self._conclude(trainer, pl_module, reason)
        self._stage.budget = self._loan.end_test(trainer, self.budget.real_steps)
        if self.then == "stop" or reason is StopReason.INTERRUPTED:
            trainer.should_stop = True
            self._stage.phase = Phase.FINISHED
            return
        if self.result.chosen_lr is None:
            _lightning.rank_zero(trainer).rank_zero_warn(
                f"lr_find hands no rate to the fit (diagnosis '{self.result.diagnosis}'); the fit goes on "
                "with your configured learning rate and schedulers."
            )
        self._stage.phase = Phase.HANDOVER

    @override
    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.phase is not Phase.HANDOVER:
            return
        self._loan.restart_epochs(trainer)
        held_back = self._give_back(trainer)
        chosen = self.result.chosen_lr
        if chosen is not None and self.then == "one_cycle":
            install_one_cycle(trainer, self._stage, chosen, self.one_cycle_settings, resume=False)
        elif chosen is not None and self.then == "set":
            bases = [chosen * ratio for ratio in self._stage.group_ratios]
            rescale_base_lrs(trainer, trainer.optimizers[0], bases)
        self._stage.phase = Phase.TRAINING
        # Lightning is already iterating the shorter callback list; the callbacks that were
        # held back still need to hear that the first real epoch starts.
        for callback in held_back:
            callback.on_train_epoch_start(trainer, pl_module)

    def _give_back(self, trainer: Trainer) -> list:
        """Give back what the test borrowed from the Trainer; the callbacks it held back."""
        loan, self._loan = self._loan, None
        return loan.give_back(trainer) if loan is not None else []

    def _skip(self, trainer: Trainer, why: str) -> None:
        skipped = RangeTest(**self.range_test_settings)
        skipped.stop(StopReason.SKIPPED)
        self.results.append(skipped.result())
        self._stage.phase = Phase.FINISHED
        _lightning.rank_zero(trainer).rank_zero_info(f"lr_find skipped: {why}.")

    @override
    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Restore the weights before the exception leaves ``trainer.fit``."""
        if self.phase is Phase.SEARCHING and self._test is not None:  # None: the restore itself failed
            self._conclude(trainer, pl_module, StopReason.INTERRUPTED)
            self._stage.phase = Phase.FINISHED
        self._end_stage(trainer)

    @override
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.phase is Phase.SEARCHING:  # the fit ended before the test did (e.g. a max_time limit)
            self._end_test(trainer, pl_module, StopReason.INTERRUPTED)
        self._end_stage(trainer)

    def _end_stage(self, trainer: Trainer) -> None:
        self._fit = None
        self._give_back(trainer)
        if self._log is not None:
            self._log.close()
            self._log = None

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"results": [result.to_dict() for result in self.results], "stage": self._stage.state_dict()}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "stage" not in state_dict:  # written by pl_lrfind 0.1, which had one stage and one result
            state_dict = one_stage_state(state_dict)
        self.results = [LRFindResult.from_dict(result) for result in state_dict["results"]]
        self._stage = Stage.from_state_dict(state_dict["stage"])
        extend_resumed_limits(self._fit, self._stage)
