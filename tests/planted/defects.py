"""The planted-defect catalogue: variants of the controller, agent, exchange or ledger with one deliberate bug
each, and the checks that must catch it.

A variant is injected through real extension points only: a controller is any object with ``step`` built from
the scenario's config (a :class:`~controller.SurvivalController` subclass, or one built from an altered
config); an agent, exchange, ledger, cluster client or cluster is a subclass of the twin's class, run by a
:class:`twin.World` subclass with that component class attribute replaced (``world_factory``), through the
``world_factory`` hook of :func:`scenarios.case.simulate` / :func:`scenarios.case.run_case`. The checks always judge against the scenario's *declared* config.

To add one: write the variant below (a subclass overriding as little as possible), then add a
:class:`Defect` to :data:`CATALOGUE` naming the scenario(s) of ``tests/planted/scenarios`` it runs and the
check(s) that must fail on it. ``tests/planted/test_catalogue.py`` runs it, and also requires every
always-on and expectation check to be tripped by at least one defect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from controller import ControllerConfig, Posture, SurvivalController
from twin import World
from twin.agent import Agent
from twin.client import Client
from twin.cluster import Cluster
from twin.exchange import Exchange
from twin.orders import Fill, Order
from twin.portfolio import Portfolio
from twin.ports import Ledger

from tests.twin.planted_early_member_list import EarlyMemberListCluster
from tests.twin.planted_partition_oracle import PartitionOracleClient

__all__ = ["Defect", "CATALOGUE", "world_factory"]


# -- the injection point: a World running variant classes --------------------------------------------------
def world_factory(agent: type = Agent, exchange: type = Exchange, ledger: type = Ledger,
                  client: type = Client, cluster: type = Cluster) -> Callable[..., World]:
    """A ``world_factory`` for :func:`scenarios.case.simulate`: a :class:`twin.World` subclass whose component
    class attributes (``agent_cls``, ``exchange_cls``, ``ledger_cls``, ``client_cls``, ``cluster_cls``) are these
    variants."""
    if (agent, exchange, ledger, client, cluster) == (Agent, Exchange, Ledger, Client, Cluster):
        return World
    return type("VariantWorld", (World,), {"agent_cls": agent, "exchange_cls": exchange, "ledger_cls": ledger,
                                           "client_cls": client, "cluster_cls": cluster})


# -- controller variants -----------------------------------------------------------------------------------
class LatchingHibernate(SurvivalController):
    """Bug: once HIBERNATE, it never leaves (a latch where a dwell was meant)."""

    _latched = False

    def step(self, now_s: float, signals: Any) -> Any:
        d = super().step(now_s, signals)
        self._latched = self._latched or d.posture == Posture.HIBERNATE
        if self._latched:
            return d._replace(r_total=0.0, posture=Posture.HIBERNATE, max_leverage=0.0, entries_allowed=False,
                              taker_allowed=False)
        return d


class FastRecovery(SurvivalController):
    """Bug: compiled with every layer recovering 20× faster than the config it declares."""

    def __init__(self, config: ControllerConfig) -> None:
        data = config.to_dict()
        for layer in data["layers"]:
            layer["recovery_per_min"] = min(10.0, 20.0 * layer["recovery_per_min"])
        super().__init__(ControllerConfig.from_mapping(data, source="planted"))
        self.config = config


class LateHibernate(SurvivalController):
    """Bug: HIBERNATE is debounced for 60 s ('wait and see'): the previous posture is kept meanwhile."""

    _since: float | None = None
    _last: Any = None

    def step(self, now_s: float, signals: Any) -> Any:
        d = super().step(now_s, signals)
        if d.posture != Posture.HIBERNATE:
            self._since, self._last = None, d
            return d
        self._since = now_s if self._since is None else self._since
        if now_s - self._since < 60.0 and self._last is not None:
            return self._last._replace(t_s=now_s)
        return d


class IgnoresQuorum(SurvivalController):
    """Bug: reads a cached ``hz.quorum`` (always 1): a lost quorum never breaks the invariant."""

    def step(self, now_s: float, signals: Any) -> Any:
        return super().step(now_s, {**signals, "hz.quorum": 1.0})


class LeverageBonus(SurvivalController):
    """Bug: a 5 % 'bonus' on r_total when healthy, unclipped (r_total 1.05)."""

    def step(self, now_s: float, signals: Any) -> Any:
        d = super().step(now_s, signals)
        return d._replace(r_total=d.r_total * 1.05)


class TakerAlways(SurvivalController):
    """Bug: the posture cap forgets to switch taker off (taker_allowed whenever entries are)."""

    def step(self, now_s: float, signals: Any) -> Any:
        d = super().step(now_s, signals)
        return d._replace(taker_allowed=d.entries_allowed)


class BlindToBook(SurvivalController):
    """Bug: the order-book layer reads a stale cache: the book always looks fresh and deep."""

    def __init__(self, config: ControllerConfig) -> None:
        super().__init__(config)
        self._fresh: dict[str, float] = {}

    def step(self, now_s: float, signals: Any) -> Any:
        if not self._fresh:
            self._fresh = {k: v for k, v in signals.items() if k.startswith("ob.")}
        return super().step(now_s, {**signals, **self._fresh})


class BlindToExf(SurvivalController):
    """Bug: the ExF layer reads the value from the first step forever (a shock never shows)."""

    def __init__(self, config: ControllerConfig) -> None:
        super().__init__(config)
        self._first: dict[str, float] = {}

    def step(self, now_s: float, signals: Any) -> Any:
        if not self._first:
            self._first = {k: v for k, v in signals.items() if k.startswith("exf.")}
        return super().step(now_s, {**signals, **self._first})


class Timid(SurvivalController):
    """Bug: a hard-coded ceiling of 0.7 on r_total (STALKER at best) 'to be safe'."""

    def step(self, now_s: float, signals: Any) -> Any:
        d = super().step(now_s, signals)
        if d.posture >= Posture.STALKER:
            return d._replace(r_total=min(d.r_total, 0.7), posture=Posture.STALKER, taker_allowed=False,
                              max_leverage=min(d.max_leverage, 2.0))
        return d


class Chatter(SurvivalController):
    """Bug: a posture hysteresis with no deadband: APEX and STALKER alternate every minute."""

    def step(self, now_s: float, signals: Any) -> Any:
        d = super().step(now_s, signals)
        if d.posture == Posture.APEX and int(now_s // 60) % 2:
            return d._replace(posture=Posture.STALKER, taker_allowed=False, max_leverage=min(d.max_leverage, 2.0))
        return d


# -- agent variants ------------------------------------------------------------------------------------------
class ForgetsRoom(Agent):
    """Bug: the entry loop forgets ``room -= size``: a batch of entries each sized to the whole room."""

    def _entries(self, now: float, d: Any) -> None:
        rec = self.watchdog.last_valid.get("scan")
        if rec is None or rec.payload[0] <= self.last_scan_seq:
            return
        seq, _, _, vel_div, ranked = rec.payload
        self.last_scan_seq = seq
        vel_div /= self.n_assets
        if vel_div >= -self.cfg.entry_threshold:
            return
        pf = self.portfolio
        slots = min(self.cfg.entries_per_signal, self.cfg.max_positions - len(pf.positions) - len(self.entering))
        equity = pf.equity(self._mark)
        room = equity * d.max_leverage - pf.gross_exposure(self._mark) - sum(
            self.working[o].qty * self.working[o].price for o in self.entering.values() if o in self.working)
        notional = d.size(equity, self.cfg.base_fraction, self.cfg.leverage)
        taker = d.taker_allowed and vel_div < -2.0 * self.cfg.entry_threshold
        for asset in ranked:
            if slots <= 0 or min(notional, room) <= 0:
                break
            if asset in pf.positions or asset in self.entering or asset in self.exiting:
                continue
            size = min(notional, room)
            bid, ask = self.exchange.touch(asset, now)
            price = (ask if self.side > 0 else bid) if taker else (bid if self.side > 0 else ask)
            self._submit(now, asset, self.side, "taker" if taker else "maker", "entry", size / price, price, "vel_div")
            slots -= 1                                       # (room -= size forgotten)


class EntersInTurtle(Agent):
    """Bug: TURTLE is treated as 'smaller entries' instead of 'no entries'."""

    def act(self, now: float, d: Any) -> None:
        if d.posture == Posture.TURTLE and d.r_total > 0:
            d = d._replace(entries_allowed=True)
        super().act(now, d)


class TakerWhenever(Agent):
    """Bug: every entry goes as taker (crossing the spread), whatever the decision's taker_allowed."""

    def _submit(self, now: float, asset: int, side: int, kind: str, intent: str, qty: float, price: float,
                reason: str) -> Order:
        if intent == "entry" and kind == "maker":
            bid, ask = self.exchange.touch(asset, now)
            kind, price = "taker", (ask if side > 0 else bid)
        return super()._submit(now, asset, side, kind, intent, qty, price, reason)


