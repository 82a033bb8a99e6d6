"""Arguments of 0.1 that 0.2 renamed or folded, still accepted with a warning until 0.3.

They are parameters of :func:`fold_deprecated`, which the callback calls with its ``**deprecated``:
LightningCLI (jsonargparse) follows that call, so a YAML config that names them (one saved by 0.1
names them all, at their defaults) still loads. ``None`` means not given.
"""

from __future__ import annotations

import warnings
from typing import Any


def _warn(old: str, instead: str) -> None:
    warnings.warn(
        f"LRFinderCallback({old}) is deprecated and will be removed in pl_lrfind 0.3; {instead}",
        FutureWarning,
        stacklevel=4,
    )


def fold_deprecated(
    pass_exponent: float | None,
    one_cycle: dict[str, Any] | None,
    budget_exponent: float | None = None,
    steps_per_lr: int | None = None,
    pct_start: float | None = None,
    div_factor: float | None = None,
    final_div_factor: float | None = None,
    anneal_strategy: str | None = None,
    three_phase: bool | None = None,
    cycle_momentum: bool | None = None,
    base_momentum: float | None = None,
    max_momentum: float | None = None,
    **unknown: Any,
) -> tuple[float | None, dict[str, Any] | None, int]:
    """``budget_exponent`` into ``pass_exponent``, the ``OneCycleLR`` arguments into ``one_cycle``,
    and ``steps_per_lr`` (1 unless given), each given one with a warning naming its replacement."""
    if unknown:
        raise TypeError(f"LRFinderCallback() got unexpected keyword arguments {sorted(unknown)}")
    if steps_per_lr is not None:
        _warn(
            "steps_per_lr=...",
            "leave it out: at the default 100 rungs, two steps per rung read no steadier than one "
            "(docs/benchmarks.md, 'Noise control').",
        )
    if budget_exponent is not None:
        _warn(
            "budget_exponent=...",
            "use pass_exponent=..., which lowers the rate by the real fit's passes over its data.",
        )
        pass_exponent = budget_exponent if pass_exponent is None else pass_exponent
    folded = dict(
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        anneal_strategy=anneal_strategy,
        three_phase=three_phase,
        cycle_momentum=cycle_momentum,
        base_momentum=base_momentum,
        max_momentum=max_momentum,
    )
    folded = {key: value for key, value in folded.items() if value is not None}
    if folded:
        _warn(
            ", ".join(f"{key}=..." for key in folded),
            f"pass one_cycle={{{', '.join(repr(key) + ': ...' for key in folded)}}} instead.",
        )
        one_cycle = {**folded, **(one_cycle or {})}
    return pass_exponent, one_cycle, 1 if steps_per_lr is None else steps_per_lr
