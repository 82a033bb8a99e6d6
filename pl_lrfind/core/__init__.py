"""The range test without Lightning: ladder, smoothing, stop rule, suggestion rules, result.

Nothing in this package imports Lightning or touches a model; it works on plain numbers.
"""

from .budget import (
    BUDGET_EXPONENT,
    LEVEL_RULE,
    NON_ADAM_BEST_CHECKPOINT_EXPONENT,
    NON_ADAM_EXPONENT,
    NON_ADAM_LEVEL,
    budget_exponent_for,
    budget_factor,
    budget_level_for,
)
from .curve import MIN_POINTS, Curve
from .diagnosis import UNREADABLE, Diagnosis, diagnose
from .ladder import MODES, lr_ladder
from .range_test import RangeTest, validate_settings
from .result import LRFindResult, format_lr
from .rules import BLOW_UP_DIVISOR, DEFAULT_RULE, RULES, Rule, blow_up, resolve_rule, suggest
from .smoothing import DebiasedEMA, centered_smooth, debiased_ema
from .stop import StopReason, has_diverged

__all__ = [
    "BLOW_UP_DIVISOR",
    "BUDGET_EXPONENT",
    "DEFAULT_RULE",
    "LEVEL_RULE",
    "MODES",
    "RULES",
    "Curve",
    "DebiasedEMA",
    "Diagnosis",
    "LRFindResult",
    "MIN_POINTS",
    "NON_ADAM_BEST_CHECKPOINT_EXPONENT",
    "NON_ADAM_EXPONENT",
    "NON_ADAM_LEVEL",
    "RangeTest",
    "Rule",
    "StopReason",
    "UNREADABLE",
    "blow_up",
    "budget_exponent_for",
    "budget_factor",
    "budget_level_for",
    "centered_smooth",
    "debiased_ema",
    "diagnose",
    "format_lr",
    "has_diverged",
    "lr_ladder",
    "resolve_rule",
    "suggest",
    "validate_settings",
]
