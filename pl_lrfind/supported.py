"""What the callback supports, checked before the test's first step, and the grad scaler's skipped steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .schedule import shortest_one_cycle

if TYPE_CHECKING:
    from pytorch_lightning import LightningModule, Trainer


class UnsupportedSetupError(RuntimeError):
    """The Trainer or LightningModule is configured in a way the finder cannot serve."""


def check_supported(trainer: Trainer, pl_module: LightningModule) -> None:
    """Refuse, before any step, what the finder cannot serve, saying what it supports."""
    if type(trainer.strategy).__name__.startswith("DeepSpeed"):
        # DeepSpeed owns the optimizer step, its state and the loss scaling: the finder can
        # neither snapshot that state tensor by tensor nor see its skipped steps.
        raise UnsupportedSetupError(
            "LRFinderCallback does not support DeepSpeed strategies; it supports single-device training, DDP "
            "and FSDP (each rank snapshots its own shard)."
        )
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


def grad_scaler(trainer: Trainer):
    return getattr(trainer.precision_plugin, "scaler", None)


def step_was_skipped(trainer: Trainer, scale_before_step: float | None) -> bool:
    """Under fp16 the grad scaler skips steps with inf/NaN gradients and lowers its scale."""
    scaler = grad_scaler(trainer)
    if scaler is None or scale_before_step is None:
        return False
    return scaler.get_scale() < scale_before_step


def check_one_cycle_budget(real_steps: int | None, pct_start: float) -> None:
    """Refuse a real fit ``OneCycleLR`` cannot plan: open-ended, or shorter than its warm-up allows."""
    if real_steps is None:
        raise UnsupportedSetupError(
            "then='one_cycle' needs a finite budget to plan the cycle: set max_steps (or max_epochs "
            "with a sized dataloader) on the Trainer, or use then='set'."
        )
    shortest = shortest_one_cycle(pct_start)
    if real_steps < shortest:
        raise UnsupportedSetupError(
            f"then='one_cycle' needs at least {shortest} optimizer steps in the real fit to plan a cycle "
            f"(pct_start={pct_start}); this fit has {real_steps}. Train longer, or use then='set'."
        )
