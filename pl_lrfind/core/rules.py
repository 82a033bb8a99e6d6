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

import math
from collections.abc import Callable

import numpy as np

from .curve import MIN_POINTS, Curve
from .stop import has_diverged


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


RISE_HEIGHT = 2.0
"""How far past its minimum the lag-free loss must rise, as a multiple of it, for ``midspan``'s
second reading of the blow-up: twice.

The stop rule watches the EMA, which lags, and fires at 3x its best. Where the diverged loss
plateaus near that height, the test stops on a spike in one seed and runs to the end of the
ladder in another, more than a decade apart; the lag-free curve doubles at rates that agree
far better across seeds. Averaged in log with the stop point, it cut the cells of the budget
benchmark whose rate spreads over 0.1 decade from seed to seed from 33 to 22 of 57 (``python -m
benchmarks.budgets``, seeds 0-4; the MLP with RMSprop's spread from 0.35 to 0.16 decade).
Chosen on those seeds' curves among crossings at 1.25x to 5x, alone or averaged with the stop
point (all within a point of each other on the regret, except 3x and 5x alone, as bimodal as
the stop rule), then tested on seeds 5-9 against a criterion written first (``python -m
benchmarks.anchors``); numbers in ``docs/benchmarks.md``."""
MIDSPAN_DIVISOR = 2.5
"""How far below the middle of the span ``midspan`` lands: 10**0.40, fitted on the benchmark's
seven tasks (``python -m benchmarks.calibrate``; with any one task held out, 10**0.35 to
10**0.45). It belongs to the default ladder and stop rule: 100 rungs from 1e-7 to 10, stop at
3x the best smoothed loss. (10**0.70 = 5 while the blow-up anchor was the stop point alone,
which sits further out.)"""


def half_descent_rate(curve: Curve) -> float:
    """The first rate from which the lag-free loss stays below half of its drop from its starting
    level to its minimum: ``midspan``'s first anchor."""
    lrs, smooth = curve.lrs, curve.centered
    lowest = int(np.argmin(smooth))
    start = curve.starting_level()
    half_way_down = start - 0.5 * (start - smooth[lowest])
    above = np.flatnonzero(smooth[: lowest + 1] > half_way_down)
    # On a curve with no descent this is the first point or a noise dip; the diagnosis says
    # "no_descent" or "already_trained" (read with `blow_up` or not at all), or "too_noisy" for
    # a quiet plateau that blew up, which this anchor still reads.
    return float(lrs[int(above[-1]) + 1 if above.size and above[-1] < lowest else 0])


def doubling_rate(curve: Curve) -> float:
    """The first rate past the lag-free minimum where the loss has risen to :data:`RISE_HEIGHT`
    times it (measured against its absolute value, as the stop rule does); the last rate when it
    never does."""
    smooth = curve.centered
    lowest = int(np.argmin(smooth))
    risen = np.flatnonzero(has_diverged(smooth[lowest:], smooth[lowest], RISE_HEIGHT))
    return float(curve.lrs[lowest + int(risen[0]) if risen.size else -1])


def midspan(curve: Curve) -> float:
    """The log-middle between where training starts to work and where it blows up, over :data:`MIDSPAN_DIVISOR`.

    Two points anchor it, both read on the lag-free curve:

    - the *half-descent* rate: the first rate from which the smoothed loss stays below half of
      its total drop from its starting level to its minimum (training has clearly started). A
      noisy curve can dip below that level early and come back: reading that first crossing put
      the benchmark's GRU with SGD (a 1 % descent) 2 decades low on one seed. Of the 190 stored
      benchmark curves, only that one and one noisy second-stage curve hand a different rate;
    - the *blow-up* rate: the log-middle of the last rate of the test, where the stop rule
      fired (or the end of the range when the curve never blew up, which the diagnosis flags),
      and the first rate past the minimum where the loss has doubled (:data:`RISE_HEIGHT`).

    Why not the curve's minimum: it mixes "how large a step is still stable" with "how much the
    first few dozen steps have already learnt", and it wanders with the batch noise. The two
    anchors sit where the curve is steep, so noise moves them less. On the benchmark neither
    rate sits at a fixed distance from the best one-cycle peak (both spread over about a decade
    across tasks), but with one constant ``midspan`` had the least regret: its worst miss, on
    the small-batch task, was about half a decade too high, the minimum's close to a decade,
    and too high is where a one-cycle fit suffers most. Numbers: ``docs/benchmarks.md``.

    Why both blow-up readings: the stop point alone is bimodal on the MLP tasks (their diverged
    loss plateaus near the stop rule's 3x), and the doubling point alone spreads more on the
    tasks whose curves run to the ladder's end (the fresh-data regressions). Two earlier tries
    replaced the stop point outright, by where the loss is back at 1.5x its minimum, and by the
    stop point capped at 2 decades past the minimum: both steadied the MLPs and raised the
    regret of longer fits, and neither was adopted (``docs/benchmarks.md``).
    """
    blow_up_point = 0.5 * (math.log10(doubling_rate(curve)) + math.log10(curve.lrs[-1]))
    middle = 0.5 * (math.log10(half_descent_rate(curve)) + blow_up_point)
    return float(10.0**middle / MIDSPAN_DIVISOR)


BLOW_UP_DIVISOR = 10**2.5
"""How far below the blow-up point :func:`blow_up` reads: 10**2.5, about 316. No single distance
serves every task: on the benchmark's second stage (seven tasks trained once, then fitted again;
``python -m benchmarks.second_stage``) the best stage-two rate sat 0.9 to 5 decades below the
blow-up point, and read off the stage-two grids 10**1.75 had the lowest worst task (+24 %; mean
+13 %). But the same reading fires on fine-tuning curves with no descent, and on the transformer
fine-tune (``python -m benchmarks.budgets``) 10**1.75 handed rates that lost +140 % there. 10**2.5
has the lowest worst case over both on the grids (+31 % on the second stage's GRU, +15 % on the
fine-tune); too low costs a one-cycle fit far less than too high. End to end (5 seeds): second
stage mean +11.0 %, worst task +35 % (a typed 1e-3 / 1e-2 kept: +8.2 %, +24 %); the transformer
fine-tune's 1x cell +28 % (+35 % with the typed rate kept; its seeds there land anywhere from
-30 % to +143 %, so the cell reads +13 % to +63 % across budget exponents that barely move its
rate)."""


def blow_up(curve: Curve) -> float:
    """A 316th (:data:`BLOW_UP_DIVISOR`) of the rate where the test blew up.

    The rate for a curve with no descent that still blows up, noisy against its loss (diagnosis
    ``already_trained``; a quiet one is a fresh model on a plateau, read by the rule): a trained
    model has nothing left to learn at small rates, so the descent rules have no
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
    range test hands :func:`blow_up`'s answer (for a trained model's noisy curve).

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
