"""The callback in real (small) Lightning fits: the ladder, restore, hand-over, budget, failures."""

from __future__ import annotations

import importlib
import os

import pytest
import pytorch_lightning as pl
import torch
from helpers import (
    BATCHES,
    Classifier,
    StepProbe,
    Stream,
    assert_same_state,
    blobs,
    classifier_class,
    fit,
    loader,
    quiet_finder,
    state_of,
    trainer_kwargs,
)
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.optim.lr_scheduler import OneCycleLR
from torch.utils.data import DataLoader

from pl_lrfind import LRFinderCallback, StopReason
from pl_lrfind.callback import UnsupportedSetupError
from pl_lrfind.core import BLOW_UP_DIVISOR, lr_ladder
from pl_lrfind.core.budget import (
    BEST_CHECK_PASS_EXPONENT,
    NON_ADAM_LEVEL,
    PASS_EXPONENT,
    REFERENCE_PASSES,
)
from pl_lrfind.schedule import ONE_CYCLE_DEFAULTS

TEN_PASSES = int(2 * REFERENCE_PASSES) * BATCHES  # optimizer steps of a real fit over loader() ten times


class TestLadder:
    def test_rate_grows_once_per_optimizer_step_on_every_group_keeping_ratios(self):
        pl.seed_everything(0)
        model = Classifier(lr=0.05, head_lr_ratio=0.1)  # body at a tenth of the head
        finder = quiet_finder(min_lr=1e-4, max_lr=1e-2, num_steps=6, then="stop")
        probe = StepProbe(finder)
        fit(model, finder, probe, max_epochs=1, accumulate_grad_batches=2)
        ladder = lr_ladder(1e-4, 1e-2, 6)
        assert probe.rates("searching", 1) == pytest.approx(ladder)
        assert probe.rates("searching", 0) == pytest.approx([lr * 0.1 for lr in ladder])
        assert finder.result.lrs == pytest.approx(ladder)
        # Six optimizer steps of two micro-batches each.
        assert len(model.seen) == 12

    def test_linear_mode(self):
        pl.seed_everything(0)
        finder = quiet_finder(min_lr=1e-3, max_lr=1e-2, num_steps=5, mode="linear", then="stop")
        probe = StepProbe(finder)
        fit(Classifier(), finder, probe, max_epochs=1)
        assert probe.rates("searching") == pytest.approx(lr_ladder(1e-3, 1e-2, 5, "linear"))


TARGETS = [("device", "device"), ("host", "host"), ("disk", "disk"), ("auto", "host")]
"""Each snapshot target, and what it is on a CPU-only run (``auto`` picks host memory here)."""


class TestRestore:
    @pytest.mark.parametrize(("target", "chosen"), TARGETS)
    def test_weights_buffers_and_optimizer_are_restored_bit_for_bit(self, target, chosen):
        pl.seed_everything(0)
        model = Classifier(optimizer="adam")
        before = state_of(model)
        finder = quiet_finder(num_steps=20, then="stop", snapshot=target)
        trainer = fit(model, finder, max_epochs=1)
        assert finder.result.num_steps_taken > 5
        assert_same_state(state_of(model), before)
        assert "body.1.running_mean" in before and before["body.1.num_batches_tracked"] == 0
        optimizer = trainer.optimizers[0]
        assert optimizer.state_dict()["state"] == {}  # Adam's moments, created by the test, are gone
        assert [g["lr"] for g in optimizer.param_groups] == [0.05]
        assert finder.result.settings["snapshot"] == chosen

    @pytest.mark.parametrize(("target", "chosen"), TARGETS)
    def test_restores_trained_optimizer_state_from_a_checkpoint_and_no_false_blow_up(self, tmp_path, target, chosen):
        pl.seed_everything(0)
        model = Classifier(optimizer="adam", lr=0.01)
        trainer = pl.Trainer(**trainer_kwargs(max_epochs=3))
        trainer.fit(model, loader())
        ckpt = tmp_path / "trained.ckpt"
        trainer.save_checkpoint(ckpt)
        saved = torch.load(ckpt, weights_only=False)

        finder = quiet_finder(num_steps=40, min_lr=1e-7, max_lr=10.0, then="stop", snapshot=target)
        probe = StepProbe(finder)
        trainer = pl.Trainer(callbacks=[finder, probe], **trainer_kwargs(max_epochs=5))
        trainer.fit(model, loader(), ckpt_path=ckpt)

        assert finder.result.settings["snapshot"] == chosen
        assert_same_state(state_of(model), saved["state_dict"])
        live = trainer.optimizers[0].state_dict()
        saved_optimizer = saved["optimizer_states"][0]
        assert live["state"].keys() == saved_optimizer["state"].keys()
        for index, param_state in saved_optimizer["state"].items():
            assert live["state"][index].keys() == param_state.keys()
            for key, value in param_state.items():
                assert torch.equal(live["state"][index][key], value), (index, key)
        assert live["param_groups"] == saved_optimizer["param_groups"]  # the test's rates are gone too
        # A trained model: no blow-up read from early noise; it only diverges at large rates.
        assert finder.result.num_steps_taken > 10
        assert finder.result.lrs[-1] > 1e-3


