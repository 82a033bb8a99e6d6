"""The benchmark's arithmetic on constructed numbers: no fits, so it runs with the fast tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.experiments.budget_rule import grouped_held_out


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
    from benchmarks.experiments.second_stage import _on_grid

    assert _on_grid(np.mean, [0.1, math.nan, 0.3]) == "+20.0 % (2 of 3 tasks)"
    assert _on_grid(np.max, [0.1, 0.3]) == "+30.0 %"
    assert _on_grid(np.mean, [math.nan, math.nan]) == "-"


def _cell(**runs: list[float]) -> dict:
    """A budget cell whose grid's best mean is 1.0, so a run's losses read directly as 1 + regret."""
    return {"best_mean_loss": 1.0, **{name: {"val_loss": losses} for name, losses in runs.items()}}


def test_a_recipe_is_clearly_lower_only_beyond_the_seed_by_seed_noise():
    from benchmarks.experiments.tables import clearly_lower

    steady = [1.10, 1.11, 1.09, 1.10, 1.10]  # +10 %

    def lower_by(*differences: float) -> bool:
        return clearly_lower(
            _cell(ours=steady, recipe_x=[a + d for a, d in zip(steady, differences, strict=True)]), "recipe_x"
        )

    assert lower_by(-0.05, -0.05, -0.05, -0.05, -0.05)
    assert not lower_by(-0.30, +0.15, -0.15, +0.10, -0.05)  # 5 points lower on average, but scattered
    assert not lower_by(+0.05, +0.05, +0.05, +0.05, +0.05)
    # Mean -5 points, standard error 1.34 (t = 3.7) or 2.01 (t = 2.5): 4 degrees of freedom need
    # t > 2.78 for 95 %, so the second is not clearly lower though it is beyond two standard errors.
    assert lower_by(-0.08, -0.02, -0.08, -0.02, -0.05)
    assert not lower_by(-0.095, -0.005, -0.095, -0.005, -0.05)


def test_a_paired_difference_cancels_what_the_seeds_share():
    from benchmarks.experiments.tables import paired_difference

    # Each seed's loss swings by 40 points, and the variant is 2 points worse on every seed.
    seeds = [0.8, 1.2, 0.9, 1.1, 1.0]
    cells = [_cell(ours=seeds, ours_exponent_2=[x + 0.02 for x in seeds]) for _ in range(3)]
    diff, error = paired_difference(cells, "ours_exponent_2")
    assert diff == pytest.approx(0.02) and error == pytest.approx(0.0, abs=1e-12)
    jitter = (0.03, -0.03, 0.0, 0.03, -0.03)  # the difference itself now varies from seed to seed
    cells[0]["ours_exponent_2"]["val_loss"] = [x + 0.02 + d for x, d in zip(seeds, jitter, strict=True)]
    assert paired_difference(cells, "ours_exponent_2")[1] == pytest.approx(math.sqrt(0.03**2 / 5) / 3)
    cells[1]["ours_exponent_2"]["val_loss"] = seeds[:3]
    with pytest.raises(ValueError, match="needs the same"):
        paired_difference(cells, "ours_exponent_2")


def test_the_recipes_table_names_the_cells_another_recipe_wins_beyond_the_noise():
    from benchmarks.experiments.budget_tables import budget_recipes_table

    def cell(ours, other):
        runs = {"ours": ours, "recipe_prodigy": other}
        return {
            "best_mean_loss": 1.0,
            "best_epoch": {"best_mean_loss": 1.0},
            **{name: {"val_loss": losses, "best_val_loss": losses} for name, losses in runs.items()},
        }

    steady = [1.10, 1.11, 1.09]
    budgets = {"budgets": {"4": {"clear": cell(steady, [1.02, 1.03, 1.01]), "noisy": cell(steady, [0.7, 1.4, 1.0])}}}
    table = budget_recipes_table(budgets)
    assert table[-2] == "Lowest final-loss regret, of 2 cells: default 0, Prodigy 2."
    assert table[-1].startswith("A cell's mean over 3 seeds is noisy. Seed by seed, another recipe lost less")
    assert "95 % confidence (two-sided t) in 1 of the 2 cells: clear 4x (Prodigy). In the other 1" in table[-1]
    # One seed has no standard error: the table then says nothing about noise.
    single = {"budgets": {"4": {"clear": cell([1.10], [1.02])}}}
    assert budget_recipes_table(single)[-1] == "Lowest final-loss regret, of 1 cells: default 0, Prodigy 1."


def test_the_exponent_is_picked_by_the_worst_cell_or_the_mean_and_scored_on_what_was_left_out():
    from benchmarks.experiments.budget_rule import pick_alpha, worst_first
    from benchmarks.experiments.budget_tables import exponent_picks_table

    # Exponent 1 has the lower worst cell (b 4x), 0.5 the lower mean.
    by_alpha = {0.5: {"a 1x": 0.0, "a 4x": 0.0, "b 4x": 0.5}, 1.0: {"a 1x": 0.2, "a 4x": 0.2, "b 4x": 0.3}}
    assert pick_alpha(by_alpha, lambda cell: True) == 0.5
    assert pick_alpha(by_alpha, lambda cell: True, max) == 1.0
    assert pick_alpha(by_alpha, lambda cell: True, worst_first) == 1.0

    # A cell both lose alike (+200 %) ties the worst cell: the next worst decides, not the order.
    tied = {1.0: {"a 1x": 2.0, "b 4x": 0.3}, 0.5: {"a 1x": 2.0, "b 4x": 0.1}}
    assert pick_alpha(tied, lambda cell: True, max) == 1.0
    assert pick_alpha(tied, lambda cell: True, worst_first) == 0.5

    def cell(exponent_half: float, as_read: float) -> dict:
        # On the best check the two swap places, so that loss picks the other exponent.
        runs = {"ours_exponent_0.5": (exponent_half, as_read), "ours_as_read": (as_read, exponent_half)}
        return {
            "best_mean_loss": 1.0,
            "best_epoch": {"best_mean_loss": 1.0},
            **{key: {"val_loss": [1.0 + final], "best_val_loss": [1.0 + best]} for key, (final, best) in runs.items()},
        }

    budgets = {"budgets": {"1": {"a": cell(0.0, 0.0)}, "4": {"a": cell(0.0, 0.4), "b": cell(0.5, 0.9)}}}
    # b is the only Adam-like task: with it left out, its type learns from every other cell (a's).
    table = exponent_picks_table(budgets, adam_like=lambda task: task == "b")
    assert table[0].startswith("| left out | picked by | one exponent: picks")
    by_worst_task, _, by_worst_budget = table[2:5]
    # Either task alone picks 0.5 over reading the curve as is (0); b still loses +50 % at it.
    assert by_worst_task == (
        "| one task | the worst cell | 0.5 for 2 tasks of 2 | +16.7 % / +50.0 %"
        " | Adam-like: 0.5 for 1 tasks of 1; the rest: 0.5 for 1 tasks of 1 | +16.7 % / +50.0 % |"
    )
    # Without the 4x cells nothing tells the exponents apart (every 1x regret is 0): the first, 0.5, stays.
    assert by_worst_budget.startswith("| one budget | the worst cell | 0.5 for 2 budgets of 2 | +16.7 % / +50.0 %")
    on_best_check = exponent_picks_table(budgets, "best_val_loss", adam_like=lambda task: task == "b")[2]
    assert on_best_check.startswith("| one task | the worst cell | 0 for 2 tasks of 2")


def test_an_exponent_per_optimizer_type_is_picked_on_that_types_cells_only():
    from benchmarks.experiments.budget_tables import exponent_picks_table

    def cell(**regret: float) -> dict:
        return {
            "best_mean_loss": 1.0,
            "best_epoch": {"best_mean_loss": 1.0},
            **{f"ours_exponent_{e}": {"val_loss": [1.0 + r], "best_val_loss": [1.0 + r]} for e, r in regret.items()},
        }

    # The tasks that are not Adam-like (s, t) want 0.3, the Adam-like ones (u, v) 1; one exponent cannot serve both.
    sgd, other = {"0.3": 0.0, "1": 0.4}, {"0.3": 0.5, "1": 0.1}
    budgets = {"budgets": {"4": {"s": cell(**sgd), "t": cell(**sgd), "u": cell(**other), "v": cell(**other)}}}
    by_worst_task = exponent_picks_table(budgets, adam_like=lambda task: task in "uv")[2]
    assert by_worst_task == (
        "| one task | the worst cell | 1 for 4 tasks of 4 | +25.0 % / +40.0 %"
        " | Adam-like: 1 for 2 tasks of 2; the rest: 0.3 for 2 tasks of 2 | +5.0 % / +10.0 % |"
    )


def test_the_benchmark_splits_its_tasks_by_optimizer_as_the_callback_does():
    """The exponent picks and the grid arithmetic group tasks by the callback's own test: Adam-style betas."""
    from benchmarks.experiments.budget_rule import adam_like
    from benchmarks.tasks import ALL_TASKS

    rest = {"digits_cnn_sgd", "classes_dropout_sgd", "digits_cnn_finetune_sgd", "digits_mlp_sgd"}
    rest |= {"friedman_mlp_sgd", "digits_mlp_rmsprop", "cancer_batch8_sgd", "digits_gru_sgd", "digits_cnn_rmsprop"}
    rest |= {"digits_gru_rmsprop", "classes_dropout_rmsprop", "friedman_fresh_mlp_sgd"}
    rest |= {"tokens_transformer_sgd", "friedman_mlp_rmsprop", "cancer_batch8_rmsprop", "images_stream_cnn_sgd"}
    rest |= {"tokens_stream_gru_sgd", "images_stream_mlp_rmsprop"}
    assert {task for task in ALL_TASKS if not adam_like(task)} == rest


