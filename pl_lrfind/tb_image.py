"""The range-test picture the callback logs to TensorBoard, drawn with Pillow in milliseconds.

The callback draws one picture per range test inside the user's fit, so every fit pays for it.
With matplotlib that cost 0.3 s for the first figure of a process (fonts and mathtext) and 0.1 s
for every later one, more than the whole finder costs on a small model. Pillow's ``ImageDraw``
(Pillow is already what TensorBoard encodes images with) draws the same picture in under
0.01 s: the same loss range, title, colours,
suggestion lines and legend, taken from :mod:`pl_lrfind.curve_view`, with plain (not
anti-aliased) lines. :mod:`pl_lrfind.plotting` keeps matplotlib for the report and the notebook,
where a figure is drawn once, on request.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .core import LRFindResult, centered_smooth
from .curve_view import (
    CURVE_COLOR,
    EMA_COLOR,
    EMA_LABEL,
    LAG_FREE_LABEL,
    RAW_ALPHA,
    X_LABEL,
    Y_LABEL,
    Mark,
    lag_free,
    loss_limits,
    marks,
    title,
)

SIZE = (800, 500)
"""Width and height in pixels: what the matplotlib figure (8 x 5 inches at 100 dpi) measured."""
PLOT_BOX = (72, 56, 784, 440)
"""Left, top, right and bottom of the plotting area: room for the two-line title above, the
tick labels and axis label below and to the left."""
FONT_SIZE = 12
TITLE_FONT_SIZE = 13
TICK_LENGTH = 5
MINOR_TICK_LENGTH = 3
MINOR_TICKS = (2, 5)
"""As :data:`pl_lrfind.plotting.MINOR_TICKS`: short ticks at 2x and 5x each decade."""
Y_TICKS = 5
"""About this many y tick labels; the step is the first of 1, 2, 2.5, 5 x 10^k that gives no more."""
AXIS_MARGIN = 0.03
"""Empty space left and right of the data, as a fraction of the axis span (matplotlib uses 0.05)."""
DASH = {"solid": None, "dashed": (6, 4), "dotted": (2, 3)}
"""On and off lengths in pixels of each mark style."""
FLOAT_LIMIT = 1e300
"""The y range of a curve whose losses span more than a float can hold."""
PIXEL_LIMIT = 10_000.0
"""Curve points far off the plot (a blow-up to 1e6) are pulled in to this many pixels, where
Pillow still draws the segment's visible part and integer pixel coordinates cannot overflow."""
PNG_COMPRESS_LEVEL = 1
"""zlib's fastest level for the logged PNG. Measured on the 100-step picture (2 CPU threads):
5.6 ms and 28 KB, against 7.7 ms and 24 KB at Pillow's default 6. (A 64-colour palette would save
1.3 ms and 18 KB more, but no fast quantizer keeps the colours exact: white became 254.)"""
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GRID = (229, 229, 229)
LEGEND_EDGE = (204, 204, 204)


def render_result(result: LRFindResult) -> np.ndarray:
    """The picture of ``result`` as a ``(height, width, 3)`` uint8 array, for ``add_image``."""
    return np.asarray(_draw(result))


