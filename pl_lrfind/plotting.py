"""Pictures of range-test curves: one run with its suggestions, or several runs side by side.

Everything is drawn on a plain :class:`matplotlib.figure.Figure`, never through ``pyplot``: the
plots are made inside training jobs, on headless nodes and for TensorBoard's ``add_figure``,
where pyplot's global figure registry would leak figures and its backend choice could ask for a
display. A bare ``Figure`` renders with Agg when saved and is freed like any other object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator

from .core import LRFindResult, centered_smooth, format_lr
from .core.diagnosis import MIN_RELATIVE_DEPTH

FIGSIZE = (8.0, 5.0)
MARGINS = dict(left=0.08, right=0.98, bottom=0.1, top=0.88)
"""Fixed margins for :data:`FIGSIZE` that leave room for the labels and the two-line title.
Matplotlib's constrained layout finds them too, but it measured a quarter of the drawing time of
a range-test figure (0.16 s against 0.12 s for the figure the callback logs to TensorBoard)."""
MINOR_TICKS = (2.0, 5.0)
"""Minor ticks of the log rate axis at 2x and 5x each decade: eight per decade over the seven of
a default ladder made tick objects the largest part of the drawing (0.12 s -> 0.11 s)."""
CURVE_COLOR = "tab:blue"
RULE_COLORS = ("tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
"""One colour per rule, in the order of ``result.suggestions``; blue is kept for the curve."""
HEADROOM = 0.5
"""The y axis ends this many descent-heights above the top of the descent (see :func:`loss_limits`)."""
FOOTROOM = 0.15
"""...and starts this many descent-heights below its bottom, so raw noise at the minimum stays visible."""


def plot_result(result: LRFindResult, ax: Axes | None = None, show_rules: bool = True) -> Figure:
    """Raw and smoothed loss against the learning rate (log scale), with each rule's suggestion.

    The raw loss is drawn light and thin, the smoothed loss (the debiased EMA the stop rule
    watched) solid on top of it. With ``show_rules`` every rule's finite suggestion gets a
    vertical line and a legend entry; the rule the result was chosen by is drawn solid and
    thicker. The y axis is cut above the descent so that the blow-up at the end does not squash
    the part of the curve the suggestion is read from. Draws into ``ax`` when given (and returns
    its figure), else into a new figure.
    """
    figure, ax = _figure_and_axes(ax)
    lrs = np.asarray(result.lrs, dtype=float)
    smoothed = np.asarray(result.smoothed_losses, dtype=float)
    ax.plot(lrs, result.losses, color=CURVE_COLOR, alpha=0.35, linewidth=0.8, label="loss")
    ax.plot(lrs, smoothed, color=CURVE_COLOR, linewidth=2.0, label="smoothed loss (EMA)")
    if show_rules:
        _mark_suggestions(ax, result)
    if not len(lrs):
        ax.text(0.5, 0.5, "no points recorded", transform=ax.transAxes, ha="center", va="center")
    # The EMA lags the raw loss by tens of steps, so the raw descent reaches lower, at higher
    # rates; a lag-free smoothing of the raw loss keeps that bottom in view without letting
    # single noisy batches set the limits.
    _finish_axes(ax, _title(result), [smoothed, centered_smooth(result.losses)])
    return figure


def plot_runs(results: dict[str, LRFindResult], ax: Axes | None = None) -> Figure:
    """Several runs' smoothed curves on one plot, each run's suggestion marked with a dot.

    Meant for comparisons such as batch size 8 vs 64 vs 512: the curves share the axes, so a
    shift of the descent (and of the suggestion) between runs is read off directly. Each run
    gets one colour; its legend label is the run name and its suggestion.
    """
    figure, ax = _figure_and_axes(ax)
    curves = []
    for index, (name, result) in enumerate(results.items()):
        color = f"C{index % 10}"
        lrs = np.asarray(result.lrs, dtype=float)
        smoothed = np.asarray(result.smoothed_losses, dtype=float)
        ax.plot(lrs, smoothed, color=color, linewidth=1.8, label=f"{name}: {format_lr(result.suggestion)}")
        if result.suggestion is not None and len(lrs):
            at = float(np.interp(math.log(result.suggestion), np.log(lrs), smoothed))
            ax.plot([result.suggestion], [at], "o", color=color, markersize=8, markeredgecolor="black", zorder=3)
        curves.append(smoothed)
    _finish_axes(ax, "lr_find: runs compared (dot = suggestion)", curves)
    return figure


def loss_limits(curves: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """Y limits that show each curve's descent in full and cut off the divergence tail.

    The descent of a curve runs from its highest point before its minimum down to the minimum;
    the limits span the lowest bottom and the highest top of all descents, plus
    :data:`FOOTROOM` below and :data:`HEADROOM` above (as fractions of that span). A blow-up to
    ``4 x best`` or to thousands is cut there instead of stretching the axis. A curve whose
    descent is smaller than the diagnosis's ``MIN_RELATIVE_DEPTH`` of its level has no descent
    to show and sets no limit; ``None`` when no curve has one (a curve that only rises, a flat
    one, no points at all): then matplotlib's own autoscaling shows the curve better.
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


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(), ax
    figure = Figure(figsize=FIGSIZE)
    figure.subplots_adjust(**MARGINS)
    return figure, figure.add_subplot()


def _mark_suggestions(ax: Axes, result: LRFindResult) -> None:
    """A vertical line per rule with a finite suggestion; the chosen rule's solid and thick.

    When the rate handed to the fit differs from the suggestion (``lr_factor`` != 1) it gets a
    black dotted line of its own, since that is the rate the real fit peaks at.
    """
    for index, (rule, lr) in enumerate(result.suggestions.items()):
        if lr is None or not math.isfinite(lr):
            continue
        chosen = rule == result.rule
        ax.axvline(
            lr,
            color=RULE_COLORS[index % len(RULE_COLORS)],
            linestyle="-" if chosen else "--",
            linewidth=2.2 if chosen else 1.2,
            label=f"{rule}{' (chosen)' if chosen else ''}: {format_lr(lr)}",
            zorder=2.5 if chosen else 2,
        )
    if result.chosen_lr is not None and result.chosen_lr != result.suggestion:
        ax.axvline(
            result.chosen_lr, color="black", linestyle=":", linewidth=1.5, label=f"used: {format_lr(result.chosen_lr)}"
        )


def _title(result: LRFindResult) -> str:
    first = f"lr_find: {result.rule} suggests {format_lr(result.suggestion)}"
    second = f"stopped: {result.stop_reason.value} after {result.num_steps_taken} steps, diagnosis: {result.diagnosis}"
    return f"{first}\n{second}"


def _finish_axes(ax: Axes, title: str, curves: Sequence[np.ndarray]) -> None:
    """Log-scaled rate axis, labels, title, legend, and y limits that ignore the blow-up."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(LogLocator(subs=MINOR_TICKS))
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    limits = loss_limits(curves)
    if limits is not None:
        ax.set_ylim(*limits)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="best")
