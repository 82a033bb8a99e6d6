"""Setups real training uses: DDP, mixed precision, accumulation, clipping, resume, odd loops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from helpers import (
    BATCHES,
    Classifier,
    StepProbe,
    assert_same_state,
    fit,
    loader,
    quiet_finder,
    state_of,
    trainer_kwargs,
)
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.plugins import MixedPrecision
from pytorch_lightning.strategies import SingleDeviceStrategy

from pl_lrfind import StopReason

HERE = Path(__file__).parent


@pytest.mark.slow
def test_ddp_two_cpu_processes_agree_on_curve_rate_and_weights(tmp_path):
    ranks = run_workers("ddp_worker.py", tmp_path)
    assert [r["world_size"] for r in ranks] == [2, 2]
    first, second = ranks
    assert first["result"]["losses"] == second["result"]["losses"]  # the cross-rank mean, on both
    assert first["result"]["suggestion"] == second["result"]["suggestion"] is not None
    assert first["result"]["stop_reason"] == second["result"]["stop_reason"]
    assert first["global_step"] == second["global_step"]
    assert first["weights_sha256"] == second["weights_sha256"]
    # Only rank zero wrote a TensorBoard run.
    runs = list((tmp_path / "root" / "lr_find").iterdir())
    assert len(runs) == 1 and len(list(runs[0].glob("events.out.tfevents.*"))) == 1


def run_workers(worker: str, out: Path) -> list[dict]:
    """Run a two-process worker script; return what each rank wrote."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), MASTER_PORT=str(29500 + os.getpid() % 1000))
    proc = subprocess.run(
        [sys.executable, str(HERE / worker), str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_fsdp_each_rank_snapshots_and_restores_only_its_own_shards(tmp_path):
    ranks = run_workers("fsdp_worker.py", tmp_path)
    assert [r["world_size"] for r in ranks] == [2, 2]
    for rank in ranks:
        assert rank["steps_run"] == 12 and rank["result"]["stop_reason"] == "completed"
        assert rank["same_keys"] and rank["bit_for_bit"] and rank["groups_restored"]
        assert rank["optimizer_entries"] > 0  # Adam's state existed at the snapshot and came back
        assert rank["local_param_numel"] < rank["full_param_numel"]  # the parameters really are sharded
        # The snapshot holds this rank's shards and state, nothing gathered: its size is theirs.
        assert rank["result"]["settings"]["snapshot_bytes"] == rank["local_bytes_aligned"]
    assert ranks[0]["result"]["losses"] == ranks[1]["result"]["losses"]


class TestPrecision:
    def test_bf16_mixed_on_cpu(self):
        pl.seed_everything(0)
        model = Classifier()
        before = state_of(model)
        finder = quiet_finder(num_steps=15, min_lr=1e-5, max_lr=1.0, then="stop")
        fit(model, finder, max_epochs=1, precision="bf16-mixed")
        assert finder.result.num_steps_taken >= 5
        assert finder.result.suggestion is not None
        assert_same_state(state_of(model), before)

    def test_fp16_steps_skipped_by_the_grad_scaler_are_not_rungs_or_points(self):
        class Overflowing(Classifier):
            """Every fourth step's loss is scaled to overflow, so the grad scaler skips the step."""

            def training_step(self, batch, batch_idx):
                loss = super().training_step(batch, batch_idx)
                return loss * 1e36 if self.calls % 4 == 0 else loss

        pl.seed_everything(0)
        model = Overflowing()
        finder = quiet_finder(num_steps=12, min_lr=1e-5, max_lr=1e-2, then="stop")
        probe = StepProbe(finder)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=1000)
        fit(model, finder, probe, max_epochs=2, plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)])
        result = finder.result
        assert result.stop_reason is StopReason.COMPLETED
        assert result.num_steps_taken == 12
        assert max(result.losses) < 100  # no overflowed loss was recorded
        assert len(model.seen) == 15  # twelve good steps, with a skipped one after every three
        rates = probe.rates("searching")
        # The rung after a skipped step is tried again at the same rate.
        assert sorted(set(rates)) == pytest.approx(result.lrs)


class TestAccumulationAndClipping:
    def test_recorded_loss_is_the_mean_over_the_whole_optimizer_step(self):
        class Recording(Classifier):
            def training_step(self, batch, batch_idx):
                loss = super().training_step(batch, batch_idx)
                self.micro_losses.append(float(loss))
                return loss

        pl.seed_everything(0)
        model = Recording()
        model.micro_losses = []
        finder = quiet_finder(num_steps=8, min_lr=1e-5, max_lr=1e-2, then="stop", beta=0.0)
        fit(model, finder, max_epochs=1, accumulate_grad_batches=4, gradient_clip_val=0.5)
        micro = model.micro_losses
        expected = [sum(micro[i : i + 4]) / 4 for i in range(0, 32, 4)]
        assert finder.result.losses == pytest.approx(expected, rel=1e-6)

    def test_short_last_accumulation_window_of_an_epoch_is_averaged_over_its_own_batches(self):
        pl.seed_everything(0)
        finder = quiet_finder(num_steps=6, min_lr=1e-5, max_lr=1e-2, then="stop", beta=0.0)
        model = Classifier()
        # 16 batches in windows of 5: steps of 5, 5, 5 and 1 micro-batches per epoch.
        fit(model, finder, max_epochs=1, accumulate_grad_batches=5)
        assert finder.result.num_steps_taken == 6
        assert max(finder.result.losses) < 3 * min(finder.result.losses)


