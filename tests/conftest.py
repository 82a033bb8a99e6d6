import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays one fixed sequence of examples, so a red run can be reproduced; local runs explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):  # one thread per worker: the workers share the cores
    # Processes the tests start (the notebook's kernel, DDP workers, the benchmark's pool) too:
    # OpenMP threads spin-waiting on a shared core made the notebook take 86 s instead of 14 s.
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


RUNTIME_FOLDERS = ("torchinductor_", "ompi.")
"""Folders other runtimes keep in the temp folder by design, not leaks of ours (removed with the
rest): torch's compiler cache, which a fresh interpreter importing Lightning creates, and Open
MPI's session folder, which a distributed fit leaves where mpi4py is installed (Lightning's
cluster detection imports it; seen on the GPU machine, whose image has it)."""


@pytest.fixture(scope="session", autouse=True)
def _system_temp_folder_left_as_found(tmp_path_factory):
    """Point the system temp folder at a fresh one for the whole run, and fail if anything is left in it.

    Everything the suite starts (fits, DDP and FSDP workers, the notebook's kernel, the benchmark's
    worker processes) inherits ``TMPDIR``, so a leak anywhere shows up here, and other programs
    using the real temp folder at the same time cannot be mistaken for one. pytest's own
    ``tmp_path`` folders stay where pytest keeps them (and it removes those of passing tests).
    """
    tmp_path_factory.getbasetemp()  # pytest's folder, under the real temp folder, before the switch
    suite_temp = Path(tempfile.mkdtemp(prefix="pl_lrfind_suite_temp_"))
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(suite_temp)
    yield
    if saved[0] is None:
        del os.environ["TMPDIR"]
    else:
        os.environ["TMPDIR"] = saved[0]
    tempfile.tempdir = saved[1]
    left = sorted(path.name for path in suite_temp.iterdir() if not path.name.startswith(RUNTIME_FOLDERS))
    shutil.rmtree(suite_temp)
    if left:
        pytest.fail(f"the test run left {len(left)} entries in the system temp folder: {left[:10]}")


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path, monkeypatch):
    """Every test runs in its own tmp_path, so whatever a fit writes (Lightning's default root,
    ``lightning_logs``, a finder's own TensorBoard run, a disk snapshot) lands there and goes with it."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _keep_sigint_handler():
    """Lightning ignores SIGINT after a KeyboardInterrupt; give the next test the normal handler."""
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)


@pytest.fixture
def fits_in_this_process(monkeypatch):
    """For the benchmark's smoke tests: each call's pool of spawned workers imports torch and
    Lightning anew (seconds apiece), more than one seed's few fits take, so the fits run here."""
    monkeypatch.setenv("BENCH_WORKERS", "1")