def render_png(result: LRFindResult) -> bytes:
    """The picture of ``result`` as an RGB PNG of :data:`SIZE` pixels.

    What :func:`pl_lrfind.tb_writer.log_picture` hands to a ``torch`` ``SummaryWriter`` directly:
    its ``add_image`` turns the pixels into floats and back, then encodes at zlib's level 6, which
    cost 11.7 ms per picture where this costs 5.6 ms (:data:`PNG_COMPRESS_LEVEL`).
    """
    buffer = io.BytesIO()
    _draw(result).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _draw(result: LRFindResult) -> Image.Image:
    """The picture: raw loss light, its lag-free smoothing bold, the stop rule's EMA thin, a
    vertical line per suggestion (the chosen rule's solid), a legend in whichever corner the curve
    leaves emptiest, and the y axis cut above the descent as in :func:`pl_lrfind.plotting.plot_result`.
    """
    lrs = np.asarray(result.lrs, dtype=float)
    losses = np.asarray(result.losses, dtype=float)
    smoothed = np.asarray(result.smoothed_losses, dtype=float)
    smooth = lag_free(losses)
    found = marks(result)
    canvas = _Canvas(_lr_range(lrs, found), _loss_range(losses, smoothed))
    canvas.grid_and_ticks()
    raw_color = _blend(CURVE_COLOR, RAW_ALPHA)
    canvas.curve(lrs, losses, raw_color, width=1)
    canvas.curve(lrs, smoothed, _rgb(EMA_COLOR), width=1)
    canvas.curve(lrs, smooth, _rgb(CURVE_COLOR), width=2)
    for mark in sorted(found, key=lambda mark: mark.style == "solid"):  # the chosen rule's on top
        canvas.mark(mark)
    canvas.frame()
    if not len(lrs):
        canvas.centered("no points recorded")
    legend = [
        ("loss", raw_color, "solid", 1),
        (LAG_FREE_LABEL, _rgb(CURVE_COLOR), "solid", 2),
        (EMA_LABEL, _rgb(EMA_COLOR), "solid", 1),
    ]
    legend += [(mark.label, _rgb(mark.color), mark.style, round(mark.width)) for mark in found]
    canvas.legend(legend, lrs, smoothed)
    canvas.labels(title(result))
    return canvas.image


