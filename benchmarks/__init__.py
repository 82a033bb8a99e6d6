"""pl_lrfind's benchmark: how far each suggestion rule lands from a grid search, and what the finder costs.

``python -m benchmarks`` runs the reusable benchmark (compare, noise, settings, calibrate, cost,
snapshot) against the committed grid oracle and writes ``docs/benchmarks.md``;
``python -m benchmarks.oracle`` regenerates the oracle, and each one-off investigation in
:mod:`benchmarks.experiments` runs on its own.
"""