class TestHandOver:
    def test_one_cycle_runs_exactly_the_budget_of_max_epochs(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder(num_steps=30, min_lr=1e-5, max_lr=10.0)
        probe = StepProbe(finder)
        trainer = fit(model, finder, probe, max_epochs=3)

        real = model.seen[finder.budget.finder_steps :]  # the real fit counts its epochs from 0
        assert len(real) == 3 * BATCHES and finder.budget.finder_epochs == 2
        for epoch in range(3):  # every real epoch sees all the data
            assert [b for e, b in real if e == epoch] == list(range(BATCHES))
        assert trainer.current_epoch == 3

        scheduler = finder.scheduler
        assert isinstance(scheduler, OneCycleLR)
        assert scheduler.total_steps == 3 * BATCHES
        assert scheduler.last_epoch == 3 * BATCHES
        rates = probe.rates("training")
        chosen = finder.result.chosen_lr
        assert chosen == pytest.approx(finder.result.suggestion * NON_ADAM_LEVEL)  # SGD, at any length
        assert len(rates) == 3 * BATCHES
        assert rates[0] == pytest.approx(chosen / 25.0)
        assert max(rates) == pytest.approx(chosen, rel=1e-3)
        assert rates[-1] == pytest.approx(chosen / 25.0 / 1e4, rel=1e-3)

    def test_one_cycle_runs_exactly_max_steps(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, lr_factor=0.5)
        probe = StepProbe(finder)
        trainer = fit(model, finder, probe, max_steps=20, max_epochs=-1)
        assert len(probe.rates("searching")) == 10
        assert len(probe.rates("training")) == 20
        assert trainer.global_step == 30
        assert finder.scheduler.total_steps == 20
        assert finder.result.chosen_lr == pytest.approx(finder.result.suggestion * NON_ADAM_LEVEL * 0.5)

    def test_a_fit_over_the_same_data_many_times_gets_the_suggestion_lowered_by_its_passes(self):
        """160 real steps over 16 batches an epoch are 10 passes, twice REFERENCE_PASSES: with Adam
        the one-cycle peaks at suggestion * 2**-PASS_EXPONENT * lr_factor."""
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, lr_factor=0.5)
        probe = StepProbe(finder)
        fit(Classifier(optimizer="adam"), finder, probe, max_steps=TEN_PASSES, max_epochs=-1)
        result = finder.result
        assert result.settings["budget_steps"] == 160 == finder.scheduler.total_steps
        assert result.settings["passes"] == 2 * REFERENCE_PASSES
        assert result.settings["pass_exponent"] == PASS_EXPONENT
        assert result.settings["budget_level"] == 1.0
        assert result.settings["repetition_factor"] == result.settings["budget_factor"] == pytest.approx(2**-0.8)
        assert result.chosen_lr == pytest.approx(result.suggestion * 2**-0.8 * 0.5)
        assert max(probe.rates("training")) == pytest.approx(result.chosen_lr, rel=1e-3)
        assert "to a 160-step fit (x0.57 for 10 passes over the data)" in result.summary()

    def test_a_stream_keeps_the_suggestion_however_long_the_fit(self):
        """An IterableDataset is fresh data: no passes to count, so the rate is handed as read."""
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
        stream = DataLoader(Stream(blobs(256)), batch_size=16)
        fit(Classifier(optimizer="adam"), finder, train=stream, max_steps=400, max_epochs=-1)
        result = finder.result
        assert result.settings["budget_steps"] == 400 and result.settings["passes"] is None
        assert result.settings["budget_factor"] == 1.0 and result.chosen_lr == result.suggestion
        assert result.settings["factor_in_words"] == "as read" and "hands" not in result.summary()

    def test_a_fit_shorter_than_an_epoch_is_fresh_data(self):
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
        fit(Classifier(optimizer="adam"), finder, train=loader(n=16 * 400), max_steps=200, max_epochs=-1)
        assert finder.result.settings["passes"] == 0.5
        assert finder.result.chosen_lr == finder.result.suggestion

    def test_passes_over_data_is_the_override_point_for_a_sized_stream(self):
        class SizedStream(LRFinderCallback):
            def passes_over_data(self, trainer, real_steps):
                return None

        pl.seed_everything(0)
        finder = SizedStream(num_steps=10, min_lr=1e-5, max_lr=1e-1, log_to_tensorboard=False, verbose=False)
        fit(Classifier(optimizer="adam"), finder, max_steps=40 * BATCHES, max_epochs=-1)
        assert finder.result.settings["passes"] is None and finder.result.chosen_lr == finder.result.suggestion

    @pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
    def test_an_optimizer_that_is_not_adam_like_gets_its_level_and_the_same_exponent(self, optimizer):
        """With SGD and RMSprop ``midspan`` reads low: raised by the level at every length, then
        lowered by the passes as an Adam fit is (pl_lrfind.core.budget)."""
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
        probe = StepProbe(finder)
        fit(Classifier(optimizer=optimizer), finder, probe, max_steps=TEN_PASSES, max_epochs=-1)
        result = finder.result
        assert result.settings["budget_level"] == NON_ADAM_LEVEL > 1.9
        assert result.settings["budget_factor"] == pytest.approx(NON_ADAM_LEVEL * 2**-0.8)
        assert result.chosen_lr == pytest.approx(result.suggestion * NON_ADAM_LEVEL * 2**-0.8)
        assert max(probe.rates("training")) == pytest.approx(result.chosen_lr, rel=1e-3)
        assert "(x2 for an optimizer without betas, x0.57 for 10 passes over the data)" in result.summary()

    def test_a_users_own_exponent_replaces_the_measured_rule_level_included(self):
        """pass_exponent=0 hands the suggestion as read, with SGD too: the level belongs to the measured rule."""
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, pass_exponent=0.0)
        fit(Classifier(optimizer="sgd"), finder, max_steps=TEN_PASSES, max_epochs=-1)
        assert finder.result.rule == "midspan"  # the reading the level would raise
        assert finder.result.settings["budget_level"] == finder.result.settings["budget_factor"] == 1.0
        assert finder.result.chosen_lr == finder.result.suggestion

    def test_budget_exponent_still_works_for_a_release_with_a_warning_naming_its_replacement(self):
        with pytest.warns(FutureWarning, match="use pass_exponent"):
            finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, budget_exponent=0.5)
        assert finder.pass_exponent == 0.5
        pl.seed_everything(0)
        fit(Classifier(optimizer="adam"), finder, max_steps=TEN_PASSES, max_epochs=-1)
        assert finder.result.settings["budget_factor"] == pytest.approx(2**-0.5)

    def test_steps_per_lr_still_averages_each_rung_for_a_release_with_a_warning_naming_num_steps(self):
        with pytest.warns(FutureWarning, match=r"steps_per_lr=\.\.\.\) is deprecated.*leave it out"):
            quiet_finder(steps_per_lr=1)
        with pytest.warns(FutureWarning, match=r"steps_per_lr=\.\.\.\) is deprecated.*leave it out"):
            finder = quiet_finder(num_steps=6, min_lr=1e-5, max_lr=1e-3, then="stop", steps_per_lr=2)
        pl.seed_everything(0)
        trainer = fit(Classifier(optimizer="adam"), finder, max_epochs=2)
        assert len(finder.result.lrs) == 6 and trainer.global_step == 12

    @pytest.mark.parametrize(
        ("optimizer", "monitor", "exponent", "level"),
        [
            ("adam", "val_loss", BEST_CHECK_PASS_EXPONENT, 1.0),
            ("adam", None, PASS_EXPONENT, 1.0),
            ("sgd", "val_loss", BEST_CHECK_PASS_EXPONENT, NON_ADAM_LEVEL),
        ],
    )
    def test_a_checkpoint_that_keeps_the_best_check_takes_that_checks_exponent(
        self, tmp_path, optimizer, monitor, exponent, level
    ):
        """Judged at its best check, a fit that repeats its data measured best with a milder factor."""
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
        checkpoint = ModelCheckpoint(dirpath=tmp_path / "checkpoints", monitor=monitor)
        trainer = fit(
            Classifier(optimizer=optimizer),
            finder,
            val=loader(n=32),
            max_steps=TEN_PASSES,
            max_epochs=-1,
            enable_checkpointing=True,
            callbacks=[checkpoint],
            limit_val_batches=1,
        )
        assert finder.keeps_best_checkpoint(trainer) is (monitor is not None)
        result = finder.result
        assert result.settings["pass_exponent"] == exponent
        assert result.chosen_lr == pytest.approx(result.suggestion * level * 2**-exponent)

    @pytest.mark.parametrize(
        ("then", "exponent", "optimizer"),
        [("one_cycle", 0.0, "adam"), ("set", PASS_EXPONENT, "adam"), ("set", None, "sgd")],
    )
    def test_exponent_zero_or_then_set_hands_the_suggestion_as_read(self, then, exponent, optimizer):
        """then='set' keeps the user's schedule, whose length the factor was never measured on. With
        Adam, whose measured exponent would lower the rate, and with SGD, whose level would raise it."""
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, pass_exponent=exponent, then=then)
        probe = StepProbe(finder)
        fit(Classifier(optimizer=optimizer), finder, probe, max_steps=TEN_PASSES, max_epochs=-1)
        assert finder.result.rule == "midspan"  # the reading the level would raise with SGD
        assert finder.result.settings["budget_level"] == finder.result.settings["budget_factor"] == 1.0
        assert finder.result.chosen_lr == finder.result.suggestion
        rates = probe.rates("training")
        assert (max(rates) if then == "one_cycle" else rates[0]) == pytest.approx(finder.result.suggestion, rel=1e-3)

    def test_one_cycle_cycles_momentum_and_keeps_group_ratios(self):
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
        probe = StepProbe(finder)
        fit(Classifier(head_lr_ratio=0.1), finder, probe, max_epochs=2)
        head, body = probe.rates("training", 1), probe.rates("training", 0)
        assert body == pytest.approx([lr * 0.1 for lr in head])
        momenta = [m[0] for phase, _, m in probe.steps if phase == "training"]
        assert momenta[0] == pytest.approx(0.95) and min(momenta) == pytest.approx(0.85, abs=1e-3)

    def test_plain_sgd_momentum_is_left_alone(self):
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
        probe = StepProbe(finder)
        fit(Classifier(optimizer="plain_sgd"), finder, probe, max_epochs=1)
        assert {m[0] for phase, _, m in probe.steps if phase == "training"} == {0}

    def test_set_applies_the_rate_and_runs_the_users_epoch_scheduler(self):
        pl.seed_everything(0)
        model = Classifier(scheduler="step")  # StepLR: halve every epoch
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, then="set")
        probe = StepProbe(finder)
        fit(model, finder, probe, max_epochs=3)
        chosen = finder.result.chosen_lr
        rates = probe.rates("training")
        assert len(rates) == 3 * BATCHES
        per_epoch = [rates[i * BATCHES : (i + 1) * BATCHES] for i in range(3)]
        for k, epoch_rates in enumerate(per_epoch):
            assert epoch_rates == pytest.approx([chosen * 0.5**k] * BATCHES)

    def test_set_with_a_step_scheduler_runs_it_from_the_found_rate(self):
        pl.seed_everything(0)
        model = Classifier(scheduler="lambda")  # lr = base / (1 + step)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, then="set")
        probe = StepProbe(finder)
        fit(model, finder, probe, max_epochs=1)
        chosen = finder.result.chosen_lr
        assert probe.rates("training")[:4] == pytest.approx([chosen / (1 + k) for k in range(4)])

    def test_stop_ends_the_fit_after_the_test(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder(num_steps=12, then="stop")
        trainer = fit(model, finder, max_epochs=5)
        assert len(model.seen) == finder.result.num_steps_taken <= 12
        assert trainer.global_step == len(model.seen)
        assert finder.result.chosen_lr is None and finder.result.suggestion is not None


class TestObservers:
    def test_validation_checkpoints_early_stopping_and_lr_monitor_see_only_the_real_fit(self, tmp_path):
        from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
        from pytorch_lightning.loggers import CSVLogger

        pl.seed_everything(0)
        model = Classifier()
        val_steps: list[int] = []
        model.on_validation_start = lambda: val_steps.append(model.global_step)
        finder = quiet_finder(num_steps=24, min_lr=1e-5, max_lr=1.0)
        checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=3, save_top_k=-1)
        stopper = EarlyStopping(monitor="val_loss", patience=100)
        monitor = LearningRateMonitor(logging_interval="step")
        trainer = fit(
            model,
            finder,
            val=loader(64, seed=1),
            max_epochs=2,
            val_check_interval=4,
            callbacks=[checkpoint, stopper, monitor],
            logger=CSVLogger(tmp_path),
            enable_checkpointing=True,
        )
        finder_epochs, finder_steps = finder.budget.finder_epochs, finder.budget.finder_steps
        assert finder_steps == 24 and finder_epochs == 2

        assert val_steps and min(val_steps) > finder_steps
        saved_steps = sorted(int(p.stem.split("step=")[1].split("-")[0]) for p in (tmp_path / "ckpt").glob("*.ckpt"))
        assert saved_steps and min(saved_steps) > finder_steps
        assert stopper.best_score is not None and trainer.current_epoch == 2

        import csv

        rows = list(csv.DictReader(open(next(tmp_path.rglob("metrics.csv")))))
        lr_rows = [(int(r["step"]), float(r["lr-SGD"])) for r in rows if r.get("lr-SGD")]
        assert lr_rows and min(step for step, _ in lr_rows) >= finder_steps
        assert max(lr for _, lr in lr_rows) <= finder.result.chosen_lr * (1 + 1e-6)


