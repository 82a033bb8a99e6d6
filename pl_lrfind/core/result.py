"""The outcome of a range test: the curve, the suggestions, and what the curve says."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .diagnosis import DiagnosisCode
from .stop import StopReason


def format_lr(lr: float | None) -> str:
    """A learning rate as every report prints it: three significant digits in e-notation, or ``none``.

    One fixed format keeps table columns aligned and lets a reader (or a test) find a rate in
    the printed output by formatting it the same way.
    """
    return "none" if lr is None else f"{lr:.2e}"


@dataclass
class LRFindResult:
    """Everything a range test measured and concluded.

    ``lrs[i]`` is the rate of measured step ``i``, ``losses[i]`` its raw loss (averaged over
    ``steps_per_lr`` optimizer steps, and across ranks under DDP) and ``smoothed_losses[i]``
    the debiased EMA the stop rule watched. ``suggestion`` is the chosen ``rule``'s answer,
    ``suggestions`` every rule's answer on the same curve, and ``chosen_lr`` the rate handed
    to the real fit (the suggestion times the factor of :mod:`pl_lrfind.core.budget`, recorded in
    ``settings["budget_factor"]`` with its parts beside it, times ``lr_factor``), or ``None``.
    """

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    suggestion: float | None
    rule: str
    suggestions: dict[str, float | None]
    stop_reason: StopReason
    diagnosis: DiagnosisCode
    advice: str
    settings: dict[str, Any] = field(default_factory=dict)
    chosen_lr: float | None = None

    def __post_init__(self) -> None:
        self.stop_reason = StopReason(self.stop_reason)
        self.diagnosis = DiagnosisCode(self.diagnosis)

    @property
    def num_steps_taken(self) -> int:
        return len(self.lrs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop_reason"] = self.stop_reason.value
        data["diagnosis"] = self.diagnosis.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LRFindResult:
        """Build from :meth:`to_dict` output; keys a later version added are ignored, so logs
        written by a newer pl_lrfind still read."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: copy.deepcopy(value) for key, value in data.items() if key in known})

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> LRFindResult:
        return cls.from_dict(json.loads(text))

    def summary(self) -> str:
        """One line a person can read in a log."""
        handed = ""
        if self.chosen_lr is not None and self.chosen_lr != self.suggestion:
            handed = f", hands {format_lr(self.chosen_lr)}"
            if self.settings.get("budget_steps") is not None:
                handed += f" to a {self.settings['budget_steps']}-step fit"
            if self.settings.get("factor_in_words"):  # why the rate handed over is not the one read
                handed += f" ({self.settings['factor_in_words']})"
        return (
            f"lr_find: suggestion {format_lr(self.suggestion)} ({self.rule}){handed}, {self.num_steps_taken} steps, "
            f"stopped: {self.stop_reason.value}, diagnosis: {self.diagnosis}"
        )

    def __getattr__(self, name: str) -> Any:
        if name == "plot":  # removed so that the core draws nothing: say where it went
            raise AttributeError("LRFindResult.plot() was removed in pl_lrfind 0.2; use pl_lrfind.plot_result(result)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
