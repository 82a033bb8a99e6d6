"""Read a finished curve the way an experienced user would, and say what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from .curve import MIN_POINTS, Curve, head_length
from .stop import StopReason


class DiagnosisCode(str, Enum):
    """What the curve says. A ``str`` so that results, logs and checkpoints hold plain strings and
    ``result.diagnosis == "ok"`` reads as it did."""

    OK = "ok"
    ALREADY_TRAINED = "already_trained"
    NO_DESCENT = "no_descent"
    DIVERGED_IMMEDIATELY = "diverged_immediately"
    NEVER_DIVERGED = "never_diverged"
    TOO_NOISY = "too_noisy"
    TOO_SHORT = "too_short"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __hash__(self) -> int:  # Enum hashes the name; a str must hash as it compares, by its value
        return hash(self.value)


OK, ALREADY_TRAINED, NO_DESCENT, DIVERGED_IMMEDIATELY = (
    DiagnosisCode.OK,
    DiagnosisCode.ALREADY_TRAINED,
    DiagnosisCode.NO_DESCENT,
    DiagnosisCode.DIVERGED_IMMEDIATELY,
)
NEVER_DIVERGED, TOO_NOISY, TOO_SHORT, SKIPPED = (
    DiagnosisCode.NEVER_DIVERGED,
    DiagnosisCode.TOO_NOISY,
    DiagnosisCode.TOO_SHORT,
    DiagnosisCode.SKIPPED,
)

ADVICE = {
    OK: "the loss falls, bottoms out and rises: the suggestion is read from a clean curve.",
    ALREADY_TRAINED: (
        "the loss never falls clearly below its starting level, then blows up: the model looks "
        "trained already (a curve taken late in training has no descent to read), or min_lr is "
        "too high. The rate is read from the blow-up point instead (rule 'blow_up', calibrated "
        "on second fits of trained models; none when that reading falls below min_lr): treat it "
        "as a starting point."
    ),
    NO_DESCENT: (
        "the loss never falls clearly below its starting level and never blows up: there is no "
        "descent and no limit to read a rate from. Raise max_lr until the test finds where "
        "training breaks, or lower min_lr."
    ),
    DIVERGED_IMMEDIATELY: (
        "the loss blew up within the first tenth of the ladder (its head): min_lr is too high for this "
        "model, or the model/data give non-finite losses. Lower min_lr and check one plain step."
    ),
    NEVER_DIVERGED: ("the loss was still falling at max_lr: the curve has no minimum to anchor on. Raise max_lr."),
    TOO_NOISY: (
        "batch-to-batch noise is as large as the descent itself, so the suggestion is unstable "
        "(on a curve that varies little against its level and still blew up, the model sat on a "
        "plateau, as a fresh one at chance level does, and the rule reads it all the same). "
        "Raise the batch size, or lengthen the ladder (num_steps) if it has fewer than 100 rungs."
    ),
    TOO_SHORT: f"fewer than {MIN_POINTS} points were recorded: there is no curve to read.",
    SKIPPED: "the test did not run (fast_dev_run is on): there is no curve to read.",
}

UNREADABLE = frozenset({NO_DESCENT, DIVERGED_IMMEDIATELY, TOO_SHORT, SKIPPED})
"""Diagnoses whose curve has nothing to read a rate from: a rule would still answer (on a flat
curve ``minimum`` lands on ``min_lr``), but training at that answer would not train.
``already_trained`` is not among them: its blow-up point is read (:func:`~.rules.blow_up`)."""

MIN_RISE_TO_DEPTH = 0.1
"""A completed curve that rose less than this fraction of its descent after its minimum never
blew up: the minimum it shows is the end of the ladder, not a limit of the model."""
NOISE_TO_DEPTH = 0.5
"""A curve whose residual noise is more than this fraction of its descent is too noisy."""
MIN_RELATIVE_DEPTH = 0.02
"""A descent smaller than this fraction of the starting loss is no descent, unless the curve is
quiet (:data:`QUIET_NOISE`): small, as a fresh GRU dips only 4-18 % (``docs/design.md``)."""
QUIET_NOISE = 0.03
"""A curve whose batch-to-batch noise is under this fraction of its starting loss is quiet: a dip
deeper than its noise is a descent, and a quiet curve with no such dip that blew up is a fresh
model on a plateau (``too_noisy``), not a trained one; 0.0275 to 0.035 read 345 curves alike (``docs/design.md``)."""
PLATEAU_NOISE = 1e-4
"""A quiet curve steadier than this (a constant or synthetic loss) keeps the trained model's reading:
every stored fresh curve varies by 0.44 % of its level or more (``docs/design.md``)."""
MIN_QUIET_DEPTH = 0.005
"""The least descent on a quiet curve: under the GRU with SGD's shallowest (0.7 %), far above a
loss that does not depend on the weights at all."""


@dataclass(frozen=True)
class Diagnosis:
    code: DiagnosisCode
    advice: str


def diagnose(curve: Curve, stop_reason: StopReason, num_steps: int) -> Diagnosis:
    """Classify a curve as ``ok`` or by its most serious defect, with advice."""
    if stop_reason is StopReason.SKIPPED:
        return _verdict(SKIPPED)
    n = len(curve)
    blew_up = stop_reason in (StopReason.DIVERGED, StopReason.NON_FINITE_LOSS)
    if blew_up and n < max(MIN_POINTS, head_length(num_steps)):
        return _verdict(DIVERGED_IMMEDIATELY)
    if n < MIN_POINTS:
        return _verdict(TOO_SHORT)

    smooth = curve.centered
    i_min = int(np.argmin(smooth))
    start, lowest = float(smooth[0]), float(smooth[i_min])
    depth = start - lowest
    with np.errstate(over="ignore", invalid="ignore"):  # losses near 1e300 give an infinite spread
        noise = float(np.std(curve.losses[: i_min + 1] - smooth[: i_min + 1]))
    if i_min < max(1, head_length(n)):
        return _verdict(ALREADY_TRAINED if blew_up else NO_DESCENT)
    # A dip no deeper than the batch-to-batch noise is noise, not a descent: on a noisy curve
    # that is an already-trained model, which more batch size would not change; on a quiet one
    # that blew up, a fresh model on a plateau, which the rule can still read.
    quiet = noise < QUIET_NOISE * abs(start)
    if depth <= max((MIN_QUIET_DEPTH if quiet else MIN_RELATIVE_DEPTH) * abs(start), noise):
        if quiet and blew_up and noise >= PLATEAU_NOISE * abs(start):  # a fresh model on a plateau
            return _verdict(TOO_NOISY)
        return _verdict(ALREADY_TRAINED if blew_up else NO_DESCENT)
    if noise > NOISE_TO_DEPTH * depth:
        return _verdict(TOO_NOISY)

    rise_after_min = float(smooth[-1]) - lowest
    if stop_reason is StopReason.COMPLETED and rise_after_min < MIN_RISE_TO_DEPTH * depth:
        return _verdict(NEVER_DIVERGED)
    return _verdict(OK)


def _verdict(code: str) -> Diagnosis:
    return Diagnosis(code, ADVICE[code])
