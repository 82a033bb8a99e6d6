"""What the callback writes to TensorBoard, read back with TensorBoard's own reader."""

from __future__ import annotations

import csv
import json
from itertools import pairwise

import pytest
import pytorch_lightning as pl
from helpers import BATCHES, Classifier, accumulate, fit, loader
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from pl_lrfind import LRFinderCallback
from pl_lrfind.cli import main
from pl_lrfind.core import format_lr
from pl_lrfind.tb_reader import read_runs


def assert_finder_logged(run_dir, finder: LRFinderCallback) -> EventAccumulator:
    events = accumulate(run_dir)
    tags = events.Tags()
    steps = finder.result.num_steps_taken
    for tag in ("lr_find/loss", "lr_find/smoothed_loss"):
        assert len(events.Scalars(tag)) == steps, tag
    losses = [e.value for e in events.Scalars("lr_find/loss")]
    assert losses == pytest.approx(finder.result.losses, rel=1e-6)  # stored as float32
    assert "lr_find/lr" not in tags["scalars"]  # the rate is the ladder's, in the picture and the result
    assert len(events.Images("lr_find/curve")) == 1
    assert any(tag.startswith("lr_find/summary") for tag in tags["tensors"])
    assert any(tag.startswith("lr_find/result_json") for tag in tags["tensors"])
    return events


def test_logs_into_the_trainers_tensorboard_run_and_report_agrees(tmp_path, capsys):
    pl.seed_everything(0)
    finder = LRFinderCallback(num_steps=15, min_lr=1e-5, max_lr=1.0)
    logger = TensorBoardLogger(tmp_path, name="run")
    fit(Classifier(), finder, max_epochs=2, logger=logger, train=loader(), log_every_n_steps=1)
    events = assert_finder_logged(logger.log_dir, finder)
    # The real fit's one-cycle rate, one point per real optimizer step, peaking at the chosen rate.
    fit_lrs = [e.value for e in events.Scalars("lr_find/fit/lr")]
    assert len(fit_lrs) == finder.scheduler.total_steps
    assert abs(max(fit_lrs) - finder.result.chosen_lr) <= 1e-3 * finder.result.chosen_lr
    assert len(events.Scalars("lr_find/fit/momentum")) == len(fit_lrs)

    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert format_lr(finder.result.suggestion) in out
    assert (tmp_path / "lr_find_report.png").stat().st_size > 0
    assert main(["report", str(tmp_path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["result"]["suggestion"] == finder.result.suggestion


def test_without_a_tensorboard_logger_writes_a_run_of_its_own(tmp_path):
    pl.seed_everything(0)
    finder = LRFinderCallback(num_steps=12, then="stop")
    fit(Classifier(), finder, max_epochs=1, logger=CSVLogger(tmp_path), default_root_dir=tmp_path)
    (run_dir,) = (tmp_path / "lr_find").iterdir()
    assert_finder_logged(run_dir, finder)


def test_every_other_logger_of_the_trainer_gets_the_curve_and_the_schedule_as_scalars(tmp_path):
    """A CSV logger (as W&B or MLflow would) gets lr_find/loss and lr_find/smoothed_loss at each
    point of the test and lr_find/fit/lr during the real fit, as LearningRateMonitor's go."""
    pl.seed_everything(0)
    finder = LRFinderCallback(num_steps=12, verbose=False)
    fit(Classifier(), finder, max_epochs=1, logger=CSVLogger(tmp_path), default_root_dir=tmp_path, log_every_n_steps=4)
    rows = list(csv.DictReader(open(next(tmp_path.rglob("metrics.csv")))))
    losses = {int(row["step"]): float(row["lr_find/loss"]) for row in rows if row.get("lr_find/loss")}
    assert list(losses.values()) == pytest.approx(finder.result.losses)
    assert sorted(losses) == list(range(1, finder.result.num_steps_taken + 1))
    smoothed = [float(row["lr_find/smoothed_loss"]) for row in rows if row.get("lr_find/smoothed_loss")]
    assert smoothed == pytest.approx(finder.result.smoothed_losses)
    fit_lrs = [float(row["lr_find/fit/lr"]) for row in rows if row.get("lr_find/fit/lr")]
    assert len(fit_lrs) == BATCHES // 4 and max(fit_lrs) <= finder.result.chosen_lr * (1 + 1e-9)


def test_no_logger_at_all_and_logging_can_be_switched_off(tmp_path):
    pl.seed_everything(0)
    finder = LRFinderCallback(num_steps=12, then="stop")
    fit(Classifier(), finder, max_epochs=1, logger=False, default_root_dir=tmp_path / "on")
    assert_finder_logged(next((tmp_path / "on" / "lr_find").iterdir()), finder)

    quiet = LRFinderCallback(num_steps=12, then="stop", log_to_tensorboard=False)
    fit(Classifier(), quiet, max_epochs=1, logger=False, default_root_dir=tmp_path / "off")
    assert not (tmp_path / "off" / "lr_find").exists()


def test_a_second_stage_logs_under_its_own_tags_and_reads_back_as_its_own_run(tmp_path):
    pl.seed_everything(0)
    model = Classifier()
    finder = LRFinderCallback(num_steps=20, min_lr=1e-5, max_lr=10.0, verbose=False)
    for limit in (8, 16):  # a short first stage, so the second still has a descent to read
        logger = TensorBoardLogger(tmp_path, name="run", version=0)  # both stages in one TensorBoard run
        fit(model, finder, max_epochs=1, limit_train_batches=limit, logger=logger, log_every_n_steps=5)

    events = accumulate(logger.log_dir)
    first, second = finder.results
    assert len(events.Scalars("lr_find/loss")) == first.num_steps_taken
    assert len(events.Scalars("lr_find/stage2/loss")) == second.num_steps_taken
    # The schedule is logged every log_every_n_steps steps of the real fit (its 1st, 6th, 11th and 16th here).
    logged = [event.step for event in events.Scalars("lr_find/stage2/fit/lr")]
    assert len(logged) == 4 and [b - a for a, b in pairwise(logged)] == [5, 5, 5]
    assert len(events.Images("lr_find/curve")) == len(events.Images("lr_find/stage2/curve")) == 1

    runs = read_runs(tmp_path)
    assert list(runs) == ["run/version_0", "run/version_0 stage 2"]
    assert runs["run/version_0"].to_dict() == first.to_dict()
    assert runs["run/version_0 stage 2"].to_dict() == second.to_dict()


def test_a_test_cut_by_an_exception_still_logs_every_point_and_its_result(tmp_path):
    """Points are written log_every_n_steps at a time; the ones held when the fit fails still land."""
    pl.seed_everything(0)
    finder = LRFinderCallback(num_steps=20, verbose=False)
    with pytest.raises(RuntimeError, match="boom"):
        fit(Classifier(fail_at_step=8), finder, max_epochs=2, logger=False, default_root_dir=tmp_path)
    assert finder.result.stop_reason.value == "interrupted"
    (run_dir,) = (tmp_path / "lr_find").iterdir()
    assert_finder_logged(run_dir, finder)
    assert read_runs(run_dir)[run_dir.name].to_dict() == finder.result.to_dict()
