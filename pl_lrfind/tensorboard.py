"""Range tests in TensorBoard: write the curve and the result as it runs, read results back.

Writing is three functions that take a writer as their first argument: a
``torch.utils.tensorboard.SummaryWriter``, a ``tensorboardX`` one, or anything else with
``add_scalar``, ``add_figure`` and ``add_text`` (see :class:`SummaryWriterLike`). In the callback
that is the Trainer's ``TensorBoardLogger.experiment`` when there is one, so the test lands in
the same run as the fit, or else a writer of the callback's own. Plain functions rather than a
class because there is no state to keep: the writer is the state.

Reading is :func:`read_runs`, which walks log directories and rebuilds one
:class:`~pl_lrfind.core.LRFindResult` per run from the ``lr_find/result_json`` text that
:func:`log_result` wrote. Everything is read through TensorBoard's own event-file code. The
reading half imports TensorBoard where it uses it, so that logging needs nothing beyond the
writer handed in (tensorboardX alone will do).

Every tag starts with :data:`TAG_PREFIX`, so TensorBoard groups them in one section.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .core import LRFindResult
from .plotting import format_lr, plot_result

TAG_PREFIX = "lr_find"
LR_TAG = f"{TAG_PREFIX}/lr"
LOSS_TAG = f"{TAG_PREFIX}/loss"
SMOOTHED_LOSS_TAG = f"{TAG_PREFIX}/smoothed_loss"
CURVE_TAG = f"{TAG_PREFIX}/curve"
SUMMARY_TAG = f"{TAG_PREFIX}/summary"
RESULT_TAG = f"{TAG_PREFIX}/result_json"
FIT_LR_TAG = f"{TAG_PREFIX}/fit/lr"
FIT_MOMENTUM_TAG = f"{TAG_PREFIX}/fit/momentum"

TEXT_PLUGIN = "text"
"""TensorBoard's plugin name for text summaries, stored as string tensors."""
TEXT_TAG_SUFFIX = "/text_summary"
"""``SummaryWriter.add_text`` (torch and tensorboardX) stores ``tag`` as ``tag + "/text_summary"``."""
CODE_INDENT = "    "
"""Markdown shows text indented by four spaces as code; JSON ignores the leading whitespace."""


class SummaryWriterLike(Protocol):
    """The part of ``SummaryWriter`` this module writes through."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int | None = None) -> Any: ...

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None, close: bool = True) -> Any: ...

    def add_text(self, tag: str, text_string: str, global_step: int | None = None) -> Any: ...


class ReportError(Exception):
    """Log directories could not be turned into results; the message says which and why."""


# ---------------------------------------------------------------------- writing


def log_step(writer: SummaryWriterLike, step: int, lr: float, loss: float, smoothed: float) -> None:
    """One measured point of the curve: its rate, raw loss and smoothed loss, at ``step``."""
    writer.add_scalar(LR_TAG, lr, global_step=step)
    writer.add_scalar(LOSS_TAG, loss, global_step=step)
    writer.add_scalar(SMOOTHED_LOSS_TAG, smoothed, global_step=step)


def log_result(writer: SummaryWriterLike, result: LRFindResult, step: int) -> None:
    """The finished test: the plot, a summary to read, and the full result to recover.

    The summary (markdown) is for a person in TensorBoard's text tab. The result JSON under
    :data:`RESULT_TAG` is for :func:`read_runs`; it is indented as a markdown code block so that
    it also displays legibly, and it parses back to exactly the result written (floats keep
    their shortest round-tripping repr).
    """
    writer.add_figure(CURVE_TAG, plot_result(result), global_step=step, close=False)
    writer.add_text(SUMMARY_TAG, summary_markdown(result), global_step=step)
    writer.add_text(RESULT_TAG, CODE_INDENT + result.to_json(), global_step=step)


def log_schedule(
    writer: SummaryWriterLike, step: int, lrs: Sequence[float], momenta: Sequence[float] | None = None
) -> None:
    """The schedule of the real fit at ``step``: each param group's rate and momentum.

    Group 0 goes to :data:`FIT_LR_TAG` / :data:`FIT_MOMENTUM_TAG`, group ``i > 0`` to the same
    tag with ``_group{i}`` appended. ``momenta`` is ``None`` when the optimizer has none to
    cycle; for Adam-like optimizers pass ``beta1``.
    """
    _log_groups(writer, FIT_LR_TAG, lrs, step)
    if momenta is not None:
        _log_groups(writer, FIT_MOMENTUM_TAG, momenta, step)


def _log_groups(writer: SummaryWriterLike, tag: str, values: Sequence[float], step: int) -> None:
    for group, value in enumerate(values):
        writer.add_scalar(tag if group == 0 else f"{tag}_group{group}", value, global_step=step)


def summary_markdown(result: LRFindResult) -> str:
    """The result as a short markdown report: rates, every rule's answer, and how the test ended."""
    rules = "\n".join(f"| {rule} | {format_lr(lr)} |" for rule, lr in result.suggestions.items())
    return (
        f"**chosen learning rate:** {format_lr(result.chosen_lr)} "
        f"(rule `{result.rule}` suggests {format_lr(result.suggestion)})\n\n"
        f"| rule | suggestion |\n|---|---|\n{rules}\n\n"
        f"**stopped:** {result.stop_reason.value} after {result.num_steps_taken} steps\n\n"
        f"**diagnosis:** `{result.diagnosis}`: {result.advice}"
    )


