"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _no_real_promotion_keys(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's promotion keys: the config directory is a temporary one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
    monkeypatch.delenv("NOR_PROMOTION_KEY_FILE", raising=False)
    monkeypatch.delenv("NOR_PROMOTION_TRUSTED_KEYS", raising=False)


# Under pytest-xdist (`make test` runs two workers, `--dist loadgroup`) a session- or module-scoped
# fixture is built once per worker that needs it. Each test is grouped so that an expensive shared
# fixture is built once: tests sharing a session fixture of their own conftest go to one worker,
# the rest go by module (module-scoped fixtures stay with their module).
_SHARED_SESSION_FIXTURES = {
    "real_run": "scenarios-real-run", "make_view": "scenarios-real-run",
    "run_dir": "reports-runs", "run_dir_b": "reports-runs", "uncontrolled_run_dir": "reports-runs",
    "manifest": "reports-runs", "swarm_run_dir": "reports-runs",
    "local_cluster": "real-cluster", "hz_target": "real-cluster",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        groups = sorted({_SHARED_SESSION_FIXTURES[f] for f in getattr(item, "fixturenames", ())
                         if f in _SHARED_SESSION_FIXTURES})
        group = "+".join(groups) if groups else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
