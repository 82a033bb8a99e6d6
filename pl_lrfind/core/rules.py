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


MIDSPAN_DIVISOR = 5.0
"""How far below the middle of the span ``midspan`` lands: 10**0.70, fitted on the benchmark's
seven tasks (``python -m benchmarks.calibrate``; with any one task held out, 10**0.65 to
10**0.70). It belongs to the default ladder and stop rule: 100 rungs from 1e-7 to 10, stop at
3x the best smoothed loss."""


def midspan(curve: Curve) -> float:
    """A fifth of the log-middle between where training starts to work and where it blows up.

    Two points anchor it, both read on the lag-free curve:

    - the *half-descent* rate: the first rate from which the smoothed loss stays below half of
      its total drop from its starting level to its minimum (training has clearly started). A
      noisy curve can dip below that level early and come back: reading that first crossing put
      the benchmark's GRU with SGD (a 1 % descent) 2 decades low on one seed. Of the 190 stored
      benchmark curves, only that one and one noisy second-stage curve hand a different rate;
    - the *blow-up* rate: the last rate of the test, where the stop rule fired (or the end of
      the range when the curve never blew up, which the diagnosis flags).

    Why not the curve's minimum: it mixes "how large a step is still stable" with "how much the
    first few dozen steps have already learnt", and it wanders with the batch noise. The two
    anchors sit where the curve is steep, so noise moves them less. On the benchmark neither
    rate sits at a fixed distance from the best one-cycle peak (both spread over about a decade
    across tasks), but with one constant ``midspan`` had the least regret: its worst miss, on
    the small-batch task, was about half a decade too high, the minimum's close to a decade,
    and too high is where a one-cycle fit suffers most. Numbers: ``docs/benchmarks.md``.

    The blow-up anchor is bimodal on the two MLP tasks (their diverged loss plateaus under the
    stop rule's 3x, so the test stops on an early spike or runs to the ladder's end): most of
    their seed spread. Read instead where the lag-free curve is back at 1.5x its minimum, the
    worst task's spread halved (0.24 to 0.11 decade) at the same 1x regret, but on the budget
    benchmark's 22 cells other than the transformer fine-tune the regret rose (final loss mean
    +15 % to +18 %, best check +9 % to +12 %; the BatchNorm CNNs read too low), so the last rung
    stays. Capping the last rung at 2 decades past the minimum did the same on a smaller scale
    (1x better, budget cells worse: final +15.0 % to +16.5 %), and is not used either. Both were
    judged with the budget exponent at 0.8, the default then.
    """
    lrs, smooth = curve.lrs, curve.centered
    lowest = int(np.argmin(smooth))
    start = float(np.median(curve.losses[: max(3, head_length(len(curve)))]))
    half_way_down = start - 0.5 * (start - smooth[lowest])
    above = np.flatnonzero(smooth[: lowest + 1] > half_way_down)
    # On a curve with no descent this is the first point; the diagnosis says "no_descent" or
    # "already_trained", and the range test reads such a curve with `blow_up` or not at all.
    half_descent = int(above[-1]) + 1 if above.size and above[-1] < lowest else 0
    middle = 0.5 * (np.log10(lrs[half_descent]) + np.log10(lrs[-1]))
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
stage mean +11.4 %, worst task +38 % (a typed 1e-3 / 1e-2 kept: +8.2 %, +24 %); the transformer
fine-tune's 1x cell +28 % (+35 % with the typed rate kept; its seeds there land anywhere from
-30 % to +143 %, so the cell reads +13 % to +63 % across budget exponents that barely move its
rate)."""


def blow_up(curve: Curve) -> float:
    """A 316th (:data:`BLOW_UP_DIVISOR`) of the rate where the test blew up.

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