class TestFailures:
    @pytest.mark.parametrize(("error", "raised"), [(RuntimeError, RuntimeError), (KeyboardInterrupt, SystemExit)])
    def test_an_exception_during_the_test_restores_the_weights_first(self, error, raised):
        pl.seed_everything(0)
        model = Classifier(fail_at_step=8, fail_with=error)
        before = state_of(model)
        finder = quiet_finder(num_steps=30)
        with pytest.raises(raised):
            fit(model, finder, max_epochs=2)
        assert_same_state(state_of(model), before)
        assert finder.result.stop_reason is StopReason.INTERRUPTED
        assert finder.result.num_steps_taken == 8

    def test_nan_loss_at_the_first_step_stops_restores_and_keeps_the_configured_rate(self):
        pl.seed_everything(0)
        model = Classifier(nan_at_step=0)
        before = state_of(model)
        finder = quiet_finder(num_steps=20, then="stop")
        with pytest.warns(UserWarning, match="diverged_immediately"):
            fit(model, finder, max_epochs=1)
        assert finder.result.stop_reason is StopReason.NON_FINITE_LOSS
        assert finder.result.suggestion is None and finder.result.lrs == []
        assert_same_state(state_of(model), before)

    def test_no_suggestion_leaves_the_users_rate_and_schedulers(self):
        pl.seed_everything(0)
        model = Classifier(nan_at_step=0, scheduler="step")
        finder = quiet_finder(num_steps=20)
        probe = StepProbe(finder)
        with pytest.warns(UserWarning, match="hands no rate to the fit"):
            fit(model, finder, probe, max_epochs=2, limit_train_batches=4)
        assert probe.rates("training") == pytest.approx([0.05] * 4 + [0.025] * 4)

    def test_a_trained_model_gets_a_one_cycle_peaking_at_a_rate_read_from_its_blow_up(self):
        """fastai's second fit: the curve of a trained model has no descent, but it blows up."""
        pl.seed_everything(0)
        model = Classifier(lr=0.1)
        noisy = loader(label_noise=0.3, shuffle=True)  # a loss floor that varies by batch, as label noise gives
        pl.Trainer(**trainer_kwargs(max_epochs=30)).fit(model, noisy)  # stage one, plain
        finder = quiet_finder(num_steps=30, min_lr=1e-5, max_lr=100.0, lr_factor=0.5)
        probe = StepProbe(finder)
        with pytest.warns(UserWarning, match="already_trained"):
            fit(model, finder, probe, train=noisy, max_epochs=2)
        result = finder.result
        assert result.stop_reason is StopReason.DIVERGED and result.diagnosis == "already_trained"
        assert result.rule == "blow_up" and result.suggestion == pytest.approx(result.lrs[-1] / BLOW_UP_DIVISOR)
        assert result.settings["budget_level"] == 1.0  # SGD, but NON_ADAM_LEVEL is midspan's correction
        assert result.chosen_lr == pytest.approx(result.suggestion * result.settings["budget_factor"] * 0.5)
        assert isinstance(finder.scheduler, OneCycleLR)
        assert max(probe.rates("training")) == pytest.approx(result.chosen_lr, rel=1e-3)

    def test_a_curve_with_no_descent_hands_no_rate_to_the_fit(self):
        class Flat(Classifier):
            """The loss does not depend on the weights: nothing to descend."""

            def training_step(self, batch, batch_idx):
                super().training_step(batch, batch_idx)
                return (self(batch[0]) * 0.0).sum() + 1.0

        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
        probe = StepProbe(finder)
        with pytest.warns(UserWarning, match="no_descent"):
            fit(Flat(), finder, probe, max_epochs=1)
        assert finder.result.diagnosis == "no_descent"
        assert finder.result.suggestion is not None and finder.result.chosen_lr is None
        assert finder.scheduler is None
        assert probe.rates("training") == pytest.approx([0.05] * BATCHES)


