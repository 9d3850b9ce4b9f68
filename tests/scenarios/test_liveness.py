"""Liveness end to end: the bound comes from the scenario, so a config that never recovers fails LIVENESS."""

from __future__ import annotations

from pathlib import Path

from scenarios import load_scenario
from scenarios.case import run_case

QUORUM_LOSS = """
name = "{name}"
duration = "30m"
companions = []
{controller}
[[fault]]
kind = "node_loss"
target = "hz1"
at = "5m"
for = "2m"
[[fault]]
kind = "node_loss"
target = "hz2"
at = "5m"
for = "2m"
[liveness]
within = "20m"
[cluster]
backup_count = 2
"""

# (backup_count 2: the quorum loss loses no entry, whose NaN would keep its layer low for an hour.)
# Invariants restored at 1e-4 per minute: r_total stays ~0 for days after the heal.
SLOW = "\n".join(f"[controller.layers.{name}]\nrecovery_per_min = 1e-4"
                 for name in ("hz_quorum", "keepalive", "ledger", "data_integrity"))


def _liveness(write_scenario, tmp_path: Path, name: str, controller: str):
    scenario = load_scenario(write_scenario(name, QUORUM_LOSS.format(name=name, controller=controller)))
    result = run_case(scenario, 1, tmp_path / name, f"{name}/1")
    return result, next(c for c in result.checks if c.check == "recovers_after_heal")


def test_a_config_that_never_recovers_cannot_switch_liveness_off(write_scenario, tmp_path) -> None:
    ok_result, ok = _liveness(write_scenario, tmp_path, "fast", "")
    slow_result, slow = _liveness(write_scenario, tmp_path, "slow", SLOW)
    assert ok_result.verdict == "PASS" and ok.ok, ok.message
    assert slow_result.verdict == "LIVENESS" and not slow.ok
    assert ok.params["bound_s"] == slow.params["bound_s"] == 1200.0          # the scenario's, not the config's
    assert slow.t_s == 420.0 + 1200.0 and "APEX not regained within 1200 s of the heal at 420.0 s" in slow.message
