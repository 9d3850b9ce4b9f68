"""The sensor-service base: a periodic publisher into the grid with a fault port.

A sensor captures a value every period and sends it over its link ``sensor.<name>->cluster``
to the owner of its key. Through :class:`twin.ports.SensorPort` it can stall (alive, silent),
crash and restart (back after ``restart_s``, with its in-memory state lost), degrade (publish
rate × factor), flap (crash/restart every ``period_s``), publish late, or publish corrupt values.

Fast publishers (period < 1 s, the order-book streamer) plan one second of sends ahead in a
single event; any state change anywhere in the world makes them retract the sends still in
the future and plan again, so observed ages stay exact.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Generator

from .cluster import Record
from .invocation import ROUTE_OK, ROUTE_RETRY
from .validate import flag, number
from .wiring import Flow

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = ["Sensor", "RUNNING", "STALLED", "CRASHED", "RESTARTING"]

RUNNING, STALLED, CRASHED, RESTARTING = "running", "stalled", "crashed", "restarting"
_BATCH_S = 1.0


class Sensor:
    """A periodic publisher. Subclasses implement :meth:`capture` (and may override :meth:`on_restart`)."""

    node_name: str | None = None

    def __init__(self, name: str, ctx: "Context", period_s: float) -> None:
        self.name = name
        self.ctx = ctx
        self.node = self.node_name or f"sensor.{name}"
        self.key = f"health.{name}"
        self.link = ctx.links[f"sensor.{name}->cluster"]
        self.base_period_s = period_s
        self.factor = 1.0
        self.state = RUNNING
        self.publish_delay_s = 0.0
        self.corrupting = False
        self.flap_period_s = 0.0
        self._stall_on_up = False
        self._flap_epoch = 0
        self._restart_epoch = 0
        self.last_capture_t = 0.0
        self.sent = 0
        self.batched = period_s < _BATCH_S
        self._cursor = 0.0
        self._planned: list[float] = []
        self._batch_start = 0.0
        self._batch_end = 0.0
        self._last_done = 0.0
        self._marks: list[tuple[float, list[tuple]]] = []

    # -- fault port -------------------------------------------------------------------------
    def stall(self) -> None:
        """Alive but publishes nothing until :meth:`resume` (a crashed or restarting process
        comes up stalled)."""
        if self.state in (CRASHED, RESTARTING):
            self._stall_on_up = True
            self._changed("sensor_stall", {"state": self.state})
            return
        self._set(STALLED, "sensor_stall")

    def resume(self) -> None:
        self._stall_on_up = False
        if self.state == STALLED:
            self._set(RUNNING, "sensor_resume")

    def crash(self) -> None:
        """The process dies; nothing is published until :meth:`restart` (+ restart time)."""
        self._restart_epoch += 1
        self._set(CRASHED, "sensor_crash")

    def restart(self) -> None:
        """Start the process again; it publishes after ``sensors.restart_s`` with fresh state."""
        if self.state not in (CRASHED, RESTARTING):
            return
        self._restart_epoch += 1
        epoch = self._restart_epoch
        self._set(RESTARTING, "sensor_restart")
        self.ctx.call_later(self.ctx.cfg.sensors.restart_s, lambda: self._up(epoch))

    def _up(self, epoch: int) -> None:
        if epoch == self._restart_epoch and self.state == RESTARTING:
            self.on_restart()
            self._set(STALLED if self._stall_on_up else RUNNING, "sensor_up")

    def degrade(self, factor: float) -> None:
        """Publish at ``factor`` × the nominal rate (0 < factor <= 1; 1 restores)."""
        self.factor = number(f"sensor.{self.name}.degrade", "factor", factor, 0.0, 1.0, lo_open=True)
        self._changed("sensor_degrade", {"factor": self.factor})

    def set_flap(self, period_s: float | None) -> None:
        """Crash and restart alternately every ``period_s``; 0 or None stops flapping (and restarts)."""
        period = 0.0 if period_s is None else number(f"sensor.{self.name}.set_flap", "period_s", period_s, 0.0)
        self._flap_epoch += 1
        self.flap_period_s = period
        self._changed("sensor_flap", {"period_s": self.flap_period_s})
        if self.flap_period_s > 0:
            epoch = self._flap_epoch
            self.ctx.call_later(self.flap_period_s, lambda: self._flap(epoch))
        elif self.state in (CRASHED, RESTARTING):
            self._restart_epoch += 1
            self.on_restart()
            self._set(RUNNING, "sensor_up")

    def _flap(self, epoch: int) -> None:
        if epoch != self._flap_epoch:
            return
        if self.state == RUNNING:
            self._restart_epoch += 1
            self._set(CRASHED, "sensor_flap_down")
        elif self.state in (CRASHED, RESTARTING):
            self._restart_epoch += 1
            self.on_restart()
            self._set(RUNNING, "sensor_flap_up")
        self.ctx.call_later(self.flap_period_s, lambda: self._flap(epoch))

    def set_publish_delay(self, delay_s: float) -> None:
        """Values are captured on time but sent ``delay_s`` later."""
        self.publish_delay_s = number(f"sensor.{self.name}.set_publish_delay", "delay_s", delay_s, 0.0)
        self._changed("sensor_publish_delay", {"delay_s": self.publish_delay_s})

    def corrupt(self, on: bool = True) -> None:
        """Publish values whose payload no longer matches their checksum."""
        self.corrupting = flag(f"sensor.{self.name}.corrupt", "on", on)
        self._changed("data_corruption", {"on": self.corrupting})

    # -- wiring -------------------------------------------------------------------------------
    def flows(self) -> list[Flow]:
        """What this service's records depend on: its node, its clock, what it captures
        (:meth:`captures`); they cross its link into its grid entry, held by its partition's members."""
        me, key = f"sensor.{self.name}", f"key.{self.key}"
        return ([Flow(f"node.{self.node}", me), Flow(f"clock.{self.name}", me)]
                + [Flow(src, me) for src in self.captures()]
                + [Flow(me, key), Flow(f"link.{self.link.name}", key)]
                + [Flow(f"member.{m}", key) for m in self.ctx.cluster.holders(self.key)])

    def captures(self) -> tuple[str, ...]:
        """The parts :meth:`capture` reads (default: none, a value of time only)."""
        return ()

    # -- internals --------------------------------------------------------------------------
    def _set(self, state: str, kind: str) -> None:
        self.state = state
        self._changed(kind, {"state": state})

    def _changed(self, kind: str, detail: dict[str, Any]) -> None:
        self.ctx.changed(kind, f"sensor.{self.name}", detail)

    @property
    def period_s(self) -> float:
        return self.base_period_s / self.factor

    def capture(self, t: float) -> tuple | None:  # pragma: no cover - abstract
        """The payload captured at true time ``t`` (None: nothing to publish)."""
        raise NotImplementedError

    def on_restart(self) -> None:
        """Drop in-memory state after a crash (default: nothing)."""

    def on_replan(self, now: float) -> None:
        """Roll in-memory state back to the last capture at or before ``now`` (batched sensors)."""

    def draw_buffers(self) -> list:
        """The random streams one send of a batched publisher consumes (rewound when it re-plans)."""
        fetch = self.ctx.cluster.fetch_draw(self.name)
        return [self.link.draw] + ([fetch] if fetch is not None else [])

    def stamp(self, t: float) -> float:
        return t + self.ctx.clocks.offset(self.name)

    def emit(self, t: float) -> None:
        """Capture at ``t`` and send (after the publish delay)."""
        payload = self.capture(t)
        if payload is None:
            return
        self.last_capture_t = t
        record = Record(self.stamp(t), payload, self.name, self.corrupting)
        send_t = t + self.publish_delay_s
        if send_t > self.ctx.now() and not self.batched:
            self.ctx.call_later(send_t - self.ctx.now(), lambda: self._send(record, send_t, t))
        else:
            self._send(record, send_t, t)

    def _send(self, record: Record, send_t: float, capture_t: float) -> None:
        if self.ctx.cluster.write(self.key, self.node, self.link, record, send_t, capture_t):
            self.sent += 1

    # -- processes --------------------------------------------------------------------------
    def process(self) -> Generator:
        env = self.ctx.env
        if self.batched:
            self.ctx.replanners.append(self.replan)
            while True:
                self._start_batch(env.now)
                yield env.timeout(_BATCH_S)
        while True:
            yield env.timeout(self.period_s)
            if self.state == RUNNING:
                self.emit(env.now)

    def _start_batch(self, now: float) -> None:
        if self._planned:
            self._last_done = self._planned[-1]
        self._planned = []
        self._marks = []
        self._batch_start = max(self._cursor, now)
        self._batch_end = now + _BATCH_S
        self._plan(self._batch_start, 0, self._batch_end)

    def _plan(self, base: float, k: int, end: float) -> None:
        """Plan the captures ``base + k·period``, ``base + (k+1)·period``, … before ``end`` (the same
        float times whether planned at once or re-planned from the middle)."""
        times = []
        step = self.period_s
        t = base + k * step
        while t < end - 1e-12:
            times.append(t)
            k += 1
            t = base + k * step
        self._cursor = t
        if self.state == RUNNING and times:
            self._planned.extend(times)
            self.emit_many(times)

    def capture_batch(self, times: list[float]) -> tuple[list[tuple], list[list[tuple]]] | None:
        """The payloads captured at each of ``times`` and, per capture, the marks of the streams it draws
        on beyond the link and near-cache ones (``draw_buffers()[2:]``), exactly as :meth:`capture` one by
        one would give them; None if this sensor captures one by one (the default)."""
        return None

    def _emit_batch(self, times: list[float]) -> bool:
        """:meth:`emit_many` in one go when every send takes the same path: sound records, an owner that
        takes them, lossless links, no listener to fire. Same draws, records, arrivals and marks as
        send by send; False (nothing done) otherwise."""
        cluster = self.ctx.cluster
        link, key, name = self.link, self.key, self.name
        if self.corrupting or link.loss_ratio > 0.0 or cluster.route(key, self.node, link) != ROUTE_OK:
            return False
        near = cluster.near_path(key, name)
        if near is False:
            return False
        captured = self.capture_batch(times)
        if captured is None:
            return False
        payloads, capture_marks = captured
        n = len(times)
        sends = link.transits(None, n)
        assert sends is not None                      # up (the route is OK) and lossless
        fetch_draw = cluster.fetch_draw(name)
        fetches, fetch_marks = (None, [fetch_draw.mark() if fetch_draw is not None else None] * n) \
            if near is None else near[0].transits(near[1], n)
        if fetch_draw is None:
            marks = [[lm, *cm] for lm, cm in zip(sends[1], capture_marks)]
        else:
            marks = [[lm, fm, *cm] for lm, fm, cm in zip(sends[1], fetch_marks, capture_marks)]
        self._marks.extend(zip(times, marks))
        skew, delay_s = self.ctx.clocks.offset(name), self.publish_delay_s
        records = [Record(t + skew, p, name) for t, p in zip(times, payloads)]
        cluster.store_batch(key, [t + delay_s + d for t, d in zip(times, sends[0])], times, records, fetches)
        self.sent += n
        self.last_capture_t = times[-1]
        return True

    def emit_many(self, times: list[float]) -> None:
        """Capture and send at each of ``times`` (state is constant until the next re-plan)."""
        if self._emit_batch(times):
            return
        cluster = self.ctx.cluster
        link, key, corrupting, name = self.link, self.key, self.corrupting, self.name
        route = cluster.route(key, self.node, link)
        delay_s = self.publish_delay_s
        skew = self.ctx.clocks.offset(self.name)
        ccfg = cluster.cfg
        timeout, pause = ccfg.invocation_timeout_s, ccfg.invocation_retry_pause_s
        markers, marks = [b.mark for b in self.draw_buffers()], self._marks
        capture, invoke, store, sent = self.capture, link.invoke_s, cluster.store, 0
        for t in times:
            marks.append((t, [m() for m in markers]))
            payload = capture(t)
            if payload is None:             # nothing to publish this round (as in :meth:`emit`)
                continue
            record = Record(t + skew, payload, name, corrupting)
            if route == ROUTE_OK:
                d = invoke(None, timeout, pause)
                if d is not None:
                    store(key, t + delay_s + d, t, record)
                    sent += 1
            elif route == ROUTE_RETRY:      # no owner answers yet: the client retries it
                cluster.retries.add(key, self.node, link, record, t + delay_s, t, None, None)
        self.sent += sent
        self.last_capture_t = times[-1]

    def replan(self) -> None:
        """Retract the captures planned after now and plan the rest of the batch again."""
        now = self.ctx.now()
        if not self.batched or self._batch_end <= now:
            return
        self.ctx.cluster.retract(self.key, now)
        self._planned = [t for t in self._planned if t <= now]
        first = next((m for t, m in self._marks if t > now), None)
        if first is not None:               # draw the re-planned sends' randomness again, exactly
            self._marks = [(t, m) for t, m in self._marks if t <= now]
            for buffer, mark in zip(self.draw_buffers(), first):
                buffer.rewind(mark)
        self.on_replan(now)
        base = self._batch_start
        k = math.floor((now - base) / self.period_s + 1.0) if base <= now else 0
        self._plan(base, k, self._batch_end)

    def last_capture(self, now: float) -> float:
        """True time of the newest capture at or before ``now``."""
        if not self.batched:
            return self.last_capture_t
        last = self._last_done
        for t in self._planned:
            if t > now:
                break
            last = t
        return last
