"""Two smoothers: a debiased EMA, online, for the stop rule; a lag-free centred kernel, offline, to read the curve.

An EMA lags (tens of steps at ``beta=0.98``), which moves the curve's minimum and steepest point to higher rates."""

from __future__ import annotations

import numpy as np


class DebiasedEMA:
    """Exponential moving average with Adam's bias correction: a constant ``c`` reads ``c`` from the first update."""

    def __init__(self, beta: float) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must lie in [0, 1), got {beta!r}")
        self.beta = beta
        self._avg = 0.0
        self._count = 0

    def update(self, value: float) -> float:
        self._count += 1
        self._avg = self.beta * self._avg + (1.0 - self.beta) * value
        return self._avg / (1.0 - self.beta**self._count)


def debiased_ema(values: list[float] | np.ndarray, beta: float) -> list[float]:
    """The :class:`DebiasedEMA` of a whole sequence."""
    ema = DebiasedEMA(beta)
    return [ema.update(float(v)) for v in values]


def centered_smooth(values: list[float] | np.ndarray, width: float = 0.05) -> np.ndarray:
    """Gaussian-kernel smoothing with no lag; ``width`` is its standard deviation as a fraction of the points.

    It is at least one point; near the ends the kernel is renormalised over the points that exist, so the ends are
    not pulled towards zero.
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 3:
        return y.copy()
    sigma = max(1.0, width * n)
    index = np.arange(n)
    weights = np.exp(-0.5 * ((index[:, None] - index[None, :]) / sigma) ** 2)
    return weights @ y / weights.sum(axis=1)
