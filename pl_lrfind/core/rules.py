"""Suggestion rules: from a finished curve to one learning rate.

Each rule is a small function of a :class:`Curve`. fastai's three (``valley``, ``steepest``,
``minimum``) read the debiased-EMA curve the way fastai does, trimming the head (first tenth) and the
last few points where the EMA is least trustworthy. The EMA lags the raw curve (its minimum
sits up to a decade right of the raw one); their constants, such as ``minimum``'s tenth, were
tuned on that lagged curve, so they read it and not a lag-free one.

``midspan``, the default, is ours; it was chosen by the benchmark in ``benchmarks/`` (see
``docs/benchmarks.md``) and reads the lag-free curve.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .curve import MIN_POINTS, Curve, head_length


def minimum(curve: Curve) -> float:
    """A tenth of the rate at the lowest smoothed loss (fastai's ``minimum``)."""
    lrs, loss = curve.trimmed_ema()
    return float(lrs[np.argmin(loss)] / 10.0)


def steepest(curve: Curve) -> float:
    """The rate where the smoothed loss falls fastest per decade of learning rate."""
    lrs, loss = curve.trimmed_ema()
    slope = np.gradient(loss, np.log10(lrs))
    return float(lrs[np.argmin(slope)])


def valley(curve: Curve) -> float:
    """fastai's ``valley``: the longest descending stretch of the curve, read past its middle.

    The stretch is the longest strictly decreasing subsequence; the rate returned sits half a
    third past the middle of its index range, where the loss is still falling but well away
    from the blow-up at its end.
    """
    lrs, loss = curve.trimmed_ema()
    n = len(loss)
    run = np.ones(n, dtype=int)  # run[i]: longest decreasing subsequence that ends at i
    for i in range(1, n):
        earlier_higher = loss[:i] > loss[i]
        if earlier_higher.any():
            run[i] = run[:i][earlier_higher].max() + 1
    end = int(np.argmax(run))
    start = end - int(run[end]) + 1
    third = (end - start) / 3
    return float(lrs[start + int(third) + int(third / 2)])


MIDSPAN_DIVISOR = 10**0.05
"""How far below the middle of the span ``midspan`` lands: 10**0.05 (1.12), fitted on the
benchmark's seven tasks (``python -m benchmarks.calibrate``; with any one task held out, 10**0 to
10**0.05). It belongs to the default ladder and stop rule: 100 rungs from 1e-7 to 10, stop at
3x the best smoothed loss."""
RISE_FACTOR = 1.5
"""``midspan``'s blow-up anchor: where the lag-free curve, past its minimum, is back at 1.5x that
minimum. The last rung (where the 3x stop rule fired on the lagging EMA) was bimodal on the MLP
tasks: their diverged loss plateaus near chance level, under 3x the best EMA, so the stop fired
only on an early spike, else at the end of the ladder. Read at 1.5x, on the same curves (seeds
10-19 / 0-9, ``python -m benchmarks.calibrate``), the worst task's seed spread fell from 0.30 /
0.24 decade to 0.15 / 0.11, the mean interpolated regret from 10.8 % / 10.5 % to 10.3 % / 10.0 %.
2x measured a worst spread of 0.25 / 0.13; a level relative to the descent's depth sent the
small-batch task's regret past 50 %.

The smoothing kernel is about five rungs wide, so a blow-up to a loss far above the curve's
level pulls the crossing to lower rates: a last loss of 1e4 moves the suggestion about 0.2
decade down, 1e9 about 0.6 (synthetic curves). Clipping the losses before smoothing removes
that, but measured worse on the benchmark (worst task +30 % against +21 % at 4x the starting
loss): the small-batch task's spikes are part of what keeps its rate down."""


def midspan(curve: Curve) -> float:
    """The log-middle between where training starts to work and where it blows up, a little lower.

    Two points anchor it, both read on the lag-free curve:

    - the *half-descent* rate: the first rate at which the smoothed loss has made half of its
      total drop from its starting level to its minimum (training has clearly started);
    - the *blow-up* rate: the first rate past the minimum where the smoothed loss is back at
      :data:`RISE_FACTOR` times it, interpolated between rungs (the last rate of the test when
      it never gets there, as on a curve that never blew up, which the diagnosis flags).

    Why not the curve's minimum: it mixes "how large a step is still stable" with "how much the
    first few dozen steps have already learnt", and it wanders with the batch noise. The two
    anchors sit where the curve is steep, so noise moves them less. On the benchmark neither
    rate sits at a fixed distance from the best one-cycle peak (both spread over about a decade
    across tasks), but with one fitted constant ``midspan`` had the least regret, and too high is where
    a one-cycle fit suffers most. Numbers: ``docs/benchmarks.md``.
    """
    lrs, smooth = curve.lrs, curve.centered
    log_lrs = np.log10(lrs)
    lowest = int(np.argmin(smooth))
    start = float(np.median(curve.losses[: max(3, head_length(len(curve)))]))
    half_way_down = start - 0.5 * (start - smooth[lowest])
    # On a curve with no descent this is the first point; the diagnosis says "no_descent" or
    # "already_trained", and the range test reads such a curve with `blow_up` or not at all.
    half_descent = int(np.argmax(smooth[: lowest + 1] <= half_way_down))
    middle = 0.5 * (log_lrs[half_descent] + _rise_point(log_lrs, smooth, lowest))
    return float(10.0**middle / MIDSPAN_DIVISOR)


def _rise_point(log_lrs: np.ndarray, smooth: np.ndarray, lowest: int) -> float:
    """log10 of the first rate past ``lowest`` where ``smooth`` exceeds :data:`RISE_FACTOR` x its minimum."""
    level = smooth[lowest] + (RISE_FACTOR - 1.0) * abs(smooth[lowest])
    above = np.flatnonzero(smooth[lowest + 1 :] > level)
    if not len(above):
        return float(log_lrs[-1])
    i = lowest + 1 + int(above[0])
    fraction = (level - smooth[i - 1]) / (smooth[i] - smooth[i - 1])  # smooth[i - 1] <= level < smooth[i]
    return float(log_lrs[i - 1] + fraction * (log_lrs[i] - log_lrs[i - 1]))


BLOW_UP_DIVISOR = 10**1.75
"""How far below the blow-up point :func:`blow_up` reads: 10**1.75, about 56. Calibrated on the
benchmark's second stage (seven tasks trained once, then fitted again, 4-5 such curves each;
``python -m benchmarks.second_stage``): read off the stage-two grids, 10**1.75 had the lowest
worst task (+24 %; mean +13 %), and held out one task at a time it was the pick six times of
seven. No single distance serves every task: the best stage-two rate sat 0.9 to 5 decades below
the blow-up point."""


def blow_up(curve: Curve) -> float:
    """A 56th (:data:`BLOW_UP_DIVISOR`) of the rate where the test blew up.

    The rate for a curve with no descent that still blows up (diagnosis ``already_trained``):
    a trained model has nothing left to learn at small rates, so the descent rules have no
    anchor, but the point where training breaks is as clear as on a fresh model. The range test
    hands this rule's answer for such a curve, whatever rule was asked for.
    """
    return float(curve.lrs[-1] / BLOW_UP_DIVISOR)


Rule = Callable[[Curve], float]
"""A suggestion rule: any function from a finished :class:`Curve` to a learning rate."""

RULES: dict[str, Rule] = {
    "midspan": midspan,
    "valley": valley,
    "steepest": steepest,
    "minimum": minimum,
}
DEFAULT_RULE = "midspan"
"""The measured best: lowest regret against a one-cycle grid oracle across the benchmark's
seven tasks, ahead of fastai's rules and Lightning's; numbers in ``docs/benchmarks.md``."""


def resolve_rule(rule: str | Rule) -> tuple[str, Rule]:
    """The name and function of ``rule``: a name from :data:`RULES`, or a callable of your own.

    A callable is named by its ``__name__`` (a ``functools.partial`` or a callable object by its
    type's name); that name labels it in results, reports and plots.
    """
    if isinstance(rule, str):
        if rule in RULES:
            return rule, RULES[rule]
    elif callable(rule):
        return getattr(rule, "__name__", None) or type(rule).__name__, rule
    raise ValueError(f"suggestion must be one of {sorted(RULES)} or a callable Curve -> float, got {rule!r}")


def check_rule(rule: str | Rule) -> str:
    """The rule's name; ``ValueError`` naming ``suggestion`` when it is neither a known name nor callable."""
    return resolve_rule(rule)[0]


def suggest(lrs, losses, rule: str | Rule = DEFAULT_RULE, beta: float = 0.98) -> float | None:
    """Suggest a learning rate from a range-test curve: ``rule``'s answer, whatever the curve.

    Unlike :meth:`RangeTest.result <pl_lrfind.core.RangeTest.result>`, it does not judge the
    curve: on a curve with no descent that blew up it still answers with ``rule``, where the
    range test hands :func:`blow_up`'s answer.

    ``losses`` are the raw per-step losses; each rule smooths them as it needs (``beta`` is
    the EMA factor for the rules that read the EMA). ``rule`` is a name from :data:`RULES` or
    a function ``Curve -> float``. Non-finite points are ignored. Returns ``None`` when fewer
    than :data:`~pl_lrfind.core.curve.MIN_POINTS` finite points remain; otherwise a rate inside
    the tested range.
    """
    check_rule(rule)
    curve = Curve.from_raw(lrs, losses, beta)
    return suggest_from_curve(curve, rule)


def suggest_from_curve(curve: Curve, rule: str | Rule) -> float | None:
    if len(curve) < MIN_POINTS:
        return None
    lr = resolve_rule(rule)[1](curve)
    return float(np.clip(lr, curve.lrs.min(), curve.lrs.max()))
