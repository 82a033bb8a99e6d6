"""A finished range-test curve, and the few numbers every reading of it shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .smoothing import centered_smooth, debiased_ema

MIN_POINTS = 5
"""Below this many finite points no rule answers and the diagnosis says ``too_short``; also the shortest
ladder a range test accepts."""

HEAD_DIVISOR = 10
"""The head of a curve is its first tenth, as fastai skips it: the EMA there averages a handful of batches,
the stop rule waits (``grace_steps``), and a blow-up in it means the ladder started too high."""

TAIL_POINTS = 5
"""fastai drops the last five points of the EMA curve before reading it: the blow-up has only
begun to pull the lagging EMA there."""


def head_length(num_points: int) -> int:
    """How many points make the head (first tenth) of a curve of ``num_points`` points."""
    return num_points // HEAD_DIVISOR


@dataclass(frozen=True)
class Curve:
    """A range-test curve with both smoothings computed once: what a rule (any ``Curve -> float``) reads."""

    lrs: np.ndarray
    losses: np.ndarray
    ema: np.ndarray
    centered: np.ndarray

    @classmethod
    def from_raw(cls, lrs, losses, beta: float = 0.98) -> Curve:
        lrs = np.asarray(lrs, dtype=float)
        losses = np.asarray(losses, dtype=float)
        if lrs.shape != losses.shape:
            raise ValueError(f"lrs and losses differ in length: {lrs.shape} vs {losses.shape}")
        keep = np.isfinite(lrs) & np.isfinite(losses) & (lrs > 0)
        lrs, losses = lrs[keep], losses[keep]
        return cls(lrs, losses, np.asarray(debiased_ema(losses, beta)), centered_smooth(losses))

    def __len__(self) -> int:
        return len(self.lrs)

    def starting_level(self) -> float:
        """The loss before training moves it: the median raw loss of the head (at least three
        points), which one noisy first batch does not set."""
        return float(np.median(self.losses[: max(3, head_length(len(self)))]))

    def trimmed_ema(self) -> tuple[np.ndarray, np.ndarray]:
        """The EMA curve without its head and its last :data:`TAIL_POINTS`, as fastai reads it."""
        n = len(self)
        start, stop = head_length(n), n - TAIL_POINTS
        if stop - start < MIN_POINTS:
            return self.lrs, self.ema
        return self.lrs[start:stop], self.ema[start:stop]
