"""Range tests in TensorBoard, the reading half: one result per run and stage, from event files.

:func:`read_runs` rebuilds them from the ``result_json`` texts of :func:`pl_lrfind.tb_writer.log_result` with
TensorBoard's own code, imported where it is used so that writing needs only the writer (tensorboardX will do)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from .core import LRFindResult
from .tb_writer import RESULT_TAG, TAG_PREFIX

TEXT_PLUGIN = "text"
"""TensorBoard's plugin name for text summaries, stored as string tensors."""
TEXT_TAG_SUFFIX = "/text_summary"
"""``SummaryWriter.add_text`` (torch and tensorboardX) stores ``tag`` as ``tag + "/text_summary"``."""
RESULT_TAG_PATTERN = re.compile(
    rf"{re.escape(TAG_PREFIX)}/(?:stage(?P<stage>\d+)/)?{re.escape(RESULT_TAG.removeprefix(TAG_PREFIX + '/'))}"
    rf"(?:{re.escape(TEXT_TAG_SUFFIX)})?"
)
"""A result tag of any stage, in either spelling (see :func:`_result_events`)."""


class ReportError(Exception):
    """Log directories could not be turned into results; the message says which and why."""


def read_runs(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> dict[str, LRFindResult]:
    """One result per run found under ``paths`` (log directories, searched recursively, or event files), by name.

    A run is a directory holding event files, named by its path relative to the directory given (that directory's
    own name when the events lie in it), with the path as given in front when there are several. A run of several
    stages (``fit`` calls) gives stage ``k`` > 1 as ``"<run> stage <k>"``; of several results of one stage (a reused
    directory) the latest counts. Runs without ``lr_find`` tags (other experiments) are skipped; a run with
    ``lr_find`` data but no result is an error, as is finding no run. Truncated event files (one still being
    written) are read up to the damage, as TensorBoard does; an error names the damaged file.
    """
    roots = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(path) for path in paths]
    runs = {}
    for root in roots:
        if not root.exists():
            raise ReportError(f"{root} does not exist")
        for run_dir, files in _event_files_by_run(root).items():
            name = _run_name(root, run_dir, qualify=len(roots) > 1)
            for stage, result in _read_run(name, files).items():
                runs[name if stage == 1 else f"{name} stage {stage}"] = result
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


def _read_run(name: str, files: list[Path]) -> dict[int, LRFindResult]:
    """The run's latest result of each stage; empty if the run has no ``lr_find`` tags at all."""
    events: dict[int, list] = {}
    finder_tags = False
    for path in files:
        accumulator = _load(path)
        for stage, stage_events in _result_events(accumulator).items():
            events.setdefault(stage, []).extend(stage_events)
        tags = accumulator.Tags()
        finder_tags = finder_tags or any(
            tag.startswith(TAG_PREFIX + "/") for kind in ("scalars", "images", "tensors") for tag in tags[kind]
        )
    if finder_tags and not events:
        raise ReportError(
            f"run {name!r} has lr_find data but no {RESULT_TAG} text: the range test did not finish, or its "
            f"event file was cut short.{_damage_note(files)}"
        )
    return {
        stage: _decode_result(name, max(stage_events, key=lambda event: event.wall_time))
        for stage, stage_events in sorted(events.items())
    }


def _load(path: Path):
    """TensorBoard's ``EventAccumulator`` over one event file, with every text event kept (not ten per tag), and
    no orphans purged: a reused directory restarts its steps, and the earlier run's result is still a result."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(path), size_guidance={event_accumulator.TENSORS: 0}, purge_orphaned_data=False
    )
    accumulator.Reload()
    return accumulator


def _result_events(accumulator) -> dict[int, list]:
    """The ``TensorEvent`` s of every stage's result tag, by stage: tensor events of the ``text`` plugin, with or
    without the ``/text_summary`` that torch's ``add_text`` appends (TensorFlow's ``tf.summary.text`` does not)."""
    events: dict[int, list] = {}
    for tag in accumulator.Tags()["tensors"]:
        is_text = accumulator.SummaryMetadata(tag).plugin_data.plugin_name == TEXT_PLUGIN
        match = RESULT_TAG_PATTERN.fullmatch(tag)
        if is_text and match:
            events.setdefault(int(match["stage"] or 1), []).extend(accumulator.Tensors(tag))
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

    ``EventAccumulator`` stops quietly at a damaged record; TensorBoard's record reader tells damage
    (``DataLossError``: short, or a failed checksum) from a clean end (``OutOfRangeError``).
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
