"""What a picture of a range test shows, whoever draws it: the loss range, the title, the marks.

Two renderers draw range tests: :mod:`pl_lrfind.plotting` with matplotlib (the report, the
notebook, ``plot_result(result)``) and :mod:`pl_lrfind.tb_image` with Pillow (the image the callback
logs to TensorBoard inside the fit). They take these decisions from here, so that both show the
same part of the curve, with the same title, colours and suggestion lines. Nothing here imports
a plotting library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .core import LRFindResult, centered_smooth, format_lr
from .core.diagnosis import MIN_RELATIVE_DEPTH

CURVE_COLOR = "#1f77b4"
EMA_COLOR = "#17becf"
"""matplotlib's ``tab:cyan``: the EMA is drawn thin, for the stop rule, beside the lag-free curve."""
LAG_FREE_LABEL = "smoothed loss (lag-free, what midspan reads)"
EMA_LABEL = "EMA (what the stop rule watches; it lags)"
"""matplotlib's ``tab:blue``."""
RULE_COLORS = ("#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22")
"""One colour per rule, in the order of ``result.suggestions`` (matplotlib's ``tab:red``,
``tab:green``, ``tab:orange``, ...); blue is kept for the curve."""
USED_COLOR = "#000000"
RAW_ALPHA = 0.35
"""The raw loss is drawn at this opacity under the smoothed one."""
HEADROOM = 0.5
"""The y axis ends this many descent-heights above the top of the descent (see :func:`loss_limits`)."""
FOOTROOM = 0.15
"""...and starts this many descent-heights below its bottom, so raw noise at the minimum stays visible."""
X_LABEL = "learning rate (log scale)"
Y_LABEL = "loss"


@dataclass(frozen=True)
class Mark:
    """A vertical line at a rate: a rule's suggestion, or the rate the fit used."""

    lr: float
    color: str
    style: str  # "solid", "dashed" or "dotted"
    width: float
    label: str


def marks(result: LRFindResult) -> list[Mark]:
    """A mark per rule with a finite suggestion; the chosen rule's solid and thick.

    When the rate handed to the fit differs from the suggestion (``lr_factor`` != 1) it gets a
    black dotted mark of its own, since that is the rate the real fit peaks at.
    """
    found = []
    for index, (rule, lr) in enumerate(result.suggestions.items()):
        if lr is None or not math.isfinite(lr):
            continue
        chosen = rule == result.rule
        color = RULE_COLORS[index % len(RULE_COLORS)]
        label = f"{rule}{' (chosen)' if chosen else ''}: {format_lr(lr)}"
        found.append(Mark(lr, color, "solid" if chosen else "dashed", 2.2 if chosen else 1.2, label))
    if result.chosen_lr is not None and result.chosen_lr != result.suggestion:
        found.append(Mark(result.chosen_lr, USED_COLOR, "dotted", 1.5, f"used: {format_lr(result.chosen_lr)}"))
    return found


def title(result: LRFindResult) -> str:
    """Two lines: the suggestion, then how the test ended."""
    first = f"lr_find: {result.rule} suggests {format_lr(result.suggestion)}"
    second = f"stopped: {result.stop_reason.value} after {result.num_steps_taken} steps, diagnosis: {result.diagnosis}"
    return f"{first}\n{second}"


def loss_limits(curves: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """Y limits that show each curve's descent in full and cut off the divergence tail.

    The descent of a curve runs from its highest point before its minimum down to the minimum;
    the limits span the lowest bottom and the highest top of all descents, plus
    :data:`FOOTROOM` below and :data:`HEADROOM` above (as fractions of that span). A blow-up to
    ``4 x best`` or to thousands is cut there instead of stretching the axis. A curve whose
    descent is smaller than the diagnosis's ``MIN_RELATIVE_DEPTH`` of its level has no descent
    to show and sets no limit; ``None`` when no curve has one (a curve that only rises, a flat
    one, no points at all): then the renderer's own autoscaling shows the curve better.
    """
    descents = [descent for curve in curves if (descent := _descent(curve)) is not None]
    if not descents:
        return None
    bottom, top = min(low for low, _ in descents), max(high for _, high in descents)
    span = top - bottom
    return bottom - FOOTROOM * span, top + HEADROOM * span


def _descent(curve: np.ndarray) -> tuple[float, float] | None:
    """``(bottom, top)`` of the curve's descent to its minimum; ``None`` if it barely descends."""
    finite = np.asarray(curve, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return None
    lowest = int(np.argmin(finite))
    bottom, top = float(finite[lowest]), float(finite[: lowest + 1].max())
    return (bottom, top) if top - bottom > MIN_RELATIVE_DEPTH * abs(top) else None


def lag_free(losses) -> np.ndarray:
    """The lag-free smoothing of the finite losses (what ``midspan`` reads); NaN where a loss is not."""
    values = np.asarray(losses, dtype=float)
    finite = np.isfinite(values)
    out = np.full_like(values, np.nan)
    if finite.any():
        out[finite] = centered_smooth(values[finite])
    return out
