"""Pictures of range-test curves: one run with its suggestions, or several runs side by side.

These are the pictures of the report command, the notebook and ``plot_result(result)``; the image the
callback logs to TensorBoard during a fit is drawn by :mod:`pl_lrfind.tb_image` instead, from
the same :mod:`pl_lrfind.curve_view` decisions. Everything is drawn on a plain
:class:`matplotlib.figure.Figure`, never through ``pyplot``: the plots are made in scripts and on
headless nodes, where pyplot's global figure registry would leak figures and its backend choice
could ask for a display. A bare ``Figure`` renders with Agg when saved and is freed like any
other object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator

from .core import LRFindResult, format_lr
from .curve_view import (
    CURVE_COLOR,
    EMA_COLOR,
    EMA_LABEL,
    LAG_FREE_LABEL,
    RAW_ALPHA,
    X_LABEL,
    Y_LABEL,
    lag_free,
    loss_limits,
    marks,
    title,
)

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
    smooth = lag_free(result.losses)
    ax.plot(lrs, result.losses, color=CURVE_COLOR, alpha=RAW_ALPHA, linewidth=0.8, label="loss")
    ax.plot(lrs, smooth, color=CURVE_COLOR, linewidth=2.0, label=LAG_FREE_LABEL, zorder=2.5)
    ax.plot(lrs, smoothed, color=EMA_COLOR, linewidth=1.0, label=EMA_LABEL)
    if show_rules:
        _mark_suggestions(ax, result)
    if not len(lrs):
        ax.text(0.5, 0.5, "no points recorded", transform=ax.transAxes, ha="center", va="center")
    _finish_axes(ax, title(result), [smoothed, smooth])
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
    """A vertical line per :func:`~pl_lrfind.curve_view.marks` entry, with its legend label."""
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
    if limits is not None:
        ax.set_ylim(*limits)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="best")
