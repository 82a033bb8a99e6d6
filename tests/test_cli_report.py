"""``pl-lrfind report`` on real TensorBoard logs: table, JSON, plot, and errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PNG_MAGIC, cut_inside_result, synthetic_result, write_run

from pl_lrfind.cli import DEFAULT_PNG, main
from pl_lrfind.core import RULES, format_lr

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def logs(tmp_path):
    """Two runs, as two batch sizes would give: ``logs/bs8/version_0`` and ``logs/bs512/version_0``."""
    results = {"bs8": synthetic_result(shift=-1.0, noise=0.1), "bs512": synthetic_result(shift=0.7, noise=0.01)}
    for name, result in results.items():
        write_run(tmp_path / "logs" / name / "version_0", result)
    return tmp_path / "logs", {f"{name}/version_0": result for name, result in results.items()}


def assert_clean_error(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("pl-lrfind report: error: ") and message in captured.err
    assert "Traceback" not in captured.err


def test_report_table_and_png(logs, capsys):
    logdir, results = logs
    assert main(["report", str(logdir)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    rules = list(RULES)
    assert rows["run"] == ["run", *rules, "chosen", "stopped", "diagnosis", "steps"]
    for name, result in results.items():
        row = rows[name]
        assert f"{format_lr(result.suggestion)}*" in row  # the run's own rule, starred
        assert row[1 : 1 + len(rules)] == [
            format_lr(result.suggestions[rule]) + ("*" if rule == result.rule else "") for rule in rules
        ]
        assert row[-3:] == [result.stop_reason.value, result.diagnosis, str(result.num_steps_taken)]
    png = logdir / DEFAULT_PNG
    assert f"plot: {png}" in out
    assert png.read_bytes().startswith(PNG_MAGIC)


def test_report_json(logs, capsys, tmp_path):
    logdir, results = logs
    png = tmp_path / "elsewhere.png"
    assert main(["report", str(logdir), "--json", "--png", str(png)]) == 0
    captured = capsys.readouterr()
    runs = json.loads(captured.out)
    assert [run["run"] for run in runs] == list(results)
    for run in runs:
        assert run["result"]["suggestion"] == results[run["run"]].suggestion
        assert run["result"] == results[run["run"]].to_dict()
    assert f"plot: {png}" in captured.err
    assert png.stat().st_size > 0 and not (logdir / DEFAULT_PNG).exists()


def test_nonexistent_path(tmp_path, capsys):
    assert_clean_error(capsys, ["report", str(tmp_path / "nope")], "does not exist")


def test_empty_directory(tmp_path, capsys):
    assert_clean_error(capsys, ["report", str(tmp_path)], "no TensorBoard event files")


def test_truncated_event_file(tmp_path, capsys):
    cut_inside_result(write_run(tmp_path, synthetic_result()))
    assert_clean_error(capsys, ["report", str(tmp_path)], "truncated record")


def test_unwritable_png(logs, capsys, tmp_path):
    logdir, _ = logs
    assert_clean_error(capsys, ["report", str(logdir), "--png", str(tmp_path / "no" / "dir.png")], "cannot write")


def test_python_dash_m_entry_point(logs):
    logdir, results = logs
    command = [sys.executable, "-m", "pl_lrfind", "report", str(logdir), "--json"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [run["run"] for run in json.loads(done.stdout)] == list(results)
    failed = subprocess.run([*command[:4], str(logdir / "nope")], cwd=REPO, capture_output=True, text=True, check=False)
    assert failed.returncode == 2 and "does not exist" in failed.stderr and "Traceback" not in failed.stderr
