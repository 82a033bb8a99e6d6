"""Plots of range-test results, checked on the figure objects and on a saved PNG."""

from __future__ import annotations

import dataclasses
import math
import pathlib
import warnings

import numpy as np
import pytest
from helpers import PNG_MAGIC, synthetic_result
from matplotlib.figure import Figure

from pl_lrfind.core import LRFindResult, RangeTest, StopReason, centered_smooth, format_lr
from pl_lrfind.plotting import EMA_LABEL, LAG_FREE_LABEL, loss_limits, plot_result, plot_runs


def suggestion_lines(ax) -> dict[str, list[float]]:
    """Label -> x data of the vertical suggestion markers (every line but the three curves)."""
    return {line.get_label(): list(line.get_xdata()) for line in ax.get_lines()[3:]}


def test_synthetic_result_falls_then_diverges():
    result = synthetic_result()
    assert result.stop_reason is StopReason.DIVERGED
    assert result.diagnosis == "ok"
    assert all(lr is not None for lr in result.suggestions.values())


def test_plot_result_axes_labels_and_title():
    result = synthetic_result()
    figure = plot_result(result)
    ax = figure.axes[0]
    assert isinstance(figure, Figure)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "learning rate (log scale)"
    assert ax.get_ylabel() == "loss"
    assert result.rule in ax.get_title() and format_lr(result.suggestion) in ax.get_title()
    raw, lag_free, ema = ax.get_lines()[:3]
    assert list(raw.get_ydata()) == result.losses
    assert list(lag_free.get_ydata()) == list(centered_smooth(result.losses))  # what midspan reads, bold
    assert list(ema.get_ydata()) == result.smoothed_losses  # what the stop rule watched, thin
    assert lag_free.get_linewidth() > ema.get_linewidth() and lag_free.get_linewidth() > raw.get_linewidth()


def test_one_marker_per_rule_with_a_suggestion_chosen_rule_emphasised():
    result = synthetic_result()
    result = dataclasses.replace(result, suggestions={**result.suggestions, "valley": None})
    ax = plot_result(result).axes[0]
    markers = suggestion_lines(ax)
    expected = {rule: lr for rule, lr in result.suggestions.items() if lr is not None}
    assert len(markers) == len(expected) == len(result.suggestions) - 1
    for rule, lr in expected.items():
        (label,) = [label for label in markers if label.startswith(rule)]
        assert markers[label] == [lr, lr]
        assert format_lr(lr) in label
    widths = {line.get_label().split(":")[0]: line.get_linewidth() for line in ax.get_lines()[3:]}
    assert widths[f"{result.rule} (chosen)"] > max(w for label, w in widths.items() if "chosen" not in label)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:3] == ["loss", LAG_FREE_LABEL, EMA_LABEL] and len(legend) == 3 + len(expected)


def test_show_rules_false_draws_only_the_curves():
    ax = plot_result(synthetic_result(), show_rules=False).axes[0]
    assert len(ax.get_lines()) == 3


def test_rate_used_is_marked_when_it_differs_from_the_suggestion():
    result = synthetic_result()
    result.chosen_lr = result.suggestion / 2
    markers = suggestion_lines(plot_result(result).axes[0])
    assert markers[f"used: {format_lr(result.chosen_lr)}"] == [result.chosen_lr] * 2


def test_y_limits_show_the_descent_and_cut_the_blow_up():
    result = synthetic_result()
    bottom, top = plot_result(result).axes[0].get_ylim()
    smoothed = np.array(result.smoothed_losses)
    assert bottom < smoothed.min() and top > smoothed[0]
    assert top < smoothed.max()  # the divergence tail is cut
    assert min(result.losses) < smoothed.min()  # the raw curve reaches lower than its lagging EMA...
    assert bottom < np.percentile(result.losses, 5)  # ...and its bottom stays in view


def test_loss_limits_leave_curves_without_a_descent_to_matplotlib():
    assert loss_limits([np.array([1.0, 2.0, 4.0])]) is None
    assert loss_limits([np.array([])]) is None
    assert loss_limits([np.array([3.0, 1.0, np.nan, 9.0])]) == (1.0 - 0.3, 3.0 + 1.0)


