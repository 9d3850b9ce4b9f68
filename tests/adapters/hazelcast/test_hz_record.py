"""Health records, the observed-state rules and the watchdog's signal arithmetic (no network)."""

from __future__ import annotations

import math

import pytest

from adapters.hazelcast import GridState, HazelcastAdapterError, HealthRecord, HealthWatchdog, make_record


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_checksum_detects_any_changed_field():
    rec = make_record("ob.depth_ratio", 0.8, 1000.0, 5, 1)
    assert rec.intact
    for field, value in (("value", 0.81), ("source_ts_s", 1000.5), ("seq", 6), ("epoch", 2), ("signal", "ob.age_s")):
        tampered = HealthRecord(**{**rec.__dict__, field: value})
        assert not tampered.intact, field


@pytest.mark.parametrize("args", [("", 1.0, 0.0, 1, 1), ("x", "high", 0.0, 1, 1), ("x", 1.0, float("inf"), 1, 1),
                                  ("x", 1.0, 0.0, -1, 1)])
def test_make_record_rejects_bad_input(args):
    with pytest.raises(HazelcastAdapterError):
        make_record(*args)


def test_state_rules_backwards_corrupt_foreign_and_healing():
    clock = Clock()
    state = GridState(clock)
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 1000.0, 2, 1))
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 1000.0, 2, 1))  # duplicate: idempotent
    assert state.snapshot().integrity_ok
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 999.0, 1, 1))
    assert "backwards" in state.snapshot().integrity_faults["scan.age_s"]
    assert state.snapshot().records["scan.age_s"].seq == 2, "a regressed record is never used"
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 1001.0, 3, 1))
    assert state.snapshot().integrity_ok, "a newer intact record heals the fault"
    state.accept("ob.age_s", "not a record")
    state.accept("esof.age_s", make_record("exf.age_s", 0.0, 1000.0, 1, 1))
    faults = state.snapshot().integrity_faults
    assert "HealthRecord" in faults["ob.age_s"] and "under key" in faults["esof.age_s"]
    state.accept("exf.age_s", make_record("exf.age_s", 0.0, 1000.0, 9, 5))
    state.accept("exf.age_s", make_record("exf.age_s", 0.0, 1000.0, 1, 4))
    assert "backwards" in state.snapshot().integrity_faults["exf.age_s"], "an older writer epoch is a regression"


def test_watchdog_signal_arithmetic_and_invariant_callbacks():
    clock = Clock()
    state = GridState(clock, min_members=1)
    dog = HealthWatchdog(state, clock=clock, age_limits_s={"heartbeat.age_s": 10.0})
    flips = []
    dog.on_invariant_change(lambda: flips.append(clock.t))
    sig = dog.signals(clock.t)
    assert sig["hz.quorum"] == 0.0 and math.isnan(sig["heartbeat.age_s"]) and math.isnan(sig["scan.age_s"])
    state.on_lifecycle("CONNECTED")
    state.on_member_added(__import__("uuid").uuid4())
    state.accept("scan.age_s", make_record("scan.age_s", 1.5, 995.0, 1, 1))
    state.accept("ledger.consistent", make_record("ledger.consistent", 1.0, 995.0, 1, 1))
    clock.t = 1002.0
    sig = dog.signals(clock.t)
    assert sig["hz.quorum"] == 1.0 and sig["ledger.consistent"] == 1.0 and sig["data.checksum_ok"] == 1.0
    assert sig["scan.age_s"] == pytest.approx(1.5 + 7.0)
    assert sig["heartbeat.age_s"] == pytest.approx(2.0)
    n = len(flips)
    state.accept("ledger.consistent", make_record("ledger.consistent", 0.0, 1002.0, 2, 1))
    assert len(flips) == n + 1, "a flag flip calls back at once"
    state.on_lifecycle("DISCONNECTED")
    assert len(flips) == n + 2, "a disconnect calls back at once"
    clock.t = 1013.0
    assert dog.signals(clock.t)["heartbeat.age_s"] == pytest.approx(13.0), "since the last contact"
    assert dog.check() is True, "crossing the keepalive limit is an invariant flip"


def test_disconnected_drives_quorum_to_zero_with_one_member_and_calls_back_at_once():
    """With one member, ``member_removed`` never fires on a fault: only DISCONNECTED does. The
    twin's client reports ``hz.quorum = 0`` while disconnected; production must agree."""
    clock = Clock()
    state = GridState(clock, min_members=1)
    dog = HealthWatchdog(state, clock=clock)
    flips = []
    dog.on_invariant_change(lambda: flips.append(dog.signals(clock.t)["hz.quorum"]))
    state.on_lifecycle("CONNECTED")
    state.on_member_added(__import__("uuid").uuid4())
    assert dog.signals(clock.t)["hz.quorum"] == 1.0
    n = len(flips)
    state.on_lifecycle("DISCONNECTED")
    assert flips[n:] == [0.0], "the disconnect calls back once, already reading quorum 0"
    clock.t += 30.0
    snap = state.snapshot()
    sig = dog.signals(clock.t)
    assert snap.member_count == 1 and not snap.connected, "the member view still holds the one member"
    assert sig["hz.quorum"] == 0.0 and sig["heartbeat.age_s"] == pytest.approx(30.0)
    state.on_lifecycle("CONNECTED")
    assert dog.signals(clock.t)["hz.quorum"] == 1.0 and flips[-1] == 1.0, "reconnected: quorum back at once"


