import os
import signal
import sys

import pytest
from hypothesis import settings

# CI replays one fixed sequence of examples, so a red run can be reproduced; local runs explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _keep_sigint_handler():
    """Lightning ignores SIGINT after a KeyboardInterrupt; give the next test the normal handler."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)
