"""Why a range test ended, and the divergence test that ends it."""

from __future__ import annotations

from enum import Enum

import numpy as np


class StopReason(str, Enum):
    """Why a range test ended. A ``str`` so it reads and serialises as its value."""

    COMPLETED = "completed"  # every rung of the ladder was measured
    DIVERGED = "diverged"  # the smoothed loss rose past ``divergence_threshold`` times its best
    NON_FINITE_LOSS = "non_finite_loss"  # a step produced a NaN or infinite loss
    INTERRUPTED = "interrupted"  # an exception (or KeyboardInterrupt) ended the test; the weights were restored
    SKIPPED = "skipped"  # the test did not run: ``fast_dev_run``, or too few batches for a curve

    def __str__(self) -> str:
        return self.value


def has_diverged(smoothed: float | np.ndarray, best: float, threshold: float) -> bool | np.ndarray:
    """True where ``smoothed`` has risen more than ``threshold`` times above ``best`` (elementwise for arrays):
    ``smoothed > threshold * best`` for positive losses, read against ``|best|`` so negative ones (ELBOs) work too."""
    return smoothed - best > (threshold - 1.0) * abs(best)