class CrashAtEpoch(Callback):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


class LateRestoreStrategy(SingleDeviceStrategy):
    """A single device whose checkpoint is restored after ``on_fit_start``, as FSDPStrategy and
    ModelParallelStrategy restore theirs (``restore_checkpoint_after_setup``)."""

    @property
    def restore_checkpoint_after_setup(self) -> bool:
        return True


class TestResume:
    def run(self, tmp_path, crash_at=None, ckpt_path=None, max_epochs=4, strategy="auto"):
        pl.seed_everything(0)
        model = Classifier(optimizer="adam", lr=0.01)
        finder = quiet_finder(num_steps=20, min_lr=1e-5, max_lr=1.0)
        checkpoint = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
        callbacks = [checkpoint] + ([CrashAtEpoch(crash_at)] if crash_at is not None else [])
        settings = trainer_kwargs(max_epochs=max_epochs, enable_checkpointing=True, strategy=strategy)
        trainer = pl.Trainer(callbacks=[finder, *callbacks], **settings)
        trainer.fit(model, loader(), ckpt_path=ckpt_path)
        return model, finder, trainer

    @pytest.mark.parametrize("late", [False, True], ids=["state-before-fit-start", "state-after-fit-start"])
    def test_resumed_real_fit_ends_with_the_same_weights_bit_for_bit(self, tmp_path, late):
        model_a, finder_a, trainer_a = self.run(tmp_path / "a")
        assert finder_a.budget.finder_epochs == 2  # epochs 0 and 1, before the crash's epoch 2 of the real fit

        with pytest.raises(RuntimeError, match="simulated crash"):
            self.run(tmp_path / "b", crash_at=2)
        last = tmp_path / "b" / "epoch=1.ckpt"
        assert last.exists()

        strategy = LateRestoreStrategy(device=torch.device("cpu")) if late else "auto"
        model_c, finder_c, trainer_c = self.run(tmp_path / "c", ckpt_path=last, strategy=strategy)
        assert len(model_c.seen) == 2 * BATCHES  # the finder did not run again
        assert finder_c.result == finder_a.result
        assert trainer_c.global_step == trainer_a.global_step
        assert finder_c.scheduler.last_epoch == finder_a.scheduler.last_epoch == 4 * BATCHES
        assert_same_state(state_of(model_c), state_of(model_a))

    def test_resuming_a_checkpoint_from_before_the_finder_plans_only_the_remaining_budget(self, tmp_path):
        pl.seed_everything(0)
        model = Classifier(lr=1e-4)  # slow enough that two epochs leave a descent to measure
        trainer = pl.Trainer(**trainer_kwargs(max_epochs=2))
        trainer.fit(model, loader())
        trainer.save_checkpoint(tmp_path / "plain.ckpt")

        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1.0)
        trainer = pl.Trainer(callbacks=[finder], **trainer_kwargs(max_epochs=5))
        trainer.fit(model, loader(), ckpt_path=tmp_path / "plain.ckpt")
        assert finder.result is not None and finder.result.num_steps_taken > 5
        assert finder.scheduler.total_steps == 3 * BATCHES
        assert trainer.global_step == 2 * BATCHES + finder.budget.finder_steps + 3 * BATCHES


class TestLoops:
    def test_dataloader_shorter_than_the_ladder_keeps_going_across_epochs(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder(num_steps=10, min_lr=1e-5, max_lr=1e-2)
        trainer = fit(model, finder, train=loader(n=64), max_epochs=2)  # 4 batches per epoch
        assert finder.result.num_steps_taken == 10
        assert finder.budget.finder_epochs == 3
        assert trainer.current_epoch == 2  # the real fit counts its own epochs
        assert len(model.seen) == 10 + 2 * 4

    def test_limit_train_batches(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder(num_steps=7, min_lr=1e-5, max_lr=1e-2)
        fit(model, finder, max_epochs=2, limit_train_batches=3)
        assert finder.result.num_steps_taken == 7
        assert finder.scheduler.total_steps == 2 * 3

    def test_fast_dev_run_skips_the_test_and_runs_the_users_fit(self):
        pl.seed_everything(0)
        model = Classifier()
        finder = quiet_finder()
        fit(model, finder, fast_dev_run=True)
        assert finder.result.stop_reason is StopReason.SKIPPED
        assert finder.result.suggestion is None
        assert len(model.seen) == 1
