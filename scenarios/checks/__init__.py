"""Checks: always-on safety (one module), liveness, and the named expectations of scenario files.

Checkers observe a finished run's trace (a :class:`RunView`); they never touch the twin.
"""

from . import expectations as _expectations  # noqa: F401  (registers the expectation checks)
from .base import COMPANIONS, EXPECTATIONS, CheckResult, ExpectationCheck, NotJudged, ParamSpec, ParseContext
from .liveness import run_liveness
from .policy import DEFAULT_LIVENESS_WITHIN_S, LivenessPolicy, SafetyPolicy
from .safety import SAFETY_CHECKS, run_safety
from .view import Companion, RunView, columns, fmt_t

__all__ = ["COMPANIONS", "DEFAULT_LIVENESS_WITHIN_S", "CheckResult", "Companion", "EXPECTATIONS", "ExpectationCheck",
           "LivenessPolicy", "NotJudged", "ParamSpec", "ParseContext", "RunView", "SAFETY_CHECKS", "SafetyPolicy",
           "columns", "fmt_t", "run_liveness", "run_safety"]
