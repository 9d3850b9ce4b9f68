"""The incremental λ_max lives in :mod:`trading.eigen` (one source for the twin and paper trading)."""

from trading.eigen import RollingLambda, full_lambda_max

__all__ = ["RollingLambda", "full_lambda_max"]
