"""Install the pinned Hazelcast member jar and Toxiproxy server into a cache directory (idempotent).

The cache is ``$NOR_INFRA_CACHE`` or ``<repo>/.cache/infra`` (git-ignored). Maven's local repository
and Go's module and build caches live inside it too, so an empty cache directory is a cold install
and a second run reuses everything. The jar's SHA-256 is pinned in ``infra/pins.toml`` and checked
on every call; the Toxiproxy module source is verified by Go's checksum database and the binary
must report the pinned version.

Run ``python -m infra`` (``make test`` does) to install and print the two paths.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import InfraError

__all__ = ["Installed", "cache_dir", "ensure_installed", "ensure_hazelcast", "ensure_toxiproxy", "pins"]

_REPO = Path(__file__).resolve().parents[1]
_PINS = Path(__file__).resolve().parent / "pins.toml"


@dataclass(frozen=True)
class Installed:
    """Paths of the installed components."""

    hazelcast_jar: Path
    toxiproxy_server: Path


def pins() -> dict:
    """The pinned versions and checksums (``infra/pins.toml``)."""
    with _PINS.open("rb") as fh:
        return tomllib.load(fh)


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$NOR_INFRA_CACHE`` (made absolute) or the repository's ``.cache/infra``."""
    env = os.environ if env is None else env
    text = env.get("NOR_INFRA_CACHE")
    return Path(text).expanduser().resolve() if text else _REPO / ".cache" / "infra"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    tool = cmd[0]
    if shutil.which(tool) is None:
        raise InfraError(f"{what}: '{tool}' is not on PATH (install it, e.g. apt-get install maven / golang)")
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-20:])
        raise InfraError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def ensure_hazelcast(cache: Path) -> Path:
    """The member jar in ``cache/hazelcast``, fetched by Maven if missing; its SHA-256 checked."""
    pin = pins()["hazelcast"]
    jar = cache / "hazelcast" / pin["jar"]
    if not jar.exists():
        jar.parent.mkdir(parents=True, exist_ok=True)
        _run(["mvn", "-B", "-q", f"-Dmaven.repo.local={cache / 'm2'}", f"{pin['maven_plugin']}:copy",
              f"-Dartifact=com.hazelcast:hazelcast:{pin['version']}", f"-DoutputDirectory={jar.parent}"],
             dict(os.environ), f"fetching Hazelcast {pin['version']} with Maven")
    actual = _sha256(jar)
    if actual != pin["sha256"]:
        raise InfraError(f"{jar}: SHA-256 {actual} does not match the pin {pin['sha256']} in {_PINS}; "
                         f"delete the file to fetch it again")
    return jar


def _toxiproxy_version(binary: Path) -> str:
    proc = subprocess.run([str(binary), "-version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=30)
    return proc.stdout.strip()


def ensure_toxiproxy(cache: Path) -> Path:
    """The Toxiproxy server binary in ``cache/toxiproxy``, built by ``go install`` if missing."""
    pin = pins()["toxiproxy"]
    bindir = cache / "toxiproxy" / pin["version"]
    binary = bindir / pin["binary"]
    if not binary.exists():
        env = dict(os.environ, GOBIN=str(bindir), GOMODCACHE=str(cache / "go" / "mod"),
                   GOCACHE=str(cache / "go" / "build"), GOFLAGS="-modcacherw", GOTOOLCHAIN="local")
        _run(["go", "install", f"-ldflags=-X {pin['module']}.Version={pin['version']}",
              f"{pin['package']}@v{pin['version']}"], env, f"building Toxiproxy {pin['version']} with go install")
    version = _toxiproxy_version(binary)
    if pin["version"] not in version:
        raise InfraError(f"{binary}: reports version {version!r}, expected {pin['version']} (pinned in {_PINS}); "
                         f"delete it to build it again")
    return binary


def ensure_installed(env: Mapping[str, str] | None = None) -> Installed:
    """Both components, installed into :func:`cache_dir` if missing, and checked."""
    cache = cache_dir(env)
    return Installed(ensure_hazelcast(cache), ensure_toxiproxy(cache))


def main() -> int:
    try:
        got = ensure_installed()
    except InfraError as exc:
        print(f"infra: {exc}", file=sys.stderr)
        return 3
    print(f"hazelcast {got.hazelcast_jar}\ntoxiproxy {got.toxiproxy_server}")
    return 0


