"""The ``pl-lrfind`` command (also ``python -m pl_lrfind``).

``pl-lrfind report LOGDIR...`` reads the range tests that the callback logged to TensorBoard
and prints a table of them, writes a plot overlaying their curves, or prints them as JSON for
scripts. Errors in the logs (missing paths, no runs, damaged files) print one line to stderr
and exit with status 2, like argparse's own usage errors; they are the user's to fix, not bugs
to debug, so no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .core import DiagnosisCode, LRFindResult, format_lr
from .tb_reader import ReportError, read_runs

PROG = "pl-lrfind"
DEFAULT_PNG = "lr_find_report.png"
ERROR_EXIT = 2
PNG_DPI = 120


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` when ``None``); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ReportError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return ERROR_EXIT


def build_parser() -> argparse.ArgumentParser:
    """The parser, one subparser per subcommand.

    Each subcommand is added by an ``_add_<name>_parser(subparsers)`` function that sets
    ``handler`` (called with the parsed arguments, returning the exit status); a new subcommand
    such as ``demo`` is one more such function, called here.
    """
    parser = argparse.ArgumentParser(prog=PROG, description="The learning-rate range test for PyTorch Lightning.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_report_parser(subparsers)
    _add_demo_parser(subparsers)
    return parser


# ---------------------------------------------------------------------- report


def _add_report_parser(subparsers) -> None:
    report = subparsers.add_parser(
        "report",
        help="summarise the range tests logged to TensorBoard",
        description=(
            "Find the range tests logged under each LOGDIR (searched recursively; an event file also works), "
            "print a table of their suggestions and write a plot overlaying their curves."
        ),
    )
    report.add_argument("logdirs", nargs="+", type=Path, metavar="LOGDIR", help="TensorBoard log directory")
    report.add_argument(
        "--json", action="store_true", help="print the runs as JSON (a list of {run, result}) instead of the table"
    )
    report.add_argument(
        "--png", type=Path, metavar="PATH", help=f"where to write the plot (default: {DEFAULT_PNG} in the first LOGDIR)"
    )
    report.set_defaults(handler=_report)


def _add_demo_parser(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="range test + one-cycle fit of a small CNN on sklearn's digits",
        description="Runs the finder and the one-cycle fit it chains into on sklearn's digits (CPU, "
        "under a minute), then prints the suggestion, the validation result and where the logs are.",
    )
    demo.add_argument("--root", type=Path, default=Path("pl_lrfind_runs"), help="where to write logs")
    demo.add_argument("--max-epochs", type=int, default=8, help="epochs of the real fit (default: 8)")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    # Imported here: the demo pulls in Lightning and scikit-learn, which `report` does not need.
    from .demo import run_demo
    from .plotting import plot_result

    outcome = run_demo(args.root, max_epochs=args.max_epochs)
    result = outcome.finder.result
    png = outcome.log_dir / "lr_find.png"
    plot_result(result).savefig(png, dpi=PNG_DPI)
    print()
    print(result.summary())
    print(f"chosen rate (one-cycle peak): {format_lr(result.chosen_lr)}")
    print(f"after {args.max_epochs} epochs: val_loss {outcome.val_loss:.4f}, val_acc {outcome.val_acc:.4f}")
    print(f"open the curves:  tensorboard --logdir {outcome.log_dir}")
    print(f"the range-test plot: {png}")
    return 0


def _report(args: argparse.Namespace) -> int:
    """Read the runs, write the plot, print the table or the JSON.

    With ``--json`` stdout carries only the JSON, so the line naming the plot goes to stderr.
    """
    runs = read_runs(args.logdirs)
    png = args.png or _default_png(args.logdirs[0])
    _write_png(runs, png)
    if args.json:
        print(json.dumps([{"run": name, "result": result.to_dict()} for name, result in runs.items()], indent=2))
    else:
        print(format_table(runs))
    print(f"plot: {png}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _default_png(logdir: Path) -> Path:
    return (logdir if logdir.is_dir() else logdir.parent) / DEFAULT_PNG


def _write_png(runs: dict[str, LRFindResult], path: Path) -> None:
    from .plotting import plot_runs  # matplotlib only when a picture is drawn

    try:
        plot_runs(runs).savefig(path, dpi=PNG_DPI)
    except OSError as error:  # an unwritable directory is the user's to fix, like a missing log
        raise ReportError(f"cannot write the plot to {path}: {error}") from error


def format_table(runs: dict[str, LRFindResult]) -> str:
    """One row per run: suggestion per rule, chosen rate, stop reason, diagnosis, steps.

    The run's own rule is starred. Rates are printed with :func:`~pl_lrfind.core.format_lr`.
    Below the table, the advice for every run whose diagnosis is not ``ok``.
    """
    rules = list(dict.fromkeys(rule for result in runs.values() for rule in result.suggestions))
    header = ["run", *rules, "chosen", "stopped", "diagnosis", "steps"]
    rows = [header] + [_table_row(name, result, rules) for name, result in runs.items()]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("* the run's own rule")
    lines += [
        f"{name}: {run.diagnosis}: {run.advice}" for name, run in runs.items() if run.diagnosis is not DiagnosisCode.OK
    ]
    return "\n".join(lines)


def _table_row(name: str, result: LRFindResult, rules: list[str]) -> list[str]:
    return [
        name,
        *(_rule_cell(result, rule) for rule in rules),
        format_lr(result.chosen_lr),
        result.stop_reason.value,
        result.diagnosis,
        str(result.num_steps_taken),
    ]


def _rule_cell(result: LRFindResult, rule: str) -> str:
    """The rule's suggestion, starred for the run's own rule; ``-`` for a rule the run does not know."""
    if rule not in result.suggestions:
        return "-"
    return format_lr(result.suggestions[rule]) + ("*" if rule == result.rule else "")
