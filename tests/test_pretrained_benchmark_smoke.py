"""The benchmark's steps on trained models, on one task and one seed: the second stage (a model
trained once, fitted again) and the fine-tuning tasks (a network pretrained into the cache).

Apart from test_budget_benchmark_smoke.py so that the two spread over both workers (make test).
The full runs take minutes per task; this checks that every step still runs, so the benchmark
cannot rot between its runs.
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


def test_the_second_stage_trains_twice_and_reads_the_trained_models_curve(tmp_path):
    out = tmp_path / "second_stage.json"
    second_stage.main(["--tasks", SMOKE_TASK, "--grid-seeds", "1", "--seeds", "1", "--out", str(out)])
    cell = json.loads(out.read_text())["tasks"][SMOKE_TASK]
    assert len(cell["log10_lr"]) >= 9 and math.isfinite(cell["best_mean_loss"])
    assert cell["best_mean_loss"] < cell["first_val_loss"] * 1.5  # stage two started from a trained model
    (curve,) = cell["ours"]["curve"]
    diagnosis = cell["ours"]["diagnosis"][0]
    assert len(curve["lrs"]) >= 5 and diagnosis in ("already_trained", "no_descent", "too_noisy", "ok")
    assert (cell["ours"]["lr"][0] is None) == (diagnosis == "no_descent")  # a trained model's blow-up is read
    (typed,) = cell["typed"]["val_loss"]
    assert math.isfinite(typed)

    second_stage.main(["--tasks", SMOKE_TASK, "--seeds", "2", "--ours-only", "--out", str(out)])
    again = json.loads(out.read_text())["tasks"][SMOKE_TASK]
    assert {key: again[key] for key in second_stage.GRID_KEYS} == {key: cell[key] for key in second_stage.GRID_KEYS}
    assert len(again["ours"]["val_loss"]) == len(again["typed"]["val_loss"]) == 2


def test_a_fine_tuning_task_pretrains_once_into_the_cache_and_is_scored_on_its_best_check(tmp_path, monkeypatch):
    from benchmarks.tasks import CNN_ON_DIGITS_LOW

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))  # spawned workers inherit it
    monkeypatch.setenv("BENCH_WORKERS", "2")  # two workers, whose fits share one pretraining
    task = "digits_cnn_finetune_sgd"
    out = tmp_path / "budgets.json"
    budgets.main(["--budget", "1", "--tasks", task, "--grid-seeds", "1", "--seeds", "1", "--out", str(out)])
    (cached,) = (tmp_path / "cache").iterdir()  # one pretraining, shared by every worker's fits
    assert cached.name.startswith(CNN_ON_DIGITS_LOW.name) and cached.suffix == ".pt"
    cell = json.loads(out.read_text())["budgets"]["1"][task]
    assert cell["log10_lr"][0] < cell["best_log10_lr"] < cell["log10_lr"][-1]
    assert cell["best_epoch"]["best_mean_loss"] <= cell["best_mean_loss"]
    (final,), (best,) = cell["ours"]["val_loss"], cell["ours"]["best_val_loss"]
    assert best <= final < 0.5  # fine-tuned, and the best check is no worse than the end


def test_pretraining_is_deterministic():
    from benchmarks.tasks import TRANSFORMER_ON_MAJORITY

    first, second = TRANSFORMER_ON_MAJORITY._train(), TRANSFORMER_ON_MAJORITY._train()
    assert all(first[name].equal(second[name]) for name in first)
