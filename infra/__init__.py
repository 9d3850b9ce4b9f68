"""Real test infrastructure: pinned Hazelcast members and a Toxiproxy server as local processes.

Used by the adapter tests, the benchmarks and ``nor infra``; imports no other project package.
"""

from .cluster import LocalCluster, free_ports
from .errors import InfraError
from .install import Installed, cache_dir, ensure_installed
from .member import HEALTH_MAP, MemberPorts, MemberProcess, MemberSettings, member_yaml
from .toxiproxy import ToxiproxyServer

__all__ = ["LocalCluster", "free_ports", "InfraError", "Installed", "cache_dir", "ensure_installed", "HEALTH_MAP",
           "MemberPorts", "MemberProcess", "MemberSettings", "member_yaml", "ToxiproxyServer"]
