"""Run a controller from a :class:`~adapters.source.SignalSource`: on a timer and at once on flips.

A small stand-in for the NautilusTrader actor's timer, used by the chaos tests and the benchmark:
the same ``SurvivalController.step`` is called, only the scheduling differs.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from adapters.source import SignalSource

__all__ = ["ControllerDriver"]


class ControllerDriver:
    """Steps ``controller`` every ``period_s`` and immediately when an invariant signal flips.

    Args:
        controller: anything with ``step(now_s, signals) -> Decision``.
        source: where the signals come from.
        clock: wall-clock seconds (the same clock the source's ages use).
        period_s: timer period.
        on_decision: called with every decision, on the stepping thread.
    """

    def __init__(self, controller: Any, source: SignalSource, *, clock: Callable[[], float] = time.time,
                 period_s: float = 0.25, on_decision: Callable[[Any], None] | None = None) -> None:
        self._controller = controller
        self._source = source
        self._clock = clock
        self._period_s = period_s
        self._on_decision = on_decision
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_now = float("-inf")
        self.last_decision: Any = None
        self.steps = 0
        self.immediate_steps = 0
        source.on_invariant_change(self._on_flip)

    def start(self) -> "ControllerDriver":
        self._thread = threading.Thread(target=self._run, name="nor-controller-driver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            self.step()

    def _on_flip(self) -> None:
        self.immediate_steps += 1
        self.step()

    def step(self) -> Any:
        """One controller step now (serialised; time never goes backwards for the controller)."""
        with self._lock:
            now_s = max(self._clock(), self._last_now)
            self._last_now = now_s
            decision = self._controller.step(now_s, self._source.signals(now_s))
            self.last_decision = decision
            self.steps += 1
        if self._on_decision is not None:
            self._on_decision(decision)
        return decision
