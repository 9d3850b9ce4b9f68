"""Build a real ``hazelcast.HazelcastClient`` from :class:`HzConfig`.

Clients always start asynchronously: a constructor that blocks until the cluster answers would
hang forever when an authentication reply is swallowed (the reconnect watchdog owns that case).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import hazelcast
from hazelcast.config import InMemoryFormat, ReconnectMode

from .config import HzConfig
from .record import HealthRecordSerializer

__all__ = ["client_options", "build_client"]


def client_options(cfg: HzConfig, *, near_cache: bool | None = None, async_start: bool = True,
                   lifecycle_listeners: Iterable[Callable[[str], None]] = ()) -> dict[str, Any]:
    """The keyword options passed to ``HazelcastClient`` (exposed for inspection in tests)."""
    opts: dict[str, Any] = {
        "cluster_members": list(cfg.members),
        "cluster_name": cfg.cluster_name,
        "smart_routing": cfg.smart_routing,
        "async_start": async_start,
        "reconnect_mode": ReconnectMode.ON,
        "cluster_connect_timeout": cfg.connect_timeout_s,
        "connection_timeout": cfg.connect_timeout_s,
        "heartbeat_interval": cfg.heartbeat_interval_s,
        "heartbeat_timeout": cfg.heartbeat_timeout_s,
        "invocation_timeout": cfg.invocation_timeout_s,
        "retry_initial_backoff": 0.1,
        "retry_max_backoff": 1.0,
        "compact_serializers": [HealthRecordSerializer()],
        "lifecycle_listeners": list(lifecycle_listeners),
        "statistics_enabled": False,
    }
    if cfg.client_name:
        opts["client_name"] = cfg.client_name
    if cfg.username is not None:
        opts["creds_username"] = cfg.username
        opts["creds_password"] = cfg.password
    if cfg.tls.enabled:
        opts.update(ssl_enabled=True, ssl_cafile=cfg.tls.cafile, ssl_certfile=cfg.tls.certfile,
                    ssl_keyfile=cfg.tls.keyfile, ssl_password=cfg.tls.key_password,
                    ssl_check_hostname=cfg.tls.check_hostname)
    if cfg.near_cache if near_cache is None else near_cache:
        # the pinned Python client's near cache has no repair (no reservations, no invalidation
        # sequence check): a read whose reply arrives after the invalidation for a newer write
        # stores the older value, for good. A time-to-live bounds how long such an entry lives.
        opts["near_caches"] = {
            cfg.map_name: {"invalidate_on_change": True, "in_memory_format": InMemoryFormat.OBJECT,
                           "time_to_live": cfg.near_cache_ttl_s}
        }
    return opts


def build_client(cfg: HzConfig, *, near_cache: bool | None = None, async_start: bool = True,
                 lifecycle_listeners: Iterable[Callable[[str], None]] = ()) -> hazelcast.HazelcastClient:
    """Create and start a client (returns at once with ``async_start``; connects in background)."""
    return hazelcast.HazelcastClient(**client_options(
        cfg, near_cache=near_cache, async_start=async_start, lifecycle_listeners=lifecycle_listeners))
