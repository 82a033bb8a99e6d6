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
        "Raise the batch size, or average several batches per rate (steps_per_lr)."
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
quiet (:data:`QUIET_NOISE`).

Small on purpose: a fresh GRU on the benchmark's digits dips only 4-18 % below its starting
loss before it blows up (20 seeds; the shallowest dip still four times its noise), and that dip
is what the rate is read from. The noise test below is what recognises a trained model."""
QUIET_NOISE = 0.03
"""A curve whose batch-to-batch noise is under this fraction of its starting loss is quiet, and
on a quiet curve a dip deeper than its noise is a descent from :data:`MIN_QUIET_DEPTH` on.

A fresh model stuck at its chance-level loss draws such a curve: the benchmark's GRU with plain
SGD dips 0.7-2.4 % before it blows up, 1.1-4x its noise, and the noise is 0.6-0.75 % of the loss;
read as a trained model (by the shallow-dip test alone), it was handed a rate read off the
blow-up, 1.4 decades under its best at the test's own length. A trained model's curve is noisy
against its low loss: 0.15 of it or more on every second-stage curve whose minimum lies past the
head. A constant added to the loss (a fixed penalty term) makes any curve look quiet: a trained
model with one reads a dip deeper than its noise and than half a percent of its loss as a
descent, and gets that reading instead of the blow-up one.

A quiet curve that blew up with a dip within its noise, or none, is read as a fresh model on a
plateau too (``too_noisy``, read by the rule), not as a trained model (``already_trained``, read
at the blow-up): three of the benchmark's twenty GRU-with-RMSprop seeds (seeds 0-19) dip
0.3-0.8 %, within noise of 0.6-1.0 % of the loss, beside seventeen that dip a little more, and
the blow-up reading handed those three rates 0.5-0.9 decade under their siblings'. Read by the
rule, on its 1x grid the task's twenty seeds lost +73 % instead of +155 %, at 4x +77 % instead
of +124 %. Of 345 stored curves (fresh seeds 0-9 of every budget task, both GRUs' seeds 0-19
drawn again, the comparison's and the second stage's) only those three moved, and a held-out
transformer fine-tune curve, by 0.09 decade. A trained model with a constant added to its loss
(and batch-to-batch noise over :data:`PLATEAU_NOISE`) draws the same curve and is read the same
way.

Values from 0.0275 to 0.035 diagnose those 345 curves alike. From 0.0125 to 0.15 only the
transformer fine-tune's move, between the two readings (their noise is 2.5-4.5 % of their loss);
at 0.01 two of the three GRU seeds go back to the blow-up reading; from 0.16 the second stage's
trained dropout model starts to count as quiet. (Before the plateau reading, any value from 0.008
to 0.15 read the 190 curves stored then alike.)"""
PLATEAU_NOISE = 1e-4
"""The least batch-to-batch noise, as a fraction of the starting loss, of a quiet curve read as a
fresh model on a plateau (:data:`QUIET_NOISE`): a fresh model's loss varies from batch to batch
(by 0.44 % of its level or more on all 310 stored fresh curves whose minimum lies past the head;
the GRU with RMSprop's by 0.6-1.0 %); a curve steadier than a hundredth of a percent does not
see its batches (a constant or synthetic loss) and keeps the trained model's reading."""
MIN_QUIET_DEPTH = 0.005
"""The least descent, as a fraction of the starting loss, on a quiet curve: under the GRU with
SGD's shallowest (0.7 %), and far above the rounding by which a loss that does not depend on the
weights at all "dips"."""


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
