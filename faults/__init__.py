"""Faults: the fault vocabulary, random schedules, and the embedded Toxiproxy-compatible TCP fault proxy.

    from faults import parse_fault, inject, KINDS
    fault = parse_fault({"kind": "sensor_stale", "target": "mc_forewarner", "at": "1h", "for": "2h"},
                        "my.toml", "fault[0]", world.config)
    inject(world, [fault])          # acts only through world.ports; recorded as fault_start/fault_end events

Random schedules: :func:`draw_swarm` (per seed: enabled kinds and rates, then faults) and
:func:`draw_count_schedule` (the form ``nor explore`` shrinks), within a :class:`FaultModel`.
The TCP proxy lives in :mod:`faults.proxy`.
"""

from .errors import FaultError, FaultSpecError
from .inject import Injector, inject
from .kinds import KINDS, FaultKind, kind, network_nodes
from .params import Param, parse_seconds
from .parse import check_fault, parse_fault
from .spec import Fault
from .swarm import (Chooser, FaultModel, KindModel, NumpyChooser, default_fault_model, draw_count_schedule,
                    draw_fault, draw_swarm)

__all__ = [
    "Chooser", "Fault", "FaultError", "FaultKind", "FaultModel", "FaultSpecError", "Injector", "KINDS", "KindModel",
    "NumpyChooser", "Param", "check_fault", "default_fault_model", "draw_count_schedule", "draw_fault",
    "draw_swarm", "inject", "kind", "network_nodes", "parse_fault", "parse_seconds",
]