class _Canvas:
    """An image with a log-x, linear-y plotting area and the drawing steps ``render_result`` takes."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.image = Image.new("RGB", SIZE, WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.font = _font(FONT_SIZE)
        self.title_font = _font(TITLE_FONT_SIZE)
        self.log_x = (math.log10(x_range[0]), math.log10(x_range[1]))
        self.y_range = y_range

    def x(self, lr: float | np.ndarray) -> np.ndarray:
        left, _, right, _ = PLOT_BOX
        low, high = self.log_x
        with np.errstate(divide="ignore", invalid="ignore"):  # a rate <= 0 has no place on a log axis
            return left + (np.log10(lr) - low) / (high - low) * (right - left)

    def y(self, value: float | np.ndarray) -> np.ndarray:
        _, top, _, bottom = PLOT_BOX
        low, high = self.y_range
        return bottom - (np.asarray(value, dtype=float) - low) / (high - low) * (bottom - top)

    def grid_and_ticks(self) -> None:
        left, top, right, bottom = PLOT_BOX
        first, last = math.ceil(self.log_x[0] - 1e-9), math.floor(self.log_x[1] + 1e-9)
        for decade in range(first - 1, last + 1):
            for sub in MINOR_TICKS:
                x = float(self.x(sub * 10.0**decade))
                if left <= x <= right:
                    self.draw.line([(x, bottom), (x, bottom + MINOR_TICK_LENGTH)], fill=BLACK)
        for decade in range(first, last + 1):
            x = float(self.x(10.0**decade))
            self.draw.line([(x, top), (x, bottom)], fill=GRID)
            self.draw.line([(x, bottom), (x, bottom + TICK_LENGTH)], fill=BLACK)
            self._text((x, bottom + TICK_LENGTH + 2), f"1e{decade}", self.font, anchor="top")
        ticks = _y_ticks(*self.y_range)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else abs(ticks[0]) if ticks else 1.0
        for value in ticks:
            y = float(self.y(value))
            self.draw.line([(left, y), (right, y)], fill=GRID)
            self.draw.line([(left - TICK_LENGTH, y), (left, y)], fill=BLACK)
            self._text((left - TICK_LENGTH - 3, y), _tick_label(value, step), self.font, anchor="right")

    def curve(self, lrs: np.ndarray, values: np.ndarray, color: tuple[int, int, int], width: int) -> None:
        """A polyline through the finite points, broken at non-finite ones and clipped to the plot."""
        if not len(lrs):
            return
        xs = self.x(lrs)
        ys = np.clip(self.y(values), -PIXEL_LIMIT, PIXEL_LIMIT)
        finite = np.isfinite(values) & np.isfinite(xs)
        plot = self._plot_layer()
        draw = ImageDraw.Draw(plot)
        offset = np.array(PLOT_BOX[:2], dtype=float)
        for run in _runs(finite):
            points = np.column_stack([xs[run], ys[run]]) - offset
            if len(points) == 1:
                x, y = points[0]
                draw.point((x, y), fill=color)
            else:
                draw.line([tuple(point) for point in points], fill=color, width=width, joint="curve")
        self._paste_plot_layer(plot)

    def mark(self, mark: Mark) -> None:
        x = float(self.x(mark.lr))
        _, top, _, bottom = PLOT_BOX
        if not PLOT_BOX[0] <= x <= PLOT_BOX[2]:
            return
        color, width = _rgb(mark.color), max(1, round(mark.width))
        for y0, y1 in _dashes(top, bottom, DASH[mark.style]):
            self.draw.line([(x, y0), (x, y1)], fill=color, width=width)

    def frame(self) -> None:
        self.draw.rectangle(PLOT_BOX, outline=BLACK)

    def centered(self, text: str) -> None:
        left, top, right, bottom = PLOT_BOX
        self._text(((left + right) / 2, (top + bottom) / 2), text, self.font, anchor="center")

    def legend(
        self, entries: Sequence[tuple[str, tuple[int, int, int], str, int]], lrs: np.ndarray, values: np.ndarray
    ) -> None:
        """A boxed legend in the plot corner holding the fewest curve points."""
        line_height, swatch, pad = FONT_SIZE + 5, 22, 6
        width = swatch + 6 + max(self.draw.textlength(label, font=self.font) for label, *_ in entries) + 2 * pad
        height = line_height * len(entries) + 2 * pad
        box = self._emptiest_corner(width, height, lrs, values)
        self.draw.rectangle(box, fill=WHITE, outline=LEGEND_EDGE)
        for row, (label, color, style, line_width) in enumerate(entries):
            y = box[1] + pad + line_height * row + line_height / 2
            x = box[0] + pad
            for x0, x1 in _dashes(x, x + swatch, DASH[style]):
                self.draw.line([(x0, y), (x1, y)], fill=color, width=max(1, line_width))
            self._text((x + swatch + 6, y), label, self.font, anchor="left")

    def labels(self, heading: str) -> None:
        left, top, right, bottom = PLOT_BOX
        line_height = TITLE_FONT_SIZE + 5
        lines = heading.split("\n")
        for row, line in enumerate(lines):
            y = top - 8 - line_height * (len(lines) - row) + line_height / 2
            self._text(((left + right) / 2, y), line, self.title_font, anchor="center")
        self._text(((left + right) / 2, bottom + TICK_LENGTH + FONT_SIZE + 14), X_LABEL, self.font, anchor="top")
        self._vertical_text((14, (top + bottom) / 2), Y_LABEL)

    def _emptiest_corner(
        self, width: float, height: float, lrs: np.ndarray, values: np.ndarray
    ) -> tuple[float, float, float, float]:
        left, top, right, bottom = PLOT_BOX
        inset = 8
        corners = [
            (right - inset - width, top + inset),
            (left + inset, top + inset),
            (left + inset, bottom - inset - height),
            (right - inset - width, bottom - inset - height),
        ]
        xs, ys = (self.x(lrs), self.y(values)) if len(lrs) else (np.array([]), np.array([]))

        def covered(corner: tuple[float, float]) -> int:
            x0, y0 = corner
            return int(np.sum((xs >= x0) & (xs <= x0 + width) & (ys >= y0) & (ys <= y0 + height)))

        x0, y0 = min(corners, key=covered)  # ties keep the first: upper right, as matplotlib's "best"
        return (x0, y0, x0 + width, y0 + height)

    def _plot_layer(self) -> Image.Image:
        left, top, right, bottom = PLOT_BOX
        return self.image.crop((left, top, right + 1, bottom + 1))

    def _paste_plot_layer(self, layer: Image.Image) -> None:
        self.image.paste(layer, PLOT_BOX[:2])

    def _text(self, at: tuple[float, float], text: str, font: ImageFont.ImageFont, anchor: str) -> None:
        """``text`` placed by its top centre, right-middle, left-middle or centre at ``at``."""
        x0, y0, x1, y1 = self.draw.textbbox((0, 0), text, font=font)
        width, height = x1 - x0, y1 - y0
        x, y = at
        dx = {"top": -width / 2, "right": -width, "left": 0.0, "center": -width / 2}[anchor]
        dy = 0.0 if anchor == "top" else -height / 2
        self.draw.text((x + dx - x0, y + dy - y0), text, fill=BLACK, font=font)

    def _vertical_text(self, at: tuple[float, float], text: str) -> None:
        x0, y0, x1, y1 = self.draw.textbbox((0, 0), text, font=self.font)
        label = Image.new("RGB", (x1 - x0 + 2, y1 - y0 + 2), WHITE)
        ImageDraw.Draw(label).text((1 - x0, 1 - y0), text, fill=BLACK, font=self.font)
        label = label.rotate(90, expand=True)
        self.image.paste(label, (round(at[0] - label.width / 2), round(at[1] - label.height / 2)))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own scalable font; its small bitmap font on a Pillow built without FreeType."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, TypeError):  # no FreeType; or a Pillow before 10.1, whose load_default takes no size
        return ImageFont.load_default()


def _lr_range(lrs: np.ndarray, found: Iterable[Mark]) -> tuple[float, float]:
    """The x range: every finite positive rate and mark, widened by :data:`AXIS_MARGIN` in log space."""
    rates = [float(lr) for lr in lrs if math.isfinite(lr) and lr > 0] + [mark.lr for mark in found if mark.lr > 0]
    if not rates:
        return 1e-7, 10.0
    low, high = math.log10(min(rates)), math.log10(max(rates))
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    margin = AXIS_MARGIN * (high - low)
    return 10.0 ** (low - margin), 10.0 ** (high + margin)


def _loss_range(losses: np.ndarray, smoothed: np.ndarray) -> tuple[float, float]:
    """:func:`~pl_lrfind.curve_view.loss_limits`, else the finite values' range with a margin."""
    limits = loss_limits([smoothed, centered_smooth(losses)])
    if limits is not None and math.isfinite(limits[1] - limits[0]):
        return limits
    values = np.concatenate([losses, smoothed])
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    if not math.isfinite(high - low):  # losses of +-1e308: their span overflows
        return -FLOAT_LIMIT, FLOAT_LIMIT
    if high - low < 1e-12 * max(1.0, abs(high)):  # flat: pad by half a unit, or a thousandth of a large level
        pad = max(0.5, 1e-3 * abs(high))
        return low - pad, high + pad
    margin = AXIS_MARGIN * (high - low)
    return low - margin, high + margin


