"""The adapter against real Hazelcast members: the session's local cluster, or the external
cluster at NOR_HZ_MEMBERS when set. The test bodies are the same for both."""

from __future__ import annotations

import math
import time

from adapters.hazelcast import ControllerDriver, build_client, make_record
from adapters.source import SignalSource
from controller import Posture, SurvivalController, default_config


def test_published_signals_reach_the_controller_mapping(hz_target, make_writer, start_service, nominal,
                                                        eventually):
    cfg = hz_target.config()
    writer = make_writer(cfg)
    t_before = time.time()
    writer.publish_many({**nominal, "scan.age_s": 2.0})
    t_after = time.time()  # the source timestamp was taken between these two
    svc = start_service(cfg, expect=tuple(nominal))
    assert isinstance(svc, SignalSource) and isinstance(svc.watchdog, SignalSource)
    now = time.time()
    sig = svc.signals(now)
    assert sig["hz.quorum"] == 1.0
    assert sig["ledger.consistent"] == 1.0 and sig["data.checksum_ok"] == 1.0
    assert sig["ob.depth_ratio"] == 1.0 and sig["ob.latency_ms"] == 5.0
    assert 2.0 + (now - t_after) <= sig["scan.age_s"] <= 2.0 + (now - t_before), "published age + time since source"
    eventually(lambda: 0.0 <= svc.signals(time.time())["heartbeat.age_s"] < 1.0, 10.0,
               "probe replies keep the heartbeat fresh")


def test_missing_signal_reads_nan_for_the_worst_case(hz_target, make_writer, start_service):
    cfg = hz_target.config()
    make_writer(cfg).publish("ledger.consistent", 1.0)
    svc = start_service(cfg, expect=("ledger.consistent",))
    sig = svc.signals(time.time())
    assert math.isnan(sig["mc_forewarner.age_s"]) and math.isnan(sig["portfolio.drawdown"])


def test_near_cache_serves_repeat_reads_and_is_invalidated_on_change(hz_target, make_writer, start_service, eventually):
    cfg = hz_target.config()
    writer = make_writer(cfg)
    writer.publish("ob.depth_ratio", 0.9)
    svc = start_service(cfg, expect=("ob.depth_ratio",))
    grid = svc.client.get_map(cfg.map_name).blocking()
    assert grid.get("ob.depth_ratio").value == 0.9
    # the proxy's own near cache (the manager's get_or_create treats an empty cache as absent and
    # would hand out a new one)
    near_cache = grid._wrapped._near_cache
    hits = near_cache.get_statistics()["hits"]
    assert grid.get("ob.depth_ratio").value == 0.9
    assert near_cache.get_statistics()["hits"] > hits, "a repeat read is a near-cache hit"
    invalidations = near_cache.get_statistics()["invalidations"]
    writer.publish("ob.depth_ratio", 0.4)
    eventually(lambda: near_cache.get_statistics()["invalidations"] > invalidations, 10.0,
               "the member's invalidation event reaches the near cache")
    # re-read within the time-to-live at the latest: a read racing the invalidation may have
    # stored the old value again (the pinned client's near cache has no repair), the TTL bounds it
    took = eventually(lambda: grid.get("ob.depth_ratio").value == 0.4, 10.0, "the invalidated entry is re-read")
    assert took <= cfg.near_cache_ttl_s + 1.0, f"stale for {took:.2f} s > TTL {cfg.near_cache_ttl_s} s + 1 s"


def test_listener_driven_invariant_flip_steps_the_controller_at_once(hz_target, make_writer, start_service,
                                                                     services, nominal, eventually):
    cfg = hz_target.config()
    writer = make_writer(cfg)
    writer.publish_many(nominal)
    ctl = SurvivalController(default_config())
    svc = start_service(cfg, ctl, expect=tuple(nominal))
    driver = ControllerDriver(ctl, svc, period_s=60.0)  # no timer steps: only flips step it
    services.append(driver.start())
    driver.step()
    assert driver.last_decision.posture != Posture.HIBERNATE
    writer.publish("ledger.consistent", 0.0)
    eventually(lambda: driver.last_decision.posture == Posture.HIBERNATE, 10.0, "HIBERNATE after the flip")
    # the timer never fires (60 s) and the manual step came before the flip: the entry listener stepped it
    assert driver.immediate_steps >= 1
    assert driver.last_decision.invariant_broken and driver.last_decision.layers["ledger"] == 0.0


