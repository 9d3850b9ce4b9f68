"""Hazelcast adapter: the survival controller's inputs from a real Hazelcast grid.

Writers publish checksummed compact records to ``DOLPHIN_HEALTH_GRID``; the agent-side
:class:`HazelcastHealthService` reads them through a near cache and an entry listener, tracks
lifecycle and membership, replaces a client stuck DISCONNECTED, and exposes a
:class:`HealthWatchdog` (a :class:`adapters.source.SignalSource`).
"""

from .client import build_client, client_options
from .config import DEFAULT_MAP_NAME, HzConfig, TlsConfig, load_hz_config
from .driver import ControllerDriver
from .errors import HazelcastAdapterError, HzConfigError
from .reader import HealthReader
from .record import HealthRecord, HealthRecordSerializer, checksum_of, make_record
from .service import HazelcastHealthService, health_source_from_env
from .state import GridSnapshot, GridState
from .watchdog import DEFAULT_INVARIANTS, DEFAULT_SIGNALS, HealthWatchdog
from .writer import HealthWriter

__all__ = [
    "DEFAULT_INVARIANTS",
    "DEFAULT_MAP_NAME",
    "DEFAULT_SIGNALS",
    "ControllerDriver",
    "GridSnapshot",
    "GridState",
    "HazelcastAdapterError",
    "HazelcastHealthService",
    "HealthReader",
    "HealthRecord",
    "HealthRecordSerializer",
    "HealthWatchdog",
    "HealthWriter",
    "HzConfig",
    "HzConfigError",
    "TlsConfig",
    "build_client",
    "checksum_of",
    "client_options",
    "load_hz_config",
    "health_source_from_env",
    "make_record",
]
