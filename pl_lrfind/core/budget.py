"""The rate for the real fit: the curve's suggestion, lowered for how often the fit repeats its data."""

from __future__ import annotations

import math

REFERENCE_PASSES = 5.0
"""Passes a fit takes at the curve's own rate: the benchmark's 1x (4 to 8 passes), not fitted."""
PASS_EXPONENT = 0.8
"""Beyond them the rate is multiplied by (passes / 5) ** -0.8: least worst of 65 cells ("The rate for longer fits")."""
BEST_CHECK_PASS_EXPONENT = 0.3
"""The exponent when the best check is kept (an early stop pays less for overfitting): least mean, same cells."""
NON_ADAM_LEVEL = 10**0.3
"""Multiplies a ``midspan`` reading without ``betas`` (SGD, RMSprop): it reads 0.15-0.8 decade low at 1x."""


def check_pass_exponent(exponent: float, name: str = "pass_exponent") -> None:
    """A ``ValueError`` naming the argument unless ``exponent`` is a finite number >= 0."""
    if not isinstance(exponent, (int, float)) or not math.isfinite(exponent) or exponent < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {exponent!r}")


def pass_exponent_for(keeps_best_check: bool) -> float:
    """The measured exponent for a fit judged at its best validation check or at its end."""
    return BEST_CHECK_PASS_EXPONENT if keeps_best_check else PASS_EXPONENT


def level_for(adam_like: bool, rule: str) -> float:
    """:data:`NON_ADAM_LEVEL` for a curve that ``midspan`` read for an optimizer that is not Adam-like, else 1."""
    return NON_ADAM_LEVEL if not adam_like and rule == "midspan" else 1.0


def repetition_factor(passes: float | None, exponent: float = PASS_EXPONENT) -> float:
    """``max(1, passes / REFERENCE_PASSES) ** -exponent``; 1 for fresh data (``passes`` ``None`` or few)."""
    check_pass_exponent(exponent)
    if passes is None:
        return 1.0
    return max(1.0, passes / REFERENCE_PASSES) ** -exponent


def describe_factor(level: float, passes: float | None, exponent: float) -> str:
    """The factor in words, for the summary line: what moved the rate, and by how much."""
    parts = [f"x{level:.2g} for an optimizer without betas"] if level != 1.0 else []
    repetition = repetition_factor(passes, exponent)
    if repetition != 1.0:
        parts.append(f"x{repetition:.2g} for {passes:.3g} passes over the data")
    return ", ".join(parts) or "as read"
