"""One real Hazelcast member: its generated YAML and its ``java`` process.

Each member has three loopback endpoints (advanced network): member-to-member, client and REST
(health check only). The member and client endpoints may advertise another address
(``public-address``, e.g. a Toxiproxy listener in front of them) so that every connection made
to the member — by peers and by reconnecting clients — crosses that proxy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import InfraError

__all__ = ["MemberSettings", "MemberPorts", "MemberProcess", "member_yaml", "HEALTH_MAP"]

HEALTH_MAP = "DOLPHIN_HEALTH_GRID"


@dataclass(frozen=True)
class MemberSettings:
    """Cluster-wide member settings (times in seconds). The defaults are fast failure detection for tests."""

    cluster_name: str = "nor"
    heartbeat_interval_s: int = 1
    max_no_heartbeat_s: int = 5
    merge_first_run_delay_s: int = 5
    merge_next_run_delay_s: int = 5
    client_max_no_heartbeat_s: int = 5
    operation_call_timeout_ms: int = 5000
    wait_before_join_s: int = 1
    max_wait_before_join_s: int = 3
    partition_count: int = 271
    backup_count: int = 1
    min_cluster_size: int = 2
    heap_mb: int = 256
    extra_properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberPorts:
    """A member's bound ports and what it advertises for its member and client endpoints."""

    member: int
    client: int
    rest: int
    member_public: str
    client_public: str


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML scalar


def member_yaml(name: str, ports: MemberPorts, peers: list[str], s: MemberSettings) -> str:
    """The YAML config of one member. ``peers`` are the public member addresses of every member."""
    props = {
        "hazelcast.phone.home.enabled": "false",
        "hazelcast.socket.bind.any": "false",
        "hazelcast.heartbeat.interval.seconds": s.heartbeat_interval_s,
        "hazelcast.max.no.heartbeat.seconds": s.max_no_heartbeat_s,
        "hazelcast.heartbeat.failuredetector.type": "deadline",
        "hazelcast.wait.seconds.before.join": s.wait_before_join_s,
        "hazelcast.max.wait.seconds.before.join": s.max_wait_before_join_s,
        "hazelcast.merge.first.run.delay.seconds": s.merge_first_run_delay_s,
        "hazelcast.merge.next.run.delay.seconds": s.merge_next_run_delay_s,
        "hazelcast.operation.call.timeout.millis": s.operation_call_timeout_ms,
        "hazelcast.client.max.no.heartbeat.seconds": s.client_max_no_heartbeat_s,
        "hazelcast.map.invalidation.batch.enabled": "false",
        "hazelcast.partition.count": s.partition_count,
        "hazelcast.logging.type": "jdk",
        **s.extra_properties,
    }
    lines = ["hazelcast:", f"  cluster-name: {_q(s.cluster_name)}", f"  instance-name: {_q(name)}", "  properties:"]
    lines += [f"    {k}: {_q(str(v))}" for k, v in props.items()]
    lines += [
        "  advanced-network:",
        "    enabled: true",
        "    join:",
        "      auto-detection: {enabled: false}",
        "      multicast: {enabled: false}",
        "      tcp-ip:",
        "        enabled: true",
        "        member-list: [" + ", ".join(_q(p) for p in peers) + "]",
        "    member-server-socket-endpoint-config:",
        f"      port: {{port: {ports.member}, auto-increment: false}}",
        f"      public-address: {_q(ports.member_public)}",
        "      reuse-address: true",
        "      interfaces: {enabled: true, interfaces: [127.0.0.1]}",
        "    client-server-socket-endpoint-config:",
        f"      port: {{port: {ports.client}, auto-increment: false}}",
        f"      public-address: {_q(ports.client_public)}",
        "      reuse-address: true",
        "      interfaces: {enabled: true, interfaces: [127.0.0.1]}",
        "    rest-server-socket-endpoint-config:",
        f"      port: {{port: {ports.rest}, auto-increment: false}}",
        "      reuse-address: true",
        "      interfaces: {enabled: true, interfaces: [127.0.0.1]}",
        "      endpoint-groups:",
        "        HEALTH_CHECK: {enabled: true}",
        "        CLUSTER_READ: {enabled: true}",
        "  split-brain-protection:",
        "    health-quorum:",
        "      enabled: true",
        f"      minimum-cluster-size: {s.min_cluster_size}",
        "      protect-on: READ_WRITE",
        "  map:",
        f"    {HEALTH_MAP}:",
        f"      backup-count: {s.backup_count}",
        "      split-brain-protection-ref: health-quorum",
        "    default:",
        f"      backup-count: {s.backup_count}",
    ]
    return "\n".join(lines) + "\n"


def java_command(jar: Path, config: Path, heap_mb: int) -> list[str]:
    """The ``java`` command line of a member (small heap, quick start, IPv4 loopback)."""
    return ["java", "-Xms64m", f"-Xmx{heap_mb}m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xshare:auto", "-Djava.net.preferIPv4Stack=true", f"-Dhazelcast.config={config}",
            "--add-modules", "java.se", "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens", "java.base/java.lang=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens", "java.management/sun.management=ALL-UNNAMED",
            "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
            "-cp", str(jar), "com.hazelcast.core.server.HazelcastMemberStarter"]


class MemberProcess:
    """A member's ``java`` process: start, health, SIGKILL / SIGSTOP / SIGCONT, stop."""

    def __init__(self, name: str, ports: MemberPorts, workdir: Path) -> None:
        self.name, self.ports, self.workdir = name, ports, workdir
        self.proc: subprocess.Popen | None = None
        self.paused = False
        self.started_s = 0.0  # wall seconds from spawn to its health endpoint answering

    @property
    def client_address(self) -> str:
        return f"127.0.0.1:{self.ports.client}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, jar: Path, config_text: str, heap_mb: int,
              preexec: Callable[[], None] | None = None) -> "MemberProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / f"{self.name}.yaml"
        config.write_text(config_text)
        log = (self.workdir / f"{self.name}.log").open("ab")
        env = dict(os.environ, HZ_PHONE_HOME_ENABLED="false")
        self.proc = subprocess.Popen(java_command(jar, config, heap_mb), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                     preexec_fn=preexec)
        log.close()
        self.paused = False
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self, timeout_s: float = 1.0) -> dict | None:
        """The member's ``/hazelcast/health`` JSON, or None if it does not answer."""
        url = f"http://127.0.0.1:{self.ports.rest}/hazelcast/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                return json.loads(resp.read().decode())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait_healthy(self, pred: Callable[[dict], bool], timeout_s: float, what: str) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise InfraError(f"member {self.name} exited (code {self.proc.returncode if self.proc else None}) "
                                 f"while waiting for {what}; see {self.workdir / (self.name + '.log')}")
            h = self.health()
            if h is not None and pred(h):
                return h
            time.sleep(0.1)
        raise InfraError(f"member {self.name}: timed out after {timeout_s:.0f} s waiting for {what} "
                         f"(last health {self.health()}); see {self.workdir / (self.name + '.log')}")

    def signal(self, sig: int) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)
            if sig == signal.SIGSTOP:
                self.paused = True
            elif sig == signal.SIGCONT:
                self.paused = False

    def kill(self) -> None:
        """SIGKILL (a crash): sockets close at once."""
        if self.alive():
            self.signal(signal.SIGKILL)
            self.proc.wait(10)
        self.paused = False

    def stop(self) -> None:
        """SIGKILL: nothing on a test member is worth a graceful shutdown (SIGTERM takes seconds)."""
        self.kill()
