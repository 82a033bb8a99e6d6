"""The rate for the fit the user runs: the curve's suggestion, moved for a fit longer than the benchmark's.

A range test reads the same curve whatever the length of the fit that follows; the best
one-cycle peak does not stay put. On the benchmark's tasks trained for 1x, 4x and 16x their
length (``python -m benchmarks.budgets``), the best peak moved by up to 1.25 decades per 16x, in
both directions, and on average down: with Adam and AdamW it fell, by about a decade per 16x on
the small-data tasks; with SGD it fell much less, stayed (the BatchNorm CNN) or rose (the CNN at
4x). So the rate is lowered by a power of the fit's length, ``(steps / REFERENCE_STEPS) **
-exponent``, with the exponent picked by the optimizer and by what the user keeps (the last
check or the best one), each the lowest worst cell of the seven exponents run end to end on the
cells of its own optimizer (``--exponent E``, same seeds):

- SGD (``torch.optim.SGD``): 0.3 when the fit is judged at its end (:data:`SGD_BUDGET_EXPONENT`),
  0 when its best check is kept (:data:`SGD_BEST_CHECKPOINT_EXPONENT`);
- any other optimizer: 1.0 (:data:`BUDGET_EXPONENT`) and 0.3 (:data:`BEST_CHECKPOINT_EXPONENT`).

On the 27 cells it was chosen on, this gives a final-loss mean of +13.3 % and a worst cell of
+44 %, against +16.8 % and +56 % for one exponent (0.9) for every optimizer: seed by seed 3.4
points lower, standard error 1.5; the SGD cells alone 10.7 points lower (standard error 0.4).
The optimizer's type is the one trait of the fit that held up held out: split by weight decay,
normalisation layers or regularisation, the groups fitted their members' noise
(``python -m benchmarks.budget_rule``). ``docs/benchmarks.md`` ("Longer fits") has the tables,
the held-out checks, and what is left: no exponent is right for every task.

The callback knows the planned length of the real fit (the one-cycle's ``total_steps``) and its
optimizer before it hands over, so this is a plain function of those. It applies it to
one-cycle fits only: that is what was measured, and with ``then="set"`` the length may be
Lightning's implicit 1000 epochs of a fit that EarlyStopping ends.
"""

from __future__ import annotations

import math

REFERENCE_STEPS = 230
"""Optimizer steps of the fits the default rule was calibrated on (the benchmark's 1x: 184 to
300). A fit this long or shorter gets the curve's suggestion unchanged."""
BUDGET_EXPONENT = 1.0
"""How fast the rate falls with the length of the fit, for any optimizer but SGD (Adam, AdamW and
the like), judged at the fit's end: 1.0 decade per decade of steps. Over the 19 cells of the
seven Adam and AdamW tasks, it had the lowest worst cell of the seven exponents run end to end
(+44 % on the GRU at 16x; 0.9 +56 %, 0.8 +82 %, 1.2 +66 %) at the same mean as 0.9 (+15.6 %)."""
BEST_CHECKPOINT_EXPONENT = 0.3
"""The same for a fit whose best validation check is what the user keeps: over the same cells
0.3 had the lowest worst cell and mean on the best check (+14 % and +4.0 %; 0.5 +44 % and
+4.3 %). A long fit overshoots less at its best check than at its end, so it can afford a
higher rate."""
SGD_BUDGET_EXPONENT = 0.0
"""The exponent for ``torch.optim.SGD``, on the final loss and on the best check alike: none, the
suggestion as read. The best one-cycle peak of the benchmark's SGD fits stayed put with the
budget, rose, or fell less than any factor lowers it (measured in the module docstring)."""
BUDGET_CAP = 16.0
"""The longest fits measured, in multiples of :data:`REFERENCE_STEPS`: beyond it the rate is not
lowered further (at most ``16 ** -1``, 1.2 decades)."""


def check_budget_exponent(exponent: float) -> None:
    """A ``ValueError`` naming the argument unless ``exponent`` is a finite number >= 0."""
    if not isinstance(exponent, (int, float)) or not math.isfinite(exponent) or exponent < 0:
        raise ValueError(f"budget_exponent must be a finite number >= 0, got {exponent!r}")


def budget_exponent_for(keeps_best_checkpoint: bool, sgd: bool = False) -> float:
    """The measured exponent for a fit judged at its best validation check or at its end, with SGD
    (``torch.optim.SGD`` or a subclass) or another optimizer."""
    if sgd:
        return SGD_BUDGET_EXPONENT
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