class HibernateCancelsNothing(Agent):
    """Bug: HIBERNATE stops new entries but cancels no working order."""

    def act(self, now: float, d: Any) -> None:
        if d.posture == Posture.HIBERNATE:
            self._timeouts(now)
            self._exits(now, True)
            return
        super().act(now, d)


class ExitsBlockedWhenDefensive(Agent):
    """Bug: exits are skipped in TURTLE and HIBERNATE ('do nothing while unsure')."""

    def _exits(self, now: float, hibernate: bool) -> None:
        if self.decision is not None and self.decision.posture <= Posture.TURTLE:
            return
        super()._exits(now, hibernate)


class StaleDecisionEntries(Agent):
    """Bug: when an invariant step drops the posture, an entry goes out at that instant under the stale decision.

    The entry is sent after the new decision (a drop to HIBERNATE) was made, labelled with the previous one."""

    def tick(self, now: float, trigger: str) -> None:
        before = self.decision
        super().tick(now, trigger)
        after = self.decision
        if trigger == "invariant" and before is not None and before.entries_allowed and not after.entries_allowed:
            ranked = [a for a in range(self.n_assets) if a not in self.portfolio.positions
                      and a not in self.entering and a not in self.exiting]
            if ranked:
                bid, ask = self.exchange.touch(ranked[0], now)
                price = bid if self.side > 0 else ask
                size = before.size(self.portfolio.equity(self._mark), self.cfg.base_fraction, self.cfg.leverage)
                self.decision = before                       # the stale decision labels the order
                self._submit(now, ranked[0], self.side, "maker", "entry", size / price, price, "vel_div")
                self.decision = after


