"""The README's main job: the finder and a one-cycle fit of a small CNN on sklearn's digits.

Everything it needs ships with packages (the 1,797 8x8 digit images come with scikit-learn),
so it runs offline on a laptop CPU in well under a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ._lightning import INSTALLED
from .callback import LRFinderCallback

pl = next(iter(INSTALLED.values()))


def digits_loaders(batch_size: int = 64, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """sklearn's digits as 1x8x8 images scaled to [0, 1]; 80 % train, 20 % validation."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    x = torch.tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    split = int(0.8 * len(x))
    train, val = order[:split], order[split:]
    generator = torch.Generator().manual_seed(seed)
    return (
        DataLoader(TensorDataset(x[train], y[train]), batch_size=batch_size, shuffle=True, generator=generator),
        DataLoader(TensorDataset(x[val], y[val]), batch_size=256),
    )


def digits_cnn() -> nn.Sequential:
    """Two conv blocks with BatchNorm for 1x8x8 digits, ten logits out."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


class DigitsCNN(pl.LightningModule):
    """The BatchNorm CNN with SGD and momentum: the classic range-test subject."""

    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = digits_cnn()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y), prog_bar=True)
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)


@dataclass
class DemoOutcome:
    finder: LRFinderCallback
    val_loss: float
    val_acc: float
    log_dir: Path


def run_demo(root: Path = Path("pl_lrfind_runs"), max_epochs: int = 8, progress: bool = True) -> DemoOutcome:
    """Range test, then a one-cycle fit at the found rate; TensorBoard logs under ``root``."""
    pl.seed_everything(0, verbose=False)
    train, val = digits_loaders()
    finder = LRFinderCallback()
    logger = pl.loggers.TensorBoardLogger(root, name="demo")
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        callbacks=[finder],
        logger=logger,
        accelerator="cpu",
        devices=1,
        enable_progress_bar=progress,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(DigitsCNN(), train, val)
    metrics = trainer.callback_metrics
    return DemoOutcome(finder, float(metrics["val_loss"]), float(metrics["val_acc"]), Path(logger.log_dir))