# ---------------------------------------------------------------------- reading


def read_runs(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> dict[str, LRFindResult]:
    """One result per run found under ``paths``, keyed by run name.

    Each path is a log directory, searched recursively, or a single event file. A run is a
    directory holding event files (as TensorBoard counts runs); its name is its path relative
    to the given directory (the directory's own name when the events lie in it directly), and
    with several paths the path as given is put in front, so names never collide.

    Runs without any ``lr_find`` tag are skipped: a log directory also holds the fits of
    other experiments. A run with ``lr_find`` data but no result is an error, as is finding no
    run at all. When a run holds several results (one directory reused), the latest written
    counts.

    Truncated event files are read up to the damage, like TensorBoard does: a file that
    training is still writing ends in a partial record. Only when that loses a result does it
    matter, and then the error names the damaged file.
    """
    roots = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(path) for path in paths]
    runs = {}
    for root in roots:
        if not root.exists():
            raise ReportError(f"{root} does not exist")
        for run_dir, files in _event_files_by_run(root).items():
            name = _run_name(root, run_dir, qualify=len(roots) > 1)
            result = _read_run(name, files)
            if result is not None:
                runs[name] = result
    if not runs:
        raise ReportError(_nothing_found(roots))
    return runs


def _event_files_by_run(root: Path) -> dict[Path, list[Path]]:
    """Event files under ``root`` (or ``root`` itself, if it is one), grouped by directory."""
    from tensorboard.backend.event_processing.io_wrapper import IsSummaryEventsFile

    candidates = [root] if root.is_file() else sorted(root.rglob("*"), key=_natural_key)
    runs: dict[Path, list[Path]] = {}
    for path in candidates:
        if path.is_file() and IsSummaryEventsFile(str(path)):
            runs.setdefault(path.parent, []).append(path)
    return runs


def _natural_key(path: Path) -> list:
    """Sort key that puts ``version_9`` before ``version_10`` and ``bs8`` before ``bs64``, as people count."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def _run_name(root: Path, run_dir: Path, qualify: bool) -> str:
    """The run's name in reports, as :func:`read_runs` describes it."""
    base = root if root.is_dir() else root.parent
    relative = run_dir.relative_to(base)
    if qualify:
        return (base / relative).as_posix()
    return relative.as_posix() if relative != Path(".") else base.resolve().name


