"""Pictures of range-test curves: one run with its suggestions, or several runs side by side.

These are the pictures of the report command, the notebook, ``plot_result(result)`` and the
image the callback logs to TensorBoard (through the writer's ``add_figure``). Everything is drawn on a plain
:class:`matplotlib.figure.Figure`, never through ``pyplot``: the plots are made in scripts and on
headless nodes, where pyplot's global figure registry would leak figures and its backend choice
could ask for a display. A bare ``Figure`` renders with Agg when saved and is freed like any
other object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator

from .core import Curve, LRFindResult, format_lr
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


FIGSIZE = (8.0, 5.0)
MARGINS = dict(left=0.08, right=0.98, bottom=0.1, top=0.88)
"""Fixed margins for :data:`FIGSIZE` that leave room for the labels and the two-line title.
Matplotlib's constrained layout finds them too, but it measured a quarter of the drawing time of
a range-test figure (0.16 s against 0.12 s for one range test's figure, measured warm)."""
MINOR_TICKS = (2.0, 5.0)
"""Minor ticks of the log rate axis at 2x and 5x each decade: eight per decade over the seven of
a default ladder made tick objects the largest part of the drawing (0.12 s -> 0.11 s)."""
LINESTYLES = {"solid": "-", "dashed": "--", "dotted": ":"}


def plot_result(result: LRFindResult, ax: Axes | None = None, show_rules: bool = True) -> Figure:
    """Raw and smoothed loss against the learning rate (log scale), with each rule's suggestion.

    The raw loss is drawn light and thin, its lag-free smoothing (what ``midspan`` reads) bold on
    top, and the debiased EMA the stop rule watched thin: it lags the raw loss by tens of steps.
    With ``show_rules`` every rule's finite suggestion gets a
    vertical line and a legend entry; the rule the result was chosen by is drawn solid and
    thicker. The y axis is cut above the descent so that the blow-up at the end does not squash
    the part of the curve the suggestion is read from. Draws into ``ax`` when given (and returns
    its figure), else into a new figure.
    """
    figure, ax = _figure_and_axes(ax)
    lrs = np.asarray(result.lrs, dtype=float)
    smoothed = np.asarray(result.smoothed_losses, dtype=float)
    curve = Curve.from_raw(result.lrs, result.losses)  # its finite points, smoothed as midspan reads them
    ax.plot(lrs, _drawable(result.losses), color=CURVE_COLOR, alpha=RAW_ALPHA, linewidth=0.8, label="loss")
    ax.plot(curve.lrs, _drawable(curve.centered), color=CURVE_COLOR, linewidth=2.0, label=LAG_FREE_LABEL, zorder=2.5)
    ax.plot(lrs, _drawable(smoothed), color=EMA_COLOR, linewidth=1.0, label=EMA_LABEL)
    if show_rules:
        _mark_suggestions(ax, result)
    if not len(lrs):
        ax.text(0.5, 0.5, "no points recorded", transform=ax.transAxes, ha="center", va="center")
    _finish_axes(ax, title(result), [smoothed, curve.centered])
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


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(), ax
    figure = Figure(figsize=FIGSIZE)
    figure.subplots_adjust(**MARGINS)
    return figure, figure.add_subplot()


def _mark_suggestions(ax: Axes, result: LRFindResult) -> None:
    """A vertical line per :func:`marks` entry, with its legend label."""
    for mark in marks(result):
        chosen = mark.style == "solid"
        ax.axvline(
            mark.lr,
            color=mark.color,
            linestyle=LINESTYLES[mark.style],
            linewidth=mark.width,
            label=mark.label,
            zorder=2.5 if chosen else 2,
        )


def _finish_axes(ax: Axes, heading: str, curves: Sequence[np.ndarray]) -> None:
    """Log-scaled rate axis, labels, title, legend, and y limits that ignore the blow-up."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(LogLocator(subs=MINOR_TICKS))
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_title(heading, fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    limits = loss_limits(curves)
    if limits is None or not all(map(math.isfinite, limits)):
        limits = _finite_range(curves)
    if limits is not None:
        ax.set_ylim(*limits)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="best")


def _finite_range(curves: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """The range of the curves' values with a margin, for a curve with no descent to frame; values
    beyond +-1e300 are left out, as matplotlib's own margins would overflow on them."""
    values = np.concatenate([np.asarray(curve, dtype=float).ravel() for curve in curves]) if curves else np.zeros(0)
    values = values[np.isfinite(values) & (np.abs(values) < 1e300)]
    if not values.size:
        return None
    low, high = float(values.min()), float(values.max())
    margin = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
    return low - margin, high + margin


def _drawable(values) -> np.ndarray:
    """``values`` with those beyond +-1e300 left out (NaN): far off any frame, and matplotlib's
    autoscaling overflows on them."""
    values = np.asarray(values, dtype=float)
    return np.where(np.abs(values) < 1e300, values, np.nan)
