"""The rate for the fit the user runs: the curve's suggestion, lowered for a fit longer than the benchmark's.

A range test reads the same curve whatever the length of the fit that follows; the best
one-cycle peak does not stay put. On the benchmark's ten tasks trained for 1x, 4x and 16x their
length (``python -m benchmarks.budgets``; seven calibration tasks, a fresh-data stream and two
fine-tuning tasks), the best peak moved by up to 1.25 decades per 16x, in both directions, and
on average down. The callback, run end to end on all 24 (task, budget) cells with the same seeds
and seven exponents (``--as-read`` for 0, ``--exponent E`` for the others, the default 1.0):

- exponent 0: final loss mean +39 %, worst cell +483 %; best check mean +11.7 %, worst +64 %;
- exponent 0.3: final loss mean +19 %, worst cell +212 %; best check mean +5.4 %, worst +21 %;
- exponent 0.5: final loss mean +17 %, worst cell +165 %; best check mean +5.7 %, worst +44 %;
- exponent 0.8: final loss mean +15.0 %, worst cell +82 %; best check mean +9.6 %, worst +30 %;
- exponent 0.9: final loss mean +15.6 %, worst cell +56 %; best check mean +11.7 %, worst +42 %;
- exponent 1.0: final loss mean +15.5 %, worst cell +38 %; best check mean +12.7 %, worst +40 %;
- exponent 1.2: final loss mean +19 %, worst cell +63 %; best check mean +18 %, worst +59 %.

No exponent wins every cell, so the default on the final validation loss (the benchmark's
measure throughout) is the one with the lowest worst cell, 1.0 (:data:`BUDGET_EXPONENT`): half a
point of mean above 0.8 buys a worst cell of +38 % instead of +82 % (the small-batch task at 16x,
which overfits a long fit). 0.3 is better for a user who keeps the best checkpoint
(``ModelCheckpoint(monitor="val_loss")``) on both counts, and the callback takes it when it sees
one (:data:`BEST_CHECKPOINT_EXPONENT`, :func:`budget_exponent_for`). At 1.0, 9 of the 24 cells
got worse than at 0 by more than a point, 6 better: 3 of the 9 are fits whose best peak moved up;
the others' moved down less far than the factor, or not at all (Friedman at 1x). Held out on
these runs, picking by the worst cell holds with a budget left out (1.0 each time, held-out worst
cell +38 %) but not with the small-batch task left out: the other nine pick 0.3, and it then
loses +212 % at 16x.
Held out on the grids (``python -m benchmarks.budget_rule``, with the 4x and 16x grids reaching
1.75 decades below their centre), on the final loss: leave-one-task-out picks 0.9 for nine
tasks of ten (0.5 without the small-batch task), held-out mean +21 % against +34 % with none;
leave-one-budget-out picks 0.7-0.9, held-out +18 %. On the best check both pick 0.2-0.5
(held-out +9-10 % against +13 %). One alpha per group of tasks, split by the optimizer's type,
weight decay, normalisation layers or any regularisation, did worse held out on the final loss
(+22 % to +27 % against +21 %); on the best check only the optimizer's type did better, by 0.4
points (+9.8 % against +10.2 %), with three or four tasks a group. So the exponent is the same
for every setup.
``docs/benchmarks.md`` ("Longer fits") has the tables.

The callback knows the planned length of the real fit (the one-cycle's ``total_steps``) before
it hands over, so this is a plain function of that number. It applies it to one-cycle fits
only: that is what was measured, and with ``then="set"`` the length may be Lightning's implicit
1000 epochs of a fit that EarlyStopping ends.
"""

from __future__ import annotations

import math

REFERENCE_STEPS = 230
"""Optimizer steps of the fits the default rule was calibrated on (the benchmark's 1x: 184 to
300). A fit this long or shorter gets the curve's suggestion unchanged."""
BUDGET_EXPONENT = 1.0
"""How fast the rate falls with the length of the fit: a decade per decade of steps, the lowest
worst-cell regret on the final loss of the seven exponents run end to end (+38 %; 0.8 and 1.2 had
+82 % and +63 %), with a mean within a point of the lowest (+15.5 % against 0.8's +15.0 %)."""
BEST_CHECKPOINT_EXPONENT = 0.3
"""The exponent for a fit whose best validation check is what the user keeps: 0.3 had the lowest
end-to-end regret on the best check of the seven exponents run (mean +5.4 %, worst cell +21 %,
against +5.7 % and +44 % at 0.5, +12.7 % and +40 % at 1.0), inside the 0.2-0.5 that held-out
validation picks on that loss; picked among those runs by the worst cell with any one task left
out, it is 0.3 every time (held-out mean +5.4 %, worst +21 %).
A long fit overshoots less at its best check than at its end, so it can afford a higher rate."""
BUDGET_CAP = 16.0
"""The longest fits measured, in multiples of :data:`REFERENCE_STEPS`: beyond it the rate is not
lowered further (at most ``16 ** -1``, 1.2 decades)."""


def check_budget_exponent(exponent: float) -> None:
    """A ``ValueError`` naming the argument unless ``exponent`` is a finite number >= 0."""
    if not isinstance(exponent, (int, float)) or not math.isfinite(exponent) or exponent < 0:
        raise ValueError(f"budget_exponent must be a finite number >= 0, got {exponent!r}")


def budget_exponent_for(keeps_best_checkpoint: bool) -> float:
    """The measured exponent for a fit judged at its best validation check, or at its end."""
    return BEST_CHECKPOINT_EXPONENT if keeps_best_checkpoint else BUDGET_EXPONENT


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
