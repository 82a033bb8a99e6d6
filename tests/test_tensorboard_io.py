"""Writing range tests with a real SummaryWriter and reading them back with TensorBoard's reader."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import tensorboardX
from helpers import SCHEDULE_STEPS, accumulate, cut_inside_result, synthetic_result, write_run
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray
from torch.utils.tensorboard import SummaryWriter

from pl_lrfind.core import LRFindResult, format_lr
from pl_lrfind.curve_log import CurveLog
from pl_lrfind.plotting import plot_result
from pl_lrfind.tb_reader import ReportError, read_runs
from pl_lrfind.tb_writer import (
    CURVE_TAG,
    FIT_LR_TAG,
    FIT_MOMENTUM_TAG,
    LOSS_TAG,
    RESULT_TAG,
    SMOOTHED_LOSS_TAG,
    SUMMARY_TAG,
    log_result,
    log_step,
)

TEXT_SUFFIX = "/text_summary"  # what torch's add_text appends to the tag


def text(accumulator: EventAccumulator, tag: str) -> str:
    (event,) = accumulator.Tensors(tag + TEXT_SUFFIX)
    return make_ndarray(event.tensor_proto).item().decode("utf-8")


@pytest.fixture
def result() -> LRFindResult:
    result = synthetic_result()
    result.chosen_lr = result.suggestion * 0.5
    return result


def test_written_tags_read_back_with_event_accumulator(tmp_path, result):
    write_run(tmp_path, result)
    accumulator = accumulate(tmp_path)
    n = result.num_steps_taken
    for tag, values in ((LOSS_TAG, result.losses), (SMOOTHED_LOSS_TAG, result.smoothed_losses)):
        events = accumulator.Scalars(tag)
        assert [event.step for event in events] == list(range(n))
        assert [event.value for event in events] == pytest.approx(values, rel=1e-6)  # stored as float32
    for tag in (FIT_LR_TAG, FIT_LR_TAG + "_group1", FIT_MOMENTUM_TAG, FIT_MOMENTUM_TAG + "_group1"):
        assert [event.step for event in accumulator.Scalars(tag)] == list(range(n, n + SCHEDULE_STEPS))
    assert [event.value for event in accumulator.Scalars(FIT_MOMENTUM_TAG + "_group1")] == pytest.approx([0.85] * 3)
    (image,) = accumulator.Images(CURVE_TAG)
    assert image.step == n and image.width > 0 and image.height > 0
    for tag in (SUMMARY_TAG, RESULT_TAG):
        assert accumulator.SummaryMetadata(tag + TEXT_SUFFIX).plugin_data.plugin_name == "text"
    summary = text(accumulator, SUMMARY_TAG)
    for expected in (format_lr(result.chosen_lr), format_lr(result.suggestion), result.stop_reason.value):
        assert expected in summary
    assert result.advice in summary
    assert json.loads(text(accumulator, RESULT_TAG)) == result.to_dict()


def picture(accumulator: EventAccumulator) -> np.ndarray:
    (event,) = accumulator.Images(CURVE_TAG)
    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))


def drawn(result: LRFindResult) -> np.ndarray:
    """``plot_result``'s figure rendered by Agg, as a writer's ``add_figure`` renders it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(plot_result(result))
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3]


def test_the_logged_picture_is_plot_results_drawing_pixel_for_pixel(tmp_path, result):
    write_run(tmp_path, result)
    assert np.array_equal(picture(accumulate(tmp_path)), drawn(result))


def test_a_tensorboardx_writer_gets_the_same_run(tmp_path, result):
    """A writer other than torch's draws the same picture through its own ``add_figure``."""
    writer = tensorboardX.SummaryWriter(str(tmp_path))
    for step, point in enumerate(zip(result.losses, result.smoothed_losses, strict=True)):
        log_step(writer, step, *point)
    log_result(writer, result, result.num_steps_taken)
    writer.close()
    assert read_runs(tmp_path)[tmp_path.name].to_dict() == result.to_dict()
    accumulator = accumulate(tmp_path)
    assert np.array_equal(picture(accumulator), drawn(result))
    assert [event.value for event in accumulator.Scalars(LOSS_TAG)] == pytest.approx(result.losses, rel=1e-6)


