"""Why a range test ended."""

from __future__ import annotations

from enum import Enum

import numpy as np


class StopReason(str, Enum):
    """Why a range test ended. A ``str`` so it reads and serialises as its value."""

    COMPLETED = "completed"
    """Every rung of the ladder was measured."""
    DIVERGED = "diverged"
    """The smoothed loss rose past ``divergence_threshold`` times its best value."""
    NON_FINITE_LOSS = "non_finite_loss"
    """A step produced a NaN or infinite loss."""
    INTERRUPTED = "interrupted"
    """An exception (or KeyboardInterrupt) ended the test; the weights were restored."""
    SKIPPED = "skipped"
    """The test did not run: ``fast_dev_run``, or too few batches for a curve."""

    def __str__(self) -> str:
        return self.value


def has_diverged(smoothed: float | np.ndarray, best: float, threshold: float) -> bool | np.ndarray:
    """True when ``smoothed`` has risen more than ``threshold`` times above ``best`` (elementwise
    for an array of smoothed losses).

    For positive losses this is the familiar ``smoothed > threshold * best``. Written as a
    rise measured against ``|best|`` it stays meaningful for negative losses (log-likelihoods,
    ELBOs), where ``threshold * best`` would lie below ``best`` and stop every test at once.
    """
    return smoothed - best > (threshold - 1.0) * abs(best)
