"""The TensorBoard picture drawn with Pillow: every mark in its colour, the curve kept inside the plot."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from helpers import synthetic_result

from pl_lrfind.core import LRFindResult, StopReason
from pl_lrfind.curve_view import CURVE_COLOR, EMA_COLOR, marks
from pl_lrfind.tb_image import PLOT_BOX, SIZE, _rgb, render_result

LEFT, TOP, RIGHT, BOTTOM = PLOT_BOX


def pixels_of(image: np.ndarray, color: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels drawn exactly in ``color``."""
    return np.nonzero(np.all(image == np.array(_rgb(color), dtype=np.uint8), axis=-1))


def spread_out(result: LRFindResult) -> LRFindResult:
    """``result`` with no two marks touching, all in the middle decades where no legend corner covers them."""
    suggestions = {"midspan": 4e-3, "valley": 1e-3, "steepest": 3e-2, "minimum": 5e-2}
    return dataclasses.replace(result, suggestions=suggestions, rule="midspan", suggestion=4e-3, chosen_lr=1.2e-2)


def test_every_mark_is_drawn_in_its_colour_in_the_order_of_its_rate():
    result = spread_out(synthetic_result())
    image = render_result(result)
    assert image.shape == (SIZE[1], SIZE[0], 3) and image.dtype == np.uint8
    drawn = {}
    for mark in marks(result):
        rows, columns = pixels_of(image[TOP + 1 : BOTTOM, LEFT + 1 : RIGHT], mark.color)  # inside the frame
        in_line = columns == np.bincount(columns).argmax()  # the mark's column; its legend swatch is elsewhere
        drawn[mark.label] = (int(np.bincount(columns).argmax()), in_line.sum() / (BOTTOM - TOP))
    assert len(drawn) == 5  # four rules and the rate used
    by_position = sorted(drawn, key=lambda label: drawn[label][0])
    assert by_position == [mark.label for mark in sorted(marks(result), key=lambda mark: mark.lr)]
    share = {mark.style: drawn[mark.label][1] for mark in marks(result)}
    assert share["solid"] > 0.95 > share["dashed"] > share["dotted"] > 0.2


def test_the_curve_stays_inside_the_plot_and_its_blow_up_is_cut_at_the_top():
    image = render_result(synthetic_result())
    rows, columns = pixels_of(image, CURVE_COLOR)
    assert len(rows)
    assert rows.min() >= TOP and rows.max() <= BOTTOM and columns.min() >= LEFT and columns.max() <= RIGHT
    assert rows.min() <= TOP + 1  # the blow-up leaves through the top instead of stretching the axis


def curve(losses: list[float]) -> LRFindResult:
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
def test_odd_curves_draw_their_finite_points_inside_the_plot(losses):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no division by zero along the way
        image = render_result(curve(losses))
    assert image.shape == (SIZE[1], SIZE[0], 3)
    empty = render_result(curve([]))
    drawn = 0
    # The lag-free curve (bold) and the EMA (thin): on a curve whose blow-up swamps the lag-free
    # smoothing only the EMA is left inside the plot.
    for color in (CURVE_COLOR, EMA_COLOR):
        rows, columns = pixels_of(image, color)
        assert rows.min() >= TOP and rows.max() <= BOTTOM and columns.min() >= LEFT and columns.max() <= RIGHT
        swatch_only = len(pixels_of(empty, color)[0])  # the legend's line
        assert swatch_only > 0
        drawn += len(rows) - swatch_only
    assert (drawn > 0) == any(math.isfinite(loss) for loss in losses)


def test_rates_at_or_below_zero_are_left_off_the_log_axis():
    result = dataclasses.replace(curve([2.0, 1.5, 1.0, 0.8, 3.0]), lrs=[0.0, -1e-3, 1e-3, 1e-2, 1e-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = render_result(result)
    rows, columns = pixels_of(image, CURVE_COLOR)
    assert len(rows) and columns.min() >= LEFT and columns.max() <= RIGHT
