"""The pure range-test core on plain numbers: ladder, smoothing, stop rule, rules, result."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pl_lrfind.core import (
    BLOW_UP_DIVISOR,
    DEFAULT_RULE,
    RULES,
    Curve,
    DebiasedEMA,
    LRFindResult,
    RangeTest,
    StopReason,
    debiased_ema,
    has_diverged,
    lr_ladder,
    suggest,
)
from pl_lrfind.core.budget import (
    BEST_CHECK_PASS_EXPONENT,
    NON_ADAM_LEVEL,
    PASS_EXPONENT,
    REFERENCE_PASSES,
    describe_factor,
    level_for,
    pass_exponent_for,
    repetition_factor,
)
from pl_lrfind.core.range_test import grace_steps
from pl_lrfind.core.rules import MIDSPAN_DIVISOR, doubling_rate


def synthetic_curve(num_steps=100, min_lr=1e-6, max_lr=10.0, noise=0.01, seed=0, blow_up=True):
    """Flat, then a descent centred near 1e-2, then (optionally) a blow-up past 0.3."""
    lrs = np.array(lr_ladder(min_lr, max_lr, num_steps))
    z = np.log10(lrs)
    loss = 2.0 - 1.5 / (1 + np.exp(-(z + 2.0) * 3))
    if blow_up:
        loss = loss + np.where(z > -0.5, (z + 0.5) ** 2 * 40, 0.0)
    return lrs, loss + np.random.default_rng(seed).normal(0, noise, num_steps)


def run_test(losses, **settings):
    test = RangeTest(**settings)
    for loss in losses:
        if test.record(float(loss)):
            break
    else:
        test.stop(StopReason.INTERRUPTED)
    return test.result()


class TestLadder:
    def test_exponential_spans_min_to_max_evenly_in_log(self):
        rungs = lr_ladder(1e-6, 1.0, 7)
        assert rungs[0] == 1e-6 and rungs[-1] == 1.0
        assert np.allclose(np.diff(np.log10(rungs)), 1.0)

    def test_linear_spans_min_to_max_evenly(self):
        rungs = lr_ladder(0.1, 1.0, 10, mode="linear")
        assert rungs[0] == 0.1 and rungs[-1] == 1.0
        assert np.allclose(np.diff(rungs), 0.1)

    def test_range_test_visits_the_ladder_in_order(self):
        result = run_test([1.0] * 10, min_lr=1e-3, max_lr=1.0, num_steps=10)
        assert result.lrs == lr_ladder(1e-3, 1.0, 10)
        assert result.stop_reason is StopReason.COMPLETED


class TestSmoothing:
    @pytest.mark.parametrize("beta", [0.0, 0.5, 0.98, 0.999])
    def test_debiased_ema_of_a_constant_is_that_constant_from_step_one(self, beta):
        assert debiased_ema([3.25] * 20, beta) == pytest.approx([3.25] * 20, rel=1e-12)

    def test_debiased_ema_follows_the_formula(self):
        ema, avg = DebiasedEMA(0.9), 0.0
        for t, value in enumerate([5.0, 1.0, 2.0, 8.0], start=1):
            avg = 0.9 * avg + 0.1 * value
            assert ema.update(value) == pytest.approx(avg / (1 - 0.9**t))

    def test_smoothed_losses_in_result_are_the_debiased_ema(self):
        losses = [4.0, 3.0, 2.5, 2.0, 1.8, 1.7]
        result = run_test(losses, num_steps=6, beta=0.7)
        assert result.smoothed_losses == pytest.approx(debiased_ema(losses, 0.7))


class TestStopRule:
    def test_stops_when_smoothed_loss_exceeds_threshold_times_best(self):
        losses = [1.0] * 20 + [100.0] * 20
        result = run_test(losses, num_steps=40, beta=0.0, divergence_threshold=4.0)
        assert result.stop_reason is StopReason.DIVERGED
        assert result.num_steps_taken == 21  # the first point above 4 x best ends the test

    def test_does_not_stop_below_the_default_threshold(self):
        threshold = RangeTest().settings["divergence_threshold"]
        losses = [1.0] * 20 + [threshold - 0.1] * 20
        assert run_test(losses, num_steps=40, beta=0.0).stop_reason is StopReason.COMPLETED
        assert run_test(losses[:21] + [threshold + 0.1], num_steps=40, beta=0.0).stop_reason is StopReason.DIVERGED

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
    def test_non_finite_loss_stops_at_once_and_is_not_recorded(self, bad):
        result = run_test([2.0, 1.9, 1.8, bad, 1.0], num_steps=10)
        assert result.stop_reason is StopReason.NON_FINITE_LOSS
        assert result.losses == [2.0, 1.9, 1.8]

    def test_negative_losses_do_not_trigger_divergence(self):
        # A falling negative loss (a log-likelihood, say): 4 x best lies *below* best here.
        losses = list(np.linspace(-1.0, -5.0, 30))
        assert run_test(losses, num_steps=30, beta=0.0).stop_reason is StopReason.COMPLETED

    def test_negative_losses_that_blow_up_still_stop(self):
        losses = [-2.0] * 15 + [50.0] * 15
        assert run_test(losses, num_steps=30, beta=0.0).stop_reason is StopReason.DIVERGED

    @pytest.mark.parametrize(
        ("smoothed", "best", "expected"),
        [(4.1, 1.0, True), (3.9, 1.0, False), (-1.9, -2.0, False), (6.1, -2.0, True), (-9.0, -2.0, False)],
    )
    def test_has_diverged_is_a_rise_measured_against_abs_best(self, smoothed, best, expected):
        assert has_diverged(smoothed, best, 4.0) is expected

    def test_early_noise_on_a_trained_model_is_no_blow_up(self):
        # Already-trained model: the first batch happens to be easy (loss ~0), the rest typical.
        losses = [0.001] + [0.05, 0.02, 0.08, 0.03, 0.06] * 10
        result = run_test(losses, num_steps=50, beta=0.98)
        assert result.stop_reason is StopReason.COMPLETED
        # Without the grace the second point would already count as a blow-up of the first.
        assert grace_steps(50) > 2
        assert has_diverged(result.smoothed_losses[1], result.smoothed_losses[0], 3.0)

    def test_a_rung_of_huge_finite_losses_averages_without_overflow(self):
        result = run_test([1e308, 1e308] * 5, num_steps=5, steps_per_lr=2, beta=0.0)
        assert result.losses[0] == 1e308

    def test_steps_per_lr_averages_each_rung(self):
        result = run_test([1.0, 3.0] * 6, num_steps=6, steps_per_lr=2, beta=0.0)
        assert result.losses == [2.0] * 6
        assert result.num_steps_taken == 6


class TestRules:
    @pytest.mark.parametrize("rule", sorted(RULES))
    def test_every_rule_lands_on_the_descent_of_a_clean_curve(self, rule):
        lrs, loss = synthetic_curve()
        lr = suggest(lrs, loss, rule=rule)
        # Between the start of the descent and the blow-up.
        assert 1e-4 < lr < 0.3, (rule, lr)

    def test_midspan_is_the_log_middle_of_half_descent_and_blow_up_over_its_divisor(self):
        # The loss is halfway down at 1e-2 and the test ended at 1.0 without the loss doubling
        # (both blow-up readings sit on the last rung): middle 1e-1, over the divisor.
        lrs, loss = synthetic_curve(num_steps=121, min_lr=1e-6, max_lr=1.0, blow_up=False)
        expected = math.log10(0.1 / MIDSPAN_DIVISOR)
        assert math.log10(suggest(lrs, loss, rule="midspan")) == pytest.approx(expected, abs=0.05)

    def test_midspan_follows_the_blow_up_point(self):
        lrs, loss = synthetic_curve(num_steps=121, min_lr=1e-6, max_lr=1.0, blow_up=False)
        early_end = lrs <= 0.1  # the same curve, but the test stopped a decade earlier
        earlier = suggest(lrs[early_end], loss[early_end], rule="midspan")
        assert math.log10(suggest(lrs, loss, rule="midspan") / earlier) == pytest.approx(0.5, abs=0.05)

    def test_midspan_half_follows_a_stop_that_comes_late_on_a_plateau(self):
        # Halfway down at 1e-4, doubled from its minimum soon after 1e-2, then a plateau at 2.8x
        # the minimum, under the stop rule's 3x: one seed's test stops on a spike at 1.0, another's
        # runs on to 10. Only the last rung moves: it is half of the blow-up anchor, itself half
        # of the reading, so the reading moves a quarter of a decade (half of one before the
        # doubling point was read).
        lrs = np.array(lr_ladder(1e-6, 10.0, 141))
        z = np.log10(lrs)
        loss = 2.0 - 1.5 / (1 + np.exp(-4 * (z + 4.0))) + np.clip((z + 2.0) * 4, 0.0, 0.9)
        early, late = z <= 0.0, z <= 1.0
        moved = math.log10(suggest(lrs[late], loss[late]) / suggest(lrs[early], loss[early]))
        assert moved == pytest.approx(0.25, abs=0.05)

    def test_the_doubling_point_is_where_the_loss_first_doubles_past_its_minimum_or_the_last_rate(self):
        lrs = np.array(lr_ladder(1e-6, 10.0, 141))
        z = np.log10(lrs)
        dip = np.where(z < -2.0, 1.0 - 0.5 * (z + 6.0) / 4.0, 0.5)  # down to 0.5 at 1e-2, then flat
        risen = dip + np.clip((z + 1.0) * 1.0, 0.0, None)  # back at 1.0, twice the minimum, at 1e-0.5
        assert math.log10(doubling_rate(Curve.from_raw(lrs, risen))) == pytest.approx(-0.5, abs=0.1)
        assert doubling_rate(Curve.from_raw(lrs, dip)) == lrs[-1]
        # Measured against |minimum|, as the stop rule is: from -1.0 the loss has "doubled" at 0.0 (1e0).
        assert math.log10(doubling_rate(Curve.from_raw(lrs, risen - 1.5))) == pytest.approx(0.0, abs=0.1)

    def test_midspan_anchors_where_the_loss_stays_down_not_on_an_early_dip(self):
        # A dip past half-way at 1e-4 that comes back, then the real descent centred near 1e-2.
        lrs, loss = synthetic_curve(num_steps=121, min_lr=1e-6, max_lr=1.0, noise=0.0, blow_up=False)
        z = np.log10(lrs)
        early = loss - 1.2 * np.exp(-(((z + 4.0) / 0.5) ** 2))
        smooth = Curve.from_raw(lrs, early).centered
        assert smooth[z < -3].min() < 1.25  # below the half-way level (2.0 - 1.5 / 2), smoothed too
        clean, dipped = suggest(lrs, loss, rule="midspan"), suggest(lrs, early, rule="midspan")
        assert math.log10(dipped / clean) == pytest.approx(0.0, abs=0.05)

    def test_suggestion_is_none_with_too_few_points(self):
        assert suggest([1e-3, 1e-2], [1.0, 0.5]) is None

    def test_unknown_rule_is_rejected_with_the_allowed_names(self):
        with pytest.raises(ValueError, match="suggestion must be one of"):
            suggest([1e-3] * 10, [1.0] * 10, rule="magic")

    def test_result_carries_every_rule_and_the_chosen_one(self):
        _, loss = synthetic_curve()
        result = run_test(loss, min_lr=1e-6, max_lr=10.0, num_steps=100, suggestion="valley")
        assert set(result.suggestions) == set(RULES)
        assert result.suggestion == result.suggestions["valley"]


class TestResult:
    def test_round_trips_through_json(self):
        _, loss = synthetic_curve()
        result = run_test(loss, min_lr=1e-6, max_lr=10.0, num_steps=100)
        text = result.to_json()
        json.loads(text)  # plain JSON
        again = LRFindResult.from_json(text)
        assert again == result
        assert isinstance(again.stop_reason, StopReason)

    def test_diagnosis_ok_on_a_clean_curve(self):
        _, loss = synthetic_curve()
        assert run_test(loss, min_lr=1e-6, max_lr=10.0, num_steps=100).diagnosis == "ok"

    def test_diagnosis_never_diverged_when_still_falling_at_max_lr(self):
        _, loss = synthetic_curve(max_lr=1e-2, blow_up=False)
        result = run_test(loss, min_lr=1e-6, max_lr=1e-2, num_steps=100)
        assert result.diagnosis == "never_diverged"

    def test_a_flat_then_blowing_up_curve_is_already_trained_and_read_at_its_blow_up(self):
        lrs = np.array(lr_ladder(1e-6, 10.0, 100))
        loss = 0.05 + np.where(lrs > 0.1, (np.log10(lrs) + 1) * 2, 0.0)
        result = run_test(loss, min_lr=1e-6, max_lr=10.0, num_steps=100)
        assert result.stop_reason is StopReason.DIVERGED
        assert result.diagnosis == "already_trained" and "blow_up" in result.advice
        assert result.rule == "blow_up"  # whatever rule was asked for: no descent to anchor it
        assert result.suggestion == result.suggestions["blow_up"] == pytest.approx(result.lrs[-1] / BLOW_UP_DIVISOR)
        assert result.suggestions["midspan"] is not None  # the asked rule's answer is still reported
        assert result.lrs[-1] / 1000 < result.suggestion < result.lrs[-1] / 100

    def test_already_trained_when_the_only_dip_is_batch_noise(self):
        # An already-trained model: a low loss that varies by batch, rising only at high rates.
        lrs = np.array(lr_ladder(1e-6, 10.0, 100))
        noise = np.random.default_rng(1).normal(0.0, 0.02, 100)
        loss = 0.03 + np.abs(noise) + np.where(lrs > 0.1, (np.log10(lrs) + 1) * 2, 0.0)
        result = run_test(loss, min_lr=1e-6, max_lr=10.0, num_steps=100)
        assert result.diagnosis == "already_trained"
        assert result.suggestion == pytest.approx(result.lrs[-1] / BLOW_UP_DIVISOR)

    @pytest.mark.parametrize(("noise", "expected"), [(0.002, "midspan"), (0.15, "blow_up")])
    def test_a_shallow_dip_is_a_descent_only_on_a_quiet_curve(self, noise, expected):
        """A fresh model at chance loss (2.3) dips about 1 % before it blows up, on a curve that varies
        by 0.2 % of its level; a trained model's (loss 0.1) does as much on a curve that varies
        by 15 % of its level. The first has a descent to read, the second has nothing but its blow-up."""
        lrs = np.array(lr_ladder(1e-7, 10.0, 100))
        z = np.log10(lrs)
        level = 2.3 if expected == "midspan" else 0.1
        shape = 1.0 - 0.02 * np.exp(-(((z + 1.3) / 0.5) ** 2)) + np.where(z > -0.8, (z + 0.8) ** 2 * 20, 0.0)
        loss = level * (shape + np.random.default_rng(0).normal(0.0, noise, 100))
        result = run_test(loss, min_lr=1e-7, max_lr=10.0, num_steps=100)
        assert result.stop_reason is StopReason.DIVERGED
        assert result.rule == expected
        if expected == "midspan":
            assert result.diagnosis in ("ok", "too_noisy")
            assert 1e-3 < result.suggestion < 0.3  # about the dip, a fifth of the way to the blow-up
        else:
            assert result.diagnosis == "already_trained"

    @pytest.mark.parametrize(("noise", "expected"), [(0.007, "midspan"), (1e-5, "blow_up"), (0.15, "blow_up")])
    def test_a_quiet_plateau_that_blows_up_is_read_by_the_rule_not_at_its_blow_up(self, noise, expected):
        """A fresh GRU stuck at chance loss (2.3): flat, varying by 0.7 % from batch to batch, no dip
        beyond that, then a blow-up. Quiet, it is a fresh model on a plateau and the rule reads it;
        flat to a thousandth of a percent (a loss that does not see its batches), or noisy against
        its level (a trained model's), it is read at its blow-up."""
        lrs = np.array(lr_ladder(1e-7, 10.0, 100))
        z = np.log10(lrs)
        shape = 1.0 + np.where(z > -0.5, (z + 0.5) ** 2 * 20, 0.0)
        loss = 2.3 * (shape + np.random.default_rng(3).normal(0.0, noise, 100))
        result = run_test(loss, min_lr=1e-7, max_lr=10.0, num_steps=100)
        assert result.stop_reason is StopReason.DIVERGED
        assert result.rule == expected
        assert result.diagnosis == ("too_noisy" if expected == "midspan" else "already_trained")

    def test_a_blow_up_too_close_to_min_lr_for_a_reading_hands_no_rate(self):
        """A 56th of the blow-up would lie below the ladder: more likely min_lr was too high."""
        result = run_test([1.0] * 12 + [1.0 + 4.0 * k for k in range(1, 40)])
        assert result.diagnosis == "already_trained" and result.lrs[-1] < 1e-7 * BLOW_UP_DIVISOR
        assert result.rule == "blow_up" and result.suggestion is None and "below min_lr" in result.advice

    def test_a_curve_with_neither_descent_nor_blow_up_is_no_descent_and_keeps_the_asked_rule(self):
        noise = np.random.default_rng(2).normal(0.0, 0.01, 100)
        result = run_test(0.5 + noise, min_lr=1e-6, max_lr=10.0, num_steps=100, suggestion="valley")
        assert result.stop_reason is StopReason.COMPLETED
        assert result.diagnosis == "no_descent" and "never blows up" in result.advice
        assert result.rule == "valley" and "blow_up" not in result.suggestions

    def test_diagnosis_diverged_immediately(self):
        result = run_test([1.0, 2.0, math.nan], num_steps=100)
        assert result.diagnosis == "diverged_immediately"

    def test_diagnosis_too_noisy(self):
        _, loss = synthetic_curve(noise=1.0, seed=3)
        result = run_test(loss, min_lr=1e-6, max_lr=10.0, num_steps=100, divergence_threshold=1e9)
        assert result.diagnosis == "too_noisy"


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("min_lr", 0.0, "min_lr must be a positive"),
        ("min_lr", -1e-3, "min_lr must be a positive"),
        ("max_lr", math.inf, "max_lr must be a positive"),
        ("min_lr", 100.0, "min_lr must be smaller than max_lr"),
        ("num_steps", 4, "num_steps must be an integer >= 5"),
        ("mode", "cubic", "mode must be one of"),
        ("beta", 1.0, r"beta must lie in \[0, 1\)"),
        ("beta", -0.1, r"beta must lie in \[0, 1\)"),
        ("divergence_threshold", 1.0, "divergence_threshold must be > 1"),
        ("steps_per_lr", 0, "steps_per_lr must be an integer >= 1"),
        ("suggestion", "magic", "suggestion must be one of"),
    ],
)
def test_bad_settings_fail_fast_naming_the_argument(name, value, match):
    with pytest.raises(ValueError, match=match):
        RangeTest(**{name: value})


