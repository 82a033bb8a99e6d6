"""The optimizer's param-group rates: the ladder keeps their ratios, the hand-over rescales them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch.optim import Optimizer

if TYPE_CHECKING:
    from pytorch_lightning import Trainer


def group_ratios(optimizer: Optimizer) -> list[float]:
    """Each group's rate relative to the highest configured one (all 1.0 if every rate is 0)."""
    lrs = [float(group["lr"]) for group in optimizer.param_groups]
    top = max(lrs)
    return [lr / top for lr in lrs] if top > 0 else [1.0] * len(lrs)


def apply_rate(optimizer: Optimizer, lr: float, ratios: list[float]) -> None:
    """Set the top group to ``lr`` and every other group to its ratio of it.

    A group added after the ratios were taken keeps the rate its adder gave it.
    """
    for group, ratio in zip(optimizer.param_groups, ratios, strict=False):
        group["lr"] = lr * ratio


def momentum_of(group: dict) -> float:
    """SGD's momentum, or Adam's beta1: what one-cycle cycles."""
    return group["betas"][0] if "betas" in group else group["momentum"]


def rescale_base_lrs(trainer: Trainer, optimizer: Optimizer, new_bases: list[float]) -> None:
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