def _y_ticks(low: float, high: float) -> list[float]:
    """Round values between ``low`` and ``high``, about :data:`Y_TICKS` of them."""
    raw = (high - low) / Y_TICKS
    if not (math.isfinite(raw) and raw > 0):
        return []
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(factor * magnitude for factor in (1.0, 2.0, 2.5, 5.0, 10.0) if factor * magnitude >= raw)
    first = math.ceil(low / step)
    return [index * step for index in range(first, math.floor(high / step) + 1)]


def _tick_label(value: float, step: float) -> str:
    """``value`` with the significant digits that tell it from its neighbour ``step`` away."""
    digits = 1 + max(0, math.ceil(math.log10(max(abs(value), step) / step))) if step > 0 else 6
    return f"{value:.{min(digits, 12)}g}"


def _runs(mask: np.ndarray) -> list[slice]:
    """The maximal runs of ``True`` in ``mask``, as slices."""
    edges = np.flatnonzero(np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8)))
    return [slice(int(start), int(stop)) for start, stop in zip(edges[::2], edges[1::2], strict=True)]


def _dashes(start: float, stop: float, pattern: tuple[int, int] | None) -> list[tuple[float, float]]:
    """The drawn pieces of a line from ``start`` to ``stop`` with an on/off ``pattern``."""
    if pattern is None:
        return [(start, stop)]
    on, off = pattern
    pieces, at = [], start
    while at < stop:
        pieces.append((at, min(at + on, stop)))
        at += on + off
    return pieces


def _rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _blend(color: str, alpha: float) -> tuple[int, int, int]:
    """``color`` at opacity ``alpha`` over white."""
    return tuple(round(alpha * channel + (1 - alpha) * 255) for channel in _rgb(color))  # type: ignore[return-value]
