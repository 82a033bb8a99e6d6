"""pl_lrfind: the learning-rate range test for PyTorch Lightning, chained into one-cycle."""

from .core import LRFindResult, RangeTest, StopReason, suggest

__all__ = ["LRFindResult", "LRFinderCallback", "RangeTest", "StopReason", "suggest"]
__version__ = "0.2.0"


def __getattr__(name: str):
    # The callback pulls in Lightning; the core should import without it.
    if name == "LRFinderCallback":
        from .callback import LRFinderCallback

        return LRFinderCallback
    raise AttributeError(f"module 'pl_lrfind' has no attribute {name!r}")
