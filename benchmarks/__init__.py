"""pl_lrfind's benchmark: how far each suggestion rule lands from a grid search, and what the finder costs.

``python -m benchmarks`` runs everything except the grid oracle (whose committed JSON it reads)
and writes ``docs/benchmarks.md``; ``python -m benchmarks.oracle`` regenerates the oracle.
"""
