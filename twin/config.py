"""Typed, frozen world configuration with strict validation of plain mappings.

``WorldConfig.from_mapping(d, source)`` takes the ``[market]``, ``[cluster]``, ``[network]``,
``[sensors]``, ``[exchange]`` and ``[agent]`` tables of a scenario file; any bad value raises
:class:`TwinConfigError` naming the source, the field path and what was expected. Unknown keys
are errors. Fields ending in ``_s`` also accept durations such as ``"90s"``, ``"5m"``, ``"2h"``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from controller.strict import MAX_SECONDS, StrictError, regular_file
from controller.strict import number as strict_number

from .errors import TwinConfigError, TwinError

__all__ = ["MarketConfig", "ClusterConfig", "LinkConfig", "NetworkConfig", "SensorsConfig",
           "ExchangeConfig", "AgentConfig", "WorldConfig", "LINK_NAMES", "SENSOR_NAMES", "REGIMES",
           "FRICTION_MODES", "parse_duration_s"]

REGIMES = ("calm", "trending", "crash", "mixed")
SENSOR_NAMES = ("scan", "ob", "mc_forewarner", "exf", "esof", "ledger_checksum", "heartbeat")
FRICTION_MODES: dict[str, tuple[float, float]] = {"none": (1.0, 1.0), "hell": (0.48, 0.35)}
"""Named friction modes -> (entry, exit) maker fill ratios. ``hell`` is the spec's HELL test: of the
maker orders that rest until the price reaches them, 48 % of entries and 35 % of exits fill."""
LINK_NAMES = tuple(f"sensor.{n}->cluster" for n in SENSOR_NAMES) + (
    "cluster<->agent", "agent<->exchange", "exchange->sensor.ob")


def _f(default: float, lo: float = -math.inf, hi: float = math.inf) -> Any:
    return field(default=default, metadata={"kind": float, "lo": lo, "hi": hi})


def _i(default: int, lo: int, hi: int) -> Any:
    return field(default=default, metadata={"kind": int, "lo": lo, "hi": hi})


def _c(default: str, choices: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"kind": str, "choices": choices})


@dataclass(frozen=True)
class MarketConfig:
    """Synthetic correlated market, or replay of a price file (``replay_path``).

    ``edge_*``: the planted edge of the DOLPHIN signal (see :mod:`twin.market`): after a scan whose
    vel_div per asset is below ``-edge_threshold``, its top-ranked assets drift by ``edge_drift_bps``
    (negative: they fall, which favours the default short entries) over ``edge_horizon_s``; 0 = no edge.
    """

    assets: int = _i(50, 2, 1000)
    regime: str = _c("calm", REGIMES)
    replay_path: str = field(default="", metadata={"kind": str})
    step_s: float = _f(1.0, 0.05, 60.0)
    vol_annual: float = _f(0.6, 0.0, 10.0)
    sectors: int = _i(5, 1, 50)
    shock_rate_per_day: float = _f(0.0, 0.0, 1000.0)
    shock_magnitude: float = _f(0.5, 0.0, 1.0)
    shock_crash_s: float = _f(900.0, 0.0, 86400.0)
    edge_drift_bps: float = _f(-12.0, -10000.0, 10000.0)
    edge_threshold: float = _f(0.02, 0.0, 1.0)
    edge_horizon_s: float = _f(600.0, 1.0, 86400.0)


@dataclass(frozen=True)
class ClusterConfig:
    """The Hazelcast model. ``quorum_size`` 0 means a majority of ``members``.

    Member failure detection: a crashed member (its connections reset) after ``crash_detection_s``,
    a silent one (partitioned or paused: no heartbeats) after ``detection_delay_s``; the sides of a
    healed partition merge at the members' split-brain merge rounds (every
    ``merge_next_run_delay_s``, a restarted member's first ``merge_first_run_delay_s`` after its
    start; a master's check waits ``merge_connect_timeout_s`` on each address it cannot reach (Hazelcast's
    5 s counted down in 10 ms sleeps: 5.08-5.12 s measured in the members' logs); a
    side merges into a larger one at its master's check, joining it ``merge_join_s`` later (however
    close behind another join: the master handles join requests at once), or, if its target is
    itself merging, once it has reconnected to it, at the target's own first join try — sent again every
    ``merge_join_wait_s`` (Hazelcast's fixed 1 s) if that try did not join the target:
    :mod:`twin.merge`; a member that lost its master claims mastership first, waiting
    ``fetch_member_list_s`` on a younger member it cannot reach, and its side's members keep their old
    member list until the claim ends); a restarted member (a new process) joins after ``restart_join_s``
    (its start-up).
    Client timings: a connection is closed after ``client_heartbeat_timeout_s`` without a reply.
    A client left with no connection tries the members one at a time in shuffled passes
    (:mod:`twin.reconnect`, the Hazelcast adapter's client and health service): a live member it
    reaches connects ``client_reconnect_s`` later (connect and authentication); a refused try fails
    at the client's next clean-up run (``client_connect_attempt_s`` 0.1 s after the previous one, up to
    ``client_reactor_poll_s`` 0.01 s late: the reactor's idle poll); a try through a cut
    holds until the heal (then fails at the next clean-up run) or ``client_connection_timeout_s``
    (0: none — the proxy in front of a member accepts the connect); after a failed pass the client
    sleeps a backoff (``client_retry_initial_backoff_s`` × ``client_retry_multiplier`` per pass up to
    ``client_retry_max_backoff_s``: the adapter's 0.1 s / 1.05 / 1 s), or gives up once it has tried
    for ``client_cluster_connect_timeout_s`` (the adapter's ``connect_timeout_s``, 5 s). The health
    service, every ``client_probe_interval_s`` (0.5 s), replaces a client that gave up or that has been
    disconnected (and alive) for more than ``client_reconnect_bound_s`` (10 s). A connected client
    re-opens a lost member's connection at its next check (every agent tick, as the client's 1 s
    connect-all-members timer) once the member has answered for ``client_reconnect_s``. An operation is retried
    every ``invocation_retry_pause_s`` until ``invocation_timeout_s`` (the hazelcast-python-client
    defaults: 1 s and 120 s).
    """

    members: int = _i(3, 1, 15)
    partitions: int = _i(271, 1, 100000)
    backup_count: int = _i(1, 0, 6)
    quorum_size: int = _i(0, 0, 15)
    detection_delay_s: float = _f(5.0, 0.0, 3600.0)
    crash_detection_s: float = _f(0.35, 0.0, 3600.0)
    merge_first_run_delay_s: float = _f(5.0, 0.0, 86400.0)
    merge_next_run_delay_s: float = _f(5.0, 0.001, 86400.0)
    merge_connect_timeout_s: float = _f(5.1, 0.0, 3600.0)
    merge_join_s: float = _f(0.04, 0.0, 3600.0)
    merge_join_wait_s: float = _f(1.0, 0.0, 3600.0)
    fetch_member_list_s: float = _f(5.0, 0.0, 3600.0)
    restart_join_s: float = _f(4.5, 0.0, 3600.0)
    migration_s: float = _f(0.004, 0.0, 3600.0)
    client_heartbeat_timeout_s: float = _f(10.0, 0.5, 3600.0)
    client_reconnect_s: float = _f(0.005, 0.0, 3600.0)
    client_connect_attempt_s: float = _f(0.1, 0.0, 3600.0)
    client_retry_initial_backoff_s: float = _f(0.1, 0.001, 3600.0)
    client_retry_max_backoff_s: float = _f(1.0, 0.001, 3600.0)
    client_retry_multiplier: float = _f(1.05, 1.0, 100.0)
    client_connection_timeout_s: float = _f(0.0, 0.0, 3600.0)
    client_reactor_poll_s: float = _f(0.01, 0.0, 1.0)
    client_cluster_connect_timeout_s: float = _f(5.0, 0.0, 86400.0)
    client_reconnect_bound_s: float = _f(10.0, 0.0, 86400.0)
    client_probe_interval_s: float = _f(0.5, 0.01, 3600.0)
    invocation_timeout_s: float = _f(120.0, 0.1, 86400.0)
    invocation_retry_pause_s: float = _f(1.0, 0.01, 3600.0)

    @property
    def effective_quorum(self) -> int:
        return self.quorum_size or self.members // 2 + 1


@dataclass(frozen=True)
class LinkConfig:
    """One link's latency (mean base + exponential jitter) and loss."""

    latency_ms: float = _f(0.8, 0.0, 600000.0)
    jitter_ms: float = _f(0.3, 0.0, 600000.0)
    loss_ratio: float = _f(0.0, 0.0, 1.0)


LINK_DEFAULTS: dict[str, LinkConfig] = {"exchange->sensor.ob": LinkConfig(35.0, 5.0, 0.0)}


@dataclass(frozen=True)
class NetworkConfig:
    """Defaults for every link, plus per-link overrides (``links``: name -> LinkConfig)."""

    latency_ms: float = _f(0.8, 0.0, 600000.0)
    jitter_ms: float = _f(0.3, 0.0, 600000.0)
    loss_ratio: float = _f(0.0, 0.0, 1.0)
    links: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = field(default=(), metadata={"kind": "links"})

    def link(self, name: str) -> LinkConfig:
        """The link's settings: its own default (or the network's), then its overrides."""
        base = LINK_DEFAULTS.get(name) or LinkConfig(self.latency_ms, self.jitter_ms, self.loss_ratio)
        for n, overrides in self.links:
            if n == name:
                return dataclasses.replace(base, **dict(overrides))
        return base


@dataclass(frozen=True)
class SensorsConfig:
    """Publish periods of the sensor services and their restart time after a crash."""

    scan_interval_s: float = _f(5.0, 0.1, 3600.0)
    scan_short_window: int = _i(50, 3, 100000)
    scan_long_window: int = _i(750, 3, 100000)
    ob_interval_s: float = _f(0.1, 0.01, 3600.0)
    mc_interval_s: float = _f(60.0, 0.1, 86400.0)
    exf_interval_s: float = _f(60.0, 0.1, 86400.0)
    esof_interval_s: float = _f(300.0, 0.1, 86400.0)
    checksum_interval_s: float = _f(10.0, 0.1, 86400.0)
    heartbeat_interval_s: float = _f(1.0, 0.1, 3600.0)
    restart_s: float = _f(20.0, 0.0, 86400.0)


@dataclass(frozen=True)
class ExchangeConfig:
    """Books, fees, impact, the maker queue model (:mod:`twin.queue`), rejects and the friction mode.

    ``maker_mean_fill_s``: time for the volume traded at a touched level to equal its depth in a
    calm, still market. ``partial_fill_ratio``: probability that a bid (ask) falling through a
    maker order's level was the level being pulled, not traded, so only that step's volume
    reaches the order. ``tick_bps``: width of a price level. ``friction``: a named mode of
    :data:`FRICTION_MODES` (``"hell"``), or ``"none"`` and the raw ``entry_fill_ratio`` /
    ``exit_fill_ratio``; :attr:`fill_ratios` is what applies.
    """

    spread_bps: float = _f(2.0, 0.0, 10000.0)
    taker_fee_bps: float = _f(5.0, -100.0, 1000.0)
    maker_fee_bps: float = _f(1.0, -100.0, 1000.0)
    depth_notional: float = _f(250000.0, 1.0, 1e12)
    impact_bps: float = _f(10.0, 0.0, 10000.0)
    maker_mean_fill_s: float = _f(20.0, 0.01, 86400.0)
    partial_fill_ratio: float = _f(0.2, 0.0, 1.0)
    reject_ratio: float = _f(0.0, 0.0, 1.0)
    entry_fill_ratio: float = _f(1.0, 0.0, 1.0)
    exit_fill_ratio: float = _f(1.0, 0.0, 1.0)
    tick_bps: float = _f(1.0, 0.0, 10000.0)
    friction: str = _c("none", tuple(FRICTION_MODES))

    @property
    def fill_ratios(self) -> tuple[float, float]:
        """(entry, exit) maker fill ratios in force: the named mode's, else the raw ratios."""
        if self.friction != "none":
            return FRICTION_MODES[self.friction]
        return self.entry_fill_ratio, self.exit_fill_ratio


@dataclass(frozen=True)
class AgentConfig:
    """Trading logic, bet sizing and the agent's periodic duties."""

    capital: float = _f(100000.0, 1.0, 1e12)
    base_fraction: float = _f(0.1, 0.0, 1.0)
    leverage: float = _f(5.0, 0.0, 100.0)
    entry_side: str = _c("short", ("short", "long"))
    entry_threshold: float = _f(0.02, 0.0, 1.0)      # on vel_div / N (per asset)
    entries_per_signal: int = _i(2, 1, 1000)
    max_positions: int = _i(5, 0, 1000)
    take_profit_bps: float = _f(120.0, 0.1, 100000.0)
    stop_bps: float = _f(45.0, 0.1, 100000.0)
    max_hold_s: float = _f(1800.0, 1.0, 1e7)
    maker_timeout_s: float = _f(60.0, 0.1, 86400.0)
    exit_timeout_s: float = _f(30.0, 0.1, 86400.0)
    step_interval_s: float = _f(1.0, 0.01, 3600.0)
    reconcile_interval_s: float = _f(10.0, 0.1, 86400.0)
    equity_interval_s: float = _f(10.0, 0.1, 86400.0)
    journal_repair_s: float = _f(30.0, 0.0, 86400.0)
    flatten_on_hibernate: bool = field(default=False, metadata={"kind": bool})


_SECTIONS = {"market": MarketConfig, "cluster": ClusterConfig, "network": NetworkConfig,
             "sensors": SensorsConfig, "exchange": ExchangeConfig, "agent": AgentConfig}


@dataclass(frozen=True)
class WorldConfig:
    """Everything that shapes a world; defaults make a realistic, healthy one."""

    market: MarketConfig = field(default_factory=MarketConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    sensors: SensorsConfig = field(default_factory=SensorsConfig)
    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<mapping>") -> "WorldConfig":
        """Validate a plain mapping of section tables; raises :class:`TwinConfigError`."""
        if not isinstance(data, Mapping):
            raise TwinConfigError(source, "<root>", "a table of sections", type(data).__name__)
        unknown = sorted(set(map(str, data)) - set(_SECTIONS))
        if unknown:
            raise TwinConfigError(source, unknown[0], f"one of the sections {', '.join(_SECTIONS)}")
        built = {name: _build(kind, data.get(name, {}), source, name) for name, kind in _SECTIONS.items()}
        world = cls(**built)
        world.check(source)
        return world

    def check(self, source: str = "<config>") -> None:
        """Cross-field checks; raises :class:`TwinConfigError`."""
        s = self.sensors
        if s.scan_long_window < s.scan_short_window:
            raise TwinConfigError(source, "sensors.scan_long_window",
                                  f"an integer >= sensors.scan_short_window ({s.scan_short_window})",
                                  s.scan_long_window)
        ex = self.exchange
        if ex.friction != "none" and (ex.entry_fill_ratio, ex.exit_fill_ratio) != (1.0, 1.0):
            raise TwinConfigError(source, "exchange.friction",
                                  "either a named friction mode or entry_fill_ratio/exit_fill_ratio, not both",
                                  ex.friction)
        if self.cluster.quorum_size > self.cluster.members:
            raise TwinConfigError(source, "cluster.quorum_size",
                                  f"0 (majority) or at most cluster.members ({self.cluster.members})",
                                  self.cluster.quorum_size)
        if self.market.replay_path:
            _check_replay(self.market.replay_path, self.market.step_s, source)


_PRICE_MAGIC = (b"ARROW1", b"PAR1", b"\xff\xff\xff\xff")


def _price_file_kind(p: Any) -> str | None:
    with open(p, "rb") as fh:
        head = fh.read(8)
    return None if head.startswith(_PRICE_MAGIC) else "not an Arrow IPC or Parquet file"


def _check_replay(path: str, step_s: float, source: str) -> None:
    """``market.replay_path`` must name a readable regular Arrow/Parquet price file that loads, now."""
    from .replay import SAMPLE_NAME, load_replay

    field_ = "market.replay_path"
    if path != SAMPLE_NAME:
        try:
            regular_file(path, source, field_, "an Arrow IPC or Parquet price file", kind=_price_file_kind)
        except StrictError as exc:
            raise TwinConfigError(exc.source, exc.path, exc.expected, exc.got) from None
    try:
        load_replay(path, step_s)
    except TwinError as exc:
        raise TwinConfigError(source, field_, f'"sample" or a valid price file ({exc})', path) from None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration_s(text: str) -> float | None:
    """Seconds in ``"90s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``; None if not a duration or longer than
    :data:`controller.strict.MAX_SECONDS` (so ``"<400 nines>h"`` is an error, never infinity)."""
    t = text.strip().replace(" ", "")
    if len(t) > 64:
        return None
    pos, total = 0, 0.0
    for m in _DURATION.finditer(t):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return total if t and pos == len(t) and math.isfinite(total) and total <= MAX_SECONDS else None


def _build(kind: type, table: Any, source: str, path: str) -> Any:
    if not isinstance(table, Mapping):
        raise TwinConfigError(source, path, "a table", type(table).__name__)
    fields = {f.name: f for f in dataclasses.fields(kind)}
    values = {}
    for key in sorted(map(str, table)):
        if key not in fields:
            raise TwinConfigError(source, f"{path}.{key}", f"a known key ({', '.join(fields)})")
        values[key] = _value(fields[key], table[key], source, f"{path}.{key}")
    return kind(**values)


def _value(f: dataclasses.Field, raw: Any, source: str, path: str) -> Any:
    meta = f.metadata
    kind = meta["kind"]
    if kind == "links":
        return _links(raw, source, path)
    if kind is bool:
        if not isinstance(raw, bool):
            raise TwinConfigError(source, path, "true or false", raw)
        return raw
    if kind is str:
        if not isinstance(raw, str):
            raise TwinConfigError(source, path, "a string", raw)
        choices = meta.get("choices")
        if choices and raw not in choices:
            raise TwinConfigError(source, path, f"one of {', '.join(choices)}", raw)
        return raw
    return _number(kind, meta, raw, source, path, f.name.endswith("_s"))


def _number(kind: type, meta: Mapping[str, Any], raw: Any, source: str, path: str, duration: bool) -> Any:
    lo, hi = meta["lo"], meta["hi"]
    what = "an integer" if kind is int else ("a number of seconds or a duration like \"90s\"" if duration
                                              else "a number")
    value = raw
    if duration and isinstance(raw, str):
        value = parse_duration_s(raw)
    ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
    if not ok or isinstance(value, bool):
        raise TwinConfigError(source, path, what, raw)
    try:                        # finite, and an integer of any size compares without float() overflow
        strict_number(value, source, path, lo, hi)
    except StrictError:
        raise TwinConfigError(source, path, f"{what} in [{lo:g}, {hi:g}]", raw) from None
    return kind(value)


def _links(raw: Any, source: str, path: str) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    if not isinstance(raw, Mapping):
        raise TwinConfigError(source, path, "a table of link name -> {latency_ms, jitter_ms, loss_ratio}", raw)
    out = []
    for name in sorted(map(str, raw)):
        if name not in LINK_NAMES:
            raise TwinConfigError(source, f"{path}.{name}", f"a link name ({', '.join(LINK_NAMES)})")
        built = _build(LinkConfig, raw[name], source, f'{path}."{name}"')
        given = sorted(map(str, raw[name]))
        out.append((name, tuple((k, getattr(built, k)) for k in given)))
    return tuple(out)