class TestBadSetups:
    @pytest.mark.parametrize(
        ("name", "value", "match"),
        [
            ("min_lr", 20.0, "min_lr must be smaller than max_lr"),
            ("max_lr", -1.0, "max_lr must be a positive"),
            ("num_steps", 3, "num_steps must be an integer >= 5"),
            ("beta", 1.5, "beta must lie in"),
            ("divergence_threshold", 0.5, "divergence_threshold must be > 1"),
            ("mode", "log", "mode must be one of"),
            ("suggestion", "best", "suggestion must be one of"),
            ("then", "train", "then must be one of"),
            ("one_cycle", {"anneal_strategy": "cosine"}, "anneal_strategy must be one of"),
            ("one_cycle", {"pct_start": 1.0}, "pct_start must lie in"),
            ("one_cycle", {"warmup": 0.1}, r"one_cycle keys must be among \['anneal_strategy'"),
            ("lr_factor", 0.0, "lr_factor must be a positive"),
            ("snapshot", "gpu", "snapshot must be one of"),
            ("pass_exponent", -0.5, "pass_exponent must be a finite number >= 0"),
        ],
    )
    def test_bad_arguments_fail_at_construction(self, name, value, match):
        with pytest.raises(ValueError, match=match):
            LRFinderCallback(**{name: value})  # construction only

    def test_an_unknown_argument_is_a_type_error_as_in_any_call(self):
        with pytest.raises(TypeError, match=r"unexpected keyword arguments \['warmup'\]"):
            LRFinderCallback(warmup=0.1)

    def test_the_one_cycle_arguments_of_0_1_still_work_for_a_release_with_a_warning_naming_one_cycle(self):
        with pytest.warns(FutureWarning, match=r"pass one_cycle=\{'pct_start': \.\.\., 'cycle_momentum': \.\.\.\}"):
            finder = LRFinderCallback(pct_start=0.4, cycle_momentum=False, one_cycle={"div_factor": 10.0})
        assert finder.one_cycle_settings == {
            **ONE_CYCLE_DEFAULTS,
            "pct_start": 0.4,
            "cycle_momentum": False,
            "div_factor": 10.0,
        }

    def test_manual_optimization_is_refused_before_any_step(self):
        class Manual(Classifier):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False

            def training_step(self, batch, batch_idx):
                self.calls += 1
                return None

        model = Manual()
        with pytest.raises(UnsupportedSetupError, match="automatic optimization only"):
            fit(model, quiet_finder(), max_epochs=1)
        assert model.calls == 0

    def test_no_optimizer_is_refused(self):
        class NoOptimizer(Classifier):
            def configure_optimizers(self):
                return None

        with pytest.raises(UnsupportedSetupError, match="exactly one optimizer"):
            fit(NoOptimizer(), quiet_finder(), max_epochs=1)

    def test_one_cycle_needs_a_budget_long_enough_for_a_cycle(self):
        model = Classifier()
        with pytest.raises(UnsupportedSetupError, match="at least 5 optimizer steps.*has 4"):
            fit(model, quiet_finder(), max_epochs=1, limit_train_batches=4)
        assert model.calls == 0

    def test_one_cycle_needs_a_finite_budget(self):
        with pytest.raises(UnsupportedSetupError, match="finite budget"):
            fit(Classifier(), quiet_finder(), max_epochs=-1, max_steps=-1)


