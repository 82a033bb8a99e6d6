"""The learning-rate ladder: the rates a range test visits, one rung per measured step."""

from __future__ import annotations

import math

MODES = ("exponential", "linear")


def lr_ladder(min_lr: float, max_lr: float, num_steps: int, mode: str = "exponential") -> list[float]:
    """Return ``num_steps`` rates from ``min_lr`` to ``max_lr`` inclusive.

    ``exponential`` spaces the rungs evenly in log space, which is what makes a range test
    over six or seven decades readable; ``linear`` spaces them evenly in the rate itself
    (Smith's original test over a narrow interval).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2, got {num_steps}")
    last = num_steps - 1
    if mode == "exponential":
        log_min, log_max = math.log(min_lr), math.log(max_lr)
        rungs = [math.exp(log_min + (log_max - log_min) * i / last) for i in range(num_steps)]
    else:
        rungs = [min_lr + (max_lr - min_lr) * i / last for i in range(num_steps)]
    # Pin both ends exactly: exp(log(x)) need not round-trip.
    rungs[0], rungs[-1] = min_lr, max_lr
    return rungs
