"""The pinned install: cache location, checksum check (no network: the files are planted)."""

from __future__ import annotations

import pytest

from infra import InfraError, cache_dir, ensure_installed
from infra.install import ensure_hazelcast, pins


def test_cache_dir_is_repo_local_unless_overridden(tmp_path):
    assert cache_dir({}).parts[-2:] == (".cache", "infra")
    assert cache_dir({"NOR_INFRA_CACHE": str(tmp_path / "c")}) == (tmp_path / "c").resolve()


def test_a_jar_that_does_not_match_the_pinned_sha256_is_refused(tmp_path):
    jar = tmp_path / "hazelcast" / pins()["hazelcast"]["jar"]
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"not the hazelcast jar")
    with pytest.raises(InfraError, match="does not match the pin"):
        ensure_hazelcast(tmp_path)


def test_the_installed_components_are_the_pinned_ones():
    got = ensure_installed()  # make test installed them already: this only checks
    assert got.hazelcast_jar.name == "hazelcast-5.7.0.jar" and got.toxiproxy_server.is_file()
