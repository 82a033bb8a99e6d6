"""The range test without Lightning: ladder, smoothing, stop rule, suggestion rules, result.

Nothing in this package imports Lightning or touches a model; it works on plain numbers.
"""

from .diagnosis import UNREADABLE, Diagnosis, diagnose
from .ladder import MODES, lr_ladder
from .range_test import RangeTest, validate_settings
from .result import LRFindResult
from .rules import DEFAULT_RULE, RULES, Curve, suggest
from .smoothing import DebiasedEMA, centered_smooth, debiased_ema
from .stop import StopReason, has_diverged

__all__ = [
    "DEFAULT_RULE",
    "MODES",
    "RULES",
    "Curve",
    "DebiasedEMA",
    "Diagnosis",
    "LRFindResult",
    "RangeTest",
    "StopReason",
    "UNREADABLE",
    "centered_smooth",
    "debiased_ema",
    "diagnose",
    "has_diverged",
    "lr_ladder",
    "suggest",
    "validate_settings",
]
