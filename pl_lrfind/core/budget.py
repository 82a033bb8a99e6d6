"""The rate for the fit the user runs: the curve's suggestion, lowered for a fit longer than the benchmark's.

A range test reads the same curve whatever the length of the fit that follows; the best
one-cycle peak does not stay put. On the benchmark's ten tasks trained for 1x, 4x and 16x their
length (``python -m benchmarks.budgets``; seven calibration tasks, a fresh-data stream and two
fine-tuning tasks), the best peak moved by up to a decade per 16x, in both directions, and on
average down. Scaling the suggestion by ``(steps / REFERENCE_STEPS) ** -BUDGET_EXPONENT``
(``python -m benchmarks.budget_rule``, read off the same grids) lowered the mean regret over
all 24 (task, budget) cells from +36 % to +17 % on the final validation loss and from +14 % to
+11 % on the best validation check, and the worst cell from +307 % to +85 % and from +77 % to
+54 %; held out, leave-one-task-out +21 % and leave-one-budget-out +17 % on the final loss.
Run end to end with and without it (same seeds): mean +39 % -> +15 %, worst cell +483 % -> +82 %
on the final loss, +12 % -> +9.8 % and +68 % -> +35 % on the best check. It is the lowest worst
cell, not a win in every cell: 9 of the 24 got worse by more than a point (fits whose best peak
moved up), 6 better. ``docs/benchmarks.md`` ("Longer fits") has the tables.

The callback knows the planned length of the real fit (the one-cycle's ``total_steps``) before
it hands over, so this is a plain function of that number.
"""

from __future__ import annotations

import math

REFERENCE_STEPS = 230
"""Optimizer steps of the fits the default rule was calibrated on (the benchmark's 1x: 184 to
300). A fit this long or shorter gets the curve's suggestion unchanged."""
BUDGET_EXPONENT = 0.8
"""How fast the rate falls with the length of the fit: 0.8 decades per decade of steps. Of the
exponents 0 to 0.9 in tenths, 0.8 has the lowest worst-cell regret on both the final loss and the
best check; picked without each task, 0.8 came back for nine of ten (0.5 without the small-batch
task); picked on the best check alone, 0.2 to 0.5."""
BUDGET_CAP = 16.0
"""The longest fits measured, in multiples of :data:`REFERENCE_STEPS`: beyond it the rate is not
lowered further (at most ``16 ** -0.8``, about a decade)."""


def check_budget_exponent(exponent: float) -> None:
    """A ``ValueError`` naming the argument unless ``exponent`` is a finite number >= 0."""
    if not isinstance(exponent, (int, float)) or not math.isfinite(exponent) or exponent < 0:
        raise ValueError(f"budget_exponent must be a finite number >= 0, got {exponent!r}")


def budget_factor(real_steps: int | None, exponent: float = BUDGET_EXPONENT) -> float:
    """What the suggestion is multiplied by for a real fit of ``real_steps`` optimizer steps.

    ``1.0`` for an open-ended fit (``None``), for one no longer than :data:`REFERENCE_STEPS`,
    and for ``exponent=0``; ``(real_steps / REFERENCE_STEPS) ** -exponent`` beyond, with the
    ratio capped at :data:`BUDGET_CAP`.
    """
    check_budget_exponent(exponent)
    if real_steps is None:
        return 1.0
    ratio = min(max(1.0, real_steps / REFERENCE_STEPS), BUDGET_CAP)
    return ratio**-exponent
