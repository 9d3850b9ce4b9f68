"""Toxic definitions: the Toxiproxy toxic vocabulary, validated into frozen specs.

Supported types and attributes (Toxiproxy 2.x names and units):

* ``latency``: ``latency`` (ms), ``jitter`` (ms, uniform in +-jitter) added to every chunk.
* ``bandwidth``: ``rate`` (KB/s, 0 = unlimited).
* ``slow_close``: ``delay`` (ms) before a close is passed on.
* ``timeout``: ``timeout`` (ms); data is dropped, and after ``timeout`` the connection is closed
  (0 = never closed: data is swallowed until the toxic is removed).
* ``reset_peer``: ``timeout`` (ms); on the first data after activation, wait then reset (RST) both sides.
* ``slicer``: ``average_size`` (bytes), ``size_variation`` (bytes), ``delay`` (microseconds).
* ``limit_data``: ``bytes``; the connection is closed once that many bytes have passed.

Every toxic has a ``stream`` (``upstream`` = client to server, ``downstream`` = server to client)
and a ``toxicity`` in [0, 1], the probability that it applies to a given connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import FaultProxyError

__all__ = ["ToxicSpec", "TOXIC_ATTRIBUTES", "parse_toxic", "update_toxic", "STREAMS"]

STREAMS = ("upstream", "downstream")
TOXIC_ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}


class ToxicError(FaultProxyError):
    """A toxic definition is invalid (HTTP 400)."""


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic as stored by a proxy; ``attributes`` holds every attribute of its type."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": dict(self.attributes)}

    def attr(self, key: str) -> int:
        return int(self.attributes[key])


def _attributes(kind: str, given: Any, base: Mapping[str, int]) -> dict[str, int]:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ToxicError(f"toxic field 'attributes': expected an object, got {given!r}")
    allowed = TOXIC_ATTRIBUTES[kind]
    out = dict(base)
    for key, value in given.items():
        if key not in allowed:
            raise ToxicError(f"toxic {kind!r}: unknown attribute {key!r} (expected one of {sorted(allowed)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
            raise ToxicError(f"toxic {kind!r}: attribute {key!r} expected a non-negative integer, got {value!r}")
        out[key] = int(value)
    if kind == "slicer" and out["average_size"] <= 0:
        raise ToxicError("toxic 'slicer': attribute 'average_size' must be > 0")
    return out


def _toxicity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ToxicError(f"toxic field 'toxicity': expected a number in [0, 1], got {value!r}")
    return float(value)


def parse_toxic(body: Any) -> ToxicSpec:
    """Validate a toxic creation body (the JSON Toxiproxy accepts)."""
    if not isinstance(body, dict):
        raise ToxicError(f"toxic: expected a JSON object, got {body!r}")
    unknown = set(body) - {"name", "type", "stream", "toxicity", "attributes"}
    if unknown:
        raise ToxicError(f"toxic: unknown field(s) {sorted(unknown)}")
    kind = body.get("type")
    if kind not in TOXIC_ATTRIBUTES:
        raise ToxicError(f"toxic field 'type': expected one of {sorted(TOXIC_ATTRIBUTES)}, got {kind!r}")
    stream = body.get("stream", "downstream")
    if stream not in STREAMS:
        raise ToxicError(f"toxic field 'stream': expected 'upstream' or 'downstream', got {stream!r}")
    name = body.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        raise ToxicError(f"toxic field 'name': expected a string, got {name!r}")
    return ToxicSpec(name=name, type=kind, stream=stream, toxicity=_toxicity(body.get("toxicity", 1.0)),
                     attributes=_attributes(kind, body.get("attributes"), TOXIC_ATTRIBUTES[kind]))


def update_toxic(spec: ToxicSpec, body: Any) -> ToxicSpec:
    """Apply an update body (``attributes`` and/or ``toxicity``) to an existing toxic."""
    if not isinstance(body, dict):
        raise ToxicError(f"toxic update: expected a JSON object, got {body!r}")
    unknown = set(body) - {"attributes", "toxicity", "name", "type", "stream"}
    if unknown:
        raise ToxicError(f"toxic update: unknown field(s) {sorted(unknown)}")
    for key in ("name", "type", "stream"):
        if key in body and body[key] != getattr(spec, key):
            raise ToxicError(f"toxic update: field {key!r} cannot change (remove and re-add the toxic)")
    toxicity = _toxicity(body["toxicity"]) if "toxicity" in body else spec.toxicity
    attrs = _attributes(spec.type, body.get("attributes"), spec.attributes)
    return ToxicSpec(spec.name, spec.type, spec.stream, toxicity, attrs)
