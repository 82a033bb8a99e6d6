"""What exists only while a range test runs: the test, the snapshot, and the step being measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .core import UNREADABLE, LRFindResult, RangeTest, StopReason
from .core.budget import describe_factor, level_for, repetition_factor
from .core.range_test import mean_loss
from .snapshot import TrainingSnapshot
from .supported import step_was_skipped

if TYPE_CHECKING:
    from pytorch_lightning import LightningModule, Trainer
    from torch.optim import Optimizer


@dataclass
class RunningTest:
    """A range test in progress: one point per optimizer step, and how its rate will be handed on."""

    range_test: RangeTest
    snapshot: TrainingSnapshot
    last_global_step: int
    pass_exponent: float
    passes: float | None
    adam_like: bool
    micro_losses: list[float] = field(default_factory=list)
    scale_before_step: float | None = None

    def step_loss(self, trainer: Trainer, outputs: Any, device: torch.device) -> float | None:
        """The mean loss of the optimizer step this batch completed (across ranks); ``None`` while
        gradients still accumulate, or when the grad scaler skipped the step."""
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            # Lightning divides each micro-batch loss by accumulate_grad_batches; undo it so the
            # point recorded is the mean loss of the optimizer step, whatever its length.
            self.micro_losses.append(float(loss) * trainer.accumulate_grad_batches)
        if trainer.global_step == self.last_global_step:
            return None  # still accumulating: no optimizer step yet
        self.last_global_step = trainer.global_step
        micro_losses, self.micro_losses = self.micro_losses, []
        if step_was_skipped(trainer, self.scale_before_step) or not micro_losses:
            return None  # the grad scaler skipped the step (or training_step returned None)
        step_loss = mean_loss(micro_losses)
        if trainer.world_size > 1:  # every rank must see the same curve and stop on the same step
            step_loss = float(trainer.strategy.reduce(torch.tensor(step_loss, device=device), reduce_op="mean"))
        return step_loss

    def conclude(
        self,
        pl_module: LightningModule,
        optimizer: Optimizer,
        reason: StopReason | None,
        hands_over: bool,
        one_cycle_steps: int | None,
        lr_factor: float,
        user_exponent: float | None,
    ) -> LRFindResult:
        """Stop (if ``reason``), put the snapshot back bit for bit, judge the curve and, when a rate
        is ``hands_over`` to the fit, choose it: ``suggestion * budget_factor * lr_factor``."""
        if reason is not None:
            self.range_test.stop(reason)
        try:
            self.snapshot.restore(pl_module, optimizer)
        finally:
            self.snapshot.release()
        result = self.range_test.result()
        result.settings.update(snapshot=self.snapshot.target, snapshot_bytes=self.snapshot.nbytes)
        if hands_over and reason is None and result.suggestion is not None and result.diagnosis not in UNREADABLE:
            # The factor was measured on one-cycle fits of a known length. With then="set" the
            # user's own schedule runs, and the length may be Lightning's implicit 1000 epochs
            # of a fit that EarlyStopping ends: the suggestion is handed as read.
            result.settings.update(self.factor_settings(one_cycle_steps, result.rule, user_exponent is None))
            result.chosen_lr = result.suggestion * result.settings["budget_factor"] * lr_factor
        return result

    def factor_settings(self, real_steps: int | None, rule: str, measured: bool) -> dict[str, Any]:
        """What the suggestion is multiplied by for a one-cycle fit of ``real_steps`` (``None``: the
        user's own schedule, handed as read), each part named, for ``result.settings``.

        ``measured``: the rule of :mod:`pl_lrfind.core.budget`; a user's own exponent replaces it,
        the raise for an optimizer without ``betas`` included.
        """
        passes = self.passes if real_steps is not None else None
        level = level_for(self.adam_like, rule) if measured and real_steps else 1.0
        repetition = repetition_factor(passes, self.pass_exponent)
        return dict(
            budget_steps=real_steps,
            passes=passes,
            pass_exponent=self.pass_exponent,
            budget_level=level,
            repetition_factor=repetition,
            budget_factor=level * repetition,
            factor_in_words=describe_factor(level, passes, self.pass_exponent),
        )