@pytest.mark.parametrize("namespace", ["pytorch_lightning", "lightning.pytorch"])
def test_works_with_both_lightning_namespaces(namespace):
    lightning = importlib.import_module(namespace)
    lightning.seed_everything(0)
    model = classifier_class(namespace)()
    finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1)
    trainer = lightning.Trainer(callbacks=[finder], **trainer_kwargs(max_epochs=1))
    trainer.fit(model, loader())
    assert finder.result.stop_reason is StopReason.COMPLETED
    assert trainer.global_step == 10 + BATCHES
    assert isinstance(trainer.lr_scheduler_configs[0].scheduler, OneCycleLR)


def one_cycle_rates(peak: float, total_steps: int, optimizer: str = "sgd") -> list[float]:
    """The rate of every step of the one-cycle the callback hands over to, built independently."""
    weight = torch.zeros(1, requires_grad=True)
    if optimizer == "sgd":
        reference = torch.optim.SGD([weight], lr=peak, momentum=0.9)
    else:
        reference = torch.optim.Adam([weight], lr=peak)
    schedule = OneCycleLR(reference, max_lr=peak, total_steps=total_steps, pct_start=0.25, div_factor=25.0)
    rates = []
    for _ in range(total_steps):
        rates.append(reference.param_groups[0]["lr"])
        reference.step()
        schedule.step()
    return rates


