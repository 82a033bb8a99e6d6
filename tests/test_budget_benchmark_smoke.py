"""The budget benchmark's steps on one task and one seed: longer budgets, other recipes, fresh data.

Apart from test_benchmark_smoke.py and test_pretrained_benchmark_smoke.py (the second stage and
the fine-tuning tasks) so that they spread over both workers (make test).

The full run (``python -m benchmarks``) takes minutes per task; this checks that every recipe
still runs and lands in the report, so the benchmark cannot rot between its runs.
"""

from __future__ import annotations

import json
import math

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fits_in_this_process")]
pytest.importorskip("prodigyopt")
pytest.importorskip("schedulefree")

from benchmarks.__main__ import SMOKE_TASK  # noqa: E402
from benchmarks.experiments import budgets, second_stage  # noqa: E402
from benchmarks.experiments.budget_tables import budget_recipes_table, budget_targets_table  # noqa: E402
from benchmarks.experiments.budgets import OTHER_RECIPES  # noqa: E402
from benchmarks.oracle import ORACLE_JSON  # noqa: E402


def test_a_longer_budget_has_its_grid_and_the_default_end_to_end(tmp_path):
    out = tmp_path / "budgets.json"
    budgets.main(["--budget", "2", "--tasks", SMOKE_TASK, "--grid-seeds", "1", "--seeds", "1", "--out", str(out)])
    cell = json.loads(out.read_text())["budgets"]["2"][SMOKE_TASK]
    assert len(cell["log10_lr"]) >= 9 and math.isfinite(cell["best_mean_loss"])
    assert cell["log10_lr"][0] < cell["best_log10_lr"] < cell["log10_lr"][-1]  # the grid brackets its best
    assert cell["ours"]["val_loss"][0] < 0.5  # the default trains over the doubled budget

    lowest = cell["log10_lr"][0]
    widen = ["--budget", "2", "--tasks", SMOKE_TASK, "--grid-seeds", "1", "--widen-below", "1.5", "--out", str(out)]
    budgets.main(widen)
    wider = json.loads(out.read_text())["budgets"]["2"][SMOKE_TASK]
    centre = json.loads(ORACLE_JSON.read_text())["tasks"][SMOKE_TASK]["best_log10_lr"]
    assert min(wider["log10_lr"]) < lowest and min(wider["log10_lr"]) <= centre - 1.5 + 1e-9
    assert wider["ours"] == cell["ours"] and set(cell["log10_lr"]) < set(wider["log10_lr"])
    assert wider["best_mean_loss"] == min(wider["mean_loss"])
    above = max(wider["log10_lr"]) - centre + 0.25  # one more point above the grid
    budgets.main(widen[:-4] + ["--widen-above", f"{above:.2f}", "--out", str(out)])
    higher = json.loads(out.read_text())["budgets"]["2"][SMOKE_TASK]
    assert sorted(set(higher["log10_lr"]) - set(wider["log10_lr"])) == [pytest.approx(max(wider["log10_lr"]) + 0.25)]
    assert len(higher["mean_loss"]) == len(higher["log10_lr"])
    assert len(higher["best_epoch"]["log10_lr"]) == len(wider["best_epoch"]["log10_lr"]) + 1  # the best check's too
    with pytest.raises(SystemExit):  # one side at a time
        budgets.main(widen + ["--widen-above", "1"])

    budgets.main(["--budget", "2", "--tasks", SMOKE_TASK, "--seeds", "1", "--rule", "minimum", "--out", str(out)])
    ruled = json.loads(out.read_text())["budgets"]["2"][SMOKE_TASK]
    (rate,) = ruled["rule_minimum"]["lr"]
    assert ruled["ours"] == cell["ours"] and rate != cell["ours"]["lr"][0]  # read as fastai reads it, not ours
    assert math.isfinite(ruled["rule_minimum"]["val_loss"][0])

    for recipe in OTHER_RECIPES:
        budgets.main(["--budget", "2", "--tasks", SMOKE_TASK, "--seeds", "1", "--recipe", recipe, "--out", str(out)])
    cell = json.loads(out.read_text())["budgets"]["2"][SMOKE_TASK]
    for recipe in ("prodigy", "schedulefree"):  # no rate to choose, and the doubled fit trains
        run = cell[f"recipe_{recipe}"]
        assert run["lr"] == [None] and run["val_loss"][0] < 0.5 and math.isfinite(run["best_val_loss"][0])
    (found,) = cell["recipe_lightning"]["lr"]
    assert cell["recipe_lightning"]["fallback"] == [False]  # its own suggestion, not the typed rate
    assert found != cell["ours"]["lr"][0] and 1e-8 <= found <= 1.0  # Lightning's own range
    assert math.isfinite(cell["recipe_lightning"]["val_loss"][0])  # how well it fits is the benchmark's to say

    table = budget_recipes_table(json.loads(out.read_text()))
    assert "| default | fastai `minimum` | Lightning | Prodigy | schedule-free | lowest |" in table[0]
    (row,) = [line for line in table if line.startswith(f"| {SMOKE_TASK} | 2x |")]
    assert row.count(" / ") == 5 and table[-1].startswith("Lowest final-loss regret, of 1 cells:")
    targets = "\n".join(budget_targets_table(json.loads(out.read_text())))
    assert "| mean regret over the 1 (task, budget) cells, 1x included, <= 2 % |" in targets
    assert f"({SMOKE_TASK} 2x)" in targets and "| no diverged fit | 0 diverged | yes |" in targets


