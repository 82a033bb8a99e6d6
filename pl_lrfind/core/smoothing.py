"""Two smoothers with two jobs.

* :class:`DebiasedEMA` runs online, one loss at a time, and feeds the stop rule. It is what
  fastai and Lightning smooth with, debiased so that the first values are not dragged to zero.
* :func:`centered_smooth` runs offline on the finished curve and feeds the diagnosis. An EMA
  lags: with ``beta=0.98`` its output trails the raw curve by tens of steps, which moves every
  feature of the curve (its minimum, its steepest point) to higher learning rates and blurs
  the noise estimate. A centred kernel has no lag, so the diagnosis reads the curve where it is.
"""

from __future__ import annotations

import numpy as np


class DebiasedEMA:
    """Exponential moving average corrected for its zero start (Adam's bias correction).

    For a constant input ``c`` the output is exactly ``c`` from the first update on.
    """

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
    """Gaussian-kernel smoothing with no lag, for a curve sampled at evenly spaced points.

    ``width`` is the kernel's standard deviation as a fraction of the number of points (at
    least one point). Near the ends the kernel is renormalised over the points that exist, so
    the ends are not pulled towards zero.
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 3:
        return y.copy()
    sigma = max(1.0, width * n)
    index = np.arange(n)
    weights = np.exp(-0.5 * ((index[:, None] - index[None, :]) / sigma) ** 2)
    return weights @ y / weights.sum(axis=1)
