"""Every kind of fit the benchmark makes, each a real Lightning ``trainer.fit`` on the CPU.

- :func:`one_cycle_fit`: one-cycle at a given peak rate, built by :func:`pl_lrfind.schedule.one_cycle`
  with the callback's defaults: the grid oracle, and the fit each rule's suggestion gets;
  :func:`traced_one_cycle_fit` also returns the best validation loss seen at the checks along the way.
- :func:`finder_fit`: ``LRFinderCallback`` end to end: the range test, then the one-cycle fit
  it chains into, in one ``fit``.
- :func:`lightning_suggestion`: Lightning's own ``Tuner.lr_find(...).suggestion()``, run for real.
- :func:`lr_free_fit`: Prodigy or schedule-free AdamW at their authors' recommended settings;
  :func:`traced_lr_free_fit` also returns the best validation check, as the one-cycle does.

Each returns plain numbers (validation loss, rates, curves) so results travel between processes
and into JSON. A fit that ends with a non-finite validation loss counts as diverged (``inf``).
Tasks are looked up in ``ALL_TASKS``: the seven calibration tasks, the regimes of the budget
benchmark (fresh data, fine-tuning) and its swapped-optimizer tasks.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
import warnings

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from pl_lrfind import LRFinderCallback
from pl_lrfind.schedule import one_cycle
from pl_lrfind.stage import Phase

from .tasks import ALL_TASKS, Task

STARTING_LR = {"Adam": 1e-3, "AdamW": 1e-3, "RMSprop": 1e-3, "SGD": 1e-2}
"""The rate a user would type before running a finder, by optimizer: Lightning's finder starts
from the model's ``lr`` attribute, and ours hands no rate to a fit whose curve it cannot read."""


class TaskModule(pl.LightningModule):
    """A task's model, loss and optimizer as a LightningModule; ``schedule`` picks the recipe."""

    def __init__(self, task: Task, lr: float, schedule: str = "constant", budget: int = 1) -> None:
        super().__init__()
        self.task = task
        self.lr = lr
        self.schedule = schedule
        self.budget = budget
        self.net = task.model()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.task.loss(self(x), y)

    def configure_optimizers(self):
        total = self.task.total_steps(self.budget)
        if self.schedule == "prodigy":
            from prodigyopt import Prodigy

            # The Prodigy README: lr=1.0, and cosine annealing over the whole run.
            optimizer = Prodigy(self.parameters(), lr=1.0, weight_decay=self.task.weight_decay)
            cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
            return [optimizer], [{"scheduler": cosine, "interval": "step"}]
        if self.schedule == "schedulefree":
            from schedulefree import AdamWScheduleFree

            # The schedule-free README: AdamW's rate, a short warmup, no schedule; train()/eval()
            # switch between the weights it trains and the averaged ones it evaluates.
            return AdamWScheduleFree(
                self.parameters(), lr=0.0025, warmup_steps=total // 20, weight_decay=self.task.weight_decay
            )
        optimizer = self.task.optimizer(self.parameters(), self.lr)
        if self.schedule == "one_cycle":
            return [optimizer], [{"scheduler": one_cycle(optimizer, self.lr, total), "interval": "step"}]
        return optimizer

    def on_train_epoch_start(self):
        if self.schedule == "schedulefree":
            self.optimizers().optimizer.train()


def trainer(root: str, task: Task, callbacks=(), budget: int = 1, **overrides) -> pl.Trainer:
    """A quiet CPU Trainer for ``budget`` times ``task``'s epochs; ``overrides`` are further Trainer arguments."""
    settings = dict(
        max_epochs=task.epochs_for(budget),
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=root,
        callbacks=list(callbacks),
    )
    settings.update(overrides)
    return pl.Trainer(**settings)


def train_loader(task: Task, seed: int, budget: int = 1) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(task.train_set(budget), batch_size=task.batch_size, shuffle=True, generator=generator)


def _model(task: Task, seed: int, lr: float, schedule: str = "constant", budget: int = 1) -> TaskModule:
    pl.seed_everything(seed, verbose=False)
    return TaskModule(task, lr, schedule, budget)


def starting_lr(task: Task) -> float:
    return STARTING_LR[type(task.optimizer(torch.nn.Linear(1, 1).parameters(), 1.0)).__name__]


