"""A model and datamodule for the LightningCLI tests, importable by class path from the YAML config.

Both are defined for each installed Lightning namespace (``pytorch_lightning`` and
``lightning.pytorch`` have distinct classes, and a CLI only accepts its own): the YAML names
``cli_model.BlobsModel`` / ``cli_model.BlobsDataModule`` for ``lightning.pytorch`` and the
``PL...`` variants for ``pytorch_lightning``.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _blobs(n: int, seed: int) -> TensorDataset:
    """Three Gaussian blobs in 8 dimensions: learnable in a few dozen steps."""
    centers = torch.randn(3, 8, generator=torch.Generator().manual_seed(1234)) * 2.0
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    return TensorDataset(centers[y] + torch.randn(n, 8, generator=g), y)


def _make(namespace: str):
    pl = importlib.import_module(namespace)

    class BlobsModel(pl.LightningModule):
        """A small MLP with SGD + momentum (so the one-cycle schedule cycles momentum too)."""

        def __init__(self, hidden: int = 32, lr: float = 0.01) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 3))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)

    class BlobsDataModule(pl.LightningDataModule):
        def __init__(self, n: int = 256, batch_size: int = 16) -> None:
            super().__init__()
            self.n = n
            self.batch_size = batch_size

        def train_dataloader(self):
            return DataLoader(_blobs(self.n, seed=0), batch_size=self.batch_size)

        def val_dataloader(self):
            return DataLoader(_blobs(64, seed=1), batch_size=64)

    return BlobsModel, BlobsDataModule


BlobsModel, BlobsDataModule = _make("lightning.pytorch")
_CALLBACK_BASES = tuple(importlib.import_module(name).Callback for name in ("lightning.pytorch", "pytorch_lightning"))
PLBlobsModel, PLBlobsDataModule = _make("pytorch_lightning")


class LrRecorder(*_CALLBACK_BASES):
    """Records the rate each training batch is stepped with, for either Lightning's Trainer."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
