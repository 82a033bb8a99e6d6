"""Arguments of 0.1 that 0.2 renamed or folded, still accepted with a warning until 0.3."""

from __future__ import annotations

import warnings
from typing import Any

from .schedule import ONE_CYCLE_DEFAULTS


def fold_deprecated(
    deprecated: dict[str, Any], pass_exponent: float | None, one_cycle: dict[str, Any] | None
) -> tuple[float | None, dict[str, Any] | None]:
    """``budget_exponent`` into ``pass_exponent``, the ``OneCycleLR`` arguments into ``one_cycle``, with a warning."""
    unknown = sorted(set(deprecated) - set(ONE_CYCLE_DEFAULTS) - {"budget_exponent"})
    if unknown:
        raise TypeError(f"LRFinderCallback() got unexpected keyword arguments {unknown}")
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
    return pass_exponent, one_cycle