def test_the_level_is_read_off_the_non_adam_cells_only_and_picked_without_the_held_out_task():
    from benchmarks.experiments.budget_rule import evaluate_levels

    log10_lrs = [round(x, 1) for x in np.arange(-2.0, 0.01, 0.1)]  # every best below on the grid

    def grid(best: float) -> dict:
        return {"log10_lr": log10_lrs, "mean_loss": [1 + abs(x - best) for x in log10_lrs], "best_mean_loss": 1.0}

    # Both SGD tasks read 0.2 decade under their best peak, and the 4x cell wants no lowering; the
    # Adam task reads a decade over its own and would pull any pick that saw it.
    grids = {("digits_cnn_sgd", 1): grid(-1.0), ("digits_mlp_sgd", 4): grid(-0.8), ("digits_mlp_adam", 1): grid(-1.5)}
    rates = {("digits_cnn_sgd", 1): [-1.2, -1.2], ("digits_mlp_sgd", 4): [-1.0], ("digits_mlp_adam", 1): [-0.5]}
    raised = {cell: [True] * len(found) for cell, found in rates.items()}
    found = evaluate_levels(rates, grids, cap=16.0, raised=raised)
    assert set(found["alphas"]["0.00 at 0"]) == {"digits_cnn_sgd 1x", "digits_mlp_sgd 4x"}
    assert found["alphas"]["0.00 at 0"]["digits_cnn_sgd 1x"] == pytest.approx(0.2)
    assert found["alphas"]["0.20 at 0"]["digits_cnn_sgd 1x"] == pytest.approx(0.0)
    assert found["alphas"]["0.20 at 0.5"]["digits_mlp_sgd 4x"] > 0.1  # lowered for a fit 4x as long
    assert {task: held["alpha"] for task, held in found["leave_one_out"]["task"].items()} == {
        "digits_cnn_sgd": "0.20 at 0",
        "digits_mlp_sgd": "0.20 at 0",
    }
    assert found["leave_one_out"]["task"]["digits_mlp_sgd"]["cells"] == {"digits_mlp_sgd 4x": pytest.approx(0.0)}

    # A run read off the blow-up point is not raised: the callback raises midspan's reading only;
    # a cell where the level acts on fewer than half the runs is left out.
    raised["digits_cnn_sgd", 1] = [True, False]
    raised["digits_mlp_sgd", 4] = [False]
    found = evaluate_levels(rates, grids, cap=16.0, raised=raised)
    assert found["alphas"]["0.20 at 0"] == {"digits_cnn_sgd 1x": pytest.approx(0.1)}


