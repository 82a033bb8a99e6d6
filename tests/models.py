"""Small real models and data for the tests: fast on two CPU cores, deterministic per seed."""

from __future__ import annotations

import functools
import importlib
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def blobs(n: int = 256, dim: int = 8, classes: int = 3, seed: int = 0) -> TensorDataset:
    """Gaussian blobs: learnable in a few dozen steps, so the curve falls and then blows up.

    The blob centres are the same for every seed; ``seed`` draws the samples, so two seeds give
    a training and a validation set of one task.
    """
    centers = torch.randn(classes, dim, generator=torch.Generator().manual_seed(1234)) * 2.0
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, dim, generator=g)
    return TensorDataset(x, y)


def loader(n: int = 256, batch_size: int = 16, seed: int = 0, shuffle: bool = False) -> DataLoader:
    return DataLoader(blobs(n, seed=seed), batch_size=batch_size, shuffle=shuffle)


@functools.cache
def classifier_class(namespace: str = "pytorch_lightning"):
    """A BatchNorm MLP LightningModule class for the given Lightning namespace."""
    pl = importlib.import_module(namespace)

    class Classifier(pl.LightningModule):
        def __init__(
            self,
            lr: float = 0.05,
            optimizer: str = "sgd",
            head_lr_ratio: float | None = None,
            scheduler: str | None = None,
            fail_at_step: int | None = None,
            fail_with: type[BaseException] = RuntimeError,
            nan_at_step: int | None = None,
            loss_offset: float = 0.0,
        ) -> None:
            super().__init__()
            self.save_hyperparameters(ignore=["fail_with"])  # a class does not belong in a checkpoint
            self.fail_with = fail_with
            self.body = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU())
            self.head = nn.Linear(32, 3)
            self.calls = 0
            self.seen: list[tuple[int, int]] = []  # (epoch, batch_idx) of every training batch

        def forward(self, x):
            return self.head(self.body(x))

        def training_step(self, batch, batch_idx):
            self.calls += 1
            self.seen.append((self.current_epoch, batch_idx))
            if self.hparams.fail_at_step is not None and self.calls > self.hparams.fail_at_step:
                raise self.fail_with("boom from training_step")
            x, y = batch
            loss = nn.functional.cross_entropy(self(x), y) + self.hparams.loss_offset
            if self.hparams.nan_at_step is not None and self.calls > self.hparams.nan_at_step:
                loss = loss * float("nan")
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", nn.functional.cross_entropy(self(x), y))

        def configure_optimizers(self):
            hp = self.hparams
            if hp.head_lr_ratio is None:
                groups = [{"params": self.parameters()}]
            else:
                groups = [
                    {"params": self.body.parameters(), "lr": hp.lr * hp.head_lr_ratio},
                    {"params": self.head.parameters(), "lr": hp.lr},
                ]
            if hp.optimizer == "sgd":
                optimizer = torch.optim.SGD(groups, lr=hp.lr, momentum=0.9)
            elif hp.optimizer == "plain_sgd":
                optimizer = torch.optim.SGD(groups, lr=hp.lr)
            else:
                optimizer = torch.optim.Adam(groups, lr=hp.lr)
            if hp.scheduler == "step":
                scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
                return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
            if hp.scheduler == "lambda":
                scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
                return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
            return optimizer

    return Classifier


def trainer_kwargs(**overrides):
    """Quiet, CPU-only Trainer settings for tests; anything written goes to a fresh temp dir."""
    settings = dict(
        default_root_dir=tempfile.mkdtemp(prefix="pl_lrfind_test_"),
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    settings.update(overrides)
    return settings
