"""One-off investigations beside the benchmark, each run on its own and never by ``python -m benchmarks``.

Each is ``python -m benchmarks.experiments.<name>``, keeps its results in
``benchmarks/results/<name>.json`` and renders its own section of ``docs/benchmarks.md``: the
template ``<name>.md`` beside it, filled by its ``section(results, oracle)``. The sections follow
the benchmark's own in the order of :data:`SECTIONS`. ``level_check`` has none of its own (item 8
of the budget benchmark's section reports it); ``tables`` and ``budget_tables`` are what the
sections share and the budget benchmark's tables; ``passes_cells`` and ``passes_reach`` are parts of
``passes_rule``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

SECTIONS = ("anchors", "passes_rule", "budgets", "budget_rule", "headroom", "second_stage")
"""The experiments whose sections follow the benchmark's in ``docs/benchmarks.md``, in that order."""


def sections(results: Path, oracle: dict) -> list[str]:
    """Every section of :data:`SECTIONS`, its tables from the JSON in ``results`` (``oracle``: the 1x grids)."""
    return [importlib.import_module(f"{__name__}.{name}").section(results, oracle) for name in SECTIONS]