def test_the_anchor_benchmark_reads_each_curve_as_the_range_test_judges_it():
    from benchmarks.experiments.anchors import STOP_POINT_DIVISOR, read, stop_point_midspan
    from pl_lrfind.core import lr_ladder
    from pl_lrfind.core.rules import MIDSPAN_DIVISOR

    lrs = np.array(lr_ladder(1e-7, 10.0, 100))
    z = np.log10(lrs)
    descent = 2.0 - 1.5 / (1 + np.exp(-3 * (z + 3.0)))  # never rises: both blow-up readings are the last rung
    lr, by_rule = read({"losses": list(descent), "stop_reason": "completed"}, stop_point_midspan)
    midspan_lr, _ = read({"losses": list(descent), "stop_reason": "completed"}, "midspan")
    assert by_rule
    assert midspan_lr / lr == pytest.approx(STOP_POINT_DIVISOR / MIDSPAN_DIVISOR)
    flat_then_up = 1.0 + np.where(z > -1.0, (z + 1.0) ** 2 * 5, 0.0)  # no descent, then a blow-up
    lr, by_rule = read({"losses": list(flat_then_up), "stop_reason": "diverged"}, stop_point_midspan)
    assert not by_rule and lr is not None  # the blow_up reading, whichever rule was asked for


