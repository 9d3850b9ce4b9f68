"""Checks: always-on safety (one module), liveness, and the named expectations of scenario files.

Checkers observe a finished run's trace (a :class:`RunView`); they never touch the twin.
"""

from . import expectations as _expectations  # noqa: F401  (registers the expectation checks)
from .base import COMPANIONS, EXPECTATIONS, CheckResult, ExpectationCheck, ParamSpec, ParseContext
from .liveness import liveness_bound_s, run_liveness
from .policy import LivenessPolicy, SafetyPolicy
from .safety import SAFETY_CHECKS, run_safety
from .view import Companion, RunView, columns, fmt_t

__all__ = ["COMPANIONS", "CheckResult", "Companion", "EXPECTATIONS", "ExpectationCheck", "LivenessPolicy",
           "ParamSpec", "ParseContext", "RunView", "SAFETY_CHECKS", "SafetyPolicy", "columns", "fmt_t",
           "liveness_bound_s", "run_liveness", "run_safety"]
