"""Where a stage's range test is logged: a TensorBoard run, and the Trainer's other loggers.

The callback asks :meth:`LRFinderCallback.make_curve_log <pl_lrfind.LRFinderCallback.make_curve_log>`
for one per stage, on rank zero. The curve's and the schedule's scalars go to every logger the
Trainer has (CSV, W&B, MLflow), as ``LearningRateMonitor``'s do; TensorBoard also gets the
picture and the summary. To log elsewhere, override that method and return a :class:`CurveLog`
subclass.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _lightning, tb_writer
from .rates import momentum_of

if TYPE_CHECKING:
    from pytorch_lightning import Trainer
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import OneCycleLR

    from .core import LRFindResult


class CurveLog:
    """One stage's range test and schedule, written through a TensorBoard ``SummaryWriter``.

    :meth:`open` uses the Trainer's ``TensorBoardLogger`` when it has one, so the test lands in
    the same run as the fit; else it opens a run of its own under ``default_root_dir/lr_find``,
    and :meth:`close` finalises it.
    """

    def __init__(
        self,
        writer: tb_writer.SummaryWriterLike,
        stage: int = 1,
        own_logger: Any = None,
        points_per_write: int = 1,
        loggers: Sequence[Any] = (),
    ) -> None:
        self.writer = writer
        self.loggers = list(loggers)
        """Lightning loggers besides TensorBoard that get the scalars (``log_metrics``)."""
        self.stage = stage
        self.points_per_write = max(1, points_per_write)
        self._own_logger = own_logger
        self._points: list[tuple[int, float, float, float]] = []

    @classmethod
    def open(cls, trainer: Trainer, stage: int = 1) -> CurveLog:
        tensorboard_logger = _lightning.namespace_of(trainer).loggers.TensorBoardLogger
        every = trainer.log_every_n_steps
        others = [logger for logger in trainer.loggers if not isinstance(logger, tensorboard_logger)]
        for logger in trainer.loggers:
            if isinstance(logger, tensorboard_logger):
                return cls(logger.experiment, stage, points_per_write=every, loggers=others)
        own = tensorboard_logger(save_dir=trainer.default_root_dir, name="lr_find")
        return cls(own.experiment, stage, own_logger=own, points_per_write=every, loggers=others)

    def step(self, global_step: int, lr: float, loss: float, smoothed: float) -> None:
        """One measured point of the curve (TensorBoard gets its losses; the rate is the ladder's).

        Points are written ``points_per_write`` at a time (the Trainer's ``log_every_n_steps``,
        as Lightning writes its own metrics), each with the time it was measured. A write per
        step woke TensorBoard's writer thread inside every training step: 0.015 s more per
        100-step test on the small CNN of ``benchmarks/cost.py``.
        """
        self._points.append((global_step, loss, smoothed, time.time()))
        if len(self._points) >= self.points_per_write:
            self._write_points()

    def _write_points(self) -> None:
        points, self._points = self._points, []  # a write that fails halfway is not repeated at close()
        for global_step, loss, smoothed, walltime in points:
            scalars = tb_writer.step_scalars(loss, smoothed, stage=self.stage)
            tb_writer.write_scalars(self.writer, scalars, global_step, walltime=walltime)
            self._to_loggers(scalars, global_step)

    def result(self, result: LRFindResult, global_step: int) -> None:
        """The finished test: figure, summary and the result itself, flushed so a reader sees it."""
        self._write_points()
        tb_writer.log_result(self.writer, result, global_step, stage=self.stage)
        self.writer.flush()

    def schedule_step(self, trainer: Trainer, scheduler: OneCycleLR, optimizer: Optimizer) -> None:
        """The real fit's rates (and cycled momenta) every ``log_every_n_steps`` steps of the cycle.

        Counted by the schedule, so a resumed fit logs the same steps; one event per step cost a
        TensorBoard writer-thread wake-up per step for the whole fit.
        """
        if scheduler.last_epoch % max(1, trainer.log_every_n_steps) == 0:
            groups = optimizer.param_groups
            momenta = [momentum_of(group) for group in groups] if scheduler.cycle_momentum else None
            self.schedule(trainer.global_step, [group["lr"] for group in groups], momenta)

    def schedule(self, global_step: int, lrs: Sequence[float], momenta: Sequence[float] | None) -> None:
        """The real fit's rates (and momenta) at one optimizer step."""
        scalars = tb_writer.schedule_scalars(lrs, momenta, stage=self.stage)
        tb_writer.write_scalars(self.writer, scalars, global_step)
        self._to_loggers(scalars, global_step)

    def _to_loggers(self, scalars: dict[str, float], global_step: int) -> None:
        for logger in self.loggers:
            logger.log_metrics(scalars, step=global_step)

    def close(self) -> None:
        self._write_points()  # a test that never reached its result keeps its points
        if self._own_logger is not None:
            self._own_logger.finalize("success")
            self._own_logger = None
