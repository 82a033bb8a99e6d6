"""Lightning's epoch-based callbacks and settings act at the epochs of the real fit the user wrote.

The range test takes epochs of its own; at the hand-over the epoch count goes back to where the
test began (``global_step`` keeps counting), the fine-tuning callbacks are held back during the
test like the checkpoint callbacks, and a param group added during the real fit joins the
one-cycle. Every test here is a small real fit with Lightning's own callbacks.
"""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from helpers import BATCHES, loader, quiet_finder, state_of, trainer_kwargs
from pytorch_lightning.callbacks import BackboneFinetuning, ModelCheckpoint, StochasticWeightAveraging
from torch import nn

from pl_lrfind import LRFinderCallback
from pl_lrfind.stage import Phase

TEST_STEPS = 40  # rungs; with 16 batches an epoch (loader()) the test takes three epochs unless it stops early


class WithBackbone(pl.LightningModule):
    """A backbone for BackboneFinetuning to freeze and unfreeze, and a head the optimizer starts with."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.05, momentum=0.9)


class EpochProbe(pl.Callback):
    """Per optimizer step: the finder's phase, the epoch Lightning reports and every group's rate;
    per validation run, its epoch."""

    def __init__(self, finder: LRFinderCallback) -> None:
        self.finder = finder
        self.steps: list[tuple[Phase, int, list[float]]] = []
        self.validated: list[int] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.steps.append((self.finder.phase, trainer.current_epoch, [g["lr"] for g in optimizer.param_groups]))

    def on_validation_start(self, trainer, pl_module):
        self.validated.append(trainer.current_epoch)

    def real(self) -> list[tuple[int, list[float]]]:
        return [(epoch, lrs) for phase, epoch, lrs in self.steps if phase is Phase.TRAINING]


def run(callbacks, max_epochs=4, ckpt_path=None, val=False, **trainer_overrides):
    pl.seed_everything(0)
    model = WithBackbone()
    finder = quiet_finder(num_steps=TEST_STEPS, min_lr=1e-4, max_lr=1.0)
    probe = EpochProbe(finder)
    settings = trainer_kwargs(max_epochs=max_epochs, **trainer_overrides)
    trainer = pl.Trainer(callbacks=[finder, probe, *callbacks], **settings)
    trainer.fit(model, loader(), loader(n=32) if val else None, ckpt_path=ckpt_path)
    return model, finder, probe, trainer


@pytest.mark.parametrize("unfreeze_at", [1, 3], ids=["inside-the-test-epochs", "after-them"])
def test_backbone_finetuning_unfreezes_at_the_real_fits_epoch_and_follows_the_one_cycle(unfreeze_at):
    backbone = BackboneFinetuning(unfreeze_backbone_at_epoch=unfreeze_at, backbone_initial_ratio_lr=0.1)
    with pytest.warns(UserWarning, match=r"param group\(s\) \[1\] joined the one-cycle"):
        model, finder, probe, trainer = run([backbone], max_epochs=unfreeze_at + 2)
    assert finder.budget.finder_epochs >= 2  # the test took epochs 0 and 1 (and more)
    assert all(len(lrs) == 1 for phase, _, lrs in probe.steps if phase is Phase.SEARCHING)
    real = probe.real()
    assert [epoch for epoch, _ in real] == [e for e in range(unfreeze_at + 2) for _ in range(BATCHES)]
    assert all(len(lrs) == (2 if epoch >= unfreeze_at else 1) for epoch, lrs in real)
    # From the step it joins, the backbone's group follows the same cycle at a tenth of the head's rate.
    joined = [lrs for epoch, lrs in real if epoch >= unfreeze_at]
    assert all(backbone_lr == pytest.approx(0.1 * head_lr, rel=1e-9) for head_lr, backbone_lr in joined)
    assert max(lrs[0] for _, lrs in real) == pytest.approx(finder.result.chosen_lr, rel=1e-3)
    assert finder.scheduler.last_epoch == finder.scheduler.total_steps == (unfreeze_at + 2) * BATCHES
    assert trainer.current_epoch == unfreeze_at + 2 and all(p.requires_grad for p in model.backbone.parameters())


def test_the_backbone_does_not_train_before_its_epoch(tmp_path):
    """Checkpoints of every real epoch: the backbone is the initial one up to the unfreeze epoch's start."""
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    pl.seed_everything(0)
    initial = state_of(WithBackbone().backbone)
    run([BackboneFinetuning(unfreeze_backbone_at_epoch=2), checkpoint], max_epochs=3, enable_checkpointing=True)
    backbone_at = [torch.load(tmp_path / f"epoch={epoch}.ckpt", weights_only=False)["state_dict"] for epoch in range(3)]
    for epoch, state in enumerate(backbone_at):
        same = all(torch.equal(state[f"backbone.{name}"], value) for name, value in initial.items())
        assert same is (epoch < 2), epoch


def test_swa_starts_averaging_at_the_real_fits_epoch():
    """SWA averages the same epochs as in the same fit without the finder."""
    pl.seed_everything(0)
    plain = StochasticWeightAveraging(swa_lrs=0.01, swa_epoch_start=2)
    pl.Trainer(callbacks=[plain], **trainer_kwargs(max_epochs=4)).fit(WithBackbone(), loader())
    swa = StochasticWeightAveraging(swa_lrs=0.01, swa_epoch_start=2)
    with pytest.warns(UserWarning):  # Lightning says it swaps the one-cycle for SWALR
        _, finder, _, _ = run([swa], max_epochs=4)
    assert finder.budget.finder_epochs >= 2
    assert int(swa.n_averaged) == int(plain.n_averaged) == 3  # the start, then the real fit's epochs 2 and 3


