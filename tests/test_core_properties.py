"""Property tests: whatever losses a model produces, the core neither crashes nor strays."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from pl_lrfind.core import RULES, RangeTest, StopReason, suggest

any_loss = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.just(0.0),
    st.sampled_from([1e300, -1e300, 5e-324]),
)
settings_strategy = st.fixed_dictionaries(
    {
        "min_lr": st.floats(min_value=1e-9, max_value=1e-2),
        "decades": st.floats(min_value=0.5, max_value=10.0),
        "num_steps": st.integers(min_value=5, max_value=80),
        "mode": st.sampled_from(["exponential", "linear"]),
        "beta": st.floats(min_value=0.0, max_value=0.999),
        "divergence_threshold": st.floats(min_value=1.01, max_value=100.0),
        "steps_per_lr": st.integers(min_value=1, max_value=3),
        "suggestion": st.sampled_from(sorted(RULES)),
    }
)


def make_test(config: dict) -> RangeTest:
    config = dict(config)
    min_lr = config.pop("min_lr")
    return RangeTest(min_lr=min_lr, max_lr=min_lr * 10 ** config.pop("decades"), **config)


@settings(max_examples=300, deadline=None)
@given(config=settings_strategy, losses=st.lists(any_loss, max_size=250))
def test_random_loss_sequences_never_crash_and_suggestions_stay_in_range(config, losses):
    test = make_test(config)
    for loss in losses:
        if test.record(loss):
            break
    test.stop(StopReason.INTERRUPTED)
    result = test.result()

    assert len(result.lrs) == len(result.losses) == len(result.smoothed_losses) <= config["num_steps"]
    assert all(math.isfinite(x) for x in result.losses)
    low, high = test.settings["min_lr"], test.settings["max_lr"]
    for value in result.suggestions.values():
        assert value is None or low <= value <= high
    assert result.diagnosis in {
        "ok",
        "already_trained",
        "no_descent",
        "diverged_immediately",
        "never_diverged",
        "too_noisy",
        "too_short",
        "skipped",
    }
    assert type(result).from_json(result.to_json()) == result


@settings(max_examples=200, deadline=None)
@given(
    losses=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=120),
    rule=st.sampled_from(sorted(RULES)),
)
def test_suggest_on_arbitrary_curves_answers_inside_the_ladder_or_none(losses, rule):
    lrs = [1e-5 * 1.1**i for i in range(len(losses))]
    value = suggest(lrs, losses, rule=rule)
    finite = [lr for lr, loss in zip(lrs, losses, strict=True) if math.isfinite(loss)]
    assert value is None or min(finite) <= value <= max(finite)


@settings(max_examples=100, deadline=None)
@given(constant=st.floats(min_value=-1e6, max_value=1e6), config=settings_strategy)
def test_a_constant_loss_never_diverges(constant, config):
    test = make_test(config)
    while not test.done:
        test.record(constant)
    assert test.stop_reason is StopReason.COMPLETED
