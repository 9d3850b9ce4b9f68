"""An embedded Toxiproxy-compatible TCP fault proxy (asyncio).

It serves the Toxiproxy HTTP API that ``toxiproxy-python`` uses, and the toxics ``latency`` (with
jitter), ``bandwidth``, ``timeout``, ``reset_peer``, ``slow_close``, ``slicer`` and ``limit_data``
with stream direction and toxicity, on real TCP connections. Tests drive it only through
``toxiproxy-python``, so a real Toxiproxy server can replace it by changing the API address.
"""

from .api import API_VERSION, ToxiproxyApi
from .errors import FaultProxyError
from .proxy import ProxyConflict, ProxyNotFound, TcpProxy
from .server import FaultProxyServer
from .toxics import STREAMS, TOXIC_ATTRIBUTES, ToxicSpec, parse_toxic, update_toxic

__all__ = [
    "API_VERSION",
    "FaultProxyError",
    "FaultProxyServer",
    "ProxyConflict",
    "ProxyNotFound",
    "STREAMS",
    "TOXIC_ATTRIBUTES",
    "TcpProxy",
    "ToxicSpec",
    "ToxiproxyApi",
    "parse_toxic",
    "update_toxic",
]
