"""The range test as the TensorBoard dashboard shows it: a real ``tensorboard`` server, queried over HTTP.

A tiny fit with a ``TensorBoardLogger`` and ``LRFinderCallback(then="stop")`` writes its event
files; then the installed TensorBoard serves that log directory on a loopback port and the test
asks the server the same HTTP questions the dashboard's scalars, images and text tabs ask.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from helpers import classifier_class, loader, trainer_kwargs

pytestmark = pytest.mark.slow
pytest.importorskip("tensorboard")
pl = pytest.importorskip("pytorch_lightning")

from pl_lrfind import LRFinderCallback  # noqa: E402

HOST = "127.0.0.1"
STARTUP_S = 60
SCALAR_TAGS = ("lr_find/loss", "lr_find/smoothed_loss")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _get(base: str, path: str, **query):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))


def _poll(what: str, probe, deadline: float, server: subprocess.Popen):
    """``probe()`` until it returns something truthy; fail (with the server's output) at ``deadline``."""
    while True:
        if server.poll() is not None:
            pytest.fail(f"tensorboard exited with {server.returncode} while waiting for {what}")
        try:
            value = probe()
            if value:
                return value
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"tensorboard did not serve {what} within {STARTUP_S} s")
        time.sleep(0.5)


@pytest.fixture
def logged_fit(tmp_path):
    finder = LRFinderCallback(num_steps=12, then="stop", verbose=False)
    logger = pl.loggers.TensorBoardLogger(tmp_path)
    trainer = pl.Trainer(**trainer_kwargs(logger=logger, max_epochs=3, default_root_dir=tmp_path), callbacks=[finder])
    pl.seed_everything(0, verbose=False)
    trainer.fit(classifier_class()(), loader())
    run = logger.log_dir[len(str(tmp_path)) + 1 :].replace("\\", "/")  # TensorBoard names runs relative to logdir
    return finder, run


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    command = [
        sys.executable, "-m", "tensorboard.main",
        "--logdir", str(tmp_path), "--host", HOST, "--port", str(port),
        "--load_fast", "false", "--reload_interval", "1",
    ]  # fmt: skip
    # TensorBoard keeps a .tensorboard-info folder in the temp folder and never removes it: give it the test's.
    server_temp = tmp_path / "server_temp"
    server_temp.mkdir()
    env = dict(os.environ, TMPDIR=str(server_temp))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        yield process, f"http://{HOST}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()


def test_dashboard_shows_the_range_test(logged_fit, server):
    finder, run = logged_fit
    process, base = server
    n = finder.result.num_steps_taken
    assert n >= 5
    deadline = time.monotonic() + STARTUP_S

    _poll("/data/runs", lambda: _get(base, "/data/runs") is not None, deadline, process)
    runs = _poll(
        f"run {run!r}", lambda: run in _get(base, "/data/runs") and _get(base, "/data/runs"), deadline, process
    )
    assert runs == [run], f"the test should land in the Trainer's own run, not a second one: {runs}"

    scalar_tags = _poll(
        "the lr_find scalars",
        lambda: (
            set(SCALAR_TAGS) <= set(_get(base, "/data/plugin/scalars/tags").get(run, {}))
            and _get(base, "/data/plugin/scalars/tags")[run]
        ),
        deadline,
        process,
    )
    assert set(SCALAR_TAGS) <= set(scalar_tags)
    series = {tag: _get(base, "/data/plugin/scalars/scalars", run=run, tag=tag) for tag in SCALAR_TAGS}
    for tag, points in series.items():  # each point is [wall_time, step, value]
        assert len(points) == n, f"{tag}: {len(points)} points, the test took {n} steps"
    assert [value for _, _, value in series["lr_find/loss"]] == pytest.approx(finder.result.losses, rel=1e-5)
    assert [value for _, _, value in series["lr_find/smoothed_loss"]] == pytest.approx(
        finder.result.smoothed_losses, rel=1e-5
    )
    steps = [step for _, step, _ in series["lr_find/loss"]]
    assert steps == sorted(steps) and len(set(steps)) == n

    images = _poll("the curve image", lambda: _get(base, "/data/plugin/images/tags").get(run), deadline, process)
    assert "lr_find/curve" in images

    texts = _poll("the summary text", lambda: _get(base, "/data/plugin/text/tags").get(run), deadline, process)
    assert any(tag.startswith("lr_find/summary") for tag in texts), texts
    summary_tag = next(tag for tag in texts if tag.startswith("lr_find/summary"))
    summary = _get(base, "/data/plugin/text/text", run=run, tag=summary_tag)
    assert summary and f"after {n} steps" in summary[-1]["text"]
