"""A disconnected client's way back (:mod:`twin.reconnect`), as the Hazelcast adapter's client and
health service do it: shuffled passes, a refused try failing at the client's next clean-up run, a
try through a cut held until the heal, the give-up after the cluster connect timeout and the
service's replacement of a client that gave up or stayed disconnected too long."""

from __future__ import annotations

import dataclasses
import itertools
import statistics

import pytest

from twin import World, WorldConfig
from twin.reconnect import PHASE_FORGOTTEN_S, next_tick, retry_backoffs

EPS = 1e-9


def _times(world: World, kind: str) -> list[float]:
    events = world.trace().tables["events"].to_pydict()
    return [t for t, k in zip(events["t_s"], events["kind"]) if k == kind]


def _world(seed: int = 7, **cluster) -> World:
    cfg = WorldConfig()
    cfg = dataclasses.replace(cfg, cluster=dataclasses.replace(cfg.cluster, **cluster))
    w = World(cfg, "survival", seed)
    w.client.reconnect.tries = []
    return w


def _on_grid(t: float, phase: float, period: float) -> bool:
    k = (t - phase) / period
    return abs(k - round(k)) < 1e-6


def test_the_backoff_grows_by_the_multiplier_up_to_the_cap() -> None:
    cfg = WorldConfig().cluster
    waits = list(itertools.islice(retry_backoffs(cfg), 60))
    assert waits[0] == cfg.client_retry_initial_backoff_s
    assert abs(waits[1] - waits[0] * cfg.client_retry_multiplier) < 1e-12
    assert max(waits) == waits[-1] == cfg.client_retry_max_backoff_s


@pytest.mark.parametrize("heal", [52.3, 55.55, 56.02, 58.77])
def test_a_healed_client_reconnects_at_the_first_clean_up_run_after_the_heal(heal: float) -> None:
    """The first try at the disconnect is held by the cut; the heal closes it, it fails at the next
    clean-up run and the next address (a live member) answers: no backoff between heal and reconnect."""
    w = _world()
    w.at(40.0, lambda: w.ports["network"].partition([["agent"]]))
    w.at(heal, w.ports["network"].heal)
    w.run(70.0)
    cfg, rc = w.config.cluster, w.client.reconnect
    (down,), (up,) = _times(w, "client_disconnected"), _times(w, "client_connected")
    assert down < heal
    tries = [(t, what) for t, _, what in rc.tries]
    assert tries[0] == (down, "held") and all(what == "held" for t, what in tries if t < heal)
    late = cfg.client_connect_attempt_s + cfg.client_reactor_poll_s   # the next clean-up run's latest
    assert heal + cfg.client_reconnect_s < up <= heal + late + cfg.client_reconnect_s + EPS
    assert [what for t, _, what in rc.tries if t >= heal] == ["answers"]   # the next address, no backoff


def test_a_cut_client_is_replaced_after_the_bound_and_its_successor_is_held_too() -> None:
    w = _world()
    w.at(40.0, lambda: w.ports["network"].partition([["agent"]]))
    w.run(90.0)
    cfg, rc = w.config.cluster, w.client.reconnect
    (down,) = _times(w, "client_disconnected")
    replaced = [t for t, m, what in rc.tries if what == "replaced"]
    assert len(replaced) >= 3 and not _times(w, "client_connected")
    first = next_tick(down + cfg.client_reconnect_bound_s, rc._service_phase, cfg.client_probe_interval_s)
    assert abs(replaced[0] - first) < EPS
    for a, b in zip(replaced, replaced[1:]):   # each successor is replaced once it is older than the bound
        assert cfg.client_reconnect_bound_s < b - a <= cfg.client_reconnect_bound_s + cfg.client_probe_interval_s + EPS
    # every client's first try is held by the cut, and nothing else is tried while it is
    assert [what for _, _, what in rc.tries] == ["held"] + ["replaced", "held"] * len(replaced)


def test_refused_tries_fail_one_clean_up_run_apart_then_the_client_gives_up_and_is_replaced() -> None:
    """Every member dead and its address refusing (their connections reset): shuffled passes, a try
    per clean-up run, the backoff after each pass; after the cluster connect timeout the client gives
    up at the end of a pass and the service replaces it at its next tick."""
    w = _world()
    w.at(40.0, lambda: [w.ports["cluster"].kill_member(i) for i in range(3)])
    w.run(60.0)
    cfg, rc = w.config.cluster, w.client.reconnect
    (down,) = _times(w, "client_disconnected")
    assert down < 40.0 + cfg.client_connect_attempt_s + 1.0
    first_client = list(itertools.takewhile(lambda x: x[2] != "replaced", rc.tries))
    refused = [(t, m) for t, m, what in first_client if what == "refused"]
    assert refused[0][0] == down and {m for _, m in refused[:3]} == {0, 1, 2}
    orders = {tuple(m for _, m in refused[k:k + 3]) for k in range(0, len(refused) - 2, 3)}
    assert len(orders) > 1, "the member order is shuffled per pass"
    backoffs, period, poll = retry_backoffs(cfg), cfg.client_connect_attempt_s, cfg.client_reactor_poll_s
    for k in range(0, len(refused) - 3, 3):
        (t0, _), (t1, _), (t2, _), (t3, _) = refused[k:k + 4]
        assert 0 < t1 - t0 <= period + poll + EPS       # the pass's first try fails at the next clean-up run,
        assert period - EPS <= t2 - t1 <= period + poll + EPS   # the next ones start on a run: one period on
        backoff = next(backoffs)
        assert t2 + period + backoff - EPS <= t3 <= t2 + period + poll + backoff + EPS   # then the backoff
    gave_up = next(t for t, _, what in first_client if what == "gave up")
    assert cfg.client_cluster_connect_timeout_s < gave_up - down < cfg.client_cluster_connect_timeout_s + 0.5
    replaced = next(t for t, _, what in rc.tries if what == "replaced")
    assert abs(replaced - next_tick(gave_up, rc._service_phase, cfg.client_probe_interval_s)) < EPS


def test_a_connection_timeout_ends_a_held_try() -> None:
    w = _world(client_connection_timeout_s=2.0)
    w.at(40.0, lambda: w.ports["network"].partition([["agent"]]))
    w.run(56.0)
    cfg, rc = w.config.cluster, w.client.reconnect
    held = [t for t, _, what in rc.tries if what == "held"]
    assert len(held) >= 3
    for a, b in zip(held, held[1:3]):
        late = cfg.client_connect_attempt_s + cfg.client_reactor_poll_s
        assert cfg.client_connection_timeout_s < b - a <= cfg.client_connection_timeout_s + late + EPS


def test_a_forgotten_clean_up_timer_runs_uniformly_over_one_gap_between_runs() -> None:
    """Runs re-arm the timer a period after themselves and come up to a reactor poll late, so the runs
    lie on a grid of gaps ``period + lateness``; an instant unrelated to it (a heal) falls uniformly in
    a gap. A uniform due time plus a lateness (the model before) is a quarter of a poll later on
    average: median 0.0551 s instead of 0.0525 s with the defaults."""
    w = _world()
    cfg, rc = w.config.cluster, w.client.reconnect
    period, poll = cfg.client_connect_attempt_s, cfg.client_reactor_poll_s
    waits = []
    now = 100.0
    for _ in range(20000):
        now += 2.0 * PHASE_FORGOTTEN_S      # not looked at for longer than that: a fresh phase
        waits.append(rc._next_cleanup(now) - now)
    assert 0.0 < min(waits) and max(waits) <= period + poll
    assert abs(statistics.median(waits) - (period + poll / 2) / 2) < 0.001
