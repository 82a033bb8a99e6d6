"""The one-cycle schedule the finder hands over to.

It lives outside the callback so that whatever must train as the callback would (the benchmark's grid oracle, a run
without the finder) builds the same ``torch.optim.lr_scheduler.OneCycleLR`` from the same settings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR

from .core.range_test import check_choice, check_positive

ONE_CYCLE_DEFAULTS = dict(
    pct_start=0.25,
    div_factor=25.0,
    final_div_factor=1e4,
    anneal_strategy="cos",
    three_phase=False,
    cycle_momentum=True,
    base_momentum=0.85,
    max_momentum=0.95,
)
"""The callback's defaults, which the grid oracle trains with ("The question" in docs/benchmarks.md): a quarter of
the steps up from peak/25, a cosine down to peak/25e4, momentum (or Adam's beta1) cycled opposite to the rate."""


ANNEAL_STRATEGIES = ("cos", "linear")


def one_cycle_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:data:`ONE_CYCLE_DEFAULTS` with ``overrides`` (the callback's ``one_cycle=``), checked: a ``ValueError``
    names an unknown key (with the allowed ones) or a value ``OneCycleLR`` would refuse or misuse."""
    unknown = sorted(set(overrides or {}) - set(ONE_CYCLE_DEFAULTS))
    if unknown:
        raise ValueError(f"one_cycle keys must be among {sorted(ONE_CYCLE_DEFAULTS)}, got {unknown}")
    settings = {**ONE_CYCLE_DEFAULTS, **(overrides or {})}
    check_choice("anneal_strategy", settings["anneal_strategy"], ANNEAL_STRATEGIES)
    check_positive("div_factor", settings["div_factor"])
    check_positive("final_div_factor", settings["final_div_factor"])
    if not 0.0 < settings["pct_start"] < 1.0:
        raise ValueError(f"pct_start must lie in (0, 1), got {settings['pct_start']!r}")
    if not 0.0 <= settings["base_momentum"] <= settings["max_momentum"] < 1.0:
        raise ValueError(
            "base_momentum and max_momentum must satisfy 0 <= base_momentum <= max_momentum < 1, "
            f"got base_momentum={settings['base_momentum']!r}, max_momentum={settings['max_momentum']!r}"
        )
    return settings


def shortest_one_cycle(pct_start: float) -> int:
    """The fewest steps ``OneCycleLR`` can plan with ``pct_start``: its warm-up must span more than
    one step (with ``pct_start * total_steps == 1`` torch divides by zero at the first step)."""
    return math.floor(1.0 / pct_start) + 1


def adam_like(optimizer: Optimizer) -> bool:
    """Whether the optimizer is Adam-like (has ``betas``), which decides what momentum means to the one-cycle and
    whether the curve's reading is raised (:func:`pl_lrfind.core.budget.level_for`)."""
    return "betas" in optimizer.defaults


def has_momentum(optimizer: Optimizer) -> bool:
    """Whether the optimizer has a momentum to cycle: Adam-style ``betas`` or SGD momentum > 0."""
    return adam_like(optimizer) or optimizer.defaults.get("momentum", 0) > 0


def one_cycle(optimizer: Optimizer, peak_lrs: float | list[float], total_steps: int, **settings) -> OneCycleLR:
    """``OneCycleLR`` peaking at ``peak_lrs`` over ``total_steps`` optimizer steps.

    ``settings`` override :data:`ONE_CYCLE_DEFAULTS`. Momentum is cycled only when asked and
    the optimizer has some: cycling plain SGD's zero momentum would switch momentum on.
    """
    settings = one_cycle_settings(settings)
    settings["cycle_momentum"] = settings["cycle_momentum"] and has_momentum(optimizer)
    if not settings["cycle_momentum"]:
        del settings["base_momentum"], settings["max_momentum"]
    return OneCycleLR(optimizer, max_lr=peak_lrs, total_steps=total_steps, **settings)


def join_one_cycle(scheduler: OneCycleLR, group: dict, peak_lr: float) -> None:
    """Make a param group added after ``scheduler`` was built follow it from this step, peaking at ``peak_lr``.

    ``OneCycleLR`` keeps each group's bounds (``initial_lr``, ``max_lr``, ``min_lr``, and the
    momentum bounds when it cycles momentum) in the group, written when it is built: a group added
    later has none, and the next step raises ``KeyError: 'initial_lr'``. The new group gets the
    first group's bounds scaled to its peak, and the rate and momentum of the step the cycle is at.
    """
    first = scheduler.optimizer.param_groups[0]
    scale = peak_lr / first["max_lr"]
    for key in ("initial_lr", "max_lr", "min_lr", "lr"):
        group[key] = first[key] * scale
    if scheduler.cycle_momentum:
        group["base_momentum"], group["max_momentum"] = first["base_momentum"], first["max_momentum"]
        momentum = first["betas"][0] if "betas" in first else first["momentum"]
        if "betas" in group:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum
    scheduler.base_lrs.append(group["initial_lr"])


def keep_joined_groups_on_the_cycle(
    scheduler: OneCycleLR, ratios: list[float], joined: int, peak_lr: float
) -> tuple[int, list[int]]:
    """Groups added to the optimizer since ``ratios`` was taken join the cycle (:func:`join_one_cycle`)
    at this step, in the ratio to the first group their adder gave them (``ratios`` grows by theirs);
    then every joined group's rate is set back to the cycle's wherever other code changed it.

    ``ratios`` are relative to the top group; ``joined`` counts the groups that joined before.
    Returns the new count, and the indices of the groups whose rate was set back.
    """
    groups = scheduler.optimizer.param_groups
    if not joined and len(groups) == len(ratios):  # every step of a fit no group joined
        return joined, []
    for group in groups[len(ratios) :]:
        ratio = ratios[0] * group["lr"] / groups[0]["lr"] if groups[0]["lr"] > 0 else ratios[0]
        join_one_cycle(scheduler, group, peak_lr * ratio)
        ratios.append(ratio)
        joined += 1
    last = scheduler.get_last_lr()
    overridden = []
    for index in range(len(ratios) - joined, min(len(groups), len(last))):
        if groups[index]["lr"] != last[index]:
            groups[index]["lr"] = last[index]
            overridden.append(index)
    return joined, overridden