def _headroom_cell(best: float, handed: list[float]) -> dict:
    lrs = np.round(np.arange(-3.5, 0.01, 0.25), 2)  # regret (log10 lr - best)**2 at the grid's points
    return {
        "log10_lr": lrs.tolist(),
        "mean_loss": (1 + (lrs - best) ** 2).tolist(),
        "best_mean_loss": 1.0,
        "ours": {"lr": [10.0**x for x in handed]},
    }


def test_the_headroom_takes_one_shift_per_group_and_leaves_the_seed_spread_alone():
    from benchmarks.experiments.headroom import headroom, left_over

    cell = _headroom_cell
    budgets = {
        "budgets": {
            "1": {"digits_mlp_adam": cell(-2.0, [-1.5] * 3), "digits_mlp_sgd": cell(-1.0, [-1.25, -1.0, -0.75])},
            "4": {"digits_mlp_adam": cell(-2.5, [-1.5] * 3), "digits_mlp_sgd": cell(-1.5, [-1.5] * 3)},
        }
    }
    spread = (0.0625 + 0 + 0.0625) / 3  # the SGD 1x seeds, a quarter decade either side of the best
    found = headroom(budgets)
    assert found["as handed"]["mean"] == pytest.approx((0.25 + spread + 1.0 + 0) / 4)
    assert found["as handed"]["over_target"] == 2
    per_task = left_over(budgets, lambda c: c[0])
    # Half a decade high at 1x, a decade at 4x: one shift for both leaves a quarter decade each.
    assert per_task[("digits_mlp_adam", "1")] == pytest.approx((0.0625, -0.75))
    assert per_task[("digits_mlp_adam", "4")] == pytest.approx((0.0625, -0.75))
    assert per_task[("digits_mlp_sgd", "1")] == pytest.approx((spread, 0.0))
    assert found["per cell"]["mean"] == pytest.approx(spread / 4)  # no shift takes out a spread
    assert found["per cell"]["worst_cell"] == "digits_mlp_sgd 1x" and found["per cell"]["over_target"] == 0


