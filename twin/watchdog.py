"""The watchdog: turns what the agent observes through its near cache into controller signals.

Ages are the agent's clock minus the timestamps the services stamped on their records, so a
stalled or partitioned service shows up as a growing age; an entry that is gone from the grid
(its partition lost) reads NaN, the controller's worst case, as in the Hazelcast adapter. A record whose payload fails its
checksum is ignored for ages and breaks ``data.checksum_ok``; so does a ledger checksum that
does not match the agent's own journal. The same call also computes the ground truth.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .wiring import ANY, INTEGRITY, TIMED, Flow, signal_node

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent
    from .context import Context
    from .sensor_base import Sensor

__all__ = ["Watchdog", "SIGNALS"]

SIGNALS: tuple[str, ...] = (
    "hz.quorum", "ledger.consistent", "data.checksum_ok", "heartbeat.age_s", "mc_forewarner.age_s",
    "scan.age_s", "ob.age_s", "ob.latency_ms", "ob.depth_ratio", "exf.age_s", "exf.shock", "esof.age_s",
    "portfolio.drawdown",
)
_NAN = math.nan
_AGED = (("heartbeat", "heartbeat.age_s"), ("mc_forewarner", "mc_forewarner.age_s"), ("scan", "scan.age_s"),
         ("exf", "exf.age_s"), ("esof", "esof.age_s"))
_PAYLOAD = (("ob.age_s", "ob", 0, True, TIMED), ("ob.latency_ms", "ob", 1, False, TIMED),
            ("ob.depth_ratio", "ob", 2, False, ANY), ("exf.shock", "exf", 3, False, ANY))
"""Signals read from a record's payload: (signal, sensor, field, a timestamp to age on the agent's clock,
what reaches the signal — ``ob.age_s`` and ``ob.latency_ms`` measure time: a change of the book's value
does not move them)."""
_CLIENT = "client"
_JOURNAL_GRACE_S = 5.0


class Watchdog:
    """Observed and true signals, per agent step."""

    node = "agent"
    """The network node the signals are read on (the agent's)."""

    def __init__(self, ctx: "Context", sensors: dict[str, "Sensor"]) -> None:
        self.ctx = ctx
        self.sensors = sensors
        self.keys = {name: s.key for name, s in sensors.items()}
        self.last_valid: dict[str, object] = {}
        self.corrupt: dict[str, bool] = {}
        self.checksum_ok = True
        self.agent: "Agent"

    def _read(self, name: str, now: float):
        """The newest sound record of ``name`` the near cache has shown; None once the entry is gone
        (a lost partition): a missing entry reads NaN, as in the Hazelcast adapter."""
        rec = self.ctx.cluster.read(self.keys[name], now)
        if rec is not None:
            ok = rec.valid
            self.corrupt[name] = not ok
            if ok:
                self.last_valid[name] = rec
        elif name in self.last_valid:
            del self.last_valid[name]
            self.corrupt[name] = False
        return self.last_valid.get(name)

    def observe(self, now: float) -> dict[str, float]:
        """The controller's signal mapping as the agent sees it at ``now``."""
        agent = self.agent
        clock = now + self.ctx.clocks.offset("agent")
        out: dict[str, float] = {
            "hz.quorum": 1.0 if agent.client.quorum_ok() else 0.0,
            "ledger.consistent": 1.0 if agent.ledger_consistent else 0.0,
        }
        recs = {}
        for name, signal in _AGED:
            rec = recs[name] = self._read(name, now)
            out[signal] = clock - rec.ts if rec is not None else _NAN
        for signal, name, i, stamped, _ in _PAYLOAD:
            rec = recs[name] if name in recs else recs.setdefault(name, self._read(name, now))
            out[signal] = _NAN if rec is None else (clock - rec.payload[i] if stamped else rec.payload[i])
        self.checksum_ok = self._checksum(now)
        out["data.checksum_ok"] = 1.0 if self.checksum_ok and not any(self.corrupt.values()) else 0.0
        out["portfolio.drawdown"] = agent.drawdown(now)
        return out

    def flows(self) -> list[Flow]:
        """Where each signal comes from: the grid entry it is read from (through the client, aged on the
        agent's clock), the client's view (quorum), the agent's ledger, journal and equity. A corrupt
        record of any sensor breaks ``data.checksum_ok``."""
        out = [Flow(_CLIENT, signal_node("hz.quorum")), Flow("client.view", signal_node("hz.quorum")),
               Flow("agent.ledger", signal_node("ledger.consistent")),
               Flow("agent.journal", signal_node("data.checksum_ok")),
               Flow("agent.equity", signal_node("portfolio.drawdown"))]
        read = [(signal, name, TIMED, True) for name, signal in _AGED]
        read += [(signal, name, carries, stamped) for signal, name, _, stamped, carries in _PAYLOAD]
        read.append(("data.checksum_ok", "ledger_checksum", ANY, False))
        for signal, name, carries, aged in read:
            node = signal_node(signal)
            out += [Flow(f"key.{self.keys[name]}", node, carries), Flow(_CLIENT, node)]
            if aged:
                out.append(Flow("clock.agent", node))
        out += [Flow(f"key.{key}", signal_node("data.checksum_ok"), frozenset((INTEGRITY,)))
                for name, key in self.keys.items() if name != "ledger_checksum"]
        return out

    def _checksum(self, now: float) -> bool:
        rec = self._read("ledger_checksum", now)
        if rec is None or self.ctx.cluster.near.get(self.keys["ledger_checksum"]) is None:
            return False
        count, max_seq, digest = rec.payload
        journal = self.agent.portfolio
        if max_seq >= len(journal.prefix_digest) or count != max_seq or journal.prefix_digest[max_seq] != digest:
            return False
        return max_seq >= journal.entries_before(rec.ts - _JOURNAL_GRACE_S)

    def truth(self, now: float) -> dict[str, float]:
        """The same signals from ground truth: no network, cluster or clock in between."""
        agent = self.agent
        s = self.sensors
        out = {
            "hz.quorum": 1.0 if agent.client.true_quorum() else 0.0,
            "ledger.consistent": 1.0 if agent.true_ledger_consistent() else 0.0,
            "data.checksum_ok": 1.0 if not any(x.corrupting for x in s.values()) and not agent.journal_damaged
            else 0.0,
        }
        for name, signal in _AGED:
            out[signal] = now - s[name].last_capture(now)
        ob = s["ob"]
        out["ob.age_s"] = now - ob.true_book_ts(now)
        out["ob.latency_ms"] = ob.feed.mean_latency_ms
        out["ob.depth_ratio"] = self.ctx.exchange.depth_ratio(now)
        out["exf.shock"] = s["exf"].true_shock(now)
        out["portfolio.drawdown"] = agent.true_drawdown(now)
        return out