def test_checkpoints_every_two_epochs_count_the_real_fits_epochs(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=2, filename="{epoch}")
    _, finder, _, _ = run([checkpoint], max_epochs=4, enable_checkpointing=True)
    assert finder.budget.finder_epochs >= 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch=1.ckpt", "epoch=3.ckpt"]


def test_validation_every_two_epochs_counts_the_real_fits_epochs():
    _, finder, probe, trainer = run([], max_epochs=4, val=True, check_val_every_n_epoch=2, limit_val_batches=1)
    assert finder.budget.finder_epochs >= 2
    assert probe.validated == [1, 3]
    assert trainer.global_step == finder.budget.finder_steps + 4 * BATCHES  # the steps keep counting


class CrashAtRealEpoch(pl.Callback):
    def __init__(self, finder: LRFinderCallback, epoch: int) -> None:
        self.finder, self.epoch = finder, epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if self.finder.phase is Phase.TRAINING and trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


def test_a_resume_from_after_the_unfreeze_goes_on_with_both_groups_on_the_cycle(tmp_path):
    """The resumed fit does not test again, has the backbone's group back, and runs the last epoch at
    the rates the uninterrupted fit ran it at. (Its weights are not compared bit for bit: Lightning's
    own BackboneFinetuning resume differs from the uninterrupted fit without pl_lrfind too.)"""

    def callbacks(directory):
        checkpoint = ModelCheckpoint(dirpath=directory, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
        return [BackboneFinetuning(unfreeze_backbone_at_epoch=1), checkpoint]

    settings = dict(max_epochs=4, enable_checkpointing=True)
    with pytest.warns(UserWarning, match="joined the one-cycle"):
        _, finder_a, probe_a, _ = run(callbacks(tmp_path / "a"), **settings)

    pl.seed_everything(0)
    finder_b = quiet_finder(num_steps=TEST_STEPS, min_lr=1e-4, max_lr=1.0)
    crash = CrashAtRealEpoch(finder_b, 3)
    trainer_b = pl.Trainer(callbacks=[finder_b, *callbacks(tmp_path / "b"), crash], **trainer_kwargs(**settings))
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer_b.fit(WithBackbone(), loader())

    with pytest.warns(UserWarning, match="joined the one-cycle"):
        _, finder_c, probe_c, trainer_c = run(
            callbacks(tmp_path / "c"), ckpt_path=tmp_path / "b" / "epoch=2.ckpt", **settings
        )
    assert [epoch for epoch, _ in probe_c.real()] == [3] * BATCHES  # no test again, only the last epoch
    assert finder_c.result == finder_a.result
    assert len(trainer_c.optimizers[0].param_groups) == 2
    assert [lrs for _, lrs in probe_c.real()] == [lrs for epoch, lrs in probe_a.real() if epoch == 3]
    assert finder_c.scheduler.last_epoch == finder_a.scheduler.last_epoch == 4 * BATCHES


class AddGroupDuringTheTest(pl.Callback):
    """Other code than a fine-tuning callback adding a param group while the test runs."""

    def __init__(self, finder: LRFinderCallback) -> None:
        self.finder = finder

    def on_train_epoch_start(self, trainer, pl_module):
        if self.finder.phase is Phase.SEARCHING and trainer.current_epoch == 1:
            pl_module.backbone.requires_grad_(True)
            trainer.optimizers[0].add_param_group({"params": list(pl_module.backbone.parameters()), "lr": 1e-3})


def test_a_group_added_during_the_test_is_taken_out_with_a_warning():
    pl.seed_everything(0)
    model = WithBackbone()
    model.backbone.requires_grad_(False)
    finder = quiet_finder(num_steps=TEST_STEPS, min_lr=1e-4, max_lr=1.0)
    trainer = pl.Trainer(callbacks=[finder, AddGroupDuringTheTest(finder)], **trainer_kwargs(max_epochs=2))
    with pytest.warns(UserWarning, match=r"1 param group\(s\) joined the optimizer during the range test"):
        trainer.fit(model, loader())
    assert finder.budget.finder_epochs >= 2
    assert len(trainer.optimizers[0].param_groups) == 1
    assert finder.scheduler.last_epoch == 2 * BATCHES


class EveryOtherEpochHalved(WithBackbone):
    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
        halve = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": halve, "interval": "epoch", "frequency": 2}}


def test_an_epoch_scheduler_kept_with_then_set_steps_at_the_real_fits_epochs():
    """Lightning steps it when (epoch + 1) is a multiple of its frequency: after real epochs 1 and 3."""
    pl.seed_everything(0)
    finder = quiet_finder(num_steps=TEST_STEPS, min_lr=1e-4, max_lr=1.0, then="set")
    probe = EpochProbe(finder)
    trainer = pl.Trainer(callbacks=[finder, probe], **trainer_kwargs(max_epochs=4))
    trainer.fit(EveryOtherEpochHalved(), loader())
    assert finder.budget.finder_epochs == 3
    first_of = {epoch: lrs[0] for epoch, lrs in reversed(probe.real())}
    chosen = finder.result.chosen_lr
    assert [first_of[epoch] for epoch in range(4)] == pytest.approx([chosen, chosen, chosen / 2, chosen / 2])
