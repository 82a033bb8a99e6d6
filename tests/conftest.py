import os
import signal
import sys
import tempfile

import pytest
from hypothesis import settings

# CI replays one fixed sequence of examples, so a red run can be reproduced; local runs explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("MPLBACKEND", "Agg")

PYTEST_OWN_TEMP = "pytest-of-"
"""pytest's own folder under the system temp folder (tmp_path lives there; pytest prunes it)."""


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path, monkeypatch):
    """Every test runs in its own tmp_path, so whatever a fit writes (Lightning's default root,
    ``lightning_logs``, a finder's own TensorBoard run) lands there and is cleaned up with it."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _keep_sigint_handler():
    """Lightning ignores SIGINT after a KeyboardInterrupt; give the next test the normal handler."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)


def _temp_entries() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if not name.startswith(PYTEST_OWN_TEMP)}


def pytest_sessionstart(session):
    session.config._temp_entries_before = _temp_entries()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if it left anything in the system temp folder."""
    before = getattr(session.config, "_temp_entries_before", None)
    if before is None or hasattr(session.config, "workerinput"):
        return
    left = sorted(_temp_entries() - before)
    if left:
        print(f"\nthe test run left {len(left)} entries in {tempfile.gettempdir()}: {left[:10]}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