class WeightsAtHandOver(pl.Callback):
    """The weights as the real fit of each stage starts (after the finder restored its snapshot)."""

    def __init__(self, finder):
        self.finder = finder
        self.weights: dict[int, dict] = {}

    def on_train_epoch_start(self, trainer, pl_module):
        if self.finder.phase == "training" and self.finder.stage not in self.weights:
            self.weights[self.finder.stage] = state_of(pl_module)


STAGED = dict(num_steps=20, min_lr=1e-5, max_lr=10.0)
"""A ladder that reads a rate from the fresh model and, after a short first stage, again."""


class TestStages:
    """Every fit with the callback is a stage: its own test, its own one-cycle over its own budget.

    The first stage is short (eight real steps), so the second still has a descent to read a rate
    from: the trained-model case is the diagnosis's, tested in ``TestFailures``.
    """

    def test_a_second_fit_with_a_new_trainer_runs_its_own_test_and_schedule(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder(**STAGED)
        probe, handover = StepProbe(finder), WeightsAtHandOver(finder)
        fit(model, finder, probe, max_epochs=1, limit_train_batches=8, callbacks=[handover])
        after_first = state_of(model)
        trainer = fit(model, finder, probe, max_epochs=3, callbacks=[handover])

        assert finder.stage == 2 and len(finder.results) == 2 and finder.result is finder.results[1]
        first, second = finder.results
        for stage, result, real_steps in ((1, first, 8), (2, second, 3 * BATCHES)):
            ladder = lr_ladder(STAGED["min_lr"], STAGED["max_lr"], STAGED["num_steps"])
            assert probe.rates("searching", stage=stage) == pytest.approx(ladder[: len(result.lrs)])
            rates = probe.rates("training", stage=stage)
            assert rates == pytest.approx(one_cycle_rates(result.chosen_lr, real_steps), rel=1e-9)
        # Stage two measured the model stage one left, and gave it back unchanged to its real fit.
        assert second.losses[0] < first.losses[0]
        assert_same_state(handover.weights[2], after_first)
        assert trainer.global_step == second.num_steps_taken + 3 * BATCHES

    def test_a_second_fit_on_the_same_trainer_with_a_larger_max_epochs(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder(**STAGED)
        probe = StepProbe(finder)
        batches = 8
        trainer = pl.Trainer(callbacks=[finder, probe], **trainer_kwargs(max_epochs=1, limit_train_batches=batches))
        trainer.fit(model, loader())
        epochs_done, steps_done = trainer.current_epoch, trainer.global_step
        assert epochs_done == 1  # the test's epochs are not counted

        trainer.fit_loop.max_epochs = epochs_done + 3  # Lightning's way to train on: three epochs more
        trainer.fit(model, loader())

        second = finder.results[1]
        assert finder.stage == 2 and second.chosen_lr is not None
        assert finder.scheduler.total_steps == 3 * batches
        rates = probe.rates("training", stage=2)
        assert rates == pytest.approx(one_cycle_rates(second.chosen_lr, 3 * batches), rel=1e-9)
        assert trainer.current_epoch == epochs_done + 3
        assert trainer.global_step == steps_done + second.num_steps_taken + 3 * batches

    def test_a_resume_inside_the_second_stage_continues_that_stage(self, tmp_path):
        from pytorch_lightning.callbacks import ModelCheckpoint

        def stages(ckpt_dir, ckpt_path=None):
            pl.seed_everything(0)
            model = Classifier(optimizer="adam", lr=0.01)
            finder = quiet_finder(**STAGED)
            probe = StepProbe(finder)
            if ckpt_path is None:
                fit(model, finder, max_epochs=1, limit_train_batches=8)
            checkpoint = ModelCheckpoint(dirpath=ckpt_dir, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
            trainer = pl.Trainer(
                callbacks=[finder, probe, checkpoint], **trainer_kwargs(max_epochs=3, enable_checkpointing=True)
            )
            trainer.fit(model, loader(), ckpt_path=ckpt_path)
            return model, finder, probe

        model_a, finder_a, probe_a = stages(tmp_path / "a")
        inside = tmp_path / "a" / "epoch=0.ckpt"  # after the first real epoch of stage two
        model_b, finder_b, probe_b = stages(tmp_path / "b", ckpt_path=inside)

        assert finder_b.stage == 2 and finder_b.results == finder_a.results
        assert probe_b.rates("searching") == []  # the test did not run again
        rates_a, rates_b = probe_a.rates("training"), probe_b.rates("training")
        assert len(rates_a) == 3 * BATCHES and len(rates_b) == 2 * BATCHES
        assert rates_b == pytest.approx(rates_a[BATCHES:], rel=1e-12)
        assert rates_a == pytest.approx(one_cycle_rates(finder_a.result.chosen_lr, 3 * BATCHES, "adam"), rel=1e-9)
        assert finder_b.scheduler.last_epoch == finder_a.scheduler.last_epoch == 3 * BATCHES
        assert_same_state(state_of(model_b), state_of(model_a))

    def test_a_checkpoint_of_the_single_stage_release_still_resumes(self):
        finder = quiet_finder()
        result = quiet_finder().results  # empty: a fresh callback has no result yet
        assert result == [] and finder.result is None
        old = {
            "phase": "training",
            "result": {
                "lrs": [1e-3] * 5,
                "losses": [1.0] * 5,
                "smoothed_losses": [1.0] * 5,
                "suggestion": 1e-3,
                "rule": "midspan",
                "suggestions": {"midspan": 1e-3},
                "stop_reason": "diverged",
                "diagnosis": "ok",
                "advice": "",
                "chosen_lr": 1e-3,
            },
            "budget": {"real_steps": 32, "finder_epochs": 1, "finder_steps": 10},
            "group_ratios": [1.0],
            "scheduler": None,
        }
        finder.load_state_dict(old)
        assert finder.stage == 1 and finder.phase == "training" and finder.result.chosen_lr == 1e-3
        assert finder.budget.real_steps == 32 and finder.budget.finder_steps == 10
        assert finder.state_dict()["stage"]["budget"] == old["budget"]
        assert finder.state_dict()["stage"]["real_epochs"] is False  # its real fit counted the test's epochs
        assert quiet_finder().state_dict()["stage"]["real_epochs"] is True


class TestOwnRule:
    def test_a_callable_rule_chooses_the_rate_and_is_named_in_the_result(self):
        def tenth_of_last(curve):
            return float(curve.lrs[-1] / 10)

        pl.seed_everything(0)
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-1, suggestion=tenth_of_last)
        fit(Classifier(), finder, max_epochs=1)  # SGD: the level is midspan's, not this rule's
        result = finder.result
        assert result.rule == "tenth_of_last"
        assert result.suggestion == pytest.approx(result.lrs[-1] / 10)
        assert result.chosen_lr == result.suggestion == result.suggestions["tenth_of_last"]
        assert set(result.suggestions) == {"midspan", "valley", "steepest", "minimum", "tenth_of_last"}

    def test_the_state_key_names_a_callable_rule_without_its_address(self):
        def rule(curve):
            return 1e-3

        assert quiet_finder(suggestion=rule).state_key == quiet_finder(suggestion=lambda c: 1e-3).state_key.replace(
            "<lambda>", "rule"
        )
        assert "0x" not in quiet_finder(suggestion=rule).state_key


class SnapshotMappings(pl.Callback):
    """What this process has mapped from snapshot files while the test runs (Linux's /proc/self/maps)."""

    def __init__(self):
        self.seen: list[str] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        with open("/proc/self/maps") as maps:
            self.seen += [line.strip() for line in maps if ".lr_find_snapshot_" in line]


def snapshot_files(root) -> list:
    return [path for path in root.rglob("*") if ".lr_find_snapshot_" in path.name]


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads Linux's /proc/self/maps")
class TestDiskSnapshot:
    def test_the_file_lives_under_default_root_dir_and_is_gone_from_the_start(self, tmp_path):
        pl.seed_everything(0)
        model = Classifier(optimizer="adam")
        before = state_of(model)
        mappings = SnapshotMappings()
        finder = quiet_finder(num_steps=10, then="stop", snapshot="disk")
        fit(model, finder, max_epochs=1, callbacks=[mappings], default_root_dir=tmp_path / "root")
        assert mappings.seen, "the snapshot was not mapped from a file"
        assert all(str(tmp_path / "root") in line and line.endswith("(deleted)") for line in mappings.seen)
        assert snapshot_files(tmp_path) == []
        assert_same_state(state_of(model), before)

    def test_an_exception_mid_test_restores_and_leaves_no_file(self, tmp_path):
        pl.seed_everything(0)
        model = Classifier(optimizer="adam", fail_at_step=6)
        before = state_of(model)
        finder = quiet_finder(num_steps=20, snapshot="disk")
        with pytest.raises(RuntimeError, match="boom"):
            fit(model, finder, max_epochs=2, default_root_dir=tmp_path / "root")
        assert finder.result.stop_reason is StopReason.INTERRUPTED
        assert finder.result.settings["snapshot"] == "disk"
        assert snapshot_files(tmp_path) == []
        assert_same_state(state_of(model), before)
        with open("/proc/self/maps") as maps:  # and the mapping itself was released
            assert not [line for line in maps if ".lr_find_snapshot_" in line]