@torch.no_grad()
def validation_loss(module: TaskModule) -> float:
    module.eval()
    x, y = module.task.data()[1].tensors
    loss = float(module.task.loss(module(x), y)) - (module.task.floor() if module.task.floor else 0.0)
    return loss if math.isfinite(loss) else math.inf


class ValidationTrace(pl.Callback):
    """The validation loss every ``task.steps_per_check()`` steps of the real fit (a 1x epoch).

    The best of them is what a user with ``ModelCheckpoint(monitor="val_loss")`` keeps. With a
    finder, only the real fit's steps count: the range test's weights are thrown away.
    """

    def __init__(self, finder: LRFinderCallback | None = None) -> None:
        self.finder = finder
        self.steps = 0
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.finder is not None and self.finder.phase is not Phase.TRAINING:
            return
        self.steps += 1
        if self.steps % module.task.steps_per_check() == 0:
            self.losses.append(self.check(trainer, module))
            module.train()

    def check(self, trainer: pl.Trainer, module: TaskModule) -> float:
        """The validation loss of the weights a checkpoint taken now would hold."""
        return validation_loss(module)

    def best(self, final: float) -> float:
        return min([*self.losses, final])


class ScheduleFreeTrace(ValidationTrace):
    """Checks schedule-free's averaged weights (the ones it evaluates), then trains on.

    The optimizer switches to its averaged weights, BatchNorm statistics are recomputed for them
    on batches of their own, and it switches back. The RNG is forked and the statistics put back,
    so the fit trains as an unchecked one would, up to the rounding of the optimizer's own switch
    between its weights (on the final loss of the digits CNN, 5e-5 relative on one thread, 1e-3 on
    two), as in any fit a user validates.
    """

    def __init__(self, seed: int, budget: int) -> None:
        super().__init__()
        self.seed, self.budget = seed, budget

    def check(self, trainer: pl.Trainer, module: TaskModule) -> float:
        optimizer = trainer.optimizers[0]
        statistics = {name: buffer.clone() for name, buffer in module.named_buffers()}
        optimizer.eval()
        with torch.random.fork_rng():
            _schedulefree_batchnorm(module, train_loader(module.task, self.seed, self.budget))
        loss = validation_loss(module)
        optimizer.train()
        with torch.no_grad():
            for name, buffer in module.named_buffers():
                buffer.copy_(statistics[name])
        return loss


def traced_one_cycle_fit(task_name: str, seed: int, peak_lr: float, budget: int = 1) -> dict:
    """A one-cycle fit peaking at ``peak_lr`` over ``budget`` times the task's length: the final
    validation loss, and the best one of the checks along the way."""
    task = ALL_TASKS[task_name]
    module = _model(task, seed, peak_lr, "one_cycle", budget)
    trace = ValidationTrace()
    with tempfile.TemporaryDirectory() as root:
        trainer(root, task, [trace], budget=budget).fit(module, train_loader(task, seed, budget))
    final = validation_loss(module)
    return {"val_loss": final, "best_val_loss": trace.best(final)}


def one_cycle_fit(task_name: str, seed: int, peak_lr: float, budget: int = 1) -> float:
    """Validation loss after a one-cycle fit peaking at ``peak_lr``, over ``budget`` times the task's length."""
    return traced_one_cycle_fit(task_name, seed, peak_lr, budget)["val_loss"]


def finder_fit(task_name: str, seed: int, then: str = "one_cycle", budget: int = 1, **finder_settings) -> dict:
    """The callback end to end; returns its result and the validation loss of the chained fit
    (final, and the best of the checks along the real fit)."""
    task = ALL_TASKS[task_name]
    module = _model(task, seed, starting_lr(task), budget=budget)
    finder = LRFinderCallback(then=then, log_to_tensorboard=False, verbose=False, **finder_settings)
    trace = ValidationTrace(finder)
    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "lr_find .*")
        trainer(root, task, [finder, trace], budget=budget).fit(module, train_loader(task, seed, budget))
    out = {"result": finder.result.to_dict()}
    if then != "stop":
        out["val_loss"] = validation_loss(module)
        out["best_val_loss"] = trace.best(out["val_loss"])
    return out


