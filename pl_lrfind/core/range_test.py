"""The range test itself, as a small state machine fed one loss per optimizer step.

It knows nothing about models or trainers: an adapter asks it for the rate of the next step,
runs that step, and hands back the loss. This keeps every judgement the test makes (when to
stop, what to suggest, what the curve means) testable on plain numbers.
"""

from __future__ import annotations

import math
from typing import Any

from .curve import MIN_POINTS, Curve, head_length
from .diagnosis import ALREADY_TRAINED, diagnose
from .ladder import MODES, lr_ladder
from .result import LRFindResult
from .rules import DEFAULT_RULE, RULES, Rule, blow_up, resolve_rule, suggest_from_curve
from .smoothing import DebiasedEMA
from .stop import StopReason, has_diverged

MIN_NUM_STEPS = MIN_POINTS
"""A shorter ladder could not give the points a rule needs to read a curve."""


def mean_loss(values: list[float]) -> float:
    """The mean of finite losses without overflow: ``fsum`` raises on two losses near 1e308."""
    return sum(value / len(values) for value in values)


def grace_steps(num_steps: int) -> int:
    """Measured steps before the stop rule may fire.

    The debiased EMA of the first few steps is an average of a handful of batches; on a model
    that is already trained its minimum can sit far below the typical loss by chance, and a
    ``4 x best`` rule then fires on noise. Waiting out the head of the ladder (its first tenth,
    which fastai skips when it reads the curve) removes those false blow-ups; a real early
    blow-up still ends the test a few steps later, or at once if the loss turns non-finite.
    """
    return max(2, head_length(num_steps))


def check_positive(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a positive finite number."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming ``name`` and the allowed values unless ``value`` is one."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def validate_settings(
    min_lr: float,
    max_lr: float,
    num_steps: int,
    mode: str,
    beta: float,
    divergence_threshold: float,
    steps_per_lr: int,
    suggestion: str | Rule,
) -> None:
    """Fail fast, naming the argument and what it may be."""
    check_positive("min_lr", min_lr)
    check_positive("max_lr", max_lr)
    if min_lr >= max_lr:
        raise ValueError(f"min_lr must be smaller than max_lr, got min_lr={min_lr!r} >= max_lr={max_lr!r}")
    if not isinstance(num_steps, int) or num_steps < MIN_NUM_STEPS:
        raise ValueError(f"num_steps must be an integer >= {MIN_NUM_STEPS}, got {num_steps!r}")
    check_choice("mode", mode, MODES)
    if not (isinstance(beta, (int, float)) and 0.0 <= beta < 1.0):
        raise ValueError(f"beta must lie in [0, 1), got {beta!r}")
    if not (isinstance(divergence_threshold, (int, float)) and divergence_threshold > 1.0):
        raise ValueError(f"divergence_threshold must be > 1, got {divergence_threshold!r}")
    if not isinstance(steps_per_lr, int) or steps_per_lr < 1:
        raise ValueError(f"steps_per_lr must be an integer >= 1, got {steps_per_lr!r}")
    resolve_rule(suggestion)


class RangeTest:
    """Walks the learning-rate ladder, one rung per ``steps_per_lr`` optimizer steps.

    Use: read :attr:`current_lr`, run one optimizer step at it, :meth:`record` the loss;
    repeat until :attr:`done`; then :meth:`result`.
    """

    def __init__(
        self,
        min_lr: float = 1e-7,
        max_lr: float = 10.0,
        num_steps: int = 100,
        mode: str = "exponential",
        beta: float = 0.98,
        divergence_threshold: float = 3.0,
        steps_per_lr: int = 1,
        suggestion: str | Rule = DEFAULT_RULE,
    ) -> None:
        validate_settings(min_lr, max_lr, num_steps, mode, beta, divergence_threshold, steps_per_lr, suggestion)
        self.settings = dict(
            min_lr=min_lr,
            max_lr=max_lr,
            num_steps=num_steps,
            mode=mode,
            beta=beta,
            divergence_threshold=divergence_threshold,
            steps_per_lr=steps_per_lr,
        )
        self.rule, self._rule_function = resolve_rule(suggestion)
        self.ladder = lr_ladder(min_lr, max_lr, num_steps, mode)
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.stop_reason: StopReason | None = None
        self._ema = DebiasedEMA(beta)
        self._best = math.inf
        self._rung_losses: list[float] = []
        self._grace = grace_steps(num_steps)

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def current_lr(self) -> float:
        """The rate for the next optimizer step."""
        return self.ladder[min(len(self.lrs), len(self.ladder) - 1)]

    def record(self, loss: float) -> bool:
        """Take the loss of one optimizer step at :attr:`current_lr`; return :attr:`done`."""
        if self.done:
            raise RuntimeError("the range test has already stopped")
        if not math.isfinite(loss):
            return self.stop(StopReason.NON_FINITE_LOSS)
        self._rung_losses.append(float(loss))
        if len(self._rung_losses) < self.settings["steps_per_lr"]:
            return False
        value = mean_loss(self._rung_losses)
        self._rung_losses.clear()
        smoothed = self._ema.update(value)
        self.lrs.append(self.current_lr)
        self.losses.append(value)
        self.smoothed.append(smoothed)

        measured = len(self.lrs)
        if measured >= self._grace:
            if measured > self._grace and has_diverged(smoothed, self._best, self.settings["divergence_threshold"]):
                return self.stop(StopReason.DIVERGED)
            self._best = min(self._best, smoothed)
        if measured == len(self.ladder):
            return self.stop(StopReason.COMPLETED)
        return False

    def stop(self, reason: StopReason) -> bool:
        """End the test (first reason wins); return True."""
        if self.stop_reason is None:
            self.stop_reason = StopReason(reason)
        return True

    def result(self) -> LRFindResult:
        if not self.done:
            raise RuntimeError("the range test is still running; call stop() first")
        curve = Curve.from_raw(self.lrs, self.losses, self.settings["beta"])
        suggestions = {name: suggest_from_curve(curve, rule) for name, rule in RULES.items()}
        suggestions[self.rule] = suggest_from_curve(curve, self._rule_function)
        verdict = diagnose(curve, self.stop_reason, self.settings["num_steps"])
        rule = self.rule
        if verdict.code == ALREADY_TRAINED:  # nothing for a descent rule to anchor on: read the blow-up
            rule = "blow_up"
            read = blow_up(curve)
            # Below the ladder the reading is a bound, not a rate: the curve more likely started too high.
            suggestions[rule] = read if read >= curve.lrs.min() else None
        return LRFindResult(
            lrs=list(self.lrs),
            losses=list(self.losses),
            smoothed_losses=list(self.smoothed),
            suggestion=suggestions[rule],
            rule=rule,
            suggestions=suggestions,
            stop_reason=self.stop_reason,
            diagnosis=verdict.code,
            advice=verdict.advice,
            settings=dict(self.settings),
        )
