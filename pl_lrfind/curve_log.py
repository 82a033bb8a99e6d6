"""The TensorBoard run a stage's range test is logged to: which writer, and when it is closed.

The callback asks :meth:`LRFinderCallback.make_curve_log <pl_lrfind.LRFinderCallback.make_curve_log>`
for one per stage, on rank zero. To log elsewhere (an MLflow or W&B run), override that method
and return a subclass of :class:`CurveLog` that writes there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _lightning, tb_writer

if TYPE_CHECKING:
    from pytorch_lightning import Trainer

    from .core import LRFindResult


class CurveLog:
    """One stage's range test and schedule, written through a TensorBoard ``SummaryWriter``.

    :meth:`open` uses the Trainer's ``TensorBoardLogger`` when it has one, so the test lands in
    the same run as the fit; else it opens a run of its own under ``default_root_dir/lr_find``,
    and :meth:`close` finalises it.
    """

    def __init__(self, writer: tb_writer.SummaryWriterLike, stage: int = 1, own_logger: Any = None) -> None:
        self.writer = writer
        self.stage = stage
        self._own_logger = own_logger

    @classmethod
    def open(cls, trainer: Trainer, stage: int = 1) -> CurveLog:
        tensorboard_logger = _lightning.namespace_of(trainer).loggers.TensorBoardLogger
        for logger in trainer.loggers:
            if isinstance(logger, tensorboard_logger):
                return cls(logger.experiment, stage)
        own = tensorboard_logger(save_dir=trainer.default_root_dir, name="lr_find")
        return cls(own.experiment, stage, own_logger=own)

    def step(self, global_step: int, lr: float, loss: float, smoothed: float) -> None:
        """One measured point of the curve (TensorBoard gets its losses; the rate is the ladder's)."""
        tb_writer.log_step(self.writer, global_step, loss, smoothed, stage=self.stage)

    def result(self, result: LRFindResult, global_step: int) -> None:
        """The finished test: figure, summary and the result itself, flushed so a reader sees it."""
        tb_writer.log_result(self.writer, result, global_step, stage=self.stage)
        self.writer.flush()

    def schedule(self, global_step: int, lrs: Sequence[float], momenta: Sequence[float] | None) -> None:
        """The real fit's rates (and momenta) at one optimizer step."""
        tb_writer.log_schedule(self.writer, global_step, lrs, momenta, stage=self.stage)

    def close(self) -> None:
        if self._own_logger is not None:
            self._own_logger.finalize("success")
            self._own_logger = None
