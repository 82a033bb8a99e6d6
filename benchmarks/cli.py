"""What every benchmark step's command line shares: which tasks, how many seeds, where the JSON goes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .tasks import TASKS


def parse_args(module: str, doc: str, out: Path, seeds: int, argv: list[str] | None, seeds_help: str | None = None):
    """``--tasks``, ``--seeds`` and ``--out`` for ``python -m <module>``; ``args.command`` names it."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", type=int, default=seeds, help=seeds_help or f"seeds 0..N-1 (default {seeds})")
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args(argv)
    args.command = f"python -m {module}"
    return args


def write_json(path: Path, data: dict, indent: int | None = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent) + "\n")
