"""Suggestion rules: from a finished curve to one learning rate, each a small function of a :class:`Curve`.

fastai's three read the lagging EMA they were tuned on; ``midspan``, ours and the default, reads the lag-free curve."""

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
    """fastai's ``valley``: the longest strictly decreasing subsequence of the curve, read one and a half thirds
    into its index range, where the loss still falls well away from the blow-up at its end."""
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
"""``midspan`` also reads the blow-up where the lag-free loss doubles: it spreads less across seeds than the stop
point alone (``python -m benchmarks.experiments.anchors``; "The default rule, `midspan`, and its one constant")."""
MIDSPAN_DIVISOR = 2.5
"""``midspan`` lands 10**0.4 below the middle of its span, fitted on seven tasks for the default ladder and stop
rule (``python -m benchmarks.calibrate``; "The default rule, `midspan`, and its one constant")."""


def half_descent_rate(curve: Curve) -> float:
    """``midspan``'s first anchor: the first rate from which the lag-free loss stays under half its total drop."""
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
    """The first rate past the lag-free minimum where the loss has reached :data:`RISE_HEIGHT` times it (measured as
    the stop rule measures); the last rate when it never does."""
    smooth = curve.centered
    lowest = int(np.argmin(smooth))
    risen = np.flatnonzero(has_diverged(smooth[lowest:], smooth[lowest], RISE_HEIGHT))
    return float(curve.lrs[lowest + int(risen[0]) if risen.size else -1])


def midspan(curve: Curve) -> float:
    """The log-middle between where training starts to work and where it blows up, over :data:`MIDSPAN_DIVISOR`.

    The anchors, :func:`half_descent_rate` and the log-middle of the stop point and :func:`doubling_rate`, sit where
    the curve is steep, so batch noise moves them less than the minimum (why these: ``docs/design.md``)."""
    blow_up_point = 0.5 * (math.log10(doubling_rate(curve)) + math.log10(curve.lrs[-1]))
    middle = 0.5 * (math.log10(half_descent_rate(curve)) + blow_up_point)
    return float(10.0**middle / MIDSPAN_DIVISOR)


BLOW_UP_DIVISOR = 10**2.5
""":func:`blow_up` reads 10**2.5 (about 316) below the blow-up: the lowest worst case over the second-stage and
fine-tuning grids ("The second stage: a trained model, fitted again"); too low costs less than too high."""


def blow_up(curve: Curve) -> float:
    """A 316th (:data:`BLOW_UP_DIVISOR`) of the rate where the test blew up: the rate for a trained
    model's curve (``already_trained``), which has no descent to anchor on but a clear blow-up."""
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
"""The lowest regret against a one-cycle grid oracle on the benchmark's seven tasks ("Suggestion quality")."""


def resolve_rule(rule: str | Rule) -> tuple[str, Rule]:
    """The name and function of ``rule``, a name from :data:`RULES` or a callable of your own, named by its
    ``__name__`` (a ``functools.partial`` or a callable object by its type's name) in results, reports and plots."""
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
    """``rule``'s rate on a curve of raw per-step ``losses`` (``beta`` for the EMA), without judging the curve.

    Non-finite points are ignored; ``None`` below :data:`MIN_POINTS` finite points, else a rate inside the range."""
    check_rule(rule)
    curve = Curve.from_raw(lrs, losses, beta)
    return suggest_from_curve(curve, rule)


def suggest_from_curve(curve: Curve, rule: str | Rule) -> float | None:
    """:func:`suggest` on a :class:`Curve` already built."""
    if len(curve) < MIN_POINTS:
        return None
    lr = resolve_rule(rule)[1](curve)
    return float(np.clip(lr, curve.lrs.min(), curve.lrs.max()))
