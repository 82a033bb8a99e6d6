"""pl_lrfind: the learning-rate range test for PyTorch Lightning, chained into one-cycle."""

from .core import LRFindResult, RangeTest, StopReason, suggest

__all__ = ["LRFindResult", "LRFinderCallback", "RangeTest", "StopReason", "plot_result", "suggest"]
__version__ = "0.2.0"


def __getattr__(name: str):
    # The callback pulls in Lightning; the core should import without it.
    if name == "LRFinderCallback":
        from .callback import LRFinderCallback

        return LRFinderCallback
    if name == "plot_result":  # matplotlib, only when a picture is drawn
        from .plotting import plot_result

        return plot_result
    raise AttributeError(f"module 'pl_lrfind' has no attribute {name!r}")
