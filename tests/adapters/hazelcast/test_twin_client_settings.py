"""The twin's client models the Hazelcast adapter's client and health service with the adapter's own
defaults: a changed adapter default shows here, not as a silent drift of the twin's fidelity."""

from __future__ import annotations

import inspect

from hazelcast.config import Config
from hazelcast import reactor

from adapters.hazelcast import HzConfig, client_options
from twin import WorldConfig


def test_the_twin_client_defaults_are_the_adapters() -> None:
    twin, hz = WorldConfig().cluster, HzConfig()
    opts = client_options(hz)
    assert twin.client_cluster_connect_timeout_s == opts["cluster_connect_timeout"] == hz.connect_timeout_s
    # a connection without a reply closes after the same timeout; the twin pings once per agent step
    assert twin.client_heartbeat_timeout_s == opts["heartbeat_timeout"] == hz.heartbeat_timeout_s
    assert WorldConfig().agent.step_interval_s == opts["heartbeat_interval"] == hz.heartbeat_interval_s
    assert twin.client_reconnect_bound_s == hz.reconnect_bound_s
    assert twin.client_probe_interval_s == hz.probe_interval_s
    assert twin.client_retry_initial_backoff_s == opts["retry_initial_backoff"]
    assert twin.client_retry_max_backoff_s == opts["retry_max_backoff"]
    client = Config()   # what the adapter leaves at the pinned client's defaults
    assert "retry_multiplier" not in opts and twin.client_retry_multiplier == client.retry_multiplier
    assert client.retry_jitter == 0.0 and client.shuffle_member_list   # no jitter; a shuffled pass
    # the adapter's connection (socket connect) timeout is never reached through the proxies in
    # front of the members (the connect is accepted): the twin's default holds a cut try until the heal
    assert opts["connection_timeout"] == hz.connect_timeout_s and twin.client_connection_timeout_s == 0.0
    # the reactor (its wakeable loop, the one used on Linux) checks its timers between polls of this
    # length: how late the clean-up run can be
    assert "timeout=%r" % twin.client_reactor_poll_s in inspect.getsource(reactor._WakeableLoop.run_loop)
