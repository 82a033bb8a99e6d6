"""What several test modules share: small real models and data, fits, probes, synthetic results.

Models and data are fast on two CPU cores and deterministic per seed. Every fit writes under the
working directory, which ``conftest.py`` sets to the test's own ``tmp_path``.
"""

from __future__ import annotations

import functools
import importlib
import math
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

from pl_lrfind import LRFinderCallback
from pl_lrfind.core import LRFindResult, RangeTest
from pl_lrfind.tb_writer import log_result, log_schedule, log_step


def blobs(n: int = 256, dim: int = 8, classes: int = 3, seed: int = 0, label_noise: float = 0.0) -> TensorDataset:
    """Gaussian blobs: learnable in a few dozen steps, so the curve falls and then blows up.

    The blob centres are the same for every seed; ``seed`` draws the samples, so two seeds give
    a training and a validation set of one task. ``label_noise`` is the fraction of labels redrawn
    at random: a loss floor no model gets under, which varies from batch to batch as real label
    noise does.
    """
    centers = torch.randn(classes, dim, generator=torch.Generator().manual_seed(1234)) * 2.0
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, dim, generator=g)
    if label_noise:
        redrawn = torch.rand(n, generator=g) < label_noise
        y = torch.where(redrawn, torch.randint(0, classes, (n,), generator=g), y)
    return TensorDataset(x, y)


def loader(
    n: int = 256, batch_size: int = 16, seed: int = 0, shuffle: bool = False, label_noise: float = 0.0
) -> DataLoader:
    return DataLoader(blobs(n, seed=seed, label_noise=label_noise), batch_size=batch_size, shuffle=shuffle)


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
            loss = nn.functional.cross_entropy(self(x), y)
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
            elif hp.optimizer == "rmsprop":
                optimizer = torch.optim.RMSprop(groups, lr=hp.lr)
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
    """Quiet, CPU-only Trainer settings for tests; anything written goes under the working directory."""
    settings = dict(
        default_root_dir=Path.cwd(),
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


# ---------------------------------------------------------------------- the callback in real fits

BATCHES = 16  # loader(): 256 samples in batches of 16


class Stream(torch.utils.data.IterableDataset):
    """A dataset's samples over and over, with no length: a stream Lightning cannot count in epochs."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __iter__(self):
        while True:
            yield from self.dataset


Classifier = classifier_class()


def quiet_finder(**settings) -> LRFinderCallback:
    """The callback for tests that do not look at its logs: no TensorBoard run, no summary line."""
    return LRFinderCallback(**{"log_to_tensorboard": False, "verbose": False, **settings})


class StepProbe(pl.Callback):
    """Records every optimizer step's group rates and momenta, with the finder's phase and stage."""

    def __init__(self, finder: LRFinderCallback):
        self.finder = finder
        self.steps: list[tuple[str, list[float], list[float]]] = []
        self.stages: list[int] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        momenta = [g.get("momentum", g.get("betas", (None,))[0]) for g in optimizer.param_groups]
        self.steps.append((self.finder.phase, [g["lr"] for g in optimizer.param_groups], momenta))
        self.stages.append(self.finder.stage)

    def rates(self, phase: str, group: int = 0, stage: int | None = None) -> list[float]:
        return [
            lrs[group]
            for (p, lrs, _), s in zip(self.steps, self.stages, strict=True)
            if p == phase and (stage is None or s == stage)
        ]


def state_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def fit(model, finder, probe=None, train=None, val=None, **trainer_overrides):
    callbacks = [finder] + ([probe] if probe else []) + trainer_overrides.pop("callbacks", [])
    trainer = pl.Trainer(callbacks=callbacks, **trainer_kwargs(**trainer_overrides))
    trainer.fit(model, loader() if train is None else train, val)
    return trainer


# ---------------------------------------------------------------------- results without a fit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_result(shift: float = 0.0, noise: float = 0.02, seed: int = 0, num_steps: int = 100) -> LRFindResult:
    """A real range test fed a loss that falls around ``1e-2 * 10**shift`` and explodes a decade later."""
    rng = np.random.default_rng(seed)
    test = RangeTest(min_lr=1e-6, max_lr=10.0, num_steps=num_steps)
    while not test.done:
        z = math.log10(test.current_lr) - shift
        loss = 2.0 - 1.5 / (1 + math.exp(-3 * (z + 2.0))) + math.exp(4 * (z + 0.5)) + noise * rng.standard_normal()
        test.record(loss)
    return test.result()


SCHEDULE_STEPS = 3


def write_run(log_dir: Path, result: LRFindResult, finished: bool = True, stage: int = 1) -> Path:
    """Log ``result`` the way the callback does: every point, then the result, then a little schedule."""
    writer = SummaryWriter(str(log_dir))
    for step, point in enumerate(zip(result.losses, result.smoothed_losses, strict=True)):
        log_step(writer, step, *point, stage=stage)
    end = result.num_steps_taken
    if finished:
        log_result(writer, result, end, stage=stage)
        for step in range(end, end + SCHEDULE_STEPS):
            log_schedule(writer, step, [0.1 * step, 0.01 * step], [0.9, 0.85], stage=stage)
    writer.close()
    (event_file,) = log_dir.glob("events.out.tfevents.*")
    return event_file


def cut_inside_result(event_file: Path) -> None:
    """Truncate the file in the middle of the result record, as a crash during the write would."""
    data = event_file.read_bytes()
    event_file.write_bytes(data[: data.index(b'"smoothed_losses"')])


def accumulate(path) -> EventAccumulator:
    """TensorBoard's own reader over a run directory or event file, keeping every event."""
    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    accumulator.Reload()
    return accumulator
