"""The digital twin: a deterministic SimPy world of sensors, network, Hazelcast cluster, exchange
and trading agent around the unchanged survival controller.

    from twin import World, WorldConfig
    trace = World(WorldConfig(), "survival", seed=1).run(3600.0)
    trace.write("runs/x")
"""

from .config import (AgentConfig, ClusterConfig, ExchangeConfig, LinkConfig, MarketConfig, NetworkConfig,
                     SensorsConfig, WorldConfig, FRICTION_MODES, LINK_NAMES, SENSOR_NAMES, REGIMES,
                     parse_duration_s)
from .errors import TwinConfigError, TwinError
from .ports import (FAULT_PORTS, ClockPort, ClusterPort, ExchangePort, LedgerPort, LinkPort, MarketPort,
                    NetworkPort, SensorPort)
from .trace import TABLES, Trace
from .watchdog import SIGNALS
from .wiring import EFFECTS, INTEGRITY, TIMING, VALUE, Flow, Wiring
from .world import World, wiring_of

__all__ = [
    "AgentConfig", "ClockPort", "ClusterConfig", "ClusterPort", "EFFECTS", "ExchangeConfig", "ExchangePort",
    "FAULT_PORTS", "Flow", "INTEGRITY", "TIMING", "VALUE", "Wiring", "wiring_of",
    "FRICTION_MODES",
    "LINK_NAMES", "LedgerPort", "LinkConfig", "LinkPort", "MarketConfig", "MarketPort", "NetworkConfig",
    "NetworkPort", "REGIMES", "SENSOR_NAMES", "SIGNALS", "SensorPort", "SensorsConfig", "TABLES", "Trace",
    "TwinConfigError", "TwinError", "World", "WorldConfig", "parse_duration_s",
]
