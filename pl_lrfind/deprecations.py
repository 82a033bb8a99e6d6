"""Arguments of 0.1 that 0.2 renamed or folded, still accepted with a warning until 0.3."""

from __future__ import annotations

import warnings
from typing import Any

from .schedule import ONE_CYCLE_DEFAULTS


def fold_deprecated(
    deprecated: dict[str, Any], pass_exponent: float | None, one_cycle: dict[str, Any] | None
) -> tuple[float | None, dict[str, Any] | None, int]:
    """``budget_exponent`` into ``pass_exponent``, the ``OneCycleLR`` arguments into ``one_cycle``,
    and ``steps_per_lr`` (kept until 0.3, default 1) out, each with a warning."""
    unknown = sorted(set(deprecated) - set(ONE_CYCLE_DEFAULTS) - {"budget_exponent", "steps_per_lr"})
    if unknown:
        raise TypeError(f"LRFinderCallback() got unexpected keyword arguments {unknown}")
    steps_per_lr = 1
    if "steps_per_lr" in deprecated:
        steps_per_lr = deprecated.pop("steps_per_lr")
        warnings.warn(
            "LRFinderCallback(steps_per_lr=...) is deprecated and will be removed in pl_lrfind 0.3; use "
            "num_steps=... instead: a longer ladder reads the curve as steadily for the same steps "
            "(docs/benchmarks.md, 'Noise control').",
            FutureWarning,
            stacklevel=3,
        )
    if "budget_exponent" in deprecated:
        warnings.warn(
            "LRFinderCallback(budget_exponent=...) is deprecated and will be removed in pl_lrfind 0.3; use "
            "pass_exponent=..., which lowers the rate by the real fit's passes over its data.",
            FutureWarning,
            stacklevel=3,
        )
        budget_exponent = deprecated.pop("budget_exponent")
        pass_exponent = budget_exponent if pass_exponent is None else pass_exponent
    if deprecated:
        warnings.warn(
            f"LRFinderCallback({', '.join(f'{key}=...' for key in deprecated)}) is deprecated and will be removed in "
            f"pl_lrfind 0.3; pass one_cycle={{{', '.join(repr(key) + ': ...' for key in deprecated)}}} instead.",
            FutureWarning,
            stacklevel=3,
        )
        one_cycle = {**deprecated, **(one_cycle or {})}
    return pass_exponent, one_cycle, steps_per_lr