def test_the_headroom_gives_a_task_its_own_power_of_the_length_and_a_steady_reading_no_spread():
    from benchmarks.experiments.headroom import headroom, headroom_table, left_over, steadied

    high = [-1.5] * 3  # handed half a decade, a decade and 1.5 decades over the best peak
    budgets = {
        "budgets": {
            "1": {
                "digits_mlp_adam": _headroom_cell(-2.0, high),
                "digits_mlp_sgd": _headroom_cell(-1.0, [-1.25, -1.0, -0.75]),
            },
            "4": {"digits_mlp_adam": _headroom_cell(-2.5, high)},
            "16": {"digits_mlp_adam": _headroom_cell(-3.0, high)},
        }
    }
    # One shift for the task leaves half a decade at 1x and 16x; with a slope of its own, nothing.
    adam = [("digits_mlp_adam", b) for b in ("1", "4", "16")]
    one_shift = left_over(budgets, lambda c: c[0])
    assert [one_shift[c][0] for c in adam] == pytest.approx([0.25, 0.0, 0.25])
    assert [one_shift[c][1] for c in adam] == pytest.approx([-1.0] * 3)
    sloped = left_over(budgets, lambda c: c[0], sloped=True)
    assert [sloped[c][0] for c in adam] == pytest.approx([0.0] * 3, abs=1e-12)
    assert [sloped[c][1] for c in adam] == pytest.approx([-0.5, -1.0, -1.5])
    spread = (0.0625 + 0 + 0.0625) / 3
    assert headroom(budgets)["per task, with its own power of the length"]["mean"] == pytest.approx(spread / 4)

    # A steady reading hands every seed the cell's geometric mean: the SGD seeds land on the best peak.
    steady = steadied(budgets)
    assert steady["budgets"]["1"]["digits_mlp_sgd"]["ours"]["lr"] == pytest.approx([0.1] * 3)
    assert budgets["budgets"]["1"]["digits_mlp_sgd"]["ours"]["lr"][0] == pytest.approx(10**-1.25)  # a copy
    assert headroom(steady)["per cell"]["mean"] == pytest.approx(0.0, abs=1e-12)
    header, rule, *rows, blank, bound = headroom_table(budgets)
    assert "with no seed spread" in header and all(row.count("|") == 9 for row in [rule, *rows])
    assert blank == "" and bound.startswith("With no reading at all") and bound.endswith(", 0 of 4 cells over 5 %.")
    per_cell = next(row for row in rows if row.startswith("| per cell |")).split("|")[1:-1]
    assert [per_cell[2].strip(), per_cell[5].strip()] == ["+1.0 %", "+0.0 %"]  # spread / 4, then none


def test_the_power_law_bound_gives_each_task_an_offset_and_a_power_of_the_length_off_its_grids():
    from benchmarks.experiments.headroom import power_law_bound

    def grids(*bests: float) -> dict:
        return {
            "1": _headroom_cell(bests[0], []),
            "4": _headroom_cell(bests[1], []),
            "16": _headroom_cell(bests[2], []),
        }

    # The best peak falls half a decade per fourfold length: a power of the length hits every cell.
    falls = grids(-2.0, -2.5, -3.0)
    assert power_law_bound({"budgets": {b: {"digits_mlp_adam": falls[b]} for b in falls}})["mean"] == pytest.approx(
        0.0, abs=1e-12
    )
    # It falls a decade, then rises back: no power of the length comes within 5 % of any cell.
    back = grids(-2.0, -3.0, -2.0)
    bound = power_law_bound({"budgets": {b: {"digits_mlp_adam": falls[b], "digits_mlp_sgd": back[b]} for b in falls}})
    assert bound["cells"] == 6 and bound["over_target"] == 3 and bound["worst_cell"] == "digits_mlp_sgd 4x"


def test_the_headroom_leaves_out_a_cell_whose_handed_rate_is_off_its_grid():
    from benchmarks.experiments.headroom import headroom, headroom_table

    lrs = [-2.0, -1.75, -1.5]
    on = {"log10_lr": lrs, "mean_loss": [1.2, 1.0, 1.1], "best_mean_loss": 1.0, "ours": {"lr": [10**-1.75] * 2}}
    off = {**on, "ours": {"lr": [10**-1.5, 10**-2.25]}}  # one seed below the grid, their mean on it
    budgets = {"budgets": {"1": {"digits_mlp_adam": on, "digits_mlp_sgd": off}}}
    assert all(row["cells"] == 1 and row["mean"] == 0.0 for row in headroom(budgets).values())
    table = headroom_table(budgets)
    assert table[-1] == "Left out, a handed rate off the cell's grid: digits_mlp_sgd 1x."
    groupings = [row for row in table if row.startswith("| ") and not row.startswith("| shift chosen")]
    assert len(groupings) == 6 and all(row.endswith("| 0 of 1 |") for row in groupings)  # steady: the same cell


