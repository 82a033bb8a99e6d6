"""The benchmark's whole pipeline on one task and one seed: real fits, real JSON, a real report.

The full run (``python -m benchmarks``) takes minutes per task; this checks that every recipe
still runs and lands in the report, so the benchmark cannot rot between its runs.
"""

from __future__ import annotations

import json
import math
import re

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("prodigyopt")
pytest.importorskip("schedulefree")

from benchmarks.__main__ import SMOKE_TASK, run  # noqa: E402
from benchmarks.compare import RECIPES  # noqa: E402
from benchmarks.report import LABELS  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as patch:
        # The fits in this process: each step's pool of spawned workers imports torch and Lightning
        # anew (seconds apiece), more than one seed's few fits take. The fine-tuning smoke
        # (test_pretrained_benchmark_smoke.py) keeps a pool of two.
        patch.setenv("BENCH_WORKERS", "1")
        report = run(root / "results", root / "docs", smoke=True)
    return root, report


def test_every_recipe_fits_and_is_scored(smoke):
    root, _ = smoke
    compared = json.loads((root / "results" / "compare.json").read_text())
    recipes = compared["tasks"][SMOKE_TASK]
    assert set(recipes) == set(RECIPES)
    for name, recipe in recipes.items():
        assert len(recipe["val_loss"]) == 1
        assert math.isfinite(recipe["val_loss"][0]), name
    # Everything that picks a rate picked one inside the range the finders search.
    for name in ("ours", "valley", "steepest", "minimum", "lightning"):
        assert 1e-8 <= recipes[name]["lr"][0] <= 10.0, name
    # The default recipe trains: far below the untrained loss of a 10-class problem (log 10 = 2.3).
    assert recipes["ours"]["val_loss"][0] < 0.5


def test_report_holds_every_table_and_the_figure(smoke):
    root, report = smoke
    text = report.read_text()
    for label in LABELS.values():
        assert f"| {label} |" in text
    assert SMOKE_TASK in text
    assert not re.search(r"\{[a-z_]+\}", text), "a template placeholder was left unfilled"
    assert (root / "docs" / "benchmarks.png").stat().st_size > 10_000
    cost = json.loads((root / "results" / "cost.json").read_text())
    ratios = cost["models"]["small"]["median_ratio"]
    assert all(ratio > 0 for ratio in ratios.values())
    assert set(cost["models"]["small"]["median_difference_s"]) == {
        "ours_tensorboard-ours",
        "chained_tensorboard-chained",
    }
    (picture,) = cost["picture"]["seconds"].values()  # one fresh interpreter per renderer in the smoke
    assert len(picture["first"]) == len(picture["later"]) == 1 and picture["first"][0] > 0
    assert f"| {next(iter(cost['picture']['seconds']))} |" in text


def test_snapshot_benchmark_times_every_target_beside_the_copy_limit(smoke):
    root, report = smoke
    snapshot = json.loads((root / "results" / "snapshot.json").read_text())
    assert set(snapshot["targets"]) == {"device", "host", "disk", "state_dict copy (pl_lrfind 0.1)"}
    assert snapshot["limit"]["seconds"] > 0
    assert all(row["take"] > 0 and row["restore"] > 0 for row in snapshot["targets"].values())
    assert "| *copy limit: one copy each way* |" in report.read_text()
