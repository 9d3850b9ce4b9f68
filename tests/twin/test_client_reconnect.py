"""A disconnected client tries the members' addresses one at a time on its own timeline (the
hazelcast-python-client's passes and wait strategy), so it notices a heal at the next address it
tries, not at the agent's next tick."""

from __future__ import annotations

import itertools

from twin import World, WorldConfig
from twin.client import connection_tries, retry_backoffs


def _times(world: World, kind: str) -> list[float]:
    events = world.trace().tables["events"].to_pydict()
    return [t for t, k in zip(events["t_s"], events["kind"]) if k == kind]


def test_the_backoff_grows_by_the_multiplier_up_to_the_cap() -> None:
    cfg = WorldConfig().cluster
    waits = list(itertools.islice(retry_backoffs(cfg), 60))
    assert waits[0] == cfg.client_retry_initial_backoff_s
    assert abs(waits[1] - waits[0] * cfg.client_retry_multiplier) < 1e-12
    assert max(waits) == waits[-1] == cfg.client_retry_max_backoff_s


def test_a_pass_tries_every_address_one_failed_try_apart_then_sleeps_the_backoff() -> None:
    cfg = WorldConfig().cluster
    tries = list(itertools.islice(connection_tries(cfg, 3), 7))
    c, b = cfg.client_connect_attempt_s, list(itertools.islice(retry_backoffs(cfg), 2))
    assert [m for _, m in tries] == [0, 1, 2, 0, 1, 2, 0]
    assert [w for w, _ in tries] == [0.0, c, c, c + b[0], c, c, c + b[1]]


def test_a_healed_client_reconnects_at_the_next_address_it_tries_after_the_heal() -> None:
    for heal in (55.55, 56.02):
        w = World(WorldConfig(), "survival", 7)     # agent ticks every 1 s
        w.at(40.0, lambda: w.ports["network"].partition([["agent"]]))
        w.at(heal, w.ports["network"].heal)
        w.run(70.0)
        cfg = w.config.cluster
        (down,), (up,) = _times(w, "client_disconnected"), _times(w, "client_connected")
        step = w.config.agent.step_interval_s   # the last reply was at the tick before the cut
        assert 40.0 - step + cfg.client_heartbeat_timeout_s <= down <= 40.0 + cfg.client_heartbeat_timeout_s + step
        attempt = down
        for wait, _ in connection_tries(cfg, len(w.ctx.cluster.names)):
            attempt += wait
            if attempt >= heal:
                break
        assert abs(up - (attempt + cfg.client_reconnect_s)) < 1e-9, (down, up, attempt)
        assert up - heal <= cfg.client_connect_attempt_s + cfg.client_retry_max_backoff_s + cfg.client_reconnect_s
