"""The two layers stay apart: the core imports no leaf and no Lightning; figures cost nothing until drawn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import accumulate

REPO = Path(__file__).resolve().parents[1]
LEAVES = (
    "pl_lrfind.plotting",
    "pl_lrfind.tb_writer",
    "pl_lrfind.tb_reader",
    "pl_lrfind.cli",
    "pl_lrfind.callback",
)


def modules_after_import(module: str) -> set[str]:
    """Every module loaded by importing ``module`` in a fresh interpreter."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_the_core_imports_no_leaf_no_lightning_and_no_matplotlib():
    loaded = modules_after_import("pl_lrfind.core")
    assert not loaded & {*LEAVES, "matplotlib", "pytorch_lightning", "lightning", "tensorboard"}


def test_the_callback_draws_no_figure_module_until_a_figure_is_drawn():
    loaded = modules_after_import("pl_lrfind.callback")
    assert "pl_lrfind.plotting" not in loaded
    assert "pl_lrfind.tb_reader" not in loaded  # reading runs back is the report's business


def test_logging_a_range_test_to_tensorboard_draws_the_one_picture_through_add_figure(tmp_path):
    """One drawing path: the picture logged inside the fit is plot_result's, matplotlib imported then."""
    code = (
        "import json, sys\n"
        "from torch.utils.tensorboard import SummaryWriter\n"
        "from pl_lrfind.core import RangeTest\n"
        "from pl_lrfind.tb_writer import log_result\n"
        "before = 'matplotlib' in sys.modules\n"
        "test = RangeTest(min_lr=1e-4, max_lr=1.0, num_steps=30)\n"
        "while not test.done: test.record(1.0 / (1.0 + 100 * test.current_lr) + test.current_lr**2)\n"
        f"writer = SummaryWriter({str(tmp_path)!r}); log_result(writer, test.result(), 30); writer.close()\n"
        "print(json.dumps([before, sorted(sys.modules)]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    before, loaded = json.loads(done.stdout)
    assert not before and "pl_lrfind.plotting" in loaded and "matplotlib.figure" in loaded
    assert not any(name.startswith("PIL.ImageDraw") for name in loaded)  # no hand-drawn picture
    assert len(accumulate(tmp_path).Images("lr_find/curve")) == 1


def test_every_test_runs_in_its_own_tmp_path(tmp_path):
    assert Path.cwd() == tmp_path  # what tests/helpers.trainer_kwargs relies on for default_root_dir