class _NoFeePortfolio(Portfolio):
    def book(self, fill: Fill, now: float) -> bool:
        fee, fill.fee = fill.fee, 0.0
        try:
            return super().book(fill, now)
        finally:
            fill.fee = fee


class BooksWithoutFees(Agent):
    """Bug: the agent's ledger books fills without their fee (its equity drifts above the exchange's)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.portfolio = _NoFeePortfolio(self.cfg.capital)


# -- exchange and ledger variants ------------------------------------------------------------------------------
class DropsFillReports(Exchange):
    """Bug: every third fill report is never sent (the fill happens; the agent is never told)."""

    def _report(self, kind: str, order: Order, fill: Fill | None) -> None:
        if kind == "fill" and fill is not None and fill.id % 3 == 0:
            return
        super()._report(kind, order, fill)


class ExecutesExitsTwice(Exchange):
    """Bug: an exit is executed twice at the venue (a retried match), flipping the position."""

    def _fill(self, order: Order, qty: float, price: float, fee_bps: float, liquidity: str, now: float) -> None:
        super()._fill(order, qty, price, fee_bps, liquidity, now)
        if order.intent == "exit":
            super()._fill(order, qty, price, fee_bps, liquidity, now)


class ResyncForgetsAdjustments(Ledger):
    """Bug: resync books the missed fills but not the missed account adjustments."""

    def resync(self) -> None:
        ex = self._exchange
        kept = list(ex.adjustments)
        ex.adjustments = []
        try:
            super().resync()
        finally:
            ex.adjustments = kept


class DesyncCharges5Pct(Ledger):
    """Bug: a desync books a 5 % account charge (a fee in percent where basis points were meant)."""

    def desync(self) -> None:
        super().desync()
        self._exchange.adjust(-5e-2 * self._ctx.cfg.agent.capital)


# -- the catalogue -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Defect:
    """One planted defect: what is wrong, how to build it, where it shows, and which checks must catch it."""

    name: str
    scenarios: tuple[str, ...]              # files of tests/planted/scenarios (without .toml)
    catches: tuple[str, ...]                # checks that must each FAIL in at least one of the scenarios
    controller: Callable[[ControllerConfig], Any] = SurvivalController
    agent: type = Agent
    exchange: type = Exchange
    ledger: type = Ledger
    client: type = Client
    cluster: type = Cluster

    @property
    def world_factory(self) -> Callable[..., World]:
        return world_factory(self.agent, self.exchange, self.ledger, self.client, self.cluster)

    @property
    def doc(self) -> str:
        for part in (self.controller, self.agent, self.exchange, self.ledger, self.client, self.cluster):
            if part not in (SurvivalController, Agent, Exchange, Ledger, Client, Cluster):
                return (part.__doc__ or "").strip().splitlines()[0]
        return ""


CATALOGUE: tuple[Defect, ...] = (
    Defect("latching_hibernate", ("planted_quorum",), ("recovers_after_heal", "recovers_to"),
           controller=LatchingHibernate),
    Defect("layer_recovers_faster_than_configured", ("planted_quorum",), ("recovery_rate",), controller=FastRecovery),
    Defect("ignores_lost_quorum", ("planted_quorum",), ("invariant_hibernate",), controller=IgnoresQuorum),
    Defect("hibernate_a_minute_late", ("planted_quorum",), ("hibernate_within", "invariant_hibernate"),
           controller=LateHibernate),
    Defect("r_total_above_one", ("planted_nominal",), ("r_total_bounds",), controller=LeverageBonus),
    Defect("taker_never_off", ("planted_ob_drop",), ("taker_off",), controller=TakerAlways),
    Defect("blind_to_the_book", ("planted_ob_drop",),
           ("posture_reached", "taker_off", "r_total_reaches", "layer_reaches"), controller=BlindToBook),
    Defect("blind_to_exf", ("planted_exf",), ("layer_reaches", "layer_within"), controller=BlindToExf),
    Defect("timid_never_apex", ("planted_nominal",), ("posture_never", "r_total_within", "recovers_after_heal"),
           controller=Timid),
    Defect("posture_chatter", ("planted_nominal",), ("max_posture_switches",), controller=Chatter),
    Defect("forgot_room_decrement", ("planted_big_bets",), ("leverage_within_cap",), agent=ForgetsRoom),
    Defect("entry_sent_in_turtle", ("planted_exf",), ("entries_within_posture", "no_entries_in"),
           agent=EntersInTurtle),
    Defect("taker_entry_in_stalker", ("planted_ob_drop",), ("entries_within_posture",), agent=TakerWhenever),
    Defect("hibernate_cancels_nothing", ("planted_quorum",), ("hibernate_cancels_orders",),
           agent=HibernateCancelsNothing),
    Defect("exits_blocked_when_defensive", ("planted_quorum",), ("exits_never_blocked",),
           agent=ExitsBlockedWhenDefensive),
    Defect("entries_at_the_instant_of_a_drop", ("planted_quorum",), ("entries_within_posture", "no_entries_in"),
           agent=StaleDecisionEntries),
    Defect("books_fills_without_fees", ("planted_nominal",), ("ledger_conserved",), agent=BooksWithoutFees),
    Defect("dropped_fill_report", ("planted_big_bets",), ("ledger_conserved",), exchange=DropsFillReports),
    Defect("exit_executed_twice", ("planted_nominal",), ("exits_reduce_only",), exchange=ExecutesExitsTwice),
    Defect("resync_forgets_adjustments", ("planted_ledger",), ("ledger_conserved",),
           ledger=ResyncForgetsAdjustments),
    Defect("desync_loses_money", ("planted_ledger",), ("pnl_vs_baseline", "max_drawdown_below"),
           ledger=DesyncCharges5Pct),
    Defect("partition_oracle", ("planted_partition",), ("posture_never",), client=PartitionOracleClient),
    Defect("early_member_list", ("planted_member_claim",), ("posture_never",), cluster=EarlyMemberListCluster),
)
"""Every planted defect. ``tests/planted/test_catalogue.py`` requires each to fail each of its named checks."""

