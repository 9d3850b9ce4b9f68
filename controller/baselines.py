"""Baseline controllers for comparison (design §2.5), expressed as configs of the same kernel.

* ``static_ladder``: the spec's flat lookup table — all green 1.0; MC-Forewarner down 70 %;
  ExF/EsoF stale > 10 min 50 %; OB streamer down 20 %; cluster loss 0 — no damping, no hysteresis.
* ``seed_template``: the spec's first template — 4 layers, raw exponentials with no deadband,
  the un-normalised capital sigmoid (taxes 9.5 % at zero drawdown), fast attack / slow recovery.

* ``uncontrolled``: no survival control at all — ``r_total`` is always 1.0 and the posture
  always APEX, whatever the signals (the reference for the performance tax).

All run through :class:`SurvivalController`, so they share the ``step`` contract and the
batch evaluator.
"""

from __future__ import annotations

from typing import Any

from .config import ControllerConfig
from .defaults import DEFAULT_CONFIG_DATA
from .survival import SurvivalController

__all__ = ["STATIC_LADDER_DATA", "SEED_TEMPLATE_DATA", "UNCONTROLLED_DATA", "static_ladder_config",
           "seed_template_config", "uncontrolled_config", "StaticLadderController", "SeedTemplateController",
           "UncontrolledController", "BASELINES"]

_EPS = 1e-9
_NO_HYSTERESIS = {
    "apex": {"enter": 0.90, "leave": 0.90 - _EPS, "max_leverage": 6.0, "min_dwell_s": 0.0},
    "stalker": {"enter": 0.60, "leave": 0.60 - _EPS, "max_leverage": 2.0, "min_dwell_s": 0.0},
    "turtle": {"enter": 0.15, "leave": 0.15 - _EPS, "max_leverage": 1.0, "min_dwell_s": 0.0},
    "hibernate": {"max_leverage": 0.0, "min_dwell_s": 0.0},
}


def _rung(name: str, signal: str, max_value: float, value: float) -> dict[str, Any]:
    return {"name": name, "category": "ladder",
            "inputs": [{"signal": signal, "transform": "step", "max": max_value, "value": value}]}


STATIC_LADDER_DATA: dict[str, Any] = {
    "name": "static_ladder",
    "postures": _NO_HYSTERESIS,
    "layers": [
        {"name": "cluster", "category": "invariant", "recovery_per_min": 1.0e9,
         "inputs": [{"signal": "hz.quorum", "transform": "flag"},
                    {"signal": "ledger.consistent", "transform": "flag"},
                    {"signal": "data.checksum_ok", "transform": "flag"},
                    {"signal": "heartbeat.age_s", "transform": "max_age", "max": 10.0}]},
        _rung("mc_forewarner", "mc_forewarner.age_s", 180.0, 0.70),
        _rung("exf", "exf.age_s", 600.0, 0.50),
        _rung("esof", "esof.age_s", 600.0, 0.50),
        _rung("ob_streamer", "ob.age_s", 5.0, 0.20),
    ],
}

SEED_TEMPLATE_DATA: dict[str, Any] = {
    "name": "seed_template",
    # The default bands and caps, without a minimum dwell.
    "postures": {k: {**band, "min_dwell_s": 0.0} for k, band in DEFAULT_CONFIG_DATA["postures"].items()},
    "layers": [
        {"name": "infrastructure", "category": "invariant",
         "inputs": [{"signal": "hz.quorum", "transform": "flag"},
                    {"signal": "heartbeat.age_s", "transform": "max_age", "max": 30.0}]},
        {"name": "mc_forewarner", "category": "structural",
         "inputs": [{"signal": "mc_forewarner.age_s", "transform": "decay", "deadband": 0.0,
                     "half_life": 693.0, "floor": 0.0}]},
        {"name": "ob_streamer", "category": "structural",
         "inputs": [{"signal": "ob.age_s", "transform": "decay", "deadband": 0.0, "half_life": 60.0, "floor": 0.0}]},
        {"name": "capital", "category": "capital",
         "inputs": [{"signal": "portfolio.drawdown", "transform": "sigmoid", "k": 15.0, "mid": 0.15,
                     "normalise": 0.0}]},
    ],
}


UNCONTROLLED_DATA: dict[str, Any] = {
    "name": "uncontrolled",
    "postures": _NO_HYSTERESIS,
    # One rung whose value is 1.0 on both sides of its threshold, valid or not: always 1.0.
    "layers": [{"name": "none", "category": "ladder",
                "inputs": [{"signal": "hz.quorum", "transform": "step", "max": 0.0, "value": 1.0}]}],
}


def uncontrolled_config() -> ControllerConfig:
    return ControllerConfig.from_mapping(UNCONTROLLED_DATA, source="controller.baselines.uncontrolled")


def static_ladder_config() -> ControllerConfig:
    return ControllerConfig.from_mapping(STATIC_LADDER_DATA, source="controller.baselines.static_ladder")


def seed_template_config() -> ControllerConfig:
    return ControllerConfig.from_mapping(SEED_TEMPLATE_DATA, source="controller.baselines.seed_template")


class StaticLadderController(SurvivalController):
    """The spec's flat lookup-table ladder."""

    def __init__(self) -> None:
        super().__init__(static_ladder_config())


class SeedTemplateController(SurvivalController):
    """The spec's first template."""

    def __init__(self) -> None:
        super().__init__(seed_template_config())


class UncontrolledController(SurvivalController):
    """No survival control: r_total 1.0 and APEX always."""

    def __init__(self) -> None:
        super().__init__(uncontrolled_config())


BASELINES = {"static_ladder": StaticLadderController, "seed_template": SeedTemplateController,
             "uncontrolled": UncontrolledController}
