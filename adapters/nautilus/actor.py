"""The survival Actor: runs the unchanged ``SurvivalController`` inside NautilusTrader.

On a clock timer (default every 1 s) and immediately when its source reports an
invariant event, the Actor reads ``(now_s, signals)`` from its :class:`StepSource`, calls
``controller.step(now_s, signals)`` and publishes the decision on the message bus as
:class:`SurvivalDecisionData` (subscribe with ``subscribe_data(DECISION_DATA_TYPE)``).
"""

from __future__ import annotations

from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.config import ActorConfig
from nautilus_trader.core.data import Data

from .data import DECISION_DATA_TYPE, SurvivalDecisionData, decision_to_data
from .errors import ActorConfigError, InterfaceError
from .sources import SignalReading, StepSource

__all__ = ["SurvivalActor", "SurvivalActorConfig"]


class SurvivalActorConfig(ActorConfig, frozen=True, kw_only=True):
    """Settings of the survival Actor.

    interval_s : seconds between timer steps (> 0).
    fire_immediately : also step when the Actor starts (the timer's first tick).
    timer_name : the clock timer's name (unique per clock).
    warmup_timeout_s : with a ``ready`` callable, the longest the first step waits for it.
    """

    interval_s: float = 1.0
    fire_immediately: bool = True
    timer_name: str = "nor.survival"
    warmup_timeout_s: float = 10.0


class SurvivalActor(Actor):
    """Steps ``controller`` from ``source`` and publishes every decision.

    Parameters
    ----------
    controller : object with ``step(now_s, signals)`` (``SurvivalController`` or a baseline)
    source : StepSource (``ReplaySignalSource`` or ``LiveSignalFeed``)
    config : SurvivalActorConfig, optional
    ready : optional ``() -> bool``: the first step waits (checked every 0.1 s, at most
        ``warmup_timeout_s``) until it is true — e.g. until every service has published its first
        record, as the twin's sensors have at t = 0. No decision (so no entry) before that.

    Step times never go backwards: a live timer tick scheduled before an event step already
    taken is stepped at that event's time.
    """

    def __init__(self, controller: Any, source: StepSource, config: SurvivalActorConfig | None = None,
                 ready: Any = None) -> None:
        config = config or SurvivalActorConfig()
        if not config.interval_s > 0.0:
            raise ActorConfigError(f"SurvivalActorConfig.interval_s: expected seconds > 0, got {config.interval_s!r}")
        if not callable(getattr(controller, "step", None)):
            raise InterfaceError(f"SurvivalActor: controller {type(controller).__name__} has no "
                                 "step(now_s, signals) method")
        super().__init__(config)
        self.controller = controller
        self.source = source
        self._interval_ns = int(round(config.interval_s * 1e9))
        self._timer_name = config.timer_name
        self._fire_immediately = config.fire_immediately
        self.last_decision: SurvivalDecisionData | None = None
        self.decision_count = 0
        self._ready = ready
        self._warmup_deadline_ns = 0
        self._last_ts_ns = 0

    def on_start(self) -> None:
        if self._ready is None:
            self._begin()
            return
        self._warmup_deadline_ns = self.clock.timestamp_ns() + int(self.config.warmup_timeout_s * 1e9)
        self.clock.set_timer_ns(f"{self._timer_name}.warmup", 100_000_000, self.clock.timestamp_ns(), 0,
                                callback=self._warmup, allow_past=True, fire_immediately=True)

    def _warmup(self, event: TimeEvent) -> None:
        if self._ready() or self.clock.timestamp_ns() >= self._warmup_deadline_ns:
            self.clock.cancel_timer(f"{self._timer_name}.warmup")
            self._begin()

    def _begin(self) -> None:
        for data_type in self.source.subscriptions:
            self.subscribe_data(data_type)
        invariants = frozenset(getattr(self.controller, "invariant_signals", frozenset()))
        self.source.bind(self.step_now, invariants)
        now_ns = self.clock.timestamp_ns()
        self.clock.set_timer_ns(
            self._timer_name, self._interval_ns, now_ns, 0,
            callback=self._on_timer, allow_past=True, fire_immediately=self._fire_immediately,
        )

    def on_stop(self) -> None:
        for name in (self._timer_name, f"{self._timer_name}.warmup"):
            if name in self.clock.timer_names:
                self.clock.cancel_timer(name)
        self.source.close()
        for data_type in self.source.subscriptions:
            self.unsubscribe_data(data_type)

    def on_data(self, data: Data) -> None:
        self.source.handle_data(data)

    def _on_timer(self, event: TimeEvent) -> None:
        self._step(event.ts_event, "timer")
        for trigger, reading in self.source.after_timer(event.ts_event):
            self._step(event.ts_event, trigger, reading)

    def step_now(self, trigger: str = "request", reading: SignalReading | None = None) -> SurvivalDecisionData:
        """Step at the clock's current time (an invariant event) and publish the decision.

        ``reading`` is what to step with (a replayed row); None reads the source now.
        """
        return self._step(self.clock.timestamp_ns(), trigger, reading)

    def _step(self, ts_ns: int, trigger: str, reading: SignalReading | None = None) -> SurvivalDecisionData:
        ts_ns = self._last_ts_ns = max(ts_ns, self._last_ts_ns)
        now_s, signals = reading if reading is not None else self.source.read(ts_ns)
        decision = self.controller.step(now_s, signals)
        data = decision_to_data(decision, now_s, ts_ns, trigger)
        self.last_decision = data
        self.decision_count += 1
        self.publish_data(DECISION_DATA_TYPE, data)
        return data
