"""Which Lightning is installed, and the few classes the callback needs from it.

Lightning ships under two names, ``pytorch_lightning`` and ``lightning.pytorch``, with the same
code but distinct classes: a ``lightning.pytorch.Trainer`` filters its callbacks with its own
``isinstance`` checks. The callback therefore derives from every installed ``Callback`` base,
and asks for checkpoint, early-stopping and scheduler classes from the namespace of the
Trainer it is attached to.
"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMESPACES = ("pytorch_lightning", "lightning.pytorch")


def _import_installed() -> dict[str, ModuleType]:
    found = {}
    for name in NAMESPACES:
        try:
            found[name] = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    if not found:
        raise ModuleNotFoundError(
            "pl_lrfind's callback needs PyTorch Lightning: pip install 'pytorch-lightning>=2.1' (or 'lightning>=2.1')"
        )
    return found


INSTALLED = _import_installed()
CALLBACK_BASES: tuple[type, ...] = tuple(module.Callback for module in INSTALLED.values())


def namespace_of(trainer) -> ModuleType:
    """The Lightning namespace (``pytorch_lightning`` or ``lightning.pytorch``) of ``trainer``."""
    module = type(trainer).__module__
    for name, namespace in INSTALLED.items():
        if module == name or module.startswith(name + "."):
            return namespace
    raise TypeError(f"not a Lightning Trainer: {type(trainer).__qualname__} from {module}")


def fit_observers(trainer) -> tuple[type, ...]:
    """Callback types that watch, save, average or fine-tune the real fit and must not see the finder's steps.

    ``BaseFinetuning`` adds the backbone's param group at an epoch of the real fit, counted from
    its first epoch; held back, it cannot add one to the test's optimizer.
    """
    callbacks = namespace_of(trainer).callbacks
    names = (
        "Checkpoint",
        "EarlyStopping",
        "LearningRateMonitor",
        "StochasticWeightAveraging",
        "WeightAveraging",
        "BaseFinetuning",
    )
    return tuple(getattr(callbacks, name) for name in names if hasattr(callbacks, name))


def scheduler_config(trainer, scheduler, interval: str = "step"):
    """A Lightning ``LRSchedulerConfig`` for ``scheduler``, of the Trainer's own namespace."""
    types = importlib.import_module(namespace_of(trainer).__name__ + ".utilities.types")
    return types.LRSchedulerConfig(scheduler, interval=interval)


def rank_zero(trainer) -> ModuleType:
    """The Trainer's rank-zero helpers (``rank_zero_info``, ``rank_zero_warn``)."""
    return importlib.import_module(namespace_of(trainer).__name__ + ".utilities.rank_zero")