def test_the_fresh_data_task_adds_samples_not_passes():
    from benchmarks.tasks import REGIME_TASKS

    task = REGIME_TASKS["friedman_fresh_mlp_adamw"]
    one, four = task.train_set(1), task.train_set(4)
    assert task.epochs_for(4) == task.epochs_for(1) == 1
    assert len(four) == 4 * len(one) == 4 * task.epochs * len(task.data()[0])
    assert task.steps_per_epoch(4) == 4 * task.epochs * task.steps_per_check()
    seen = {tuple(row.tolist()) for row in one.tensors[0]}
    assert not seen & {tuple(row.tolist()) for row in four.tensors[0]}  # no sample shared between budgets


def test_a_fresh_data_task_at_two_lengths_is_handed_the_same_factor(tmp_path):
    """A stream at 1x and 2x: twice the steps, still one pass, so the default moves the reading by
    the same factor at both lengths (SGD's level alone), and both cells have a grid around it."""
    out, task = tmp_path / "budgets.json", "images_stream_cnn_sgd"
    for budget in ("1", "2"):
        flags = ["--budget", budget, "--tasks", task, "--grid-seeds", "1", "--seeds", "1", "--half-width", "0.25"]
        budgets.main([*flags, "--out", str(out), *(["--centre-on", "1"] if budget == "2" else [])])
    cells = json.loads(out.read_text())["budgets"]
    for budget in ("1", "2"):
        cell = cells[budget][task]
        assert cell["ours"]["passes"] == [1.0] and cell["grid_seeds"] == 1
        assert cell["ours"]["budget_factor"] == [pytest.approx(10**0.3)]
        assert cell["ours"]["lr"] == [pytest.approx(cell["ours"]["suggestion"][0] * 10**0.3)]
        assert len(cell["log10_lr"]) >= 3 and math.isfinite(cell["best_mean_loss"])


def test_the_token_stream_reports_the_loss_above_the_chains_entropy():
    """The floor is the chain's own cross-entropy on the validation set: a model that knew the chain
    would score zero above it, one that knows nothing log(vocab) minus it."""
    import torch

    from benchmarks.tasks import HORIZON_CHECK_TASKS, TOKEN_VOCAB, _token_chain

    task = HORIZON_CHECK_TASKS["tokens_stream_gpt_adamw"]
    inputs, targets = task.data()[1].tensors
    chain = _token_chain()[inputs[:, :-1] * TOKEN_VOCAB + inputs[:, 1:]].log()
    knows_chain = torch.cat([torch.zeros(len(inputs), 1, TOKEN_VOCAB), chain], 1)
    assert float(task.loss(knows_chain, targets)) == pytest.approx(task.floor(), rel=1e-5)
    uniform = float(task.loss(torch.zeros(*inputs.shape, TOKEN_VOCAB), targets))
    assert uniform == pytest.approx(math.log(TOKEN_VOCAB)) and 0.5 < uniform - task.floor() < math.log(TOKEN_VOCAB)


def test_the_augmented_set_repeats_its_samples_but_not_its_inputs():
    from benchmarks.tasks import HORIZON_CHECK_TASKS

    task = HORIZON_CHECK_TASKS["digits_augmented_cnn_adam"]
    data = task.train_set(4)
    assert task.epochs_for(4) == 4 * task.epochs and len(data) == len(task.data()[0])
    first, second = data.__getitems__([0, 1]), data.__getitems__([0, 1])
    assert [y for _, y in first] == [y for _, y in second]
    assert not all(a.equal(b) for (a, _), (b, _) in zip(first, second, strict=True))


@pytest.mark.parametrize(
    "main, flags",
    [
        (budgets.main, ["--budget", "4", "--ours-only"]),
        (budgets.main, ["--budget", "4", "--recipe", "prodigy"]),
        (second_stage.main, ["--ours-only"]),
    ],
)
def test_keeping_cells_that_were_never_measured_names_them(tmp_path, capsys, main, flags):
    with pytest.raises(SystemExit):
        main([*flags, "--tasks", SMOKE_TASK, "--out", str(tmp_path / "results.json")])
    assert f"has none for {SMOKE_TASK}" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_schedule_free_is_checked_on_its_averaged_weights_without_changing_its_fit(tmp_path):
    from benchmarks import fits
    from benchmarks.tasks import ALL_TASKS

    task = ALL_TASKS[SMOKE_TASK]  # BatchNorm: the check recomputes its statistics

    def fit(callbacks) -> float:
        module = fits._model(task, 0, 1.0, "schedulefree")
        trainer = fits.trainer(str(tmp_path), task, callbacks)
        trainer.fit(module, fits.train_loader(task, 0))
        trainer.optimizers[0].eval()
        fits._schedulefree_batchnorm(module, fits.train_loader(task, 0))
        return fits.validation_loss(module)

    trace = fits.ScheduleFreeTrace(seed=0, budget=1)
    checked = fit([trace])
    assert len(trace.losses) == task.epochs  # one check per epoch, the last at the fit's end
    assert trace.losses[-1] == checked  # the weights it evaluates are the averaged ones
    # Checking leaves the fit as it was, up to the rounding of the optimizer's switch between its
    # weights (5e-5 relative on one thread, 1e-3 on two).
    assert checked == pytest.approx(fit([]), rel=5e-3)
