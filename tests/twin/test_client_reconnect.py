"""A disconnected client retries on its own backoff timeline (the hazelcast-python-client's wait
strategy), so it notices a heal at its next attempt, not at the agent's next tick."""

from __future__ import annotations

import itertools

from twin import World, WorldConfig
from twin.client import retry_backoffs


def _times(world: World, kind: str) -> list[float]:
    events = world.trace().tables["events"].to_pydict()
    return [t for t, k in zip(events["t_s"], events["kind"]) if k == kind]


def test_the_backoff_grows_by_the_multiplier_up_to_the_cap() -> None:
    cfg = WorldConfig().cluster
    waits = list(itertools.islice(retry_backoffs(cfg), 60))
    assert waits[0] == cfg.client_retry_initial_backoff_s
    assert abs(waits[1] - waits[0] * cfg.client_retry_multiplier) < 1e-12
    assert max(waits) == waits[-1] == cfg.client_retry_max_backoff_s


def test_a_healed_client_reconnects_at_its_next_attempt_after_the_heal() -> None:
    w = World(WorldConfig(), "survival", 7)     # agent ticks every 1 s
    heal = 55.55
    w.at(40.0, lambda: w.ports["network"].partition([["agent"]]))
    w.at(heal, w.ports["network"].heal)
    w.run(70.0)
    cfg = w.config.cluster
    (down,), (up,) = _times(w, "client_disconnected"), _times(w, "client_connected")
    step = w.config.agent.step_interval_s   # the last reply was at the tick before the cut
    assert 40.0 - step + cfg.client_heartbeat_timeout_s <= down <= 40.0 + cfg.client_heartbeat_timeout_s + step
    attempt = down
    for wait in retry_backoffs(cfg):    # the first attempt at the disconnect, then after each backoff
        if attempt >= heal:
            break
        attempt += wait
    assert abs(up - (attempt + cfg.client_reconnect_s)) < 1e-9, (down, up, attempt)
    assert up - heal < w.config.agent.step_interval_s / 2     # a tick-bound check could not be this quick