def test_the_best_columns_never_read_a_shift_past_the_end_of_a_row():
    from benchmarks.experiments.headroom import best_columns

    # Each row's best at columns 0, 5 and 6: a slope of 5 columns per step fits the first two, but
    # would put the third at column 10, past the row's end, where it must not read the last column.
    rows = np.array([[0, 9, 9, 9, 10, 9, 9], [9, 9, 9, 9, 9, 0, 9], [9, 9, 9, 9, 9, 9, 0]], dtype=float)
    assert best_columns(rows, np.array([0.0, 1.0, 2.0])).tolist() == [0, 3, 6]


def test_the_curve_level_candidate_falls_as_the_descent_deepens_against_the_noise():
    from benchmarks.experiments.level_check import curve_level, descent_to_noise
    from pl_lrfind.core import Curve

    lrs = np.logspace(-6, 0, 100)
    noise = 0.01 * np.random.default_rng(0).standard_normal(100)
    shape = np.clip((np.log10(lrs) + 4) / 2, 0, 1)  # falls from 1e-4 to 1e-2, then flat
    shallow, deep = (Curve.from_raw(lrs, 1.0 - depth * shape + noise) for depth in (0.03, 0.3))
    assert 2 < descent_to_noise(shallow) < 5 and 25 < descent_to_noise(deep) < 50  # about 3 and 30
    # A clean descent gets less than the default level, a noisy one more.
    assert curve_level(deep) < 10**0.3 < curve_level(shallow)


def test_the_reach_of_a_rule_of_the_passes_is_bound_by_tasks_that_want_different_rates_at_the_same_passes():
    from benchmarks.experiments.passes_reach import power_laws, reach

    def cell(best: float) -> dict:
        x = np.arange(-2.0, 2.01, 0.25)
        grid = {"log10_lr": list(x), "mean_loss": list(1 + np.abs(x - best)), "best_mean_loss": 1.0}
        return {"final": grid, "readings": {"final": [0.0, 0.0]}, "by_midspan": {"final": [True, True]}}

    cells = {  # 5 passes each at 1x, 20 at 4x; every reading at 0, each grid's best where given
        ("digits_mlp_sgd", 1): cell(0.5),
        ("digits_gru_sgd", 1): cell(-0.5),
        ("digits_mlp_sgd", 4): cell(1.0),
    }
    found = reach(cells)["fitted | the rest"]
    assert found["cells"] == 3 and found["own_shift"]["worst"] == pytest.approx(0.0)
    assert found["any_function_of_passes"] == pytest.approx(0.5)  # one shift for both 5-pass cells
    assert found["binding_cells"] == "digits_mlp_sgd 1x, digits_gru_sgd 1x"
    # never rising with the passes, the 20-pass cell can be moved no higher than the 5-pass pair
    assert found["non_increasing_in_passes"] == pytest.approx(0.75, abs=1e-6)
    # by the mean: the pair costs 1 anywhere between their bests, so both groups sit at +0.5
    assert found["non_increasing_mean"] == pytest.approx(0.5)
    assert reach(cells)["finite, longer, fitted | by family"]["non_increasing_mean"] == pytest.approx(0.0)
    # a power law with its reference free: the 20-pass cell's reading, raised x2 (SGD) and lowered
    laws = power_laws(cells)
    assert laws["5 0.8"]["finite_longer_mean"] == pytest.approx(abs(0.3 - 0.8 * math.log10(20 / 5) - 1.0), abs=1e-3)
    assert laws["10 1.0"]["finite_longer_mean"] == pytest.approx(abs(0.3 - math.log10(20 / 10) - 1.0), abs=1e-3)
    assert "Adam-like" not in " ".join(reach(cells))


def test_the_committed_report_is_what_the_committed_results_render(tmp_path):
    # docs/benchmarks.md is generated: an edit to a template, a table or a result that was not
    # rendered again shows here, every experiment's section included.
    from benchmarks.oracle import RESULTS
    from benchmarks.report import DOCS, render

    rendered = render(RESULTS, tmp_path).read_text()
    assert "(not measured)" not in rendered
    assert rendered == (DOCS / "benchmarks.md").read_text()