def _read_run(name: str, files: list[Path]) -> LRFindResult | None:
    """The run's latest result; ``None`` if the run has no ``lr_find`` tags at all."""
    results, finder_tags = [], False
    for path in files:
        accumulator = _load(path)
        results += _result_events(accumulator)
        tags = accumulator.Tags()
        finder_tags = finder_tags or any(
            tag.startswith(TAG_PREFIX + "/") for kind in ("scalars", "images", "tensors") for tag in tags[kind]
        )
    if results:
        return _decode_result(name, max(results, key=lambda event: event.wall_time))
    if finder_tags:
        raise ReportError(
            f"run {name!r} has lr_find data but no {RESULT_TAG} text: the range test did not finish, or its "
            f"event file was cut short.{_damage_note(files)}"
        )
    return None


def _load(path: Path):
    """TensorBoard's ``EventAccumulator`` over one event file, with every text event kept.

    Text is kept in full (the default samples ten per tag) so that the latest result is there
    to be picked; orphan purging is off because a reused directory restarts its steps, and the
    result of the earlier run is still a result.
    """
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(path), size_guidance={event_accumulator.TENSORS: 0}, purge_orphaned_data=False
    )
    accumulator.Reload()
    return accumulator


def _result_events(accumulator) -> list:
    """The ``TensorEvent`` s of :data:`RESULT_TAG`.

    Text summaries reach the accumulator as tensor events whose summary metadata names the
    ``text`` plugin; torch's ``add_text`` appends ``/text_summary`` to the tag, TensorFlow's
    ``tf.summary.text`` does not, so both spellings are accepted.
    """
    events = []
    for tag in accumulator.Tags()["tensors"]:
        is_text = accumulator.SummaryMetadata(tag).plugin_data.plugin_name == TEXT_PLUGIN
        if is_text and tag in (RESULT_TAG, RESULT_TAG + TEXT_TAG_SUFFIX):
            events += accumulator.Tensors(tag)
    return events


def _decode_result(name: str, event) -> LRFindResult:
    """The result from a text event: a string tensor of UTF-8 bytes (one element) holding JSON."""
    from tensorboard.util.tensor_util import make_ndarray

    text = b"".join(make_ndarray(event.tensor_proto).ravel()).decode("utf-8")
    try:
        return LRFindResult.from_json(text)
    except (ValueError, TypeError) as error:  # bad JSON, unknown fields, unknown stop reason
        raise ReportError(f"run {name!r}: {RESULT_TAG} does not hold an lr_find result ({error})") from error


def _nothing_found(roots: list[Path]) -> str:
    where = ", ".join(str(root) for root in roots)
    files = [path for root in roots for paths in _event_files_by_run(root).values() for path in paths]
    if not files:
        return f"no TensorBoard event files under {where}"
    return (
        f"no lr_find results under {where} ({len(files)} event file(s) read, none with {RESULT_TAG})."
        f"{_damage_note(files)}"
    )


def _damage_note(files: list[Path]) -> str:
    """`` Damaged: <file> (<what>)...`` for the files that do not read to a clean end, else ``""``."""
    damaged = [f"{path} ({why})" for path in files if (why := _damage(path))]
    return f" Damaged event file(s): {'; '.join(damaged)}." if damaged else ""


def _damage(path: Path) -> str:
    """Why ``path`` does not read to a clean end as a sequence of records; ``""`` when it does.

    ``EventAccumulator`` stops quietly at a truncated or corrupt record (a file being written
    ends in one), so it cannot tell damage from the end. TensorBoard's record reader (the one
    it uses without TensorFlow) can: it raises ``DataLossError`` on a short or failed-checksum
    record and ``OutOfRangeError`` at a clean end.
    """
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

    reader = PyRecordReader_New(str(path))
    try:
        while True:
            reader.GetNext()
    except errors.OutOfRangeError:
        return ""
    except errors.DataLossError as error:
        return error.message