def test_draws_into_a_given_axes():
    figure = Figure()
    ax = figure.add_subplot()
    assert plot_result(synthetic_result(), ax=ax) is figure
    assert len(ax.get_lines()) > 2


def test_skipped_result_plots_with_a_note():
    test = RangeTest()
    test.stop(StopReason.SKIPPED)
    ax = plot_result(test.result()).axes[0]
    assert [text.get_text() for text in ax.texts] == ["no points recorded"]
    assert "suggests none" in ax.get_title()


def test_plot_runs_one_curve_and_one_dot_per_run():
    runs = {f"bs{size}": synthetic_result(shift=shift) for size, shift in ((8, -1.0), (64, 0.0), (512, 0.7))}
    ax = plot_runs(runs).axes[0]
    labels = {f"{name}: {format_lr(result.suggestion)}" for name, result in runs.items()}
    curves = [line for line in ax.get_lines() if line.get_label() in labels]
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(curves) == len(dots) == 3
    assert [dot.get_xdata()[0] for dot in dots] == [r.suggestion for r in runs.values()]
    assert len({line.get_color() for line in curves}) == 3
    assert ax.get_xscale() == "log"


def test_saved_png(tmp_path):
    path = tmp_path / "curve.png"
    plot_result(synthetic_result()).savefig(path)
    runs_path = tmp_path / "runs.png"
    plot_runs({"a": synthetic_result(), "b": synthetic_result(shift=1.0)}).savefig(runs_path)
    for png in (path, runs_path):
        assert png.read_bytes().startswith(PNG_MAGIC)


def test_the_core_draws_nothing_and_its_old_plot_method_says_where_it_went():
    import pl_lrfind
    from pl_lrfind import plot_result as exported

    assert exported is plot_result
    with pytest.raises(AttributeError, match=r"use pl_lrfind.plot_result\(result\)"):
        synthetic_result().plot()
    core = pathlib.Path(pl_lrfind.__file__).parent / "core"
    imports = [line for path in core.glob("*.py") for line in path.read_text().splitlines() if "import" in line]
    assert not [line for line in imports if "from .." in line or "pl_lrfind." in line.replace("pl_lrfind.core", "")]


def odd_curve(losses: list[float]) -> LRFindResult:
    lrs = [1e-5 * 10 ** (index / 10) for index in range(len(losses))]
    return LRFindResult(
        lrs, losses, losses, None, "midspan", {"midspan": None}, StopReason.COMPLETED, "no_descent", "advice"
    )


@pytest.mark.parametrize(
    "losses",
    [
        [],
        [1.0],
        [1.0] * 20,
        [2.0, 1.5, math.nan, 1.0, 1.2, 5.0],
        [2.0, 1.0, 0.5, math.inf],
        [2.0, 1.0, 0.5, 1e30],
        [-3.0, -4.0, -5.0, -2.0],
        [1e16] * 5,
        [1e308, -1e308, 1.0],
        [1e6, 1e6 + 1, 1e6 + 3, 1e6 + 2],
    ],
    ids=[
        "empty",
        "one-point",
        "flat",
        "nan-inside",
        "inf-at-end",
        "huge-blow-up",
        "negative",
        "flat-at-1e16",
        "span-overflows",
        "narrow-at-1e6",
    ],
)
def test_odd_curves_draw_without_a_warning_and_keep_their_finite_points_in_view(losses):
    """What the callback logs at the end of any test, whatever the losses were."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no division by zero, no empty-range warning
        figure = plot_result(odd_curve(losses))
        FigureCanvasAgg(figure).draw()
    low, high = figure.axes[0].get_ylim()
    assert math.isfinite(low) and math.isfinite(high) and low < high
    finite = [loss for loss in losses if math.isfinite(loss) and abs(loss) < 1e300]
    if finite and max(finite) - min(finite) < 1e300:
        assert any(low <= loss <= high for loss in finite)
