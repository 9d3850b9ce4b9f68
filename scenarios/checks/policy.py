"""The always-on safety and liveness policies, with a scenario's ``[safety]`` / ``[liveness]`` overrides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from controller import Posture, strict
from faults import parse_seconds

from ..errors import ScenarioFileError

__all__ = ["SafetyPolicy", "LivenessPolicy", "DEFAULT_LIVENESS_WITHIN_S"]


@dataclass(frozen=True)
class SafetyPolicy:
    """Bounds of the safety checks (design §5).

    keepalive_max_age_s: a heartbeat older than this is a broken invariant (the spec's keepalive).
    cancel_within_s: working orders must be done this long after HIBERNATE (extended while the
    agent↔exchange path is faulted). exit_grace_s: a position held past max_hold_s + this
    must have had an exit order. leverage_tolerance: relative slack of the leverage check.
    """

    keepalive_max_age_s: float = 10.0
    cancel_within_s: float = 10.0
    exit_grace_s: float = 30.0
    leverage_tolerance: float = 0.05

    @classmethod
    def from_mapping(cls, data: Any, source: str) -> "SafetyPolicy":
        return cls(**_seconds_table(data, source, "safety", {
            "keepalive_max_age": "keepalive_max_age_s", "cancel_within": "cancel_within_s",
            "exit_grace": "exit_grace_s"}, {"leverage_tolerance": "leverage_tolerance"}))

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


DEFAULT_LIVENESS_WITHIN_S = 7200.0


@dataclass(frozen=True)
class LivenessPolicy:
    """After every fault heals, ``posture`` (or better) is regained within ``within_s`` and then held: to the
    end of the run, or for ``hold_s`` seconds when the scenario states ``[liveness] hold`` (see
    :func:`scenarios.checks.view.recovered_at`).

    The bound is the scenario's (``[liveness] within``, default 2 h), never derived from the controller
    config under test: a config cannot switch its own liveness check off by recovering slowly. The
    loader rejects a scenario that does not run ``within_s`` past its last possible heal.
    """

    enabled: bool = True
    posture: Posture = Posture.APEX
    within_s: float = DEFAULT_LIVENESS_WITHIN_S
    hold_s: float | None = None        # None: held to the end of the run

    @classmethod
    def from_mapping(cls, data: Any, source: str) -> "LivenessPolicy":
        if not isinstance(data, Mapping):
            raise ScenarioFileError(source, "liveness", "a table", data)
        allowed = ("enabled", "posture", "within", "hold")
        for key in data:
            if key not in allowed:
                raise ScenarioFileError(source, f"liveness.{key}", f"one of {', '.join(allowed)} (unknown key)")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ScenarioFileError(source, "liveness.enabled", "true or false", enabled)
        try:
            posture = Posture.parse(data["posture"]) if "posture" in data else Posture.APEX
        except (KeyError, AttributeError):
            raise ScenarioFileError(source, "liveness.posture", "one of APEX, STALKER, TURTLE, HIBERNATE",
                                    data["posture"]) from None
        values = _seconds_table({k: v for k, v in data.items() if k in ("within", "hold")}, source, "liveness",
                                {"within": "within_s", "hold": "hold_s"}, {})
        within = values.get("within_s", DEFAULT_LIVENESS_WITHIN_S)
        if within <= 0:
            raise ScenarioFileError(source, "liveness.within", 'a duration > 0 (seconds or like "2h")', data["within"])
        hold = values.get("hold_s")
        if hold is not None and hold <= 0:
            raise ScenarioFileError(source, "liveness.hold", 'a duration > 0 (seconds or like "30m")', data["hold"])
        return cls(enabled, posture, within, hold)

    @property
    def need_s(self) -> float:
        """How long the run must last past the last heal to judge liveness: the bound, plus the hold if stated."""
        return self.within_s + (self.hold_s or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "posture": self.posture.name, "within_s": self.within_s,
                "hold_s": self.hold_s}


def _seconds_table(data: Any, source: str, section: str, seconds: Mapping[str, str],
                   numbers: Mapping[str, str]) -> dict[str, float]:
    if not isinstance(data, Mapping):
        raise ScenarioFileError(source, section, "a table", data)
    out: dict[str, float] = {}
    for key, raw in data.items():
        if key in seconds:
            value = parse_seconds(raw)
            if value is None or value < 0:
                raise ScenarioFileError(source, f"{section}.{key}", 'a duration >= 0 (seconds or like "10s")', raw)
            out[seconds[key]] = value
        elif key in numbers:
            try:
                out[numbers[key]] = strict.number(raw, source, f"{section}.{key}", 0.0, 10.0)
            except strict.StrictError as exc:
                raise ScenarioFileError(exc.source, exc.path, exc.expected, exc.got) from None
        else:
            raise ScenarioFileError(source, f"{section}.{key}",
                                    f"one of {', '.join([*seconds, *numbers])} (unknown key)")
    return out
