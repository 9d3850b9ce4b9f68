"""The calibrated default configuration (design §2.2–§2.4).

Calibration (each point alone, all other signals nominal, fresh controller):
MC-Forewarner age <= 90 s -> 1.0 (it publishes every 60 s, so a healthy age reaches ~60 s plus
latency: a 30 s deadband would tax healthy operation); 5 min -> 0.851; 30 min -> 0.400;
2 h -> 0.122 (floor 0.10). A plain exponential cannot meet these points with a 90 s deadband,
so the decay has shape 0.86 (a stretched exponential: faster at first, slower later).
Its weight is 0.5, so a stall alone is "mild, then progressive" in r_total: APEX at 5 min (0.92),
STALKER from ~10 min, TURTLE from ~50 min, and never HIBERNATE (r_total floor 0.10^0.5 = 0.32):
a stalled forewarner means minimal survival — exits only — not a cancelled book.
EsoF age 1 h -> 0.998. Drawdown 0 -> 1.0. A full ExF shock -> 0.30, back to 0.95 after 65 min
(the 1 %/min recovery limit binds the 60-min glide).
"""

from __future__ import annotations

from typing import Any

from .config import ControllerConfig

__all__ = ["DEFAULT_CONFIG_DATA", "default_config", "NOMINAL_SIGNALS"]

DEFAULT_CONFIG_DATA: dict[str, Any] = {
    "name": "survival-default",
    "postures": {
        "apex": {"enter": 0.92, "leave": 0.85, "max_leverage": 6.0, "min_dwell_s": 0.0},
        "stalker": {"enter": 0.65, "leave": 0.60, "max_leverage": 2.0, "min_dwell_s": 30.0},
        "turtle": {"enter": 0.25, "leave": 0.20, "max_leverage": 1.0, "min_dwell_s": 60.0},
        "hibernate": {"max_leverage": 0.0, "min_dwell_s": 60.0},
    },
    "layers": [
        {"name": "hz_quorum", "category": "invariant",
         "inputs": [{"signal": "hz.quorum", "transform": "flag"}]},
        {"name": "ledger", "category": "invariant",
         "inputs": [{"signal": "ledger.consistent", "transform": "flag"}]},
        {"name": "data_integrity", "category": "invariant",
         "inputs": [{"signal": "data.checksum_ok", "transform": "flag"}]},
        {"name": "keepalive", "category": "invariant",
         "inputs": [{"signal": "heartbeat.age_s", "transform": "max_age", "max": 10.0}]},
        {"name": "mc_forewarner", "category": "structural", "weight": 0.5,
         "inputs": [{"signal": "mc_forewarner.age_s", "transform": "decay",
                     "deadband": 90.0, "half_life": 1000.0, "floor": 0.10, "shape": 0.86}]},
        {"name": "scan_loop", "category": "structural",
         "inputs": [{"signal": "scan.age_s", "transform": "decay",
                     "deadband": 30.0, "half_life": 600.0, "floor": 0.10}]},
        {"name": "ob_streamer", "category": "microstructure",
         "inputs": [
             {"signal": "ob.age_s", "transform": "decay", "deadband": 2.0, "half_life": 30.0, "floor": 0.62},
             {"signal": "ob.latency_ms", "transform": "decay", "deadband": 250.0, "half_life": 750.0,
              "floor": 0.70, "ewma_tau_s": 5.0},
             {"signal": "ob.depth_ratio", "transform": "decay", "deadband": 0.5, "half_life": 0.25,
              "floor": 0.70, "direction": -1.0},
         ]},
        {"name": "exf", "category": "environmental",
         "inputs": [
             {"signal": "exf.age_s", "transform": "decay", "deadband": 600.0, "half_life": 3600.0, "floor": 0.70},
             {"signal": "exf.shock", "transform": "impulse", "gain": 0.7, "cooling_s": 3600.0},
         ]},
        {"name": "esof", "category": "environmental",
         "inputs": [{"signal": "esof.age_s", "transform": "decay", "deadband": 1800.0,
                     "half_life": 72000.0, "floor": 0.90}]},
        {"name": "portfolio_dd", "category": "capital",
         "inputs": [{"signal": "portfolio.drawdown", "transform": "sigmoid", "k": 15.0, "mid": 0.15}]},
    ],
}

NOMINAL_SIGNALS: dict[str, float] = {
    "hz.quorum": 1.0, "ledger.consistent": 1.0, "data.checksum_ok": 1.0, "heartbeat.age_s": 1.0,
    "mc_forewarner.age_s": 30.0, "scan.age_s": 5.0, "ob.age_s": 0.1, "ob.latency_ms": 40.0,
    "ob.depth_ratio": 1.0, "exf.age_s": 60.0, "exf.shock": 0.0, "esof.age_s": 300.0,
    "portfolio.drawdown": 0.0,
}
"""A healthy world: every signal inside its deadband."""


def default_config() -> ControllerConfig:
    """The calibrated default survival-controller configuration."""
    return ControllerConfig.from_mapping(DEFAULT_CONFIG_DATA, source="controller.defaults")