def test_corrupted_record_flips_checksum_ok_until_a_good_write(hz_target, make_writer, start_service, eventually):
    cfg = hz_target.config()
    writer = make_writer(cfg)
    good = writer.publish("exf.shock", 0.0)
    svc = start_service(cfg, expect=("exf.shock",))
    assert svc.signals(time.time())["data.checksum_ok"] == 1.0
    bad = make_record("exf.shock", 0.0, good.source_ts_s, good.seq + 1, good.epoch)
    writer.put_raw(type(bad)(bad.signal, 0.9, bad.source_ts_s, bad.seq, bad.epoch, bad.checksum))  # value flipped
    eventually(lambda: svc.signals(time.time())["data.checksum_ok"] == 0.0, 10.0, "checksum mismatch detected")
    assert "checksum" in next(iter(svc.state.snapshot().integrity_faults.values()))
    assert svc.signals(time.time())["exf.shock"] == 0.0, "the corrupted value is not used"
    writer.publish("exf.shock", 0.0)
    eventually(lambda: svc.signals(time.time())["data.checksum_ok"] == 1.0, 10.0, "a newer good record heals it")


def test_sequence_going_backwards_flips_checksum_ok(hz_target, make_writer, start_service, eventually):
    cfg = hz_target.config()
    writer = make_writer(cfg)
    first = writer.publish("scan.age_s", 0.0)
    writer.publish("scan.age_s", 0.0)
    svc = start_service(cfg, expect=("scan.age_s",))
    eventually(lambda: svc.state.snapshot().records["scan.age_s"].seq == first.seq + 1, 10.0, "seq 2 read")
    writer.put_raw(make_record("scan.age_s", 0.0, first.source_ts_s, first.seq, first.epoch))  # replayed seq 1
    eventually(lambda: svc.signals(time.time())["data.checksum_ok"] == 0.0, 10.0, "sequence regression detected")
    assert "backwards" in svc.state.snapshot().integrity_faults["scan.age_s"]


def test_a_restarted_writer_with_a_newer_epoch_is_accepted(hz_target, make_writer, start_service, eventually):
    cfg = hz_target.config()
    old = make_writer(cfg, epoch=100)
    for _ in range(3):
        old.publish("esof.age_s", 0.0)
    svc = start_service(cfg, expect=("esof.age_s",))
    new = make_writer(cfg, epoch=200)
    new.publish("esof.age_s", 5.0)
    eventually(lambda: svc.state.snapshot().records["esof.age_s"].epoch == 200, 10.0, "new epoch accepted")
    assert svc.signals(time.time())["data.checksum_ok"] == 1.0


def test_test_maps_are_destroyed_so_a_real_cluster_is_left_clean(hz_target, make_writer):
    cfg = hz_target.config()
    make_writer(cfg).publish_many({"scan.age_s": 0.0, "ob.age_s": 0.0})
    assert hz_target.destroy_maps() == [cfg.map_name]
    client = build_client(cfg, near_cache=False, async_start=False)  # a fresh client
    try:
        assert client.get_map(cfg.map_name).blocking().size() == 0, "the destroyed map's data is gone"
    finally:
        client.shutdown()  # (that access re-created the map empty; the fixture destroys it again)


def test_a_lost_listener_registration_is_made_again(hz_target, make_writer, start_service, eventually):
    """The pinned client never retries a listener registration that failed: the service re-registers
    once its listener has been off for ``reconnect_bound_s`` while connected. The registration is
    taken away through the real client's own API."""
    cfg = hz_target.config()
    make_writer(cfg).publish("exf.shock", 0.0)
    svc = start_service(cfg, expect=("exf.shock",))
    reader = svc._reader
    first = reader.registration_id
    time.sleep(5 * cfg.probe_interval_s)  # a few service ticks see it listening (start-up deafness forgotten)
    removed_at = time.monotonic()
    svc.client.get_map(cfg.map_name).remove_entry_listener(first).result()
    assert not svc.listening and "no such registration" in svc.deaf_to()
    eventually(lambda: svc.listening, cfg.reconnect_bound_s + 10.0, "the listener registered again")
    took = time.monotonic() - removed_at
    assert took >= cfg.reconnect_bound_s, f"re-registered {took:.2f} s after the loss, before the bound"
    assert svc.relistens == 1 and reader.registration_id not in (None, first)
