"""``python -m benchmarks``: the whole benchmark against the committed oracle, then the report.

python -m benchmarks              # about 20 min on 2 cores: compare, noise, settings, calibrate, cost, snapshot, report
python -m benchmarks --smoke DIR  # one task, one seed, one cost repeat, one picture; results and report in DIR
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from . import calibrate, compare, cost, noise, report, settings, snapshot
from .oracle import ORACLE_JSON, RESULTS

SMOKE_TASK = "digits_cnn_sgd"


def run(results: Path, docs: Path, smoke: bool) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    if results.resolve() != RESULTS.resolve():
        shutil.copy(ORACLE_JSON, results / ORACLE_JSON.name)
    scope = ["--tasks", SMOKE_TASK, "--seeds", "1"] if smoke else []
    compare.main([*scope, "--out", str(results / compare.COMPARE_JSON.name)])
    noise.main([*scope, "--out", str(results / noise.NOISE_JSON.name)])
    settings.main([*scope, "--out", str(results / settings.SETTINGS_JSON.name)])
    calibrate.main(
        [
            *(["--tasks", SMOKE_TASK, "--seeds", "1"] if smoke else []),
            "--out",
            str(results / calibrate.CALIBRATE_JSON.name),
        ]
    )
    cost.main(
        [
            *(["--models", "small", "--repeats", "1", "--picture-repeats", "1"] if smoke else []),
            "--out",
            str(results / cost.COST_JSON.name),
        ]
    )
    snapshot.main(
        [*(["--gib", "0.02", "--repeats", "1"] if smoke else []), "--out", str(results / snapshot.SNAPSHOT_JSON.name)]
    )
    return report.render(results, docs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", type=Path, metavar="DIR", help="a quick check of the whole pipeline, into DIR")
    args = parser.parse_args(argv)
    if args.smoke:
        out = run(args.smoke / "results", args.smoke / "docs", smoke=True)
    else:
        out = run(RESULTS, report.DOCS, smoke=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