class TestBudget:
    """The suggestion moves with the real fit's passes over its data and the optimizer's reading
    (pl_lrfind.core.budget), never with its length alone."""

    def handed(self, passes, keeps_best_check=False, adam_like=True, rule=DEFAULT_RULE) -> float:
        """log10 of what a fit would be handed off :func:`synthetic_curve`'s reading."""
        suggestion = run_test(synthetic_curve()[1], min_lr=1e-6, max_lr=10.0, num_steps=100).suggestion
        factor = level_for(adam_like, rule) * repetition_factor(passes, pass_exponent_for(keeps_best_check))
        return math.log10(suggestion * factor)

    def test_fresh_data_keeps_the_reading_however_long_the_fit(self):
        """A stream (no passes to count) and a few passes over a large set are not repetition."""
        read = self.handed(None)
        assert self.handed(1.0) == self.handed(REFERENCE_PASSES) == self.handed(0.01) == read
        assert repetition_factor(None) == repetition_factor(REFERENCE_PASSES) == 1.0

    def test_repetition_lowers_the_rate_by_the_measured_power_without_a_cap(self):
        read = self.handed(None)
        lowered = [self.handed(REFERENCE_PASSES * multiple) for multiple in (2, 16, 64, 256)]
        assert lowered == sorted(lowered, reverse=True) and lowered[0] < read
        assert read - lowered[1] == pytest.approx(PASS_EXPONENT * math.log10(16))
        assert read - lowered[3] == pytest.approx(PASS_EXPONENT * math.log10(256))  # still falling
        assert PASS_EXPONENT == 0.8

    def test_a_kept_best_check_is_lowered_less(self):
        assert pass_exponent_for(keeps_best_check=True) == BEST_CHECK_PASS_EXPONENT == 0.3
        assert pass_exponent_for(keeps_best_check=False) == PASS_EXPONENT
        many = 16 * REFERENCE_PASSES
        assert self.handed(None) > self.handed(many, keeps_best_check=True) > self.handed(many)

    def test_an_optimizer_without_betas_is_raised_at_every_repetition(self):
        for passes in (None, 1.0, 16 * REFERENCE_PASSES):
            raised = self.handed(passes, adam_like=False) - self.handed(passes)
            assert raised == pytest.approx(math.log10(NON_ADAM_LEVEL)) == pytest.approx(0.3)

    def test_the_level_corrects_only_the_rule_it_was_measured_on(self):
        assert level_for(adam_like=False, rule=DEFAULT_RULE) == NON_ADAM_LEVEL
        assert level_for(adam_like=True, rule=DEFAULT_RULE) == 1.0
        for rule in ("valley", "minimum", "blow_up", "my_rule"):
            assert level_for(adam_like=False, rule=rule) == 1.0

    def test_the_factor_in_words_names_what_moved_the_rate(self):
        assert describe_factor(1.0, None, PASS_EXPONENT) == "as read"
        assert describe_factor(1.0, 3.0, PASS_EXPONENT) == "as read"
        assert describe_factor(NON_ADAM_LEVEL, 2.0, PASS_EXPONENT) == "x2 for an optimizer without betas"
        words = describe_factor(1.0, 40.0, PASS_EXPONENT)
        assert words == f"x{8**-0.8:.2g} for 40 passes over the data"

    @pytest.mark.parametrize("exponent", [-0.1, math.inf, math.nan, "1"])
    def test_an_exponent_that_is_not_a_number_at_least_zero_is_refused(self, exponent):
        with pytest.raises(ValueError, match="pass_exponent must be a finite number >= 0"):
            repetition_factor(100.0, exponent)
        assert repetition_factor(10**6, 0.0) == 1.0
