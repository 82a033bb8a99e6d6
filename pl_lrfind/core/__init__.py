"""The range test without Lightning: ladder, smoothing, stop rule, suggestion rules, result.

Nothing in this package imports Lightning or touches a model; it works on plain numbers.
"""

from .budget import (
    BEST_CHECK_PASS_EXPONENT,
    NON_ADAM_LEVEL,
    PASS_EXPONENT,
    REFERENCE_PASSES,
    describe_factor,
    level_for,
    pass_exponent_for,
    repetition_factor,
)
from .curve import MIN_POINTS, Curve
from .diagnosis import UNREADABLE, Diagnosis, DiagnosisCode, diagnose
from .ladder import MODES, lr_ladder
from .range_test import RangeTest, validate_settings
from .result import LRFindResult, format_lr
from .rules import BLOW_UP_DIVISOR, DEFAULT_RULE, RULES, Rule, blow_up, resolve_rule, suggest
from .smoothing import DebiasedEMA, centered_smooth, debiased_ema
from .stop import StopReason, has_diverged

__all__ = [
    "BEST_CHECK_PASS_EXPONENT",
    "BLOW_UP_DIVISOR",
    "DEFAULT_RULE",
    "MODES",
    "RULES",
    "Curve",
    "DebiasedEMA",
    "Diagnosis",
    "DiagnosisCode",
    "LRFindResult",
    "MIN_POINTS",
    "NON_ADAM_LEVEL",
    "PASS_EXPONENT",
    "REFERENCE_PASSES",
    "RangeTest",
    "Rule",
    "StopReason",
    "UNREADABLE",
    "blow_up",
    "centered_smooth",
    "debiased_ema",
    "describe_factor",
    "diagnose",
    "format_lr",
    "has_diverged",
    "level_for",
    "lr_ladder",
    "pass_exponent_for",
    "repetition_factor",
    "resolve_rule",
    "suggest",
    "validate_settings",
]