def _first_stage(task: Task, seed: int, first_peak_lr: float) -> TaskModule:
    """Stage one of a two-stage run: the task's one-cycle fit at ``first_peak_lr`` (its 1x optimum)."""
    module = _model(task, seed, first_peak_lr, "one_cycle")
    with tempfile.TemporaryDirectory() as root:
        trainer(root, task).fit(module, train_loader(task, seed))
    return module


def second_stage_fit(
    task_name: str, seed: int, first_peak_lr: float, peak_lr: float | None = None, finder: bool = True
) -> dict:
    """Train once (stage one), then fit again for as long from the trained weights (stage two).

    Stage two is a one-cycle fit peaking at ``peak_lr`` (the grid), or, when ``peak_lr`` is
    ``None``, ``LRFinderCallback`` end to end on the trained model (fastai's second ``fit``),
    or with ``finder=False`` too, a constant fit at the rate a user would have typed.
    Returns the validation loss after stage two, and the finder's result when it ran.
    """
    task = ALL_TASKS[task_name]
    module = _first_stage(task, seed, first_peak_lr)
    module.eval()
    out: dict = {"first_val_loss": validation_loss(module)}
    module.train()
    callbacks = []
    finder = finder and peak_lr is None
    if peak_lr is None:
        module.lr, module.schedule = starting_lr(task), "constant"
    else:
        module.lr = peak_lr
    if finder:
        callback = LRFinderCallback(log_to_tensorboard=False, verbose=False)
        callbacks.append(callback)
    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "lr_find .*")
        trainer(root, task, callbacks).fit(module, train_loader(task, seed + 1000))
    out["val_loss"] = validation_loss(module)
    if finder:
        out["result"] = callback.result.to_dict()
    return out


def lightning_suggestion(task_name: str, seed: int, budget: int = 1) -> dict:
    """Lightning's ``Tuner.lr_find`` at its defaults, and the rate its ``suggestion()`` returns.

    When Lightning finds no suggestion (it returns None), a user keeps the rate they typed;
    the benchmark does the same and says so in ``fallback``. ``budget`` picks the training data
    of that length (only the fresh-data task's differs); the test itself is Lightning's 100 steps.
    """
    from pytorch_lightning.tuner import Tuner

    task = ALL_TASKS[task_name]
    module = _model(task, seed, starting_lr(task), budget=budget)
    # Lightning's finder draws its own progress bar whatever the Trainer says; keep it out of the log.
    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        tuner = Tuner(trainer(root, task, budget=budget))
        finder = tuner.lr_find(module, train_loader(task, seed, budget), update_attr=False)
        suggestion = finder.suggestion()
    fallback = suggestion is None
    return {"lr": starting_lr(task) if fallback else float(suggestion), "fallback": fallback}


@torch.no_grad()
def _schedulefree_batchnorm(module: TaskModule, loader: DataLoader, batches: int = 20) -> None:
    """Recompute BatchNorm statistics for the averaged weights, as the schedule-free README asks."""
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules()):
        return
    module.train()
    for i, (x, _) in enumerate(loader):
        if i == batches:
            break
        module(x)


def traced_lr_free_fit(task_name: str, seed: int, optimizer: str, budget: int = 1) -> dict:
    """``optimizer`` in ``("prodigy", "schedulefree")`` over ``budget`` times the task's length, no
    rate to choose: the final validation loss, and the best one of the checks along the way."""
    task = ALL_TASKS[task_name]
    module = _model(task, seed, 1.0, optimizer, budget)
    trace = ScheduleFreeTrace(seed, budget) if optimizer == "schedulefree" else ValidationTrace()
    with tempfile.TemporaryDirectory() as root:
        fitted = trainer(root, task, [trace], budget=budget)
        fitted.fit(module, train_loader(task, seed, budget))
    if optimizer == "schedulefree":
        fitted.optimizers[0].eval()
        _schedulefree_batchnorm(module, train_loader(task, seed, budget))
    final = validation_loss(module)
    return {"val_loss": final, "best_val_loss": trace.best(final)}


def lr_free_fit(task_name: str, seed: int, optimizer: str, budget: int = 1) -> float:
    """Validation loss with ``optimizer`` in ``("prodigy", "schedulefree")``; no rate to choose."""
    return traced_lr_free_fit(task_name, seed, optimizer, budget)["val_loss"]
