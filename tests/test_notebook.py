"""The walkthrough notebook runs top to bottom and draws its figures.

It is executed with nbclient in a temporary copy, with a kernel spec written for this very
interpreter: the test does not depend on a ``python3`` kernel being installed anywhere, nor on one
installed elsewhere (a user-wide spec pointing at another Python) being picked by mistake.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("sklearn")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"
KERNEL_NAME = "pl-lrfind-test-python"
TIMEOUT_S = 300


def _kernel_for_this_interpreter(root: Path) -> None:
    """A kernel spec under ``root/kernels`` that starts ipykernel with ``sys.executable``."""
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pl_lrfind tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "text/plain" in output.get("data", {}):
            parts.append(output["data"]["text/plain"])
    return "".join(parts)


def _has_figure(cell) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


def _cells_tagged(nb, tag: str) -> list:
    return [cell for cell in nb.cells if tag in cell.get("metadata", {}).get("tags", [])]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    work = tmp_path_factory.mktemp("notebook")
    _kernel_for_this_interpreter(work / "jupyter")
    copy = work / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    for cell in nb.cells:  # run from scratch: nothing left over from the committed outputs counts
        if cell.cell_type == "code":
            cell.outputs = []

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("JUPYTER_PATH", str(work / "jupyter"))  # searched before user and system dirs
    monkeypatch.delenv("MPLBACKEND", raising=False)  # conftest sets Agg; the kernel shows figures inline
    try:
        client = nbclient.NotebookClient(
            nb, timeout=TIMEOUT_S, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(work)}}
        )
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        monkeypatch.undo()
    return nb


def test_no_cell_errors(executed):
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.get("execution_count") for cell in code_cells), "not every cell ran"
    errors = [
        output for cell in code_cells for output in cell.get("outputs", []) if output.get("output_type") == "error"
    ]
    assert not errors, errors


def test_finder_cells_draw_figures(executed):
    plot_cells = _cells_tagged(executed, "figure")
    assert len(plot_cells) == 4, "the notebook should draw four figures (test, batch sizes, trained model, full fit)"
    for cell in plot_cells:
        assert _has_figure(cell), f"no figure from cell:\n{cell.source}"


def test_range_test_and_full_fit_outcomes(executed):
    (first,) = _cells_tagged(executed, "range-test")
    assert re.search(r"lr_find: suggestion [\d.e+-]+ \(midspan\), \d+ steps", _text(first)), _text(first)

    (batch_sizes,) = _cells_tagged(executed, "batch-sizes")
    assert [int(n) for n in re.findall(r"batch\s+(\d+): lr_find", _text(batch_sizes))] == [16, 64, 256]

    (late,) = _cells_tagged(executed, "trained-model")
    diagnosis = re.search(r"diagnosis: (\w+)", _text(late)).group(1)
    assert diagnosis != "ok", "a curve taken on a trained model should not be read as a clean one"

    (full,) = _cells_tagged(executed, "full-fit")
    text = _text(full)
    assert "schedule of the real fit: OneCycleLR" in text
    accuracy = float(re.search(r"accuracy ([\d.]+)%", text).group(1))
    assert accuracy > 90.0, text
