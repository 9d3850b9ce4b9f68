"""``nor infra up / down / status``: a local cluster and Toxiproxy server that outlive the command.

The running cluster is described in ``<cache>/run/cluster.json`` (addresses, pids); ``down`` kills
exactly those processes (each pid checked against its command line first, so a recycled pid is
never touched).
"""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Mapping

from .cluster import LocalCluster
from .errors import InfraError
from .install import cache_dir

__all__ = ["infra_up", "infra_down", "infra_status", "state_path", "read_cluster", "kill_member"]


def state_path(env: Mapping[str, str] | None = None) -> Path:
    return cache_dir(env) / "run" / "cluster.json"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ours(pid: int | None, needle: str) -> bool:
    return pid is not None and needle in _cmdline(pid)


def _proxy_needle(desc: dict) -> str:
    return f"-port {desc['toxiproxy'].rsplit(':', 1)[1]}" if desc.get("toxiproxy") else "\0"


def _read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise InfraError(f"{path}: not a cluster description ({exc}); delete it") from exc


def read_cluster(env: Mapping[str, str] | None = None) -> dict | None:
    """The description of the cluster ``nor infra up`` started (addresses, pids), or None."""
    return _read_state(state_path(env))


def kill_member(i: int, desc: dict) -> int:
    """SIGKILL member ``i`` of the cluster ``desc`` (what ``nor infra up`` recorded, or
    ``LocalCluster.describe()``): a crash, sockets close at once. Its pid is checked against its
    command line first (it must still run a member of that cluster), so a recycled pid is never
    touched. Returns the pid; raises InfraError if that member is not running."""
    pids = desc.get("pids") or []
    if not 0 <= i < len(pids):
        raise InfraError(f"member {i}: the cluster has members 0..{len(pids) - 1}")
    pid = pids[i]
    if not _ours(pid, desc["workdir"]):
        raise InfraError(f"member {i} (pid {pid}) is not running")
    os.killpg(pid, signal.SIGKILL)
    return pid


def infra_up(members: int, proxied: bool = True, env: Mapping[str, str] | None = None,
             say: Callable[[str], None] = print) -> dict:
    """Start ``members`` members (and the Toxiproxy server); refuse if one is already up."""
    path = state_path(env)
    old = _read_state(path)
    if old is not None and any(_ours(p, old["workdir"]) for p in old["pids"]):
        raise InfraError(f"a local cluster is already up ({path}); run `nor infra down` first")
    workdir = path.parent / "logs"
    cluster = LocalCluster(members, proxied=proxied, workdir=workdir, detach=True).start()
    desc = cluster.describe()
    desc["startup_s"] = [round(s, 2) for s in cluster.startup_s]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(desc, indent=2) + "\n")
    say(f"started {members} Hazelcast 5.7.0 member(s), cluster {desc['cluster_name']!r}, "
        f"start-up {', '.join(f'{s:.1f}' for s in desc['startup_s'])} s; logs in {workdir}")
    if desc["toxiproxy"]:
        say(f"Toxiproxy server at {desc['toxiproxy']} (proxies c<i> = client, m<i> = member links)")
    say(f"export NOR_HZ_MEMBERS={','.join(desc['members'])} NOR_HZ_CLUSTER={desc['cluster_name']}")
    return desc


def infra_down(env: Mapping[str, str] | None = None, say: Callable[[str], None] = print) -> int:
    """Kill the processes of the cluster that ``infra_up`` started; returns how many were killed."""
    path = state_path(env)
    desc = _read_state(path)
    if desc is None:
        say("no local cluster is up")
        return 0
    killed = 0
    targets = [(p, desc["workdir"]) for p in desc["pids"]] + [(desc.get("toxiproxy_pid"), _proxy_needle(desc))]
    for pid, needle in targets:
        if _ours(pid, needle):
            os.killpg(pid, signal.SIGKILL)
            killed += 1
    path.unlink()
    say(f"stopped {killed} process(es) of cluster {desc['cluster_name']!r}")
    return killed


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hazelcast/health", timeout=2.0) as resp:
            return json.loads(resp.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def infra_status(env: Mapping[str, str] | None = None, say: Callable[[str], None] = print) -> bool:
    """Print each member's health; True if every member answers and reports a safe cluster."""
    desc = _read_state(state_path(env))
    if desc is None:
        say("no local cluster is up (nor infra up)")
        return False
    ok = True
    for i, (addr, pid, rest) in enumerate(zip(desc["members"], desc["pids"], desc["rest_ports"])):
        h = _health(rest) if _ours(pid, desc["workdir"]) else None
        ok = ok and h is not None and h.get("clusterSafe") is True
        say(f"m{i} {addr} pid {pid}: " + (json.dumps(h) if h else "DOWN"))
    if desc["toxiproxy"]:
        alive = _ours(desc.get("toxiproxy_pid"), _proxy_needle(desc))
        ok = ok and alive
        say(f"toxiproxy {desc['toxiproxy']}: {'up' if alive else 'DOWN'}")
    say(f"NOR_HZ_MEMBERS={','.join(desc['members'])} NOR_HZ_CLUSTER={desc['cluster_name']}")
    return ok
