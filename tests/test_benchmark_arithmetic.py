"""The benchmark's arithmetic on constructed numbers: no fits, so it runs with the fast tests."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.budget_rule import grouped_held_out


def test_a_grouped_exponent_is_picked_on_the_held_out_tasks_group_mates_only():
    # Regret (alpha - best)**2: a and b disagree, so a held-out task that leaked into its own
    # pick would land between them; e is alone in its group and learns from every other task.
    best = {"a": 0.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 0.0}
    alphas = (0.0, 0.25, 0.5, 0.75, 1.0)
    by_alpha = {
        alpha: {f"{task} {budget}x": (alpha - best[task]) ** 2 + 0.01 * budget for task in best for budget in (1, 4)}
        for alpha in alphas
    }
    found = grouped_held_out(by_alpha, {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z"})
    assert found["groups"] == {"X": ["a", "b"], "Y": ["c", "d"], "Z": ["e"]}
    assert found["in_sample"] == {"X": 0.5, "Y": 1.0, "Z": 0.0}
    assert {task: held["alpha"] for task, held in found["held_out"].items()} == {
        "a": 1.0,  # b's
        "b": 0.0,  # a's
        "c": 1.0,
        "d": 1.0,
        "e": 0.75,  # a, b, c, d: one at 0, three at 1 (with e itself it would be 0.5)
    }
    assert found["held_out"]["a"]["cells"] == {"a 1x": 1.01, "a 4x": 1.04}


def test_a_summary_with_tasks_off_the_grid_says_how_many_it_covers():
    from benchmarks.report import _on_grid

    assert _on_grid(np.mean, [0.1, math.nan, 0.3]) == "+20.0 % (2 of 3 tasks)"
    assert _on_grid(np.max, [0.1, 0.3]) == "+30.0 %"
    assert _on_grid(np.mean, [math.nan, math.nan]) == "-"
