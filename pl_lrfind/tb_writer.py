"""Range tests in TensorBoard, the writing half: the curve as it runs, the result at the end.

Plain functions of a writer (:class:`SummaryWriterLike`: torch's, tensorboardX's), which is all the state there is.
Every tag starts with :data:`TAG_PREFIX`, so TensorBoard groups them in one section; stage ``k > 1`` (the callback's
``k``-th ``fit``) writes under ``lr_find/stage<k>/`` (:func:`stage_tag`), so the stages of one run stay apart.
In the callback :class:`pl_lrfind.curve_log.CurveLog` holds the writer; :mod:`pl_lrfind.tb_reader` reads back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .core import LRFindResult, format_lr

TAG_PREFIX = "lr_find"
LOSS_TAG = f"{TAG_PREFIX}/loss"
SMOOTHED_LOSS_TAG = f"{TAG_PREFIX}/smoothed_loss"
CURVE_TAG = f"{TAG_PREFIX}/curve"
SUMMARY_TAG = f"{TAG_PREFIX}/summary"
RESULT_TAG = f"{TAG_PREFIX}/result_json"
FIT_LR_TAG = f"{TAG_PREFIX}/fit/lr"
FIT_MOMENTUM_TAG = f"{TAG_PREFIX}/fit/momentum"

CODE_INDENT = "    "
"""Markdown shows text indented by four spaces as code; JSON ignores the leading whitespace."""


def stage_tag(tag: str, stage: int) -> str:
    """``tag`` (one of the ``*_TAG`` constants) as stage ``stage`` writes it."""
    if stage == 1:
        return tag
    return f"{TAG_PREFIX}/stage{stage}/{tag.removeprefix(TAG_PREFIX + '/')}"


class SummaryWriterLike(Protocol):
    """The part of ``SummaryWriter`` this module writes through."""

    def add_scalar(
        self, tag: str, scalar_value: float, global_step: int | None = None, walltime: float | None = None
    ) -> Any: ...

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None, close: bool = True) -> Any: ...

    def add_text(self, tag: str, text_string: str, global_step: int | None = None) -> Any: ...


def log_step(
    writer: SummaryWriterLike,
    step: int,
    loss: float,
    smoothed: float,
    *,
    stage: int = 1,
    walltime: float | None = None,
) -> None:
    """One measured point of the curve at ``step``: its raw and smoothed loss, measured at ``walltime`` (``None``: now).

    Not its rate: that is the ladder's, the picture's x axis and in the result JSON, and every event wakes the writer.
    """
    write_scalars(writer, step_scalars(loss, smoothed, stage=stage), step, walltime=walltime)


def log_result(writer: SummaryWriterLike, result: LRFindResult, step: int, *, stage: int = 1) -> None:
    """The finished test: the picture, a markdown summary to read, and the full result to recover.

    The result's JSON (:data:`RESULT_TAG`, for :func:`pl_lrfind.tb_reader.read_runs`) is indented as a markdown code
    block so that it displays legibly, and parses back to exactly the result written.
    """
    log_picture(writer, stage_tag(CURVE_TAG, stage), result, step)
    writer.add_text(stage_tag(SUMMARY_TAG, stage), summary_markdown(result), global_step=step)
    writer.add_text(stage_tag(RESULT_TAG, stage), CODE_INDENT + result.to_json(), global_step=step)


def log_picture(writer: SummaryWriterLike, tag: str, result: LRFindResult, step: int) -> None:
    """The range-test picture under ``tag``: :func:`pl_lrfind.plotting.plot_result` through the
    writer's ``add_figure`` (matplotlib is imported when the first picture is drawn, not before)."""
    from .plotting import plot_result

    writer.add_figure(tag, plot_result(result), global_step=step, close=True)


def log_schedule(
    writer: SummaryWriterLike,
    step: int,
    lrs: Sequence[float],
    momenta: Sequence[float] | None = None,
    *,
    stage: int = 1,
) -> None:
    """The schedule of the real fit at ``step``: each param group's rate and momentum (``beta1`` for Adam-like
    optimizers; ``momenta`` is ``None`` when none cycles), under :data:`FIT_LR_TAG` and :data:`FIT_MOMENTUM_TAG`,
    with ``_group{i}`` appended for group ``i > 0``."""
    write_scalars(writer, schedule_scalars(lrs, momenta, stage=stage), step)


def write_scalars(
    writer: SummaryWriterLike, scalars: dict[str, float], step: int, *, walltime: float | None = None
) -> None:
    """Scalars by tag (:func:`step_scalars`, :func:`schedule_scalars`) at ``step``."""
    for tag, value in scalars.items():
        writer.add_scalar(tag, value, global_step=step, walltime=walltime)


def step_scalars(loss: float, smoothed: float, *, stage: int = 1) -> dict[str, float]:
    """One point of the curve as the scalars :func:`log_step` writes, by tag."""
    return {stage_tag(LOSS_TAG, stage): loss, stage_tag(SMOOTHED_LOSS_TAG, stage): smoothed}


def schedule_scalars(lrs: Sequence[float], momenta: Sequence[float] | None, *, stage: int = 1) -> dict[str, float]:
    """The schedule at one step as the scalars :func:`log_schedule` writes, by tag."""
    scalars = {}
    for tag, values in ((FIT_LR_TAG, lrs), (FIT_MOMENTUM_TAG, momenta or ())):
        tag = stage_tag(tag, stage)
        scalars.update({tag if group == 0 else f"{tag}_group{group}": value for group, value in enumerate(values)})
    return scalars


def summary_markdown(result: LRFindResult) -> str:
    """The result as a short markdown report: rates, every rule's answer, and how the test ended."""
    rules = "\n".join(f"| {rule} | {format_lr(lr)} |" for rule, lr in result.suggestions.items())
    return (
        f"**chosen learning rate:** {format_lr(result.chosen_lr)} "
        f"(rule `{result.rule}` suggests {format_lr(result.suggestion)}{_budget_note(result)})\n\n"
        f"| rule | suggestion |\n|---|---|\n{rules}\n\n"
        f"**stopped:** {result.stop_reason.value} after {result.num_steps_taken} steps\n\n"
        f"**diagnosis:** `{result.diagnosis}`: {result.advice}"
    )


def _budget_note(result: LRFindResult) -> str:
    words = result.settings.get("factor_in_words")
    return f"; {words}" if words and result.settings.get("budget_factor", 1.0) != 1.0 else ""
