from __future__ import annotations

import pytest

from controller import NOMINAL_SIGNALS, SurvivalController, default_config


@pytest.fixture
def nominal() -> dict[str, float]:
    return dict(NOMINAL_SIGNALS)


@pytest.fixture
def fresh():
    """Factory: a fresh default controller."""
    config = default_config()
    return lambda: SurvivalController(config)


@pytest.fixture
def one_step():
    """Factory: the decision of a fresh controller's first step, nominal signals except ``changes``."""

    def run(controller: SurvivalController, **changes: float):
        signals = dict(NOMINAL_SIGNALS)
        for key, value in changes.items():
            signals[key.replace("__", ".")] = value
        return controller.step(0.0, signals)

    return run