def test_a_stale_read_is_ignored_but_a_regressed_event_or_a_corrupt_read_is_a_fault():
    """The near cache is invalidated by its own event, which can arrive after the entry event
    carrying a newer record: a read racing with it returns the older record. That is staleness,
    not corruption — flagging it would HIBERNATE a healthy agent."""
    state = GridState(Clock())
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 1000.0, 4, 1))  # entry event
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 999.0, 3, 1), from_read=True)  # stale read
    snap = state.snapshot()
    assert snap.integrity_ok and snap.records["scan.age_s"].seq == 4, "stale read ignored, newer record kept"
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 1001.0, 5, 1), from_read=True)
    assert state.snapshot().records["scan.age_s"].seq == 5, "a newer read is used"
    bad = make_record("scan.age_s", 0.0, 1002.0, 6, 1)
    state.accept("scan.age_s", HealthRecord(**{**bad.__dict__, "value": 9.0}), from_read=True)
    assert "checksum" in state.snapshot().integrity_faults["scan.age_s"], "corruption counts from reads too"
    state.accept("ob.age_s", make_record("ob.age_s", 0.0, 1000.0, 2, 1))
    state.accept("ob.age_s", make_record("ob.age_s", 0.0, 999.0, 1, 1))  # the grid's own writes went back
    assert "backwards" in state.snapshot().integrity_faults["ob.age_s"]


def test_a_stale_read_of_a_superseded_corrupt_write_does_not_raise_the_fault_again():
    """A corrupt write, then a good one: the reader's near cache can still hold the corrupt record
    until its invalidation arrives, after the good record's entry event. Such a read must not set the
    fault again (it would stay until the next write: a false integrity fault on a healed grid); a
    corrupt read claiming a newer write is still a fault."""
    state = GridState(Clock())
    state.accept("exf.shock", make_record("exf.shock", 0.0, 1000.0, 1, 1))
    bad = make_record("exf.shock", 0.0, 1000.0, 2, 1)
    corrupt = HealthRecord(**{**bad.__dict__, "value": 0.9})
    state.accept("exf.shock", corrupt)                          # entry event of the corrupt write
    assert "checksum" in state.snapshot().integrity_faults["exf.shock"]
    state.accept("exf.shock", make_record("exf.shock", 0.0, 1001.0, 2, 1))   # the good write (same seq)
    assert state.snapshot().integrity_ok
    state.accept("exf.shock", corrupt, from_read=True)           # the near cache's stale copy
    snap = state.snapshot()
    assert snap.integrity_ok and snap.records["exf.shock"].value == 0.0, "stale corrupt read ignored"
    newer = make_record("exf.shock", 0.0, 1002.0, 3, 1)
    state.accept("exf.shock", HealthRecord(**{**newer.__dict__, "value": 0.9}), from_read=True)
    assert "checksum" in state.snapshot().integrity_faults["exf.shock"], "a corrupt newer write counts"


def test_a_read_without_an_entry_makes_the_signal_missing_unless_a_newer_record_raced_it():
    clock = Clock()
    state = GridState(clock)
    state.accept("ledger.consistent", make_record("ledger.consistent", 1.0, 1000.0, 1, 1))
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 1000.0, 1, 1))
    before = state.orders()
    state.accept("scan.age_s", make_record("scan.age_s", 0.0, 1001.0, 2, 1))  # an event while the read was out
    state.forget_missing(["ledger.consistent", "scan.age_s", "ob.age_s"], found=[], before=before)
    records = state.snapshot().records
    assert "ledger.consistent" not in records, "entry gone from the grid (data loss): missing, never the old 1.0"
    assert records["scan.age_s"].seq == 2, "a record newer than the read is kept"
    state.accept("ledger.consistent", make_record("ledger.consistent", 1.0, 1002.0, 2, 1))
    assert state.snapshot().records["ledger.consistent"].seq == 2, "republished later: read again"


def test_record_heartbeat_is_the_age_of_the_agents_keepalive_record_not_the_clusters_answers():
    """``heartbeat="record"`` (paper trading, as the twin): the cluster keeps answering (contact) but
    the agent's keepalive record stops — the age grows from the record and crosses the limit; a
    fresh record brings it back. The default ``"contact"`` reads the answers only."""
    clock = Clock()
    state = GridState(clock)
    record = HealthWatchdog(state, ("heartbeat.age_s",), ("heartbeat.age_s",), clock=clock,
                            age_limits_s={"heartbeat.age_s": 10.0}, heartbeat="record")
    contact = HealthWatchdog(state, ("heartbeat.age_s",), ("heartbeat.age_s",), clock=clock)
    flips: list[float] = []
    record.on_invariant_change(lambda: flips.append(clock.t))
    state.on_lifecycle("CONNECTED")
    assert math.isnan(record.signals(clock.t)["heartbeat.age_s"]), "no keepalive record yet: worst case"
    state.accept("heartbeat.age_s", make_record("heartbeat.age_s", 0.0, 1000.0, 1, 1))
    for _ in range(12):   # the cluster answers every second; the agent's heartbeat has stopped
        clock.t += 1.0
        state.contact()
        record.check()    # the health service's tick
    assert contact.signals(clock.t)["heartbeat.age_s"] == 0.0
    assert record.signals(clock.t)["heartbeat.age_s"] == pytest.approx(12.0)
    assert flips == [1000.0, 1011.0], "the first record, then the crossing of the 10 s limit: invariant flips"
    state.accept("heartbeat.age_s", make_record("heartbeat.age_s", 0.0, clock.t, 2, 1))
    assert record.signals(clock.t)["heartbeat.age_s"] == 0.0 and flips == [1000.0, 1011.0, 1012.0]
    with pytest.raises(HazelcastAdapterError, match="heartbeat"):
        HealthWatchdog(state, clock=clock, heartbeat="probe")