def test_curve_log_writes_points_in_bursts_stamped_when_measured(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    log = CurveLog(writer, points_per_write=3)
    for step in range(2):
        log.step(step, 0.1, 1.0 + step, 1.0)
        time.sleep(0.05)
    writer.flush()
    assert LOSS_TAG not in accumulate(tmp_path).Tags()["scalars"]  # held until the third point
    log.step(2, 0.1, 3.0, 1.0)
    writer.flush()
    events = accumulate(tmp_path).Scalars(LOSS_TAG)
    assert [event.step for event in events] == [0, 1, 2]
    assert events[1].wall_time - events[0].wall_time >= 0.04  # when measured, not when written
    log.step(3, 0.1, 4.0, 1.0)
    log.close()  # a test that ends without a result keeps its last points
    writer.close()
    assert [event.value for event in accumulate(tmp_path).Scalars(LOSS_TAG)] == [1.0, 2.0, 3.0, 4.0]


def test_read_runs_recovers_the_exact_result(tmp_path, result):
    write_run(tmp_path / "lightning_logs" / "version_0", result)
    runs = read_runs(tmp_path)
    assert list(runs) == ["lightning_logs/version_0"]
    assert runs["lightning_logs/version_0"].to_dict() == result.to_dict()


def test_read_runs_names(tmp_path, result):
    event_file = write_run(tmp_path / "a" / "version_0", result)
    write_run(tmp_path / "b" / "version_0", synthetic_result(shift=1.0))
    assert list(read_runs(tmp_path / "a" / "version_0")) == ["version_0"]
    assert list(read_runs(str(event_file))) == ["version_0"]
    both = read_runs([tmp_path / "a", tmp_path / "b"])
    assert list(both) == [(tmp_path / "a" / "version_0").as_posix(), (tmp_path / "b" / "version_0").as_posix()]


def test_runs_without_finder_tags_are_skipped(tmp_path, result):
    write_run(tmp_path / "finder", result)
    other = SummaryWriter(str(tmp_path / "other"))
    other.add_scalar("train/loss", 1.0, 0)
    other.close()
    assert list(read_runs(tmp_path)) == ["finder"]


def test_latest_result_in_a_reused_directory_wins(tmp_path, result):
    write_run(tmp_path, synthetic_result(shift=1.0))
    writer = SummaryWriter(str(tmp_path))
    log_result(writer, result, 0)
    writer.close()
    assert read_runs(tmp_path)[tmp_path.name].to_dict() == result.to_dict()


def test_missing_path(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        read_runs(tmp_path / "nope")


def test_no_event_files(tmp_path):
    (tmp_path / "notes.txt").write_text("no logs here")
    with pytest.raises(ReportError, match="no TensorBoard event files under"):
        read_runs(tmp_path)


def test_no_finder_runs(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("train/loss", 1.0, 0)
    writer.close()
    with pytest.raises(ReportError, match=r"no lr_find results under .*1 event file\(s\) read"):
        read_runs(tmp_path)


def test_unfinished_test_is_reported(tmp_path, result):
    write_run(tmp_path, result, finished=False)
    with pytest.raises(ReportError, match="has lr_find data but no lr_find/result_json") as error:
        read_runs(tmp_path)
    assert "Damaged" not in str(error.value)


def test_truncated_event_file_is_named(tmp_path, result):
    event_file = write_run(tmp_path, result)
    cut_inside_result(event_file)
    with pytest.raises(ReportError, match="no lr_find/result_json") as error:
        read_runs(tmp_path)
    assert f"Damaged event file(s): {event_file} (" in str(error.value)
    assert "truncated record" in str(error.value)


def test_file_cut_to_its_first_bytes(tmp_path, result):
    event_file = write_run(tmp_path, result)
    event_file.write_bytes(event_file.read_bytes()[:30])
    with pytest.raises(ReportError, match=r"no lr_find results under .*Damaged event file\(s\)"):
        read_runs(tmp_path)


def test_damage_after_the_result_does_not_matter(tmp_path, result):
    """A file still being written ends in a partial record; the result before it still counts."""
    event_file = write_run(tmp_path, result)
    event_file.write_bytes(event_file.read_bytes()[:-5])
    assert read_runs(tmp_path)[tmp_path.name].to_dict() == result.to_dict()


def test_result_text_that_is_not_a_result(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer.add_text(RESULT_TAG, json.dumps({"lrs": []}), 0)
    writer.close()
    with pytest.raises(ReportError, match="does not hold an lr_find result"):
        read_runs(tmp_path)
